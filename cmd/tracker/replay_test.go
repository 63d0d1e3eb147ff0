package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// replay end to end: events written by the DynamoDB adapter, rebuilt into a fresh
// database by the command, twice.
func TestReplayCommand(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoDB(t) // also points the AWS SDK's environment at the emulator
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{})
	n := 0
	meta := func() portfolio.Meta {
		n++
		return portfolio.Meta{UserID: "0a0a0a0a-0000-4000-8000-00000000000a", Now: time.Date(2024, 1, 1, 0, n, 0, 0, time.UTC)}
	}
	for _, id := range []string{"r1", "r2"} {
		p, err := portfolio.Create(id, portfolio.CreatePortfolio{Name: id, BaseCurrency: "USD"}, meta())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			tx := portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2024, 1, 2+i), Symbol: "AAPL",
				Quantity: decimal.NewFromInt(int64(i + 1)), Price: decimal.NewFromInt(100), Currency: "USD"}
			if _, err := p.RecordTransaction(tx, meta()); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Append(ctx, id, 0, p.Pending(), nil); err != nil {
			t.Fatal(err)
		}
	}
	dsn := testenv.Postgres(t)
	for run := range 2 {
		var out, errb bytes.Buffer
		code := runReplay([]string{"--database-url", dsn, "--events-table", name, "--segments", "2"}, &out, &errb)
		if code != exitOK || !strings.Contains(out.String(), "replayed 8 events of 2 aggregates") {
			t.Fatalf("run %d: exit %d, out %q, err %q", run, code, out.String(), errb.String())
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var q string
	if err := conn.QueryRow(ctx, "select sum(quantity)::text from positions where symbol = 'AAPL'").Scan(&q); err != nil || q != "12" {
		t.Fatalf("AAPL quantity over both portfolios %q (err %v), want 12", q, err)
	}
}

// putItem writes e's item with some attributes replaced, past the store's checks
// (a corrupt item, or its repair).
func putItem(t *testing.T, client *dynamodb.Client, table string, e portfolio.Event, replace map[string]string) {
	t.Helper()
	it, err := eventstore.EncodeItem(&e)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(it, replace)
	av := map[string]types.AttributeValue{}
	for k, v := range it {
		if eventstore.NumericAttrs[k] {
			av[k] = &types.AttributeValueMemberN{Value: v}
		} else {
			av[k] = &types.AttributeValueMemberS{Value: v}
		}
	}
	if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: av}); err != nil {
		t.Fatal(err)
	}
}

// replay --failures: a full replay quarantines a corrupt item (exit 1); once it
// is repaired, replaying the failure destination's records re-projects exactly
// their aggregates, from the local stack's file or from messages read off the
// SQS queue, skipping what names no aggregate; twice gives the same tables.
func TestReplayFailures(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{})
	n := 0
	meta := func() portfolio.Meta {
		n++
		return portfolio.Meta{UserID: "0a0a0a0a-0000-4000-8000-00000000000a", Now: time.Date(2024, 1, 1, 0, n, 0, 0, time.UTC)}
	}
	var r1 []portfolio.Event
	for _, id := range []string{"r1", "r2"} {
		p, err := portfolio.Create(id, portfolio.CreatePortfolio{Name: id, BaseCurrency: "USD"}, meta())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			tx := portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2024, 1, 2+i), Symbol: "AAPL",
				Quantity: decimal.NewFromInt(int64(i + 1)), Price: decimal.NewFromInt(100), Currency: "USD"}
			if _, err := p.RecordTransaction(tx, meta()); err != nil {
				t.Fatal(err)
			}
		}
		if id == "r1" {
			r1 = p.Pending()
		}
		if err := store.Append(ctx, id, 0, p.Pending(), nil); err != nil {
			t.Fatal(err)
		}
	}
	putItem(t, client, name, r1[2], map[string]string{eventstore.AttrData: "{"}) // r1 version 3: buys 2
	dsn := testenv.Postgres(t)
	replay := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runReplay(append([]string{"--database-url", dsn, "--events-table", name}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, errs := replay(); code != exitInternal || !strings.Contains(errs, "quarantined again: aggregate r1 version 3") {
		t.Fatalf("full replay over a corrupt item: exit %d, %s", code, errs)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	quantity := func(id string) string {
		var q string
		if err := conn.QueryRow(ctx, "select quantity::text from positions where portfolio_id = $1 and symbol = 'AAPL'", id).Scan(&q); err != nil {
			t.Fatal(err)
		}
		return q
	}
	if q := quantity("r1"); q != "4" {
		t.Fatalf("r1 holds %s with version 3 quarantined, want 1 + 3", q)
	}

	// The failure destination as the local stack writes it: the projector's
	// record, Lambda's own record of a batch, and a record naming no aggregate.
	dir := t.TempDir()
	local := filepath.Join(dir, "projector.jsonl")
	if err := quarantine.NewFileSink(local).Send(ctx, []quarantine.Record{
		{Consumer: "projector", AggregateID: "r1", Version: 3, EventType: portfolio.TypeTransactionRecorded, Reason: "corrupt"},
		{Consumer: "projector", Reason: "no keys", SequenceNumber: "77"},
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(local, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{"shardId":"shard-1","startSequenceNumber":"10","endSequenceNumber":"12"}}`)
	f.Close()

	putItem(t, client, name, r1[2], nil) // repaired
	for run := range 2 {
		code, out, errs := replay("--failures", local)
		if code != exitOK || !strings.Contains(out, "re-projected 4 events of 1 aggregates") ||
			!strings.Contains(errs, "names no aggregate (stream sequence number 77)") || !strings.Contains(errs, "shard-1") {
			t.Fatalf("run %d: exit %d, out %q, err %q", run, code, out, errs)
		}
		if q := quantity("r1"); q != "6" {
			t.Fatalf("run %d: r1 holds %s, want 6", run, q)
		}
	}
	var failures int
	if err := conn.QueryRow(ctx, "select count(*) from projection_failures").Scan(&failures); err != nil || failures != 0 {
		t.Errorf("%d projection_failures rows left (err %v)", failures, err)
	}

	// Messages read off the SQS queue (aws sqs receive-message), and --aggregate.
	body, err := quarantine.Record{Consumer: "analytics", AggregateID: "r2", Version: 4, Reason: "x"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := json.Marshal(map[string]any{"Messages": []map[string]string{{"MessageId": "m1", "Body": string(body)}}})
	sqsFile := filepath.Join(dir, "messages.json")
	if err := os.WriteFile(sqsFile, msgs, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := replay("--failures", sqsFile, "--aggregate", "r1"); code != exitOK || !strings.Contains(out, "re-projected 8 events of 2 aggregates") {
		t.Fatalf("SQS messages: exit %d, out %q, err %q", code, out, errs)
	}
	if code, _, errs := replay("--failures", filepath.Join(dir, "missing.jsonl")); code != exitInput || !strings.Contains(errs, "missing.jsonl") {
		t.Fatalf("missing file: exit %d, %s", code, errs)
	}
}
