package analyticsjob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// quickRetry keeps the tests' retries within the invocation short.
var quickRetry = retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond, For: 200 * time.Millisecond}

// legacy appends a TransactionRecorded event built by hand, as an older build
// stored it before the domain bounded new commands.
func (e *env) legacy(id, user string, tx portfolio.Transaction) {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.cmds.LoadFull(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	v := p.Version() + 1
	tx.ID, tx.Seq, tx.Currency = id+"-legacy-"+tx.Date.String(), portfolio.SeqOf(v, 0), "USD"
	ev := portfolio.Event{EventID: tx.ID, EventType: portfolio.TypeTransactionRecorded, AggregateID: id, AggregateType: portfolio.AggregateType,
		Version: v, Timestamp: time.Date(2025, 1, 1, 0, 0, int(v), 0, time.UTC), UserID: user, SchemaVersion: 1,
		Data: &portfolio.TransactionRecorded{Transaction: tx}}
	if err := e.store.Append(ctx, id, v-1, []portfolio.Event{ev}, nil); err != nil {
		e.t.Fatal(err)
	}
}

// A portfolio whose first trade is dated 0001-01-05 (or in year 0), stored before
// the bounds. Before: the page's look-back for closes began at an invalid date,
// and every portfolio of the batch failed with it. Now the trades are left out of
// the figures (and said so), the look-back is clamped, and the whole batch is
// computed.
func TestStreamSurvivesTradesNearYearOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old, other := e.create(userA, "old"), e.create(userB, "other")
	e.legacy(old, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
	for _, d := range []string{"0001-01-05", "0000-01-01"} {
		tx := trade(portfolio.Buy, "2024-01-03", "BBB", "5")
		tx.Date = date(d)
		e.legacy(old, userA, tx)
	}
	e.record(other, userB, trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
	e.project(old, other)
	var emf bytes.Buffer
	out, err := e.job(nil, analyticsjob.Options{Metrics: &emf, Retry: quickRetry}).Recompute(context.Background(), e.changes(old, other))
	if err != nil || len(out.FailedItems) > 0 {
		t.Fatalf("failures %v, err %v", out.FailedItems, err)
	}
	m, err := e.metrics.LatestMetrics(context.Background(), userA, old)
	if err != nil {
		t.Fatal(err)
	}
	if !m.MarketValue.Equal(px("AAA", asOf).Mul(decimal.NewFromInt(10))) {
		t.Errorf("market value %s, want the ten AAA alone", m.MarketValue)
	}
	warnings := strings.Join(m.Report.Warnings, "\n")
	if !strings.Contains(warnings, "0001-01-05") || !strings.Contains(warnings, "0000-01-01") {
		t.Errorf("warnings do not name the left-out trades:\n%s", warnings)
	}
	if _, err := e.metrics.LatestMetrics(context.Background(), userB, other); err != nil {
		t.Errorf("the other portfolio of the batch: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(emf.Bytes(), &line); err != nil || line["TransactionsLeftOut"] != 2.0 || line["PortfoliosRecomputed"] != 2.0 {
		t.Errorf("EMF line %s (%v)", emf.Bytes(), err)
	}
}

// A corrupt event in the store makes a portfolio impossible to compute however
// often it is retried. Its records are quarantined (sent to the failure
// destination, recorded as a failure of the daily run) instead of holding the
// shard through the stream's retries; the other portfolios are stored. Without a
// failure destination they fail, as before.
func TestStreamQuarantinesAPortfolioThatCannotBeComputed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newDynamoEnv(t)
	bad, good := e.create(userA, "bad"), e.create(userB, "good")
	for _, id := range []string{bad, good} {
		e.record(id, map[string]string{bad: userA, good: userB}[id], trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
	}
	e.project(bad, good)
	batch := e.changes(bad, good)
	if _, err := e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
		Key: map[string]types.AttributeValue{eventstore.AttrAggregateID: &types.AttributeValueMemberS{Value: bad},
			eventstore.AttrVersion: &types.AttributeValueMemberN{Value: "2"}},
		UpdateExpression:          aws.String("SET #d = :d"),
		ExpressionAttributeNames:  map[string]string{"#d": eventstore.AttrData},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: "{"}}}); err != nil {
		t.Fatal(err)
	}

	without, err := e.job(nil, analyticsjob.Options{Retry: quickRetry}).Recompute(ctx, batch)
	if err != nil || len(without.FailedItems) != 2 {
		t.Fatalf("without a failure destination: %v %v", without.FailedItems, err)
	}

	path := filepath.Join(t.TempDir(), "analytics.jsonl")
	l := &countingLoader{next: e.cmds, loads: map[string]int{}}
	out, err := e.job(l, analyticsjob.Options{Quarantine: quarantine.NewFileSink(path), Retry: quickRetry}).Recompute(ctx, batch)
	if err != nil || len(out.FailedItems) > 0 {
		t.Fatalf("failures %v, err %v", out.FailedItems, err)
	}
	if l.loads[bad] != 1 {
		t.Errorf("the corrupt portfolio was loaded %d times: a permanent failure is not retried", l.loads[bad])
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sent, _, err := quarantine.Read(f)
	if err != nil || len(sent) != 2 || sent[0].AggregateID != bad || sent[0].Version != 1 || sent[1].Version != 2 ||
		sent[0].Consumer != "analytics" || !strings.Contains(sent[0].Reason, "corrupt event") {
		t.Fatalf("sent %+v (err %v)", sent, err)
	}
	failures, err := e.metrics.Failures(ctx, analyticsjob.ModeDaily)
	if err != nil || len(failures) != 1 || failures[0].PortfolioID != bad || !strings.Contains(failures[0].Reason, "quarantined") {
		t.Fatalf("daily failures %+v (err %v): the daily run should retry the quarantined portfolio", failures, err)
	}
	if _, err := e.metrics.LatestMetrics(ctx, userB, good); err != nil {
		t.Error(err)
	}
}

// An outage that ends within the invocation's retry budget fails nothing.
func TestStreamRetriesATransientFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(userA, "flaky")
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
	e.project(id)
	l := &countingLoader{next: e.cmds, loads: map[string]int{}, failFirst: map[string]int{id: 2}}
	var emf bytes.Buffer
	out, err := e.job(l, analyticsjob.Options{Metrics: &emf, Retry: retry.Policy{First: time.Millisecond, For: time.Minute}}).
		Recompute(context.Background(), e.changes(id))
	if err != nil || len(out.FailedItems) > 0 || l.loads[id] != 3 {
		t.Fatalf("failures %v, err %v, %d loads", out.FailedItems, err, l.loads[id])
	}
	var line map[string]any
	if err := json.Unmarshal(emf.Bytes(), &line); err != nil || line["TransientRetries"] != 2.0 || line["PortfoliosRecomputed"] != 1.0 {
		t.Errorf("EMF line %s (%v)", emf.Bytes(), err)
	}
}
