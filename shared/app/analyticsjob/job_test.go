package analyticsjob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	userA = "0a0a0a0a-0000-4000-8000-00000000000a"
	userB = "0b0b0b0b-0000-4000-8000-00000000000b"
)

var (
	day0    = calendar.MustNew(2024, time.January, 2)
	asOf    = calendar.MustNew(2025, time.June, 30)
	splitOn = calendar.MustNew(2024, time.September, 16) // a Monday
	// The runs' clock: 17:00 in New York on asOf.
	runTime = time.Date(2025, time.June, 30, 21, 0, 0, 0, time.UTC)
)

// env is an event store, the command service over it, the read models the
// projection writes, the analytics store and the alert rules: in memory
// (newEnv), or on DynamoDB Local and a migrated PostgreSQL (newDynamoEnv).
type env struct {
	t       *testing.T
	ddb     *dynamodb.Client // nil in memory
	pool    *pgxpool.Pool    // nil in memory
	table   string
	store   eventstore.Store
	cmds    *command.Service
	metrics metricsStore
	// apply projects events, as the projector does from the stream.
	apply  func(ctx context.Context, events []portfolio.Event) error
	closes interface {
		UpsertDailyCloses(ctx context.Context, closes []readmodel.DailyClose) (int64, error)
	}
	valuations interface {
		ValuationHistory(ctx context.Context, userID, portfolioID string, from, to time.Time, limit int) ([]readmodel.Valuation, error)
	}
	alertRules func() alertRules
}

// metricsStore is the analytics store as the job writes it and the tests read it.
type metricsStore interface {
	analyticsjob.Store
	LatestMetrics(ctx context.Context, userID, portfolioID string) (readmodel.MetricsView, error)
	Series(ctx context.Context, userID, portfolioID string) (readmodel.SeriesView, error)
	Rebalancing(ctx context.Context, userID, portfolioID string) (readmodel.RebalancingView, error)
	Failures(ctx context.Context, mode string) ([]readmodel.AnalyticsFailure, error)
}

// alertRules is the alert store as the job uses it and the tests read it.
type alertRules interface {
	analyticsjob.AlertStore
	Create(ctx context.Context, userID string, rule alerts.Rule) (readmodel.AlertRule, error)
	List(ctx context.Context, userID string) ([]readmodel.AlertRule, error)
	History(ctx context.Context, userID string, limit int, cursor string) ([]readmodel.AlertFiring, string, error)
}

// newEnv is the env over the in-memory stores, each passing the contract suite
// its DynamoDB or PostgreSQL counterpart passes (eventstore/storetest,
// httpapi/querytest, readmodel/storetest); memquery, fed the events, is the
// portfolios table the metrics and alert stores join on.
func newEnv(t *testing.T) *env {
	t.Helper()
	store, reads := eventstore.NewMemory(), memquery.New()
	prices, vals := memstore.NewPrices(), memstore.NewValuations()
	e := &env{t: t, store: store, cmds: command.New(store, command.Options{SnapshotEvery: 4}), metrics: memstore.NewMetrics(reads, prices, vals),
		apply: reads.Apply, closes: prices, valuations: vals, alertRules: func() alertRules { return memstore.NewAlerts(reads) }}
	e.seedCloses()
	return e
}

// newDynamoEnv is the env on DynamoDB Local and PostgreSQL, for the tests that
// reach into DynamoDB and the end-to-end acceptance.
func newDynamoEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{SnapshotEvery: 4})
	pool, err := readmodel.Open(ctx, testenv.Postgres(t), readmodel.PoolOptions{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	proj := readmodel.NewProjector(pool, readmodel.ProjectorOptions{Metrics: io.Discard})
	e := &env{t: t, ddb: client, pool: pool, table: name, store: store, cmds: command.New(store, command.Options{SnapshotEvery: 4}), metrics: readmodel.NewMetrics(pool),
		apply: func(ctx context.Context, events []portfolio.Event) error {
			res, err := proj.ApplyBatch(ctx, events)
			if err == nil && len(res.Failures) > 0 {
				err = fmt.Errorf("projection failures %+v", res.Failures)
			}
			return err
		},
		closes: readmodel.NewPrices(pool), valuations: readmodel.NewValuations(pool), alertRules: func() alertRules { return readmodel.NewAlertRules(pool) }}
	e.seedCloses()
	return e
}

// closeOf is the deterministic close of a symbol on a weekday: a seeded random
// walk, AAA halving at its 2:1 split.
var closeTable = sync.OnceValue(func() map[string]map[calendar.Date]decimal.Decimal {
	out := map[string]map[calendar.Date]decimal.Decimal{}
	rng := rand.New(rand.NewPCG(7, 9))
	for _, sym := range []string{"AAA", "BBB", "CCC", "SPY", "VTI"} {
		m := map[calendar.Date]decimal.Decimal{}
		px := 100.0
		for d := day0 - 10; d <= asOf; d++ {
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				continue
			}
			px *= 1 + 0.0004 + 0.012*rng.NormFloat64()
			if sym == "AAA" && d == splitOn {
				px /= 2
			}
			m[d] = decimal.NewFromFloat(px).Round(2)
		}
		out[sym] = m
	}
	return out
})

func (e *env) seedCloses() {
	var rows []readmodel.DailyClose
	for sym, m := range closeTable() {
		for d, px := range m {
			rows = append(rows, readmodel.DailyClose{Symbol: sym, Day: d, Close: px, AsOf: d.Time().Add(20 * time.Hour), Source: "test"})
		}
	}
	if _, err := e.closes.UpsertDailyCloses(context.Background(), rows); err != nil {
		e.t.Fatal(err)
	}
}

func px(sym string, d calendar.Date) decimal.Decimal {
	p, ok := closeTable()[sym][d]
	if !ok {
		panic("no close of " + sym + " on " + d.String())
	}
	return p
}

func date(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func trade(typ portfolio.TxType, d string, sym, qty string) portfolio.Transaction {
	day := date(d)
	return portfolio.Transaction{Type: typ, Date: day, Symbol: sym, Quantity: decimal.RequireFromString(qty), Price: px(sym, day), Fee: decimal.RequireFromString("1.5"), Currency: "USD"}
}

func cash(typ portfolio.TxType, d, amount string) portfolio.Transaction {
	return portfolio.Transaction{Type: typ, Date: date(d), Amount: decimal.RequireFromString(amount), Currency: "USD"}
}

func dividend(d, sym, amount string) portfolio.Transaction {
	tx := cash(portfolio.Dividend, d, amount)
	tx.Symbol = sym
	return tx
}

func (e *env) create(user, key string) string {
	res, err := e.cmds.Create(context.Background(), command.Request{UserID: user, CommandID: key}, portfolio.CreatePortfolio{Name: key, BaseCurrency: "USD"})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.AggregateID
}

func (e *env) record(id, user string, tx portfolio.Transaction) string {
	e.t.Helper()
	var recorded portfolio.Transaction
	_, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		var err error
		recorded, err = p.RecordTransaction(tx, meta)
		return err
	})
	if err != nil {
		e.t.Fatalf("record %+v: %v", tx, err)
	}
	return recorded.ID
}

func (e *env) void(id, user, txID string) {
	e.t.Helper()
	if _, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.VoidTransaction(txID, "entered by mistake", meta)
	}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) targets(id, user string) {
	e.t.Helper()
	a := portfolio.TargetAllocation{DriftBand: decimal.RequireFromString("0.05"), Targets: []portfolio.Target{
		{Symbol: "AAA", Weight: decimal.RequireFromString("0.5")}, {Symbol: "BBB", Weight: decimal.RequireFromString("0.3")}, {Symbol: "CCC", Weight: decimal.RequireFromString("0.2")}}}
	if _, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.SetTargets(a, meta)
	}); err != nil {
		e.t.Fatal(err)
	}
}

// project applies the portfolios' events to the read models, as the projector
// does from the stream.
func (e *env) project(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		evs, err := e.store.Events(context.Background(), id, 1, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.apply(context.Background(), evs); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) job(loader analyticsjob.Loader, opts analyticsjob.Options) *analyticsjob.Job {
	if loader == nil {
		loader = e.cmds
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return runTime }
	}
	opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	if opts.Metrics == nil {
		opts.Metrics = io.Discard
	}
	opts.Settings.RiskFreeRate = 0.03
	return analyticsjob.New(loader, e.metrics, opts)
}

// changes is what functions/analytics decodes from the events table's stream for
// the portfolios' events: one change per event, in order, numbered from 1.
func (e *env) changes(ids ...string) analyticsjob.StreamBatch {
	var b analyticsjob.StreamBatch
	for _, id := range ids {
		evs, err := e.store.Events(context.Background(), id, 1, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, x := range evs {
			b.Changes = append(b.Changes, analyticsjob.Change{PortfolioID: id, ItemID: strconv.Itoa(len(b.Changes) + 1),
				Version: x.Version, EventType: x.EventType, EventID: x.EventID})
		}
	}
	return b
}

// recordMessy records a history with a split, a mistaken trade voided later and
// a back-dated sell recorded after later trades; recordClean records the same
// effective history in date order with nothing to correct.
func (e *env) recordMessy(user string) string {
	id := e.create(user, "messy")
	e.record(id, user, cash(portfolio.Deposit, "2024-01-02", "100000"))
	e.record(id, user, trade(portfolio.Buy, "2024-01-03", "AAA", "200"))
	e.record(id, user, trade(portfolio.Buy, "2024-02-05", "BBB", "150"))
	wrong := e.record(id, user, trade(portfolio.Buy, "2024-03-04", "CCC", "999"))
	e.record(id, user, portfolio.Transaction{Type: portfolio.Split, Date: splitOn, Symbol: "AAA", Ratio: portfolio.Ratio{New: 2, Old: 1}, Currency: "USD"})
	e.record(id, user, trade(portfolio.Buy, "2024-11-04", "CCC", "80"))
	e.record(id, user, cash(portfolio.Withdrawal, "2025-02-03", "5000"))
	e.void(id, user, wrong)
	// Back-dated: before the split, the CCC buy and the withdrawal already recorded.
	e.record(id, user, trade(portfolio.Sell, "2024-06-03", "AAA", "50"))
	e.record(id, user, dividend("2025-03-03", "BBB", "120"))
	e.targets(id, user)
	return id
}

func (e *env) recordClean(user string) string {
	id := e.create(user, "clean")
	e.record(id, user, cash(portfolio.Deposit, "2024-01-02", "100000"))
	e.record(id, user, trade(portfolio.Buy, "2024-01-03", "AAA", "200"))
	e.record(id, user, trade(portfolio.Buy, "2024-02-05", "BBB", "150"))
	e.record(id, user, trade(portfolio.Sell, "2024-06-03", "AAA", "50"))
	e.record(id, user, portfolio.Transaction{Type: portfolio.Split, Date: splitOn, Symbol: "AAA", Ratio: portfolio.Ratio{New: 2, Old: 1}, Currency: "USD"})
	e.record(id, user, trade(portfolio.Buy, "2024-11-04", "CCC", "80"))
	e.record(id, user, cash(portfolio.Withdrawal, "2025-02-03", "5000"))
	e.record(id, user, dividend("2025-03-03", "BBB", "120"))
	e.targets(id, user)
	return id
}

// TestCorrectedHistoryYieldsTheSameMetrics is the acceptance: a portfolio
// whose history holds a split, a void and a back-dated trade has the same
// figures as the same portfolio recorded cleanly, through the command service
// and event store on DynamoDB Local, the stream handler and Postgres.
func TestCorrectedHistoryYieldsTheSameMetrics(t *testing.T) {
	t.Parallel()
	e := newDynamoEnv(t)
	messy, clean := e.recordMessy(userA), e.recordClean(userA)
	e.project(messy, clean)
	j := e.job(nil, analyticsjob.Options{})
	// A batch with every event of both portfolios, coalesced to one computation
	// each (functions/analytics decodes such a batch from the stream itself).
	batch := e.changes(messy, clean)
	if len(batch.Changes) < 20 {
		t.Fatalf("%d changes", len(batch.Changes))
	}
	out, err := j.Recompute(context.Background(), batch)
	if err != nil || len(out.FailedItems) != 0 {
		t.Fatal(out, err)
	}
	ctx := context.Background()
	a, err := e.metrics.LatestMetrics(ctx, userA, messy)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.metrics.LatestMetrics(ctx, userA, clean)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Report)
	jb, _ := json.Marshal(b.Report)
	if string(ja) != string(jb) {
		t.Fatalf("the corrected history's report differs:\nmessy %s\nclean %s", ja, jb)
	}
	if !a.MarketValue.Equal(b.MarketValue) || a.AsOf != asOf {
		t.Fatalf("market value %s vs %s, as of %s", a.MarketValue, b.MarketValue, a.AsOf)
	}
	// The figures are real ones, not a pair of identical absences.
	r := a.Report
	for name, m := range map[string]bool{"twr": r.TWR.Period.OK, "mwr": r.MWR.Annualized.OK, "vol": r.Volatility.Annualized.OK,
		"sharpe": r.Sharpe.OK, "drawdown": r.MaxDrawdown.Value.OK, "var": r.ValueAtRisk.Historical95.VaR.OK,
		"beta": r.Benchmark.Beta.OK, "hhi": r.Diversification.HHI.OK} {
		if !m {
			t.Errorf("%s absent: %s", name, ja)
		}
	}
	if len(r.Correlation.Symbols) != 3 || r.Diversification.Holdings != 3 {
		t.Errorf("correlation %v, holdings %d", r.Correlation.Symbols, r.Diversification.Holdings)
	}
	// Market value by hand: 300 AAA (200 − 50, doubled), 150 BBB, 80 CCC at the
	// last close, plus the cash.
	cashLeft := decimal.RequireFromString("100000").Sub(decimal.RequireFromString("5000")).Add(decimal.RequireFromString("120"))
	for _, tx := range []portfolio.Transaction{trade(portfolio.Buy, "2024-01-03", "AAA", "200"), trade(portfolio.Buy, "2024-02-05", "BBB", "150"),
		trade(portfolio.Buy, "2024-11-04", "CCC", "80")} {
		cashLeft = cashLeft.Sub(tx.Gross()).Sub(tx.Fee)
	}
	sold := trade(portfolio.Sell, "2024-06-03", "AAA", "50")
	cashLeft = cashLeft.Add(sold.Gross()).Sub(sold.Fee)
	want := cashLeft.Add(px("AAA", asOf).Mul(decimal.NewFromInt(300))).Add(px("BBB", asOf).Mul(decimal.NewFromInt(150))).Add(px("CCC", asOf).Mul(decimal.NewFromInt(80)))
	if !a.MarketValue.Equal(want) {
		t.Errorf("market value %s, want %s", a.MarketValue, want)
	}
	// The split is not a loss: the value series has no −50% day there.
	sv, err := e.metrics.Series(ctx, userA, messy)
	if err != nil {
		t.Fatal(err)
	}
	s := sv.Series
	i := int(splitOn - s.Days[0])
	if rr := s.Value[i]/s.Value[i-1] - 1; math.Abs(rr) > 0.1 {
		t.Errorf("return on the split day %s: %.4f", splitOn, rr)
	}
	// Both have a rebalancing plan, and the same one.
	ra, err1 := e.metrics.Rebalancing(ctx, userA, messy)
	rb, err2 := e.metrics.Rebalancing(ctx, userA, clean)
	if err1 != nil || err2 != nil || string(ra.Plan) != string(rb.Plan) {
		t.Fatalf("rebalancing %s / %s (%v, %v)", ra.Plan, rb.Plan, err1, err2)
	}
	var plan struct {
		Trades []struct{ Symbol, Side string }
	}
	if err := json.Unmarshal(ra.Plan, &plan); err != nil || len(plan.Trades) == 0 {
		t.Fatalf("plan %s: %v", ra.Plan, err)
	}
}

// countingLoader is the command service with a fault switch per portfolio, and a
// count of loads.
type countingLoader struct {
	next  analyticsjob.Loader
	mu    sync.Mutex
	loads map[string]int
	fail  map[string]bool
	// failFirst fails a portfolio's first loads: an outage that ends.
	failFirst map[string]int
}

func (l *countingLoader) LoadFull(ctx context.Context, id string) (*portfolio.Portfolio, error) {
	l.mu.Lock()
	l.loads[id]++
	fail := l.fail[id] || l.loads[id] <= l.failFirst[id]
	l.mu.Unlock()
	if fail {
		return nil, errors.New("injected: event store unavailable for this portfolio")
	}
	return l.next.LoadFull(ctx, id)
}

// TestStreamCoalescesAndFailsPerPortfolio: a batch with several events per
// portfolio loads each portfolio once, and a portfolio that keeps failing (after
// the retries within the invocation) reports exactly its own records while the
// others are stored.
func TestStreamCoalescesAndFailsPerPortfolio(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok1, ok2, bad := e.create(userA, "p1"), e.create(userB, "p2"), e.create(userA, "p3")
	for _, id := range []string{ok1, ok2, bad} {
		user := userA
		if id == ok2 {
			user = userB
		}
		e.record(id, user, trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
		e.record(id, user, trade(portfolio.Buy, "2024-05-06", "BBB", "20"))
	}
	e.project(ok1, ok2, bad)
	l := &countingLoader{next: e.cmds, loads: map[string]int{}, fail: map[string]bool{bad: true}}
	batch := e.changes(ok1, bad, ok2)
	// A record that is no portfolio event (an operator's edit, MODIFY) counts in
	// the metrics only.
	batch.Ignored = 1
	var emf bytes.Buffer
	out, err := e.job(l, analyticsjob.Options{Concurrency: 2, Metrics: &emf, Retry: quickRetry}).Recompute(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	failed := out.FailedItems
	var line map[string]any
	if err := json.Unmarshal(emf.Bytes(), &line); err != nil || line["PortfoliosRecomputed"] != 2.0 || line["PortfoliosFailed"] != 1.0 ||
		line["StreamRecords"] != 10.0 || line["_aws"] == nil {
		t.Errorf("EMF line %s (%v)", emf.Bytes(), err)
	}
	// ok1 has 3 events (created + 2 trades): records 1–3; bad 4–6; ok2 7–9.
	if len(failed) != 3 || failed[0] != "4" || failed[1] != "5" || failed[2] != "6" {
		t.Fatalf("failures %v", failed)
	}
	for _, id := range []string{ok1, ok2} {
		if l.loads[id] != 1 {
			t.Errorf("%s loaded %d times", id, l.loads[id])
		}
	}
	if l.loads[bad] < 2 {
		t.Errorf("the failing portfolio was loaded %d times: not retried", l.loads[bad])
	}
	if _, err := e.metrics.LatestMetrics(context.Background(), userA, ok1); err != nil {
		t.Error(err)
	}
	if _, err := e.metrics.LatestMetrics(context.Background(), userB, ok2); err != nil {
		t.Error(err)
	}
	if _, err := e.metrics.LatestMetrics(context.Background(), userA, bad); !errors.Is(err, readmodel.ErrNotComputed) {
		t.Errorf("failed portfolio: %v", err)
	}
	// B cannot read A's figures.
	if _, err := e.metrics.LatestMetrics(context.Background(), userB, ok1); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("B reads A's metrics: %v", err)
	}
}

// TestScheduledRunSurvivesAFailingPortfolio: a daily run computes every portfolio
// in bounded pages, records the one that fails, and the next run retries only it.
func TestScheduledRunSurvivesAFailingPortfolio(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		id := e.create(userA, "run"+strconv.Itoa(i))
		e.record(id, userA, cash(portfolio.Deposit, "2024-01-02", "10000"))
		e.record(id, userA, trade(portfolio.Buy, "2024-01-03", []string{"AAA", "BBB", "CCC"}[i%3], strconv.Itoa(10+i)))
		ids = append(ids, id)
	}
	e.project(ids...)
	bad := ids[3]
	l := &countingLoader{next: e.cmds, loads: map[string]int{}, fail: map[string]bool{bad: true}}
	j := e.job(l, analyticsjob.Options{Concurrency: 3, PageSize: 3})
	ctx := context.Background()
	sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Computed != 6 || sum.Failed != 1 || sum.Pages != 3 || sum.Day != asOf.String() {
		t.Fatalf("first run %+v", sum)
	}
	// The valuation snapshot at the close (16:00 New York): 10 AAA at its close,
	// cost basis from the lot engine (price × 10 + the fee).
	vals, err := e.valuations.ValuationHistory(ctx, userA, ids[0], runTime.Add(-48*time.Hour), runTime, 10)
	if err != nil || len(vals) != 1 {
		t.Fatalf("valuations %+v %v", vals, err)
	}
	wantMV := px("AAA", asOf).Mul(decimal.NewFromInt(10))
	wantCB := px("AAA", date("2024-01-03")).Mul(decimal.NewFromInt(10)).Add(decimal.RequireFromString("1.5"))
	if v := vals[0]; !v.AsOf.Equal(time.Date(2025, 6, 30, 20, 0, 0, 0, time.UTC)) || !v.MarketValue.Equal(wantMV) || !v.CostBasis.Equal(wantCB) ||
		!v.UnrealizedPnL.Equal(wantMV.Sub(wantCB)) || len(v.Unpriced) != 0 {
		t.Errorf("valuation %+v, want %s / %s", v, wantMV, wantCB)
	}
	fails, err := e.metrics.Failures(ctx, analyticsjob.ModeDaily)
	if err != nil || len(fails) != 1 || fails[0].PortfolioID != bad || fails[0].Attempts != 1 || fails[0].Day != asOf {
		t.Fatalf("failures %+v %v", fails, err)
	}
	// A rerun of the same day does nothing but the failed one, which fails again.
	sum, err = j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil || sum.Computed != 0 || sum.Failed != 1 {
		t.Fatalf("rerun %+v %v", sum, err)
	}
	if fails, _ := e.metrics.Failures(ctx, analyticsjob.ModeDaily); len(fails) != 1 || fails[0].Attempts != 2 {
		t.Fatalf("failures after rerun %+v", fails)
	}
	// Repaired: the next run computes it alone, and the failure is cleared.
	l.mu.Lock()
	l.fail[bad] = false
	l.mu.Unlock()
	sum, err = j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil || sum.Computed != 1 || sum.Failed != 0 {
		t.Fatalf("repaired run %+v %v", sum, err)
	}
	if fails, _ := e.metrics.Failures(ctx, analyticsjob.ModeDaily); len(fails) != 0 {
		t.Fatalf("failures left %+v", fails)
	}
	for _, id := range ids {
		m, err := e.metrics.LatestMetrics(ctx, userA, id)
		if err != nil || m.AsOf != asOf {
			t.Errorf("%s: %+v %v", id, m.AsOf, err)
		}
	}
	// A new trade (version moves on) makes the portfolio pending again the same day.
	e.record(ids[0], userA, trade(portfolio.Sell, "2025-06-02", "AAA", "5"))
	e.project(ids[0])
	sum, err = j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil || sum.Computed != 1 {
		t.Fatalf("after a change %+v %v", sum, err)
	}
	if _, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: "hourly"}); err == nil {
		t.Error("an unknown mode is accepted")
	}
}

// recordingNotifier keeps what was pushed.
type recordingNotifier struct {
	mu   sync.Mutex
	sent []any
}

func (n *recordingNotifier) Notify(_ context.Context, users []string, msg any) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for range users {
		n.sent = append(n.sent, msg)
	}
	return nil
}

// TestDailyRunFiresRiskAlertsOnce: a concentration rule fires on the daily run's
// figures, is recorded in the alert history and pushed, and a rerun fires nothing
// new; the weekly run pushes a summary per user.
func TestDailyRunFiresRiskAlertsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(userA, "alerts")
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "100"))
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "BBB", "5"))
	e.project(id)
	ctx := context.Background()
	rules := e.alertRules()
	for _, r := range []alerts.Rule{
		{ID: "conc", Kind: alerts.Kind("concentration"), PortfolioID: id, Threshold: decimal.RequireFromString("0.6")},
		{ID: "dd", Kind: alerts.Kind("drawdown"), PortfolioID: id, Threshold: decimal.RequireFromString("0.99")},
		// AAA is ~95% of the value: far outside 50% ± 5 points; BBB's 5% is inside 10% ± 10.
		{ID: "drift-aaa", Kind: alerts.KindWeightDrift, PortfolioID: id, Symbol: "AAA", TargetWeight: decimal.RequireFromString("0.5"), Threshold: decimal.RequireFromString("0.05")},
		{ID: "drift-bbb", Kind: alerts.KindWeightDrift, PortfolioID: id, Symbol: "BBB", TargetWeight: decimal.RequireFromString("0.1"), Threshold: decimal.RequireFromString("0.1")},
	} {
		if _, err := rules.Create(ctx, userA, r); err != nil {
			t.Fatal(err)
		}
	}
	n := &recordingNotifier{}
	j := e.job(nil, analyticsjob.Options{Alerts: rules, Notifier: n})
	sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil || sum.Computed != 1 || sum.Firings != 2 {
		t.Fatalf("daily %+v %v", sum, err)
	}
	hist, _, err := rules.History(ctx, userA, 10, "")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %+v %v", hist, err)
	}
	fired := map[string]bool{}
	for _, h := range hist {
		fired[h.RuleID] = true
	}
	if !fired["conc"] || !fired["drift-aaa"] {
		t.Fatalf("fired %v", fired)
	}
	if len(n.sent) != 2 {
		t.Fatalf("pushed %v", n.sent)
	}
	// The next day: the rule is evaluated again (its state says so), is still
	// above its threshold, but fired already and has not re-armed.
	before, _ := rules.List(ctx, userA)
	sum, err = j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily, Day: date("2025-07-01")})
	if err != nil || sum.Computed != 1 || sum.Firings != 0 {
		t.Fatalf("second daily %+v %v", sum, err)
	}
	after, _ := rules.List(ctx, userA)
	for i := range after {
		if after[i].Rule.ID == "conc" && (!after[i].State.LastAt.After(before[i].State.LastAt) || !after[i].State.Fired) {
			t.Errorf("the next day was not evaluated: %+v -> %+v", before[i].State, after[i].State)
		}
	}
	sum, err = j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeWeekly})
	if err != nil || sum.Notified != 1 {
		t.Fatalf("weekly %+v %v", sum, err)
	}
	msg, ok := n.sent[len(n.sent)-1].(analyticsjob.WeeklySummaryMessage)
	if !ok || msg.Type != "weekly_summary" || len(msg.Portfolios) != 1 || msg.Portfolios[0].PortfolioID != id || !msg.Portfolios[0].WeekReturn.OK {
		t.Fatalf("weekly summary %+v", n.sent[len(n.sent)-1])
	}
}

// TestRiskAlertsSurviveAnInvalidState: a rule whose saved state is invalid
// restarts, and the other rules of its portfolio are evaluated all the same:
// one bad state used to fail the whole evaluation.
func TestRiskAlertsSurviveAnInvalidState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(userA, "alerts")
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "100"))
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "BBB", "5"))
	e.project(id)
	ctx := context.Background()
	rules := e.alertRules()
	for _, r := range []alerts.Rule{
		{ID: "conc", Kind: alerts.Kind("concentration"), PortfolioID: id, Threshold: decimal.RequireFromString("0.6")},
		{ID: "dd", Kind: alerts.Kind("drawdown"), PortfolioID: id, Threshold: decimal.RequireFromString("0.99")},
	} {
		if _, err := rules.Create(ctx, userA, r); err != nil {
			t.Fatal(err)
		}
	}
	stored, _, err := rules.PortfolioRules(ctx, []string{id})
	if err != nil || len(stored) != 2 {
		t.Fatal(stored, err)
	}
	bad := alerts.State{Rules: map[string]alerts.RuleState{alerts.ScopedID(userA, "dd"): {Fired: true, Epoch: 2}}} // fired, but when?
	if err := rules.SaveStateAndMarks(ctx, stored, bad); err != nil {
		t.Fatal(err)
	}
	j := e.job(nil, analyticsjob.Options{Alerts: rules, Notifier: &recordingNotifier{}})
	sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil || sum.Computed != 1 || sum.Firings != 1 {
		t.Fatalf("daily %+v %v; want conc's firing", sum, err)
	}
	list, _ := rules.List(ctx, userA)
	for _, r := range list {
		if r.Rule.ID == "dd" && (r.State.Fired || r.State.Epoch != 3 || r.State.LastAt.IsZero()) {
			t.Errorf("the rule of the invalid state: %+v; want it restarted at epoch 3 and evaluated", r.State)
		}
	}
}

// failingNotifier's pushes all fail, as a user's dead or slow connections do.
type failingNotifier struct{ calls atomic.Int64 }

func (n *failingNotifier) Notify(context.Context, []string, any) error {
	n.calls.Add(1)
	return errors.New("gone")
}

// TestRiskAlertPushesAreBestEffort: a firing whose push fails is recorded and
// its rule's state saved all the same, and the run succeeds; it used to fail
// the run (and the stream batch), and the retry could not push it either.
func TestRiskAlertPushesAreBestEffort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(userA, "alerts-push")
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "100"))
	e.project(id)
	ctx := context.Background()
	rules := e.alertRules()
	if _, err := rules.Create(ctx, userA, alerts.Rule{ID: "conc", Kind: alerts.KindConcentration, PortfolioID: id, Threshold: decimal.RequireFromString("0.6")}); err != nil {
		t.Fatal(err)
	}
	n := &failingNotifier{}
	j := e.job(nil, analyticsjob.Options{Alerts: rules, Notifier: n})
	sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
	if err != nil || sum.Firings != 1 || n.calls.Load() != 1 {
		t.Fatalf("daily %+v %v, %d pushes", sum, err, n.calls.Load())
	}
	if hist, _, err := rules.History(ctx, userA, 10, ""); err != nil || len(hist) != 1 {
		t.Fatalf("history %+v %v", hist, err)
	}
	if list, _ := rules.List(ctx, userA); len(list) != 1 || !list[0].State.Fired {
		t.Fatalf("state not saved: %+v", list)
	}
}

// TestStreamRecomputeEvaluatesRiskAlerts: a trade that concentrates a
// portfolio fires its concentration rule and a rule with two conditions when
// the stream recomputes it, with no daily run; the next change, still
// concentrated, fires nothing again, and neither does the day's run at the
// close (one state per rule, whoever evaluates).
func TestStreamRecomputeEvaluatesRiskAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(userA, "alerts-stream")
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "50"))
	e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "BBB", "50"))
	e.project(id)
	ctx := context.Background()
	rules := e.alertRules()
	for _, r := range []alerts.Rule{
		{ID: "conc", Kind: alerts.KindConcentration, PortfolioID: id, Threshold: decimal.RequireFromString("0.9")},
		{ID: "both", PortfolioID: id, Conditions: []alerts.Condition{
			{Kind: alerts.KindConcentration, Threshold: decimal.RequireFromString("0.9")},
			{Kind: alerts.KindWeightDrift, Symbol: "AAA", TargetWeight: decimal.RequireFromString("0.5"), Threshold: decimal.RequireFromString("0.3")},
		}},
	} {
		if _, err := rules.Create(ctx, userA, r); err != nil {
			t.Fatal(err)
		}
	}
	n := &recordingNotifier{}
	now := runTime.Add(-4 * time.Hour) // the day's session, before its close
	j := e.job(nil, analyticsjob.Options{Alerts: rules, Notifier: n})
	recompute := func(at time.Time) {
		t.Helper()
		j := e.job(nil, analyticsjob.Options{Alerts: rules, Notifier: n, Now: func() time.Time { return at }})
		if out, err := j.Recompute(ctx, e.changes(id)); err != nil || len(out.FailedItems) != 0 {
			t.Fatal(out, err)
		}
	}
	fired := func() []string {
		t.Helper()
		hist, _, err := rules.History(ctx, userA, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, h := range hist {
			keys = append(keys, h.Key)
		}
		slices.Sort(keys)
		return keys
	}
	recompute(now)
	if got := fired(); len(got) != 0 {
		t.Fatalf("fired before the trade: %v", got)
	}
	// Selling most of BBB leaves AAA nearly all of the value.
	e.record(id, userA, trade(portfolio.Sell, "2025-06-02", "BBB", "49"))
	e.project(id)
	marker := rules.(interface {
		StateMarks(ctx context.Context, keys []string) (map[string]string, error)
	})
	key := "p:" + id
	before, err := marker.StateMarks(ctx, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	recompute(now.Add(time.Minute))
	if got := fired(); !slices.Equal(got, []string{"both#0", "conc#0"}) || len(n.sent) != 2 {
		t.Fatalf("fired %v, pushed %d", got, len(n.sent))
	}
	// The state is saved with the portfolio's mark moved: a prices consumer
	// holding these rules (it evaluates them on ticks) reloads their state.
	if after, err := marker.StateMarks(ctx, []string{key}); err != nil || after[key] == before[key] {
		t.Fatalf("mark %q after the save, %q before, %v", after[key], before[key], err)
	}
	recompute(now.Add(2 * time.Minute))
	if sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily}); err != nil || sum.Firings != 0 {
		t.Fatalf("daily %+v %v", sum, err)
	}
	if got := fired(); len(got) != 2 || len(n.sent) != 2 {
		t.Fatalf("fired again: %v, pushed %d", got, len(n.sent))
	}
}
