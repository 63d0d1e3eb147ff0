package emulator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
)

// A persistent set (the local stack's) finds its DynamoDB tables and Postgres rows again after a restart.
func TestPersistentSetKeepsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	dir, err := os.MkdirTemp(filepath.Join(root, ".local"), "persist-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var pgDir string
	t.Cleanup(func() {
		_ = os.RemoveAll(dir)
		if pgDir != "" {
			_ = os.RemoveAll(pgDir)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	start := func() (*Set, string, string) {
		t.Helper()
		set, err := Open(root, dir, Options{Persist: true})
		if err != nil {
			t.Fatal(err)
		}
		ddb, err := set.Start(ctx, DynamoDB)
		if err != nil {
			_ = set.Stop(true)
			t.Fatal(err)
		}
		dsn, err := set.Start(ctx, Postgres)
		if err != nil {
			_ = set.Stop(true)
			t.Fatal(err)
		}
		st, err := ReadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		pgDir = st.PostgresDir
		return set, ddb, dsn
	}

	set, ddb, dsn := start()
	client := dynamodb.New(dynamodb.Options{Region: Region, BaseEndpoint: aws.String(ddb), Credentials: dummyCredentials()})
	_, err = client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("kept"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "create table kept (v int); insert into kept values (42)"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	if err := set.Stop(false); err != nil {
		t.Fatal(err)
	}

	set, ddb, dsn = start()
	defer func() { _ = set.Stop(false) }()
	client = dynamodb.New(dynamodb.Options{Region: Region, BaseEndpoint: aws.String(ddb), Credentials: dummyCredentials()})
	if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("kept")}); err != nil {
		t.Errorf("table lost across the restart: %v", err)
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "select v from kept").Scan(&v); err != nil || v != 42 {
		t.Errorf("row lost across the restart: %d, %v", v, err)
	}
}

// One emulator of a persistent set stops and starts again on its own, on the same port and with its data, while
// the rest of the set runs on: the outage a fault-injection test needs. A throwaway set refuses, since its data
// would not come back.
func TestStopEmulatorAndStartItAgain(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	if err := os.MkdirAll(filepath.Join(root, ".local"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(root, ".local"), "restart-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	set, err := Open(root, dir, Options{Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = set.Stop(false)
		if st, err := ReadState(dir); err == nil && st.PostgresDir != "" {
			_ = os.RemoveAll(st.PostgresDir)
		}
		_ = os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	started, err := set.StartAll(ctx, []Kind{DynamoDB, Postgres})
	if err != nil {
		t.Fatal(err)
	}
	ddb, dsn := started[0].Addr, started[1].Addr
	client := dynamodb.New(dynamodb.Options{Region: Region, BaseEndpoint: aws.String(ddb), Credentials: dummyCredentials(),
		Retryer: aws.NopRetryer{}})
	_, err = client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("kept"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "create table kept (v int); insert into kept values (42)"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)

	for _, k := range []Kind{DynamoDB, Postgres} {
		if err := set.StopEmulator(k); err != nil {
			t.Fatalf("stop %s: %v", k, err)
		}
	}
	if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Error("DynamoDB Local still answers after StopEmulator")
	}
	if c, err := pgx.Connect(ctx, dsn); err == nil {
		_ = c.Close(ctx)
		t.Error("PostgreSQL still answers after StopEmulator")
	}
	if err := set.StopEmulator(DynamoDB); err == nil {
		t.Error("stopping a stopped emulator succeeded")
	}

	for k, want := range map[Kind]string{DynamoDB: ddb, Postgres: dsn} {
		got, err := set.Start(ctx, k)
		if err != nil {
			t.Fatalf("start %s again: %v", k, err)
		}
		if got != want {
			t.Errorf("%s came back at %s, want %s (its clients hold the old address)", k, got, want)
		}
	}
	if _, err := set.Start(ctx, DynamoDB); err == nil {
		t.Error("a second DynamoDB Local started beside the running one")
	}
	if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("kept")}); err != nil {
		t.Errorf("table lost across the restart: %v", err)
	}
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "select v from kept").Scan(&v); err != nil || v != 42 {
		t.Errorf("row lost across the restart: %d, %v", v, err)
	}
	st, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Procs) != 2 {
		t.Errorf("state records %d processes after the restarts, want 2: %+v", len(st.Procs), st.Procs)
	}

	throwaway, err := NewSet(root, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer throwaway.Stop(false)
	if err := throwaway.StopEmulator(DynamoDB); err == nil || !strings.Contains(err.Error(), "persistent") {
		t.Errorf("a throwaway set's StopEmulator: %v, want a refusal naming Options.Persist", err)
	}
}
