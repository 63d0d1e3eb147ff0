package prices_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	eventschema "github.com/portfoliotracker/tracker/events"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// eventLog keeps the PortfolioValueCalculated events a consumer hands out.
type eventLog struct {
	mu  sync.Mutex
	evs []pricing.PortfolioValueCalculated
}

func (l *eventLog) add(_ context.Context, evs []pricing.PortfolioValueCalculated) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, evs...)
}

func (l *eventLog) all() []pricing.PortfolioValueCalculated {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

func alertKeys(ds []pricing.Delivery) []string {
	var keys []string
	for _, d := range ds {
		if m, ok := d.Message.(pricing.AlertMessage); ok {
			keys = append(keys, m.Firing.Key)
		}
	}
	return keys
}

// TestValueDropFiresOnceAgainstPostgresAndDynamoDB runs batches of ticks through
// the consumer with value_drop rules in Postgres and the latest prices in
// DynamoDB Local:
//   - p1 (AAPL) falls 5.1% within the hour and fires once; it then oscillates
//     across the threshold, re-arming each time, but its 30-minute cooldown holds;
//   - p2 (MSFT) oscillates between 5.05% and 4.98% below its peak: inside the
//     hysteresis band (re-arm below 4.975%), so it never re-arms;
//   - p3 (NVDA) falls 6% too slowly: the peak has left the one-hour window;
//   - the pushes of the batch that fires fail: no record is reported (the
//     firings are recorded and the state saved), re-processing the batch fires
//     nothing again, and history holds one row per firing;
//   - every batch records one valuation per portfolio, none twice, and the events
//     match their schema.
func TestValueDropFiresOnceAgainstPostgresAndDynamoDB(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "10"})
	holdings(t, e.pool, "p2", u1, map[string]string{"MSFT": "10"})
	holdings(t, e.pool, "p3", u2, map[string]string{"NVDA": "10"})
	if _, err := e.pool.Exec(ctx, `update positions set cost_basis = 900 where portfolio_id = 'p1'`); err != nil {
		t.Fatal(err)
	}
	store := readmodel.NewConsumerAlertRules(e.pool)
	hour := alerts.Duration(time.Hour)
	d := decimal.RequireFromString
	for _, r := range []struct {
		user string
		rule alerts.Rule
	}{
		{u1, alerts.Rule{ID: "r1", Kind: alerts.KindValueDrop, PortfolioID: "p1", Threshold: d("0.05"), Window: hour, Cooldown: alerts.Duration(30 * time.Minute)}},
		{u1, alerts.Rule{ID: "r2", Kind: alerts.KindValueDrop, PortfolioID: "p2", Threshold: d("0.05"), Window: hour}},
		{u2, alerts.Rule{ID: "r3", Kind: alerts.KindValueDrop, PortfolioID: "p3", Threshold: d("0.05"), Window: hour}},
		// A price rule on the same symbol stays a price rule.
		{u2, alerts.Rule{ID: "px", Kind: alerts.KindPriceAbove, Symbol: "NVDA", Threshold: d("1000")}},
	} {
		if _, err := store.Create(ctx, r.user, r.rule); err != nil {
			t.Fatal(err)
		}
	}
	notifier := &pricing.MemoryNotifier{}
	log := &eventLog{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier, Valuations: log.add})

	type step struct{ aapl, msft, nvda string }
	steps := []step{
		{"100", "100", "100"},   // peaks
		{"96", "95.5", "99"},    // 4%, 4.5%, 1%
		{"94.9", "94.95", "98"}, // r1 fires (5.1%), r2 fires (5.05%)
		{"95.1", "95.02", "97"}, // r1 re-arms (4.9%); r2 stays fired (4.98% is inside the band)
		{"94.8", "94.95", "97"}, // r1 armed but cooling down; r2 fired
		{"95.2", "95.02", "96"},
		{"94.7", "94.95", "96"},
	}
	// NVDA: the minute steps above (at most 4% down), then two ticks after the
	// hour: 94 is 6% below the 100 of t0, but that peak and the 99 to 97 after it
	// have left the one-hour window, so the drop is 2.1% from 96.
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Minute)
		batch := []prices.Record{rec(t, "AAPL", s.aapl, at), rec(t, "MSFT", s.msft, at), rec(t, "NVDA", s.nvda, at)}
		if i == 2 {
			notifier.Fail = errors.New("gone")
			if resp, _ := handle(ctx, c, batch); len(resp) != 0 {
				t.Fatalf("step 2: failures %v, want none: pushes are never retried", resp)
			}
			notifier.Fail = nil
		}
		if resp, _ := handle(ctx, c, batch); len(resp) != 0 {
			t.Fatalf("step %d: failures %v", i, resp)
		}
	}
	late := t0.Add(65 * time.Minute)
	for i, px := range []string{"95", "94"} {
		if resp, _ := handle(ctx, c, []prices.Record{rec(t, "NVDA", px, late.Add(time.Duration(i)*time.Minute))}); len(resp) != 0 {
			t.Fatalf("NVDA late: %v", resp)
		}
	}

	if got := alertKeys(notifier.Deliveries()); len(got) != 0 {
		t.Fatalf("alerts delivered %v, want none: their pushes failed and are not retried", got)
	}
	hist, _, err := store.History(ctx, u1, 10, "")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %+v, %v: one row per firing despite the re-processing", hist, err)
	}
	for _, f := range hist {
		if f.Kind != alerts.KindValueDrop || !f.FiredAt.Equal(t0.Add(2*time.Minute)) || f.Key != f.RuleID+"#0" {
			t.Fatalf("firing %+v", f)
		}
		if want := map[string]string{"r1": "0.051", "r2": "0.0505"}[f.RuleID]; !f.Observed.Equal(d(want)) {
			t.Fatalf("%s observed %s, want %s", f.RuleID, f.Observed, want)
		}
	}
	if h, _, _ := store.History(ctx, u2, 10, ""); len(h) != 0 {
		t.Fatalf("p3 fired: %+v", h)
	}
	_, st, err := store.PortfolioRules(ctx, []string{"p1", "p2", "p3"}, alerts.MetricValue)
	if err != nil {
		t.Fatal(err)
	}
	if r1 := st.Rules[alerts.ScopedID(u1, "r1")]; r1.Fired || r1.Epoch != 1 || !r1.FiredAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("r1 state %+v: re-armed, then held by its cooldown (armed, not fired)", r1)
	}
	if r2 := st.Rules[alerts.ScopedID(u1, "r2")]; !r2.Fired || r2.Epoch != 0 {
		t.Fatalf("r2 state %+v: fired once, never re-armed", r2)
	}
	if len(st.Values["p3"]) == 0 || !st.Values["p3"][0].Value.Equal(d("960")) {
		t.Fatalf("p3 samples %+v: the window's peak is 960", st.Values["p3"])
	}

	// Valuations: one row per portfolio per distinct batch, the retry adding none.
	vals, err := readmodel.ValuationHistory(ctx, e.pool, u1, "p1", t0, t0.Add(time.Hour), 100)
	if err != nil || len(vals) != len(steps) {
		t.Fatalf("p1 valuations %d (%v), want %d", len(vals), err, len(steps))
	}
	if v := vals[2]; v.MarketValue.String() != "949" || v.CostBasis.String() != "900" || v.UnrealizedPnL.String() != "49" || !v.AsOf.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("p1 at step 2: %+v", v)
	}
	if v, _ := readmodel.ValuationHistory(ctx, e.pool, u2, "p3", t0, t0.Add(2*time.Hour), 100); len(v) != len(steps)+2 {
		t.Fatalf("p3 valuations %d, want %d", len(v), len(steps)+2)
	}

	// The events handed out match their schema and the rows; the retried batch's
	// events are the same events (same IDs).
	validator, err := eventschema.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	evs := log.all()
	ids := map[string]pricing.PortfolioValueCalculated{}
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := validator.Validate(b); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if prev, ok := ids[ev.EventID]; ok {
			pb, _ := json.Marshal(prev)
			if string(pb) != string(b) {
				t.Fatalf("one event ID, two events:\n%s\n%s", pb, b)
			}
		}
		ids[ev.EventID] = ev
	}
	if want := 3*len(steps) + 2; len(ids) != want || len(evs) != want+3 {
		t.Fatalf("%d events, %d distinct; want %d distinct plus the 3 of the retried batch", len(evs), len(ids), want)
	}
	first := evs[0]
	if first.AggregateID != first.Data.PortfolioID || first.EventVersion != 1 || first.Data.Currency != "USD" ||
		!first.Timestamp.Equal(first.Data.AsOf) || first.CausationID == "" || first.Data.Unpriced == nil {
		t.Fatalf("event %+v", first)
	}
	// The valuation messages carry the event's figures.
	for _, dl := range notifier.Deliveries() {
		if m, ok := dl.Message.(pricing.ValuationMessage); ok {
			ev, ok := ids[m.EventID]
			if !ok || m.MarketValue != ev.Data.MarketValue.String() || m.UnrealizedPnL != ev.Data.UnrealizedPnL.String() || m.PortfolioID != ev.AggregateID {
				t.Fatalf("valuation message %+v, event %+v", m, ev)
			}
		}
	}
}

// TestValueAlertsFollowTheFirstSymbolsShard: a portfolio holding symbols of two
// shards is valued by both shards' batches, but its value alerts are evaluated
// only in the batches carrying its first priced symbol, so two containers never
// evaluate (and fire) the same rule at once. Here AAA's shard evaluates; a drop
// that BBB's batch reveals fires at AAA's next batch, once.
func TestValueAlertsFollowTheFirstSymbolsShard(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAA": "10", "BBB": "10"})
	store := readmodel.NewConsumerAlertRules(e.pool)
	if _, err := store.Create(ctx, u1, alerts.Rule{ID: "drop", Kind: alerts.KindValueDrop, PortfolioID: "p1",
		Threshold: decimal.RequireFromString("0.05"), Window: alerts.Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	notifier := &pricing.MemoryNotifier{}
	shardA := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	shardB := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	n := 0
	run := func(c *prices.Consumer, sym, price string) {
		t.Helper()
		n++
		batch := []prices.Record{rec(t, sym, price, t0.Add(time.Duration(n)*time.Minute))}
		if resp, st := handle(ctx, c, batch); len(resp) != 0 {
			t.Fatalf("batch %d: failures %v (%+v)", n, resp, st)
		}
	}
	run(shardA, "AAA", "100") // 1,000 + BBB unpriced: evaluated, peak 1,000
	run(shardB, "BBB", "100") // 2,000: valued, not evaluated
	run(shardA, "AAA", "100") // 2,000: evaluated, the peak
	run(shardB, "BBB", "85")  // 1,850 (7.5% down): valued, not evaluated
	if got := alertKeys(notifier.Deliveries()); len(got) != 0 {
		t.Fatalf("BBB's shard evaluated the portfolio's value alerts: %v", got)
	}
	run(shardA, "AAA", "100") // 1,850: AAA's shard sees the drop and fires
	run(shardB, "BBB", "84")  // 1,840
	run(shardA, "AAA", "99")  // 1,830: still fired
	got := notifier.Deliveries()
	if keys := alertKeys(got); !slices.Equal(keys, []string{"drop#0"}) {
		t.Fatalf("alerts %v, want drop#0 once", keys)
	}
	for _, d := range got {
		if m, ok := d.Message.(pricing.AlertMessage); ok && !m.Firing.At.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("fired at %s, want AAA's batch after the drop (%s)", m.Firing.At, t0.Add(5*time.Minute))
		}
	}
	// Both shards valued the portfolio every batch.
	if vals, err := readmodel.ValuationHistory(ctx, e.pool, u1, "p1", t0, t0.Add(time.Hour), 100); err != nil || len(vals) != n {
		t.Fatalf("%d valuations (%v), want %d", len(vals), err, n)
	}
}
