package prices_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// fastRetry retries within d, in steps of tens of milliseconds.
func fastRetry(d time.Duration) retry.Policy {
	return retry.Policy{First: 10 * time.Millisecond, Max: 50 * time.Millisecond, For: d}
}

// memorySink is a failure destination in memory; Fail makes Send fail.
type memorySink struct {
	mu   sync.Mutex
	recs []quarantine.Record
	fail error
}

func (s *memorySink) Send(_ context.Context, recs []quarantine.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *memorySink) records() []quarantine.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

// onShard gives records the shard and stream a Kinesis event names.
func onShard(recs ...prices.Record) []prices.Record {
	for i := range recs {
		recs[i].ShardID = "shardId-000000000001"
		recs[i].Stream = "arn:aws:kinesis:us-east-1:000000000000:stream/market-data-updates"
	}
	return recs
}

// A poison record in the middle of a batch is set aside: sent to the failure
// destination with what it takes to put it back on the stream, and reported as
// processed, while every tick around it applies. Reported as a batch item
// failure instead, it would head what the mapping retries, and when the retries
// ran out the live ticks after it would be discarded with it.
func TestPoisonInTheMiddleIsSetAside(t *testing.T) {
	e := newEnv(t)
	sink := &memorySink{}
	var metrics bytes.Buffer
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Quarantine: sink, Metrics: &metrics})
	poison := raw("AAPL", []byte(`{"eventType":"SomethingElse"}`))
	batch := onShard(rec(t, "AAPL", "100", t0), rec(t, "MSFT", "400", t0), poison,
		rec(t, "AAPL", "101", t0.Add(time.Second)), rec(t, "MSFT", "401", t0.Add(time.Second)))
	resp, err := handle(t.Context(), c, batch)
	if err != nil || len(resp) != 0 {
		t.Fatalf("failures %v, err %v: the poison is set aside, not failed", resp, err)
	}
	if p := latestPG(t, e.pool, "AAPL"); p.Price.String() != "101" {
		t.Fatalf("AAPL %+v: the tick after the poison did not apply", p)
	}
	if p := latestPG(t, e.pool, "MSFT"); p.Price.String() != "401" {
		t.Fatalf("MSFT %+v", p)
	}
	sent := sink.records()
	if len(sent) != 1 {
		t.Fatalf("set aside %+v", sent)
	}
	if r := sent[0]; r.Consumer != "prices" || r.SequenceNumber != poison.SequenceNumber || r.ShardID != "shardId-000000000001" ||
		r.PartitionKey != "AAPL" || string(r.Data) != `{"eventType":"SomethingElse"}` || r.Stream == "" || r.Reason == "" || r.QuarantinedAt.IsZero() {
		t.Fatalf("set aside as %+v", r)
	}
	var line map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &line); err != nil || line["StreamRecordsQuarantined"] != 1.0 || line["StreamRecordsPoison"] != 1.0 ||
		line["StreamRecordsFailed"] != 0.0 || line["Function"] != "prices" {
		t.Fatalf("metrics %s (%v)", metrics.String(), err)
	}
}

// What the mapping re-delivers is set aside when it comes back, not now: a
// poison record after the lowest failed record is neither sent nor reported (it
// would be sent twice), one before it is sent. Without a destination the poison
// is reported, as it used to be.
func TestOnlyWhatIsCheckpointedIsSetAside(t *testing.T) {
	e := newEnv(t)
	sink := &memorySink{}
	fl := &failingLatest{real: e.latest, fail: map[string]bool{"MSFT": true}}
	// MSFT keeps failing: two retries, counted rather than timed (a time budget
	// can be spent by the batch's own work on a loaded machine before the first
	// retry), then it is reported.
	twice := retry.Policy{First: time.Millisecond, Max: time.Millisecond, For: time.Hour, Times: 2}
	c := prices.New(prices.Config{Latest: fl, DB: readmodel.NewPricesConsumerStore(e.pool), Quarantine: sink, Retry: twice})
	before, after := raw("X", []byte("not json")), raw("Y", []byte("nor this"))
	batch := onShard(before, rec(t, "AAPL", "100", t0), rec(t, "MSFT", "400", t0), after, rec(t, "SPY", "500", t0))
	resp, st, err := c.Process(t.Context(), batch)
	if err != nil || !slices.Equal(resp, []string{batch[2].SequenceNumber}) || st.TransientRetries != 2 {
		t.Fatalf("failures %v, err %v, stats %+v", resp, err, st)
	}
	if sent := sink.records(); len(sent) != 1 || sent[0].SequenceNumber != before.SequenceNumber {
		t.Fatalf("set aside %+v", sent)
	}

	c = prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool)})
	resp, _, err = c.Process(t.Context(), batch)
	if want := []string{before.SequenceNumber, after.SequenceNumber}; err != nil || !slices.Equal(resp, want) {
		t.Fatalf("without a destination: failures %v, err %v", resp, err)
	}
}

// A destination that cannot be reached fails the invocation once the retries
// are spent: the batch is not checkpointed past a record nobody recorded.
func TestUnreachableDestinationFailsTheInvocation(t *testing.T) {
	e := newEnv(t)
	sink := &memorySink{fail: errors.New("injected: SQS unreachable")}
	// The budget covers the batch's own work too (about 100 ms on a loaded
	// machine, which used up a 100 ms budget before the destination's first
	// retry): a second leaves room for several retries whatever the load.
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Quarantine: sink, Retry: fastRetry(time.Second)})
	batch := onShard(rec(t, "AAPL", "100", t0), raw("X", []byte("not json")))
	if _, st, err := c.Process(t.Context(), batch); err == nil || st.Quarantined != 0 || st.TransientRetries == 0 {
		t.Fatalf("err %v, stats %+v", err, st)
	}
	sink.mu.Lock()
	sink.fail = nil
	sink.mu.Unlock()
	if resp, st, err := c.Process(t.Context(), batch); err != nil || len(resp) != 0 || st.Quarantined != 1 {
		t.Fatalf("the retry: failures %v, err %v, stats %+v", resp, err, st)
	}
}

// A tick that decodes but that a store refuses for its data (here a symbol with
// a NUL byte, which PostgreSQL's text refuses) is never retried: the set-based
// writes are applied again in halves until the symbol refused alone is found,
// its ticks are set aside with the reason, and every other symbol applies.
func TestRefusedTickIsSetAside(t *testing.T) {
	e := newEnv(t)
	sink := &memorySink{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Quarantine: sink, Retry: fastRetry(time.Minute)})
	bad := "BAD\x00X"
	batch := onShard(rec(t, "AAPL", "100", t0), rec(t, bad, "10", t0), rec(t, "MSFT", "400", t0), rec(t, "SPY", "500", t0),
		rec(t, bad, "11", t0.Add(time.Second)), rec(t, "QQQ", "300", t0))
	resp, st, err := c.Process(t.Context(), batch)
	if err != nil || len(resp) != 0 || st.RefusedSymbols != 1 || st.Quarantined != 2 || st.TransientRetries != 0 {
		t.Fatalf("failures %v, err %v, stats %+v", resp, err, st)
	}
	for _, s := range []string{"AAPL", "MSFT", "SPY", "QQQ"} {
		latestPG(t, e.pool, s)
	}
	sent := sink.records()
	if len(sent) != 2 || sent[0].SequenceNumber != batch[1].SequenceNumber || sent[1].SequenceNumber != batch[4].SequenceNumber ||
		!strings.HasPrefix(sent[0].Reason, "refused: ") || sent[0].EventType != pricing.EventTypeMarketDataUpdated || sent[0].EventID == "" {
		t.Fatalf("set aside %+v", sent)
	}
}

// PostgreSQL goes away in the middle of a batch, while the alert firings are
// being recorded, and refuses connections for a while. The consumer rides it out
// within the invocation: no record fails, nothing is set aside, and the read
// models, the alert history and the rules' state equal those of the same batch
// applied without an outage, so no tick was lost and no firing missed or doubled.
func TestDatabaseOutageMidBatchIsRiddenOut(t *testing.T) {
	ctx := t.Context()
	rules := []alerts.Rule{
		{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "OA", Threshold: decimal.RequireFromString("100")},
		{ID: "below", Kind: alerts.KindPriceBelow, Symbol: "OB", Threshold: decimal.RequireFromString("100")},
		{ID: "above-c", Kind: alerts.KindPriceAbove, Symbol: "OC", Threshold: decimal.RequireFromString("100")},
	}
	// A saw-tooth around 100 that fires and re-arms every rule several times.
	var batch []prices.Record
	for i := range 30 {
		for k, s := range []string{"OA", "OB", "OC", "OD"} {
			price := []string{"98", "102", "99", "103", "97"}[(i+k)%5]
			batch = append(batch, rec(t, s, price, t0.Add(time.Duration(i)*time.Second)))
		}
	}
	setUp := func(e env) {
		store := readmodel.NewConsumerAlertRules(e.pool)
		for _, r := range rules {
			if _, err := store.Create(ctx, u1, r); err != nil {
				t.Fatal(err)
			}
		}
		holdings(t, e.pool, "p1", u1, map[string]string{"OA": "10", "OD": "2"})
	}

	// Without an outage: what a replay produces.
	want := newEnv(t)
	setUp(want)
	if resp, _, err := prices.New(prices.Config{Latest: want.latest, DB: readmodel.NewPricesConsumerStore(want.pool), Alerts: readmodel.NewConsumerAlertRules(want.pool)}).
		Process(ctx, batch); err != nil || len(resp) != 0 {
		t.Fatalf("reference: %v %v", resp, err)
	}

	e := newEnv(t)
	setUp(e)
	u, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewCutProxy(t, u.Host)
	u.Host = proxy.Addr()
	pool, err := readmodel.Open(ctx, u.String(), readmodel.PoolOptions{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sink := &memorySink{}
	var metrics bytes.Buffer
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(pool), Alerts: readmodel.NewConsumerAlertRules(pool), Quarantine: sink,
		Retry: fastRetry(time.Minute), Metrics: &metrics})
	proxy.CutOn("insert into alert_history", 3)
	resp, err := handle(ctx, c, batch)
	if err != nil || len(resp) != 0 {
		t.Fatalf("failures %v, err %v: the outage is ridden out within the invocation", resp, err)
	}
	cut, refused := proxy.Outcome()
	if !cut || refused != 3 {
		t.Fatalf("the outage did not happen: cut %v, %d connections refused", cut, refused)
	}
	if sent := sink.records(); len(sent) != 0 {
		t.Fatalf("set aside %+v", sent)
	}
	var line map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &line); err != nil || line["TransientRetries"].(float64) < 1 || line["StreamRecordsFailed"] != 0.0 {
		t.Errorf("metrics %s (%v): want the retries counted", metrics.String(), err)
	}
	for _, q := range []string{
		`select firing_key, rule_id, kind, symbol, observed::text, threshold::text, fired_at from alert_history order by 1`,
		`select id, state from alert_rules order by 1`,
		`select symbol, price::text, as_of, source from latest_prices order by 1`,
		`select symbol, day, close::text, as_of from daily_closes order by 1, 2`,
	} {
		got, exp := dump(t, e.pool, q), dump(t, want.pool, q)
		if got != exp {
			t.Errorf("%s\nafter the outage:\n%s\nwithout one:\n%s", q, got, exp)
		}
		if q[7:17] == "firing_key" && strings.Count(exp, "\n") < 6 {
			t.Fatalf("the batch fired too little to prove anything:\n%s", exp)
		}
	}
}

// dump is a query's rows, one line each.
func dump(t *testing.T, pool *pgxpool.Pool, q string) string {
	t.Helper()
	rows, err := pool.Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(vals)
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
