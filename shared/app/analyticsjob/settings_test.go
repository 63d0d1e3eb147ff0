package analyticsjob_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestPortfolioSettingsShapeTheAnalytics: a portfolio's own analytics settings
// (benchmark VTI, whole shares, a minimum trade) decide its report's benchmark and
// its rebalancing plan; a portfolio that never set any gets the defaults (SPY,
// fractional shares). Both are computed in one stream batch, so the page's one
// closes load must hold both benchmarks. The settings event alone triggers the
// recomputation.
func TestPortfolioSettingsShapeTheAnalytics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	own, dflt := e.create(userA, "own-settings"), e.create(userA, "default-settings")
	for _, id := range []string{own, dflt} {
		e.record(id, userA, cash(portfolio.Deposit, "2024-01-02", "100000"))
		e.record(id, userA, trade(portfolio.Buy, "2024-01-03", "AAA", "300.5"))
		e.record(id, userA, trade(portfolio.Buy, "2024-02-05", "BBB", "100.25"))
		e.targets(id, userA)
	}
	e.project(own, dflt)
	j := e.job(nil, analyticsjob.Options{})
	if out, err := j.Recompute(ctx, e.changes(own, dflt)); err != nil || len(out.FailedItems) != 0 {
		t.Fatal(out, err)
	}
	m, err := e.metrics.LatestMetrics(ctx, userA, own)
	if err != nil || m.Benchmark != "SPY" {
		t.Fatalf("before the settings: benchmark %q (%v), want SPY", m.Benchmark, err)
	}

	// Only the settings event reaches the stream: it alone recomputes.
	before, _ := e.store.Events(ctx, own, 1, 0)
	if _, err := e.cmds.Execute(ctx, command.Request{AggregateID: own, UserID: userA}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.ChangeAnalyticsSettings(portfolio.AnalyticsSettings{Benchmark: "VTI", WholeShares: true, MinTradeValue: decimal.NewFromInt(50)}, meta)
	}); err != nil {
		t.Fatal(err)
	}
	e.project(own)
	batch := e.changes(own)
	batch.Changes = batch.Changes[len(before):]
	batch.Changes = append(batch.Changes, e.changes(dflt).Changes...)
	if out, err := j.Recompute(ctx, batch); err != nil || len(out.FailedItems) != 0 {
		t.Fatal(out, err)
	}

	for _, c := range []struct {
		id, benchmark string
		whole         bool
	}{{own, "VTI", true}, {dflt, "SPY", false}} {
		m, err := e.metrics.LatestMetrics(ctx, userA, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Benchmark != c.benchmark || m.Report.Benchmark.Symbol != c.benchmark {
			t.Errorf("%s: benchmark %q / report %q, want %s", c.id, m.Benchmark, m.Report.Benchmark.Symbol, c.benchmark)
		}
		if !m.Report.Benchmark.Beta.OK || m.Report.Benchmark.Observations < 100 {
			t.Errorf("%s: beta against %s not computed (%d observations): the benchmark's closes were not loaded",
				c.id, c.benchmark, m.Report.Benchmark.Observations)
		}
		rb, err := e.metrics.Rebalancing(ctx, userA, c.id)
		if err != nil {
			t.Fatal(err)
		}
		var plan struct {
			Trades []struct {
				Symbol       string
				Quantity     decimal.Decimal
				Value        decimal.Decimal `json:"estimatedValue"`
				BelowMinimum bool
			}
		}
		if err := json.Unmarshal(rb.Plan, &plan); err != nil || len(plan.Trades) == 0 {
			t.Fatalf("%s: plan %s (%v)", c.id, rb.Plan, err)
		}
		fractional := false
		for _, tr := range plan.Trades {
			if !tr.Quantity.Equal(tr.Quantity.Truncate(0)) {
				fractional = true
			}
			if c.whole && !tr.BelowMinimum && tr.Value.Abs().LessThan(decimal.NewFromInt(50)) {
				t.Errorf("%s: trade %+v below the minimum of 50", c.id, tr)
			}
		}
		if fractional == c.whole {
			t.Errorf("%s: whole shares %v, but the plan's quantities are fractional=%v: %s", c.id, c.whole, fractional, rb.Plan)
		}
	}
}

// TestForPortfolio: a portfolio's own settings replace the run's defaults (the
// function's BENCHMARK_SYMBOL); without them the run's apply, SPY when it names none.
func TestForPortfolio(t *testing.T) {
	meta := portfolio.Meta{UserID: userA, Now: runTime}
	p, err := portfolio.Create("pf-settings", portfolio.CreatePortfolio{Name: "S", BaseCurrency: "USD"}, meta)
	if err != nil {
		t.Fatal(err)
	}
	run := analyticsjob.Settings{Benchmark: "QQQ", RiskFreeRate: 0.02, MinTradeValue: decimal.NewFromInt(5)}
	if got := run.ForPortfolio(p); got.Benchmark != "QQQ" || got.WholeShares || !got.MinTradeValue.Equal(decimal.NewFromInt(5)) {
		t.Errorf("unset portfolio, run defaults: %+v", got)
	}
	if got := (analyticsjob.Settings{}).ForPortfolio(p); got.Benchmark != "SPY" {
		t.Errorf("unset portfolio, no run default: benchmark %q", got.Benchmark)
	}
	if err := p.ChangeAnalyticsSettings(portfolio.AnalyticsSettings{Benchmark: "VTI", WholeShares: true, MinTradeValue: decimal.Zero}, meta); err != nil {
		t.Fatal(err)
	}
	got := run.ForPortfolio(p)
	if got.Benchmark != "VTI" || !got.WholeShares || !got.MinTradeValue.IsZero() || got.RiskFreeRate != 0.02 {
		t.Errorf("own settings: %+v", got)
	}
}
