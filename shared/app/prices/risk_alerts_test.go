package prices_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// TestRiskRulesFireOnTicksOnceAgainstPostgres: weight-drift, concentration and
// a rule of both conditions on a portfolio of AAPL and MSFT fire on the tick
// that moves AAPL's weight out of its band, once, however the batch is
// re-processed and while the drift lasts; VaR rules are not loaded (they move
// only with the portfolio's history).
func TestRiskRulesFireOnTicksOnceAgainstPostgres(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p1", u1, map[string]string{"AAPL": "10", "MSFT": "10"})
	store := readmodel.NewConsumerAlertRules(e.pool)
	d := decimal.RequireFromString
	for _, r := range []alerts.Rule{
		{ID: "w1", Kind: alerts.KindWeightDrift, PortfolioID: "p1", Symbol: "AAPL", TargetWeight: d("0.5"), Threshold: d("0.1")},
		{ID: "c1", Kind: alerts.KindConcentration, PortfolioID: "p1", Threshold: d("0.6")},
		{ID: "both", PortfolioID: "p1", Match: alerts.MatchAll, Conditions: []alerts.Condition{
			{Kind: alerts.KindConcentration, Threshold: d("0.6")},
			{Kind: alerts.KindWeightDrift, Symbol: "MSFT", TargetWeight: d("0.5"), Threshold: d("0.1")},
		}},
		{ID: "v1", Kind: alerts.KindVaRBreach, PortfolioID: "p1", Threshold: d("0.0001")},
	} {
		if _, err := store.Create(ctx, u1, r); err != nil {
			t.Fatal(err)
		}
	}
	notifier := &pricing.MemoryNotifier{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	steps := []struct{ aapl, msft string }{
		{"100", "100"}, // 50/50
		{"140", "100"}, // AAPL 58.3%: inside the bands
		{"160", "100"}, // AAPL 61.5%: every rule fires
		{"170", "100"}, // still out: nothing
		{"100", "100"}, // back: they re-arm
	}
	var third []prices.Record
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Minute)
		batch := []prices.Record{rec(t, "AAPL", s.aapl, at), rec(t, "MSFT", s.msft, at)}
		if resp, err := handle(ctx, c, batch); len(resp) != 0 || err != nil {
			t.Fatalf("step %d: failures %v, %v", i, resp, err)
		}
		if i == 2 {
			third = batch
		}
	}
	// The firing batch again, as a retried Kinesis batch: its ticks are old.
	if resp, _ := handle(ctx, c, third); len(resp) != 0 {
		t.Fatalf("re-processed: %v", resp)
	}
	hist, _, err := store.History(ctx, u1, 20, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]alerts.Kind{}
	for _, f := range hist {
		if _, dup := got[f.Key]; dup || !f.FiredAt.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("firing %+v: each rule fires once, at the third tick", f)
		}
		got[f.Key] = f.Kind
	}
	// A rule of several conditions reports one that came to hold (both did).
	want := map[string]alerts.Kind{"w1#0": alerts.KindWeightDrift, "c1#0": alerts.KindConcentration, "both#0": got["both#0"]}
	if len(got) != len(want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	for k, kind := range want {
		if got[k] != kind {
			t.Fatalf("history %v, want %v", got, want)
		}
	}
	for _, f := range hist {
		if f.Key == "w1#0" && !f.Observed.Equal(d("0.6153846154")) {
			t.Fatalf("w1 observed %s, want AAPL's weight, 1600/2600", f.Observed)
		}
	}
	if keys := alertKeys(notifier.Deliveries()); len(keys) != 3 {
		t.Fatalf("pushed %v, want the three firings once", keys)
	}
}

// TestDrawdownFiresOnTicksAgainstPostgres: a drawdown rule follows the live
// value against the wealth index analytics stored (portfolio_metrics' current
// drawdown and market value): it fires on the tick that takes the live drawdown
// past its threshold; when analytics then evaluates the same rule on a new
// computation (and fires it, on its own figures), the warm consumer reloads the
// rule's state and the new wealth mark, so the next tick does not fire the
// same crossing again.
func TestDrawdownFiresOnTicksAgainstPostgres(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	holdings(t, e.pool, "p2", u2, map[string]string{"NVDA": "10"})
	store := readmodel.NewConsumerAlertRules(e.pool)
	d := decimal.RequireFromString
	for _, r := range []alerts.Rule{
		{ID: "dd", Kind: alerts.KindDrawdown, PortfolioID: "p2", Threshold: d("0.2")},
		{ID: "dd2", Kind: alerts.KindDrawdown, PortfolioID: "p2", Threshold: d("0.3")},
	} {
		if _, err := store.Create(ctx, u2, r); err != nil {
			t.Fatal(err)
		}
	}
	// Analytics' last computation: 10% below the peak at a value of 1,000.
	metricsRow(t, e, "p2", u2, "2026-03-01", "0.1", "1000")
	notifier := &pricing.MemoryNotifier{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	tick := func(i int, px string) {
		t.Helper()
		if resp, err := handle(ctx, c, []prices.Record{rec(t, "NVDA", px, t0.Add(time.Duration(i)*time.Minute))}); len(resp) != 0 || err != nil {
			t.Fatalf("tick %d: %v, %v", i, resp, err)
		}
	}
	tick(0, "95") // 1 − 0.9 × 0.95 = 14.5%
	tick(1, "88") // 20.8%: dd fires
	tick(2, "87") // 21.7%: fired already
	if keys := alertKeys(notifier.Deliveries()); !slices.Equal(keys, []string{"dd#0"}) {
		t.Fatalf("pushed %v, want dd#0", keys)
	}
	// Analytics recomputes the portfolio (a trade) at a drawdown of 35%: it
	// fires dd2 on its figures and saves both rules' state, moving their marks.
	metricsRow(t, e, "p2", u2, "2026-03-02", "0.35", "870")
	analyticsEvaluates(t, store, "p2", "0.35", t0.Add(150*time.Second))
	// 1 − 0.65 × 770/870 = 42.5%: dd2 fired already (by analytics), dd too. (On
	// the state and mark held before, 1 − 0.9 × 0.77 = 30.7% would fire dd2 again.)
	tick(3, "77")
	if keys := alertKeys(notifier.Deliveries()); !slices.Equal(keys, []string{"dd#0"}) {
		t.Fatalf("pushed %v, want dd#0 only: dd2 fired in analytics", keys)
	}
	hist, _, err := store.History(ctx, u2, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range hist {
		keys = append(keys, f.Key)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"dd#0", "dd2#0"}) {
		t.Fatalf("history %v, want dd#0 (a tick) and dd2#0 (analytics), once each", keys)
	}
	// Back near the new peak's level: 1 − 0.65 × 1300/870 < 0: both re-arm, and
	// a fall under the new mark fires dd again: 1 − 0.65 × 1000/870 = 25.3%.
	tick(4, "130")
	tick(5, "100")
	if keys := alertKeys(notifier.Deliveries()); !slices.Equal(keys, []string{"dd#0", "dd#1"}) {
		t.Fatalf("pushed %v, want dd#0 then dd#1", keys)
	}
}

// metricsRow stores analytics' figures of a portfolio for day, as the
// analytics job does: its current drawdown and market value.
func metricsRow(t *testing.T, e env, portfolioID, userID, day, drawdown, value string) {
	t.Helper()
	if _, err := e.pool.Exec(t.Context(), `
insert into portfolio_metrics (portfolio_id, as_of, user_id, version, benchmark, market_value, current_drawdown, report, computed_at)
values ($1, $2::date, $3::uuid, 1, 'SPY', $4::numeric, $5::float8, '{}', now())`, portfolioID, day, userID, value, drawdown); err != nil {
		t.Fatal(err)
	}
}

// analyticsEvaluates evaluates the portfolio's drawdown rules at drawdown as
// the analytics job's riskAlerts does: rules and state from the store, the
// firings recorded, the state saved with the marks moved.
func analyticsEvaluates(t *testing.T, store readmodel.ConsumerAlertRules, portfolioID, drawdown string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	rules, st, err := store.PortfolioRules(ctx, []string{portfolioID}, alerts.PortfolioMetrics(alerts.EvaluatedByAnalytics)...)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerts.NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Restore(st); err != nil {
		t.Fatal(err)
	}
	fs := eng.Evaluate([]alerts.Tick{alerts.MetricTick(portfolioID, alerts.MetricDrawdown, decimal.RequireFromString(drawdown), at)})
	if err := store.RecordFirings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveStateAndMarks(ctx, rules, eng.State()); err != nil {
		t.Fatal(err)
	}
}
