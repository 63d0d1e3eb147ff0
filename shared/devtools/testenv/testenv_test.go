package testenv_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The event-store pattern of docs/architecture.md §3: conditional append, multi-event TransactWriteItems, and the NEW_IMAGE
// stream the projector reads.
func TestDynamoDBConditionalWritesTransactionsAndStreams(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := testenv.DynamoDB(t)
	table := testenv.UniqueName(t, "events")

	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("aggregateId"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("version"), AttributeType: ddbtypes.ScalarAttributeTypeN},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("aggregateId"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("version"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{
			StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage,
		},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}

	event := func(version string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{
			"aggregateId": &ddbtypes.AttributeValueMemberS{Value: "portfolio-1"},
			"version":     &ddbtypes.AttributeValueMemberN{Value: version},
		}
	}
	appendOne := func(version string) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table), Item: event(version),
			ConditionExpression: aws.String("attribute_not_exists(version)"),
		})
		return err
	}
	if err := appendOne("1"); err != nil {
		t.Fatalf("first append: %v", err)
	}
	var conflict *ddbtypes.ConditionalCheckFailedException
	if err := appendOne("1"); !errors.As(err, &conflict) {
		t.Fatalf("second append of version 1: got %v, want ConditionalCheckFailedException", err)
	}

	appendMany := func(versions ...string) error {
		var items []ddbtypes.TransactWriteItem
		for _, v := range versions {
			items = append(items, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{
				TableName: aws.String(table), Item: event(v),
				ConditionExpression: aws.String("attribute_not_exists(version)"),
			}})
		}
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		return err
	}
	if err := appendMany("2", "3"); err != nil {
		t.Fatalf("TransactWriteItems 2,3: %v", err)
	}
	var cancelled *ddbtypes.TransactionCanceledException
	if err := appendMany("4", "3"); !errors.As(err, &cancelled) {
		t.Fatalf("TransactWriteItems 4,3: got %v, want TransactionCanceledException", err)
	}
	if got := cancelled.CancellationReasons; len(got) != 2 || aws.ToString(got[1].Code) != "ConditionalCheckFailed" {
		t.Errorf("cancellation reasons: %+v", got)
	}

	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	streams := testenv.DynamoDBStreams(t)
	var versions []string
	deadline := time.Now().Add(10 * time.Second)
	for len(versions) < 3 && time.Now().Before(deadline) {
		versions = readStream(ctx, t, streams, aws.ToString(desc.Table.LatestStreamArn))
		if len(versions) < 3 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if want := []string{"1", "2", "3"}; !slices.Equal(versions, want) {
		t.Errorf("versions on the stream: got %v, want %v (the cancelled transaction must not appear)", versions, want)
	}
}

// readStream returns the version of every NEW_IMAGE record of every shard of a table's stream, from the start.
func readStream(ctx context.Context, t *testing.T, c *dynamodbstreams.Client, arn string) []string {
	t.Helper()
	d, err := c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeStream: %v", err)
	}
	var versions []string
	for _, shard := range d.StreamDescription.Shards {
		it, err := c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(arn), ShardId: shard.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator: %v", err)
		}
		out, err := c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		for _, r := range out.Records {
			if v, ok := r.Dynamodb.NewImage["version"].(*streamtypes.AttributeValueMemberN); ok {
				versions = append(versions, v.Value)
			}
		}
	}
	return versions
}

func TestKinesisPutAndGetRecords(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	k := testenv.Kinesis(t)
	stream := testenv.UniqueName(t, "market-data-updates")

	_, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName:        aws.String(stream),
		StreamModeDetails: &kintypes.StreamModeDetails{StreamMode: kintypes.StreamModeOnDemand},
	})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		s, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err == nil && s.StreamDescriptionSummary.StreamStatus == kintypes.StreamStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream not ACTIVE after 10s (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	sent := []string{`{"s":"AAPL","p":"189.5"}`, `{"s":"MSFT","p":"411.2"}`, `{"s":"AAPL","p":"189.7"}`}
	var entries []kintypes.PutRecordsRequestEntry
	for _, data := range sent {
		sym := data[6:10]
		entries = append(entries, kintypes.PutRecordsRequestEntry{Data: []byte(data), PartitionKey: aws.String(sym)})
	}
	put, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if n := aws.ToInt32(put.FailedRecordCount); n != 0 {
		t.Fatalf("PutRecords: %d failed", n)
	}

	shards, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	var got []string
	for _, shard := range shards.Shards {
		it, err := k.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: shard.ShardId, ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator: %v", err)
		}
		out, err := k.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		for _, r := range out.Records {
			got = append(got, string(r.Data))
		}
	}
	// Order holds per partition key (one shard each), not across shards: compare as sets, then AAPL's order.
	if !sameElements(got, sent) {
		t.Fatalf("records read back: got %q, want %q", got, sent)
	}
	var aapl []string
	for _, g := range got {
		if strings.Contains(g, "AAPL") {
			aapl = append(aapl, g)
		}
	}
	if want := []string{sent[0], sent[2]}; !slices.Equal(aapl, want) {
		t.Errorf("AAPL records out of order: %q", aapl)
	}
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestPostgresFreshDatabasePerTestDroppedAfter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var first, second string
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	t.Run("inner", func(t *testing.T) {
		first, second = testenv.Postgres(t), testenv.Postgres(t)
		if first == second {
			t.Fatalf("two calls returned the same DSN %s", first)
		}
		var err error
		conn, err = pgx.Connect(ctx, first)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1: %d, %v", one, err)
		}
		var db string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != dbName(t, first) {
			t.Fatalf("current_database() = %q, %v; want %q", db, err, dbName(t, first))
		}
		// The connection stays open until after the cleanups on purpose: a connection a test forgot must not
		// block the drop.
		if _, err := conn.Exec(ctx, "CREATE TABLE t (id int primary key)"); err != nil {
			t.Fatalf("create table: %v", err)
		}
	})

	// The inner test's cleanups have run: both databases must be gone.
	admin, err := pgx.Connect(ctx, os.Getenv("PT_TESTENV_POSTGRES_DSN"))
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	defer admin.Close(context.Background())
	for _, dsn := range []string{first, second} {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", dbName(t, dsn)).Scan(&n); err != nil {
			t.Fatalf("query pg_database: %v", err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test ended", dbName(t, dsn))
		}
	}
}

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN %q: %v", dsn, err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// AWSConfig must leave endpoint resolution to the SDK's standard variables, which the harness points at the
// emulators, so that tests exercise the same path as production.
func TestAWSConfigResolvesEndpointsFromStandardVariables(t *testing.T) {
	t.Parallel()
	cfg := testenv.AWSConfig(t)
	if cfg.BaseEndpoint != nil {
		t.Errorf("BaseEndpoint = %q; endpoints must come from AWS_ENDPOINT_URL_<SERVICE>", *cfg.BaseEndpoint)
	}
	if cfg.Region != testenv.Region {
		t.Errorf("Region = %q, want %q", cfg.Region, testenv.Region)
	}
	for _, pair := range [][2]string{
		{"AWS_ENDPOINT_URL_DYNAMODB", "PT_TESTENV_DYNAMODB_URL"},
		{"AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "PT_TESTENV_DYNAMODB_URL"},
		{"AWS_ENDPOINT_URL_KINESIS", "PT_TESTENV_KINESIS_URL"},
	} {
		if got, want := os.Getenv(pair[0]), os.Getenv(pair[1]); got == "" || got != want {
			t.Errorf("%s = %q, want %s = %q", pair[0], got, pair[1], want)
		}
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "test" {
		t.Errorf("credentials: %+v, %v; want the static dummy ones", creds, err)
	}
}

// With PT_EXTERNAL_AWS=1, AWS_ENDPOINT_URL is used for every service. The "external" endpoint here is the local
// DynamoDB Local, reached through the generic variable only.
func TestAWSConfigExternalEndpoint(t *testing.T) {
	ctx := t.Context()
	testenv.DynamoDB(t) // make sure it runs, to have an endpoint to point at
	endpoint := os.Getenv("PT_TESTENV_DYNAMODB_URL")
	t.Setenv("PT_EXTERNAL_AWS", "1")
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "") // the SDK ignores an empty service variable

	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		t.Fatalf("ListTables through AWS_ENDPOINT_URL=%s: %v", endpoint, err)
	}
}

func TestUniqueName(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[A-Za-z0-9_.-]{3,100}$`)
	seen := map[string]bool{}
	for range 100 {
		n := testenv.UniqueName(t, "events")
		if !valid.MatchString(n) || !strings.HasPrefix(n, "events-TestUniqueName-") {
			t.Fatalf("UniqueName = %q: not a valid table/stream name with the expected prefix", n)
		}
		if seen[n] {
			t.Fatalf("UniqueName repeated %q", n)
		}
		seen[n] = true
	}
	t.Run(strings.Repeat("very long subtest name with spaces/and slashes ", 5), func(t *testing.T) {
		if n := testenv.UniqueName(t, "a b"); !valid.MatchString(n) {
			t.Errorf("UniqueName = %q (%d chars): not a valid table/stream name", n, len(n))
		}
	})
}
