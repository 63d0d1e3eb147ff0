package prices_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// TestRuleCacheAcrossContainers: two consumers over one Postgres store stand for
// two Lambda containers taking turns on a shard. Each keeps rules and state in
// memory, yet neither fires what the other already fired, both see a rule created
// or deleted through the API at their next batch.
func TestRuleCacheAcrossContainers(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	store := readmodel.NewConsumerAlertRules(e.pool)
	d := decimal.RequireFromString
	if _, err := store.Create(ctx, u1, alerts.Rule{ID: "a1", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("100")}); err != nil {
		t.Fatal(err)
	}
	notifier := &pricing.MemoryNotifier{}
	a := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	b := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	n := 0
	run := func(c *prices.Consumer, price string) {
		t.Helper()
		n++
		batch := []prices.Record{rec(t, "AAPL", price, t0.Add(time.Duration(n)*time.Minute))}
		if resp, _ := handle(ctx, c, batch); len(resp) != 0 {
			t.Fatalf("batch %d: failures %v", n, resp)
		}
	}
	keys := func() []string { return alertKeys(notifier.Deliveries()) }

	run(a, "99")  // both warm up with a1 armed
	run(b, "99")  //
	run(a, "101") // a fires a1#0
	run(b, "102") // b must know a1 fired: nothing
	if got := keys(); len(got) != 1 || got[0] != "a1#0" {
		t.Fatalf("after a fired, b fired again: %v", got)
	}
	run(b, "98")  // b re-arms a1 (epoch 1)
	run(a, "103") // a must know it re-armed: fires a1#1
	if got := keys(); len(got) != 2 || got[1] != "a1#1" {
		t.Fatalf("a missed b's re-arming: %v", got)
	}
	// A rule created through the API is seen by a warm prices.
	if _, err := store.Create(ctx, u2, alerts.Rule{ID: "a2", Kind: alerts.KindPriceBelow, Symbol: "AAPL", Threshold: d("90")}); err != nil {
		t.Fatal(err)
	}
	run(b, "89")
	if got := keys(); len(got) != 3 || got[2] != "a2#0" {
		t.Fatalf("new rule not evaluated: %v", got)
	}
	// A deleted rule stops firing.
	if err := store.Delete(ctx, u2, "a2"); err != nil {
		t.Fatal(err)
	}
	run(b, "95") // would re-arm a2
	run(b, "85") // would fire a2#1
	run(a, "101")
	if got := keys(); len(got) != 4 || got[3] != "a1#2" {
		t.Fatalf("after delete: %v (a1 re-armed at 95 or 85, fires again at 101; a2 is gone)", got)
	}
}

// TestHoldingsCacheFollowsTheProjector: a warm consumer values from positions it
// keeps in memory, yet sees a trade, a new holder and an archived portfolio at
// its next batch (the triggers of migration 0006 move the holding marks).
func TestHoldingsCacheFollowsTheProjector(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "10", "MSFT": "1"})
	notifier := &pricing.MemoryNotifier{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Notifier: notifier})
	n := 0
	values := func(sym, price string) map[string]string {
		t.Helper()
		n++
		before := len(notifier.Deliveries())
		batch := []prices.Record{rec(t, sym, price, t0.Add(time.Duration(n)*time.Minute))}
		if resp, _ := handle(ctx, c, batch); len(resp) != 0 {
			t.Fatalf("batch %d: failures %v", n, resp)
		}
		out := map[string]string{}
		for _, d := range notifier.Deliveries()[before:] {
			if m, ok := d.Message.(pricing.ValuationMessage); ok {
				out[m.PortfolioID] = m.MarketValue
			}
		}
		return out
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := e.pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	values("MSFT", "300")
	if got := values("AAPL", "100"); len(got) != 1 || got["p1"] != "1300" {
		t.Fatalf("first: %v", got)
	}
	exec(`update positions set quantity = 20, version = 2 where portfolio_id = 'p1' and symbol = 'AAPL'`)
	holdings(t, e.pool, "p9", u2, map[string]string{"AAPL": "1"})
	if got := values("AAPL", "101"); len(got) != 2 || got["p1"] != "2320" || got["p9"] != "101" {
		t.Fatalf("after a trade and a new holder: %v, want p1 2320 (20 × 101 + 300), p9 101", got)
	}
	// A trade in a symbol the batch does not tick still changes the value.
	exec(`update positions set quantity = 2, version = 3 where portfolio_id = 'p1' and symbol = 'MSFT'`)
	exec(`update portfolios set archived = true, version = 3 where id = 'p9'`)
	if got := values("AAPL", "102"); len(got) != 1 || got["p1"] != "2640" {
		t.Fatalf("after an MSFT trade and p9 archived: %v, want p1 2640 (20 × 102 + 2 × 300)", got)
	}
	exec(`update positions set quantity = 0, version = 4 where portfolio_id = 'p1' and symbol = 'AAPL'`)
	if got := values("AAPL", "103"); len(got) != 0 {
		t.Fatalf("nobody holds AAPL any more: %v", got)
	}
}

// TestConsumerPrunesAgedValuations: the first batch of a consumer thins the
// valuations of the days just past the retention to one a day, and leaves the
// recent ones.
func TestConsumerPrunesAgedValuations(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	aged := time.Now().UTC().Add(-8 * 24 * time.Hour).Truncate(24 * time.Hour).Add(14 * time.Hour)
	recent := time.Now().UTC().Add(-time.Hour)
	var rows []readmodel.Valuation
	for i := range 4 {
		for _, at := range []time.Time{aged, recent} {
			rows = append(rows, readmodel.Valuation{PortfolioID: "p1", UserID: u1, AsOf: at.Add(time.Duration(i) * time.Minute),
				MarketValue: decimal.NewFromInt(100), CostBasis: decimal.NewFromInt(90), UnrealizedPnL: decimal.NewFromInt(10)})
		}
	}
	if _, err := readmodel.InsertValuations(ctx, e.pool, rows); err != nil {
		t.Fatal(err)
	}
	// Symbol watches: one of a connection closed an hour ago, one live.
	if err := readmodel.WatchSymbols(ctx, e.pool, "gone", u1, []string{"TSLA"}, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := readmodel.WatchSymbols(ctx, e.pool, "live", u2, []string{"TSLA"}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool)})
	_, st, _ := c.Process(ctx, []prices.Record{rec(t, "AAPL", "100", t0)})
	if st.Pruned != 3 {
		t.Fatalf("pruned %d, want 3 (4 aged rows of one day thinned to 1)", st.Pruned)
	}
	var watches []string
	if rows, err := e.pool.Query(ctx, `select connection_id from symbol_watchers order by 1`); err == nil {
		watches, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
	} else {
		t.Fatal(err)
	}
	if !slices.Equal(watches, []string{"live"}) {
		t.Fatalf("watches after the prune: %v, want the live one only", watches)
	}
	left, err := readmodel.ValuationHistory(ctx, e.pool, u1, "p1", aged.Add(-time.Hour), time.Now(), 100)
	if err != nil || len(left) != 5 || !left[0].AsOf.Equal(aged.Add(3*time.Minute)) {
		t.Fatalf("left %d rows (%v): want the aged day's last and the 4 recent", len(left), err)
	}
	// A later row of the aged day makes the kept one prunable, but the next batch
	// is within PruneEvery: no prune.
	late := readmodel.Valuation{PortfolioID: "p1", UserID: u1, AsOf: aged.Add(10 * time.Minute),
		MarketValue: decimal.NewFromInt(100), CostBasis: decimal.NewFromInt(90), UnrealizedPnL: decimal.NewFromInt(10)}
	if _, err := readmodel.InsertValuations(ctx, e.pool, []readmodel.Valuation{late}); err != nil {
		t.Fatal(err)
	}
	if _, st, _ := c.Process(ctx, []prices.Record{rec(t, "AAPL", "101", t0.Add(time.Second))}); st.Pruned != 0 {
		t.Fatalf("second batch pruned %d", st.Pruned)
	}
	// A new consumer (a new container) prunes at once.
	c2 := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool)})
	if _, st, _ := c2.Process(ctx, []prices.Record{rec(t, "AAPL", "102", t0.Add(2*time.Second))}); st.Pruned != 1 {
		t.Fatalf("new consumer pruned %d, want 1", st.Pruned)
	}
}

// TestWarmConsumerFollowsEditsAndPauses: a warm consumer evaluates a rule of
// several conditions, stops evaluating it once paused, sees its edit, and after
// the resume fires it again only on a tick after the resume (ticks stamped now:
// a resume ignores the ticks before it).
func TestWarmConsumerFollowsEditsAndPauses(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	store := readmodel.NewConsumerAlertRules(e.pool)
	d := decimal.RequireFromString
	if _, err := store.Create(ctx, u1, alerts.Rule{ID: "band", Match: alerts.MatchAny, Conditions: []alerts.Condition{
		{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("110")},
		{Kind: alerts.KindPriceBelow, Symbol: "AAPL", Threshold: d("90")},
	}}); err != nil {
		t.Fatal(err)
	}
	notifier := &pricing.MemoryNotifier{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	start, n := time.Now().UTC(), 0
	run := func(price string) {
		t.Helper()
		n++
		batch := []prices.Record{rec(t, "AAPL", price, start.Add(time.Duration(n)*time.Millisecond))}
		if resp, _ := handle(ctx, c, batch); len(resp) != 0 {
			t.Fatalf("batch %d: failures %v", n, resp)
		}
	}
	keys := func() []string { return alertKeys(notifier.Deliveries()) }
	run("100")
	run("111") // above: fires band#0
	run("100") // neither: re-arms (epoch 1)
	if got := keys(); !slices.Equal(got, []string{"band#0"}) {
		t.Fatalf("fired %v", got)
	}
	off, on := false, true
	if _, err := store.Update(ctx, u1, "band", alerts.Patch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	run("80") // paused: nothing
	if got := keys(); len(got) != 1 {
		t.Fatalf("a paused rule fired: %v", got)
	}
	lower := []alerts.Condition{{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("110")}, {Kind: alerts.KindPriceBelow, Symbol: "AAPL", Threshold: d("70")}}
	if _, err := store.Update(ctx, u1, "band", alerts.Patch{Conditions: &lower, Active: &on}); err != nil {
		t.Fatal(err)
	}
	start = time.Now().UTC() // after the resume
	run("75")                // above the new lower bound: nothing
	run("69")                // below it: fires band#1
	if got := keys(); !slices.Equal(got, []string{"band#0", "band#1"}) {
		t.Fatalf("after the edit and resume: %v", got)
	}
}
