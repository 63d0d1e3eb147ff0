package prices_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const u1, u2 = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"

type env struct {
	latest *dynamoprices.Latest
	pool   *pgxpool.Pool
	dsn    string
}

func newEnv(t testing.TB) env {
	t.Helper()
	ctx := context.Background()
	db := testenv.DynamoDB(t)
	tb, _ := topology.TableByName(topology.PricesTable)
	name := testenv.UniqueName(t, "prices")
	if err := dynamo.CreateTable(ctx, db, tb, name); err != nil {
		t.Fatal(err)
	}
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return env{latest: dynamoprices.NewLatest(db, name), pool: pool, dsn: dsn}
}

// holdings inserts portfolios: p<i> of user owner[i] holding qty of each symbol.
func holdings(t testing.TB, pool *pgxpool.Pool, portfolio, user string, pos map[string]string) {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ($1, $2::uuid, 'p', 'USD', 'fifo', now(), now(), 1)`, portfolio, user); err != nil {
		t.Fatal(err)
	}
	for sym, qty := range pos {
		if _, err := pool.Exec(ctx, `insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees, taxes, dividends, version)
values ($1, $2, $3::uuid, $4::numeric, 0, 0, 0, 0, 0, 0, 1)`, portfolio, sym, user, qty); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC) // 10:00 in New York

var seq int

func rec(t testing.TB, sym, price string, at time.Time) prices.Record {
	t.Helper()
	q := market.Quote{Symbol: sym, Price: decimal.RequireFromString(price), Volume: decimal.NewFromInt(10), Timestamp: at,
		Source: "simulated", PreviousClose: decimal.RequireFromString("100")}
	b, err := pricing.Encode(pricing.FromQuote(q))
	if err != nil {
		t.Fatal(err)
	}
	return raw(sym, b)
}

func raw(pk string, data []byte) prices.Record {
	seq++
	return prices.Record{Data: data, PartitionKey: pk, SequenceNumber: fmt.Sprintf("%056d", seq)}
}

// handle processes batch as functions/prices does, keeping the records to retry
// and the error.
func handle(ctx context.Context, c *prices.Consumer, batch []prices.Record) ([]string, error) {
	failed, _, err := c.Process(ctx, batch)
	return failed, err
}

func latestPG(t *testing.T, pool *pgxpool.Pool, sym string) readmodel.LatestPrice {
	t.Helper()
	p, ok, err := readmodel.LatestPriceOf(t.Context(), pool, sym)
	if err != nil || !ok {
		t.Fatalf("latest_prices %s: %v %v", sym, ok, err)
	}
	return p
}

// alertStore is the in-memory alert store (it passes the alert contract suite
// the PostgreSQL one passes) holding userID's rules, on no portfolio.
func alertStore(t testing.TB, userID string, rules ...alerts.Rule) *memstore.Alerts {
	t.Helper()
	store := memstore.NewAlerts(memstore.NewDirectory())
	for _, r := range rules {
		if _, err := store.Create(context.Background(), userID, r); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// TestOrderingDuplicatesLatePoisonAlertsValuations runs three batches through the
// consumer against DynamoDB Local and PostgreSQL.
func TestOrderingDuplicatesLatePoisonAlertsValuations(t *testing.T) {
	e := newEnv(t)
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "10", "MSFT": "1"})
	holdings(t, e.pool, "p2", u2, map[string]string{"MSFT": "2"})
	store := alertStore(t, u1, alerts.Rule{ID: "r1", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.RequireFromString("102")})
	notifier := &pricing.MemoryNotifier{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	ctx := t.Context()

	// Batch 1: ordered AAPL ticks, a duplicate, a tick older than one already seen,
	// a poison record in the middle, MSFT.
	poison := raw("AAPL", []byte(`{"eventType":"MarketDataUpdated","price":1.5}`))
	b1 := []prices.Record{
		rec(t, "AAPL", "100", t0),
		rec(t, "MSFT", "400", t0),
		poison,
		rec(t, "AAPL", "101", t0.Add(2*time.Second)),
		rec(t, "AAPL", "101", t0.Add(2*time.Second)), // duplicate
		rec(t, "AAPL", "99", t0.Add(time.Second)),    // late
	}
	resp, err := handle(ctx, c, b1)
	if err != nil || !slices.Equal(resp, []string{poison.SequenceNumber}) {
		t.Fatalf("batch 1 failures %v err %v: only the poison record", resp, err)
	}
	check := func(step, price string, at time.Time) {
		t.Helper()
		q, ok, err := e.latest.Get(ctx, "AAPL")
		if err != nil || !ok || q.Price.String() != price || !q.Timestamp.Equal(at) {
			t.Fatalf("%s: dynamodb AAPL %+v %v %v, want %s at %s", step, q, ok, err, price, at)
		}
		if p := latestPG(t, e.pool, "AAPL"); p.Price.String() != price || !p.AsOf.Equal(at) || p.Currency != "USD" {
			t.Fatalf("%s: latest_prices AAPL %+v, want %s", step, p, price)
		}
		day := calendar.MustNew(2026, 3, 2)
		closes, err := readmodel.DailyCloses(ctx, e.pool, "AAPL", day, day)
		if err != nil || len(closes) != 1 || closes[0].Close.String() != price || !closes[0].AsOf.Equal(at) {
			t.Fatalf("%s: daily_closes %+v %v, want %s", step, closes, err, price)
		}
	}
	check("batch 1", "101", t0.Add(2*time.Second))

	// Batch 2: a tick older than the stored one, alone in its batch: nothing moves.
	_, st, _ := c.Process(ctx, []prices.Record{rec(t, "AAPL", "50", t0.Add(time.Second))})
	if st.LatestStored != 0 || st.LatestRows != 0 || st.CloseRows != 0 {
		t.Fatalf("a late tick was written: %+v", st)
	}
	check("batch 2", "101", t0.Add(2*time.Second))
	if got := len(notifier.Deliveries()); got == 0 {
		t.Fatal("no valuation pushed")
	}

	// Batch 3: AAPL crosses 102 (rule r1 fires once), twice re-processed.
	b3 := []prices.Record{rec(t, "AAPL", "103", t0.Add(time.Minute)), rec(t, "AAPL", "105", t0.Add(2*time.Minute))}
	before := len(notifier.Deliveries())
	for range 2 {
		if resp, _ := handle(ctx, c, b3); len(resp) != 0 {
			t.Fatalf("batch 3 failures %v", resp)
		}
	}
	check("batch 3", "105", t0.Add(2*time.Minute))
	var firings []alerts.Firing
	var vals []pricing.ValuationMessage
	for _, d := range notifier.Deliveries()[before:] {
		switch m := d.Message.(type) {
		case pricing.AlertMessage:
			if !slices.Equal(d.UserIDs, []string{u1}) {
				t.Fatalf("alert to %v", d.UserIDs)
			}
			firings = append(firings, m.Firing)
		case pricing.ValuationMessage:
			vals = append(vals, m)
			if m.PortfolioID != "p1" || !slices.Equal(d.UserIDs, []string{u1}) {
				t.Fatalf("valuation %+v to %v: only p1 holds AAPL", m, d.UserIDs)
			}
		}
	}
	if len(firings) != 1 || firings[0].Key != "r1#0" || firings[0].Observed.String() != "103" {
		t.Fatalf("firings %+v: one, at the first crossing, not repeated on re-processing", firings)
	}
	// 10 × 105 + 1 × 400.
	if len(vals) != 2 || vals[0].MarketValue != "1450" || vals[0].Type != "valuation" || vals[0].AsOf != "2026-03-02T15:02:00Z" {
		t.Fatalf("valuations %+v", vals)
	}
	if p := latestPG(t, e.pool, "MSFT"); p.Price.String() != "400" {
		t.Fatalf("MSFT %+v", p)
	}
}

// failingLatest wraps the real DynamoDB store and fails the puts of chosen
// symbols (DynamoDB Local cannot be made to fail one item on demand).
type failingLatest struct {
	real *dynamoprices.Latest
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failingLatest) Put(ctx context.Context, q market.Quote, id string) (bool, error) {
	f.mu.Lock()
	bad := f.fail[q.Symbol]
	f.mu.Unlock()
	if bad {
		return false, errors.New("injected: ProvisionedThroughputExceededException")
	}
	return f.real.Put(ctx, q, id)
}

// TestFailedSymbolReportsAllItsRecords: when a symbol's write fails, every record
// of that symbol is reported (a retry replays them in order); other symbols go on.
func TestFailedSymbolReportsAllItsRecords(t *testing.T) {
	e := newEnv(t)
	fl := &failingLatest{real: e.latest, fail: map[string]bool{"MSFT": true}}
	c := prices.New(prices.Config{Latest: fl, DB: readmodel.NewPricesConsumerStore(e.pool), Retry: fastRetry(200 * time.Millisecond)})
	batch := []prices.Record{
		rec(t, "MSFT", "400", t0), rec(t, "AAPL", "100", t0), rec(t, "MSFT", "401", t0.Add(time.Second)), rec(t, "AAPL", "101", t0.Add(time.Second)),
	}
	resp, _ := handle(t.Context(), c, batch)
	if want := []string{batch[0].SequenceNumber, batch[2].SequenceNumber}; !slices.Equal(resp, want) {
		t.Fatalf("failures %v, want %v", resp, want)
	}
	if p := latestPG(t, e.pool, "AAPL"); p.Price.String() != "101" {
		t.Fatalf("AAPL %+v", p)
	}
	if _, ok, _ := readmodel.LatestPriceOf(t.Context(), e.pool, "MSFT"); ok {
		t.Fatal("MSFT written to Postgres although its DynamoDB write failed")
	}
	// The retry (Lambda re-delivers from the first failed record) succeeds.
	fl.fail = nil
	resp, _ = handle(t.Context(), c, batch)
	if len(resp) != 0 {
		t.Fatalf("retry failures %v", resp)
	}
	if p := latestPG(t, e.pool, "MSFT"); p.Price.String() != "401" {
		t.Fatalf("MSFT %+v", p)
	}
}

// TestUndeliveredAlertIsNotRetried: a firing the notifier could not deliver
// fails no record (pushes are best effort, after the durable work), its state is
// saved, and re-processing the batch does not fire it again.
func TestUndeliveredAlertIsNotRetried(t *testing.T) {
	e := newEnv(t)
	store := alertStore(t, u1, alerts.Rule{ID: "r1", Kind: alerts.KindPriceBelow, Symbol: "TSLA", Threshold: decimal.RequireFromString("150")})
	notifier := &pricing.MemoryNotifier{Fail: errors.New("gone")}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	batch := []prices.Record{rec(t, "TSLA", "149", t0), rec(t, "SPY", "500", t0)}
	resp, st, _ := c.Process(t.Context(), batch)
	if len(resp) != 0 || st.Firings != 1 || st.PushFailures == 0 {
		t.Fatalf("failures %v, stats %+v: the firing fails its push, not its records", resp, st)
	}
	notifier.Fail = nil
	if resp, st, _ := c.Process(t.Context(), batch); len(resp) != 0 || st.Firings != 0 {
		t.Fatalf("re-processing: failures %v, stats %+v", resp, st)
	}
	if d := alertKeys(notifier.Deliveries()); len(d) != 0 {
		t.Fatalf("alerts delivered %v", d)
	}
}

// TestPostgresDownFailsTheInvocation: with the database unreachable for longer
// than the retries within the invocation (its pool closed), every symbol fails,
// so the invocation fails and the mapping retries the batch whole (bisecting
// it, which spends none of its retries); the poison is not set aside yet, since
// the retry delivers it again, and the DynamoDB writes were harmless (newer wins
// on the retry).
func TestPostgresDownFailsTheInvocation(t *testing.T) {
	e := newEnv(t)
	e.pool.Close()
	sink := &memorySink{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Quarantine: sink, Retry: fastRetry(200 * time.Millisecond)})
	poison := raw("X", []byte("not json"))
	batch := []prices.Record{rec(t, "AAPL", "100", t0), poison, rec(t, "MSFT", "400", t0)}
	resp, st, err := c.Process(t.Context(), batch)
	if err == nil || len(resp) != 0 || st.FailedSymbols != 2 || st.Poison != 1 || st.TransientRetries == 0 || st.FailedRecords != 3 {
		t.Fatalf("err %v, failures %v, stats %+v", err, resp, st)
	}
	if got := sink.records(); len(got) != 0 {
		t.Fatalf("set aside before the batch is done: %+v", got)
	}
	if _, err := handle(t.Context(), c, batch); err == nil {
		t.Fatal("Handle did not fail the invocation")
	}
}
