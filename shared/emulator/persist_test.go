package emulator

import (
	"context"
	"os"
	"path/filepath"
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
