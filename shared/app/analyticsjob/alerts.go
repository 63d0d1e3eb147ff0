package analyticsjob

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// AlertStore holds the portfolio alert rules, their state and history;
// *readmodel.AlertRules implements it. SaveStateAndMarks saves the rules' state
// and moves their keys' state marks (pricing.StateMarker), so that a prices
// consumer holding the same rules, which it evaluates on ticks, reloads their
// state and the portfolios' new wealth marks: one state per rule, whoever
// evaluates it.
type AlertStore interface {
	PortfolioRules(ctx context.Context, portfolioIDs []string, metrics ...alerts.Metric) ([]alerts.Rule, alerts.State, error)
	SaveStateAndMarks(ctx context.Context, rules []alerts.Rule, s alerts.State) error
	RecordFirings(ctx context.Context, firings []alerts.Firing) error
}

// Notifier delivers a message to every live connection of each user
// (*push.Pusher over the WebSocket API).
type Notifier interface {
	Notify(ctx context.Context, userIDs []string, message any) error
}

// riskMetrics are the metrics the daily run ticks: those the table of alert
// kinds gives the analytics job to evaluate.
var riskMetrics = alerts.PortfolioMetrics(alerts.EvaluatedByAnalytics)

// riskAlerts evaluates the risk and rebalance rules of the computed portfolios on
// their new figures, the way the prices consumer evaluates price rules: the
// firings are recorded (de-duplicated on their keys), then pushed, and only then
// is the rules' state saved, so a failure re-evaluates and re-delivers rather
// than losing an alert. The metrics ticked:
//
//   - drawdown: the current drawdown of the TWR wealth index below its peak;
//   - var: the one-day historical VaR at 95%;
//   - concentration: the largest position's weight;
//   - weight: each position's weight in the market value (0 when not held).
//
// Every tick is stamped with the session's close (at), not the time of the run:
// a rerun of the same day is then ignored by the rules (a tick at or before the
// last one evaluated), and each new day is evaluated once.
func (j *Job) riskAlerts(ctx context.Context, computed []*Analysis, at time.Time) (int, error) {
	if j.opts.Alerts == nil || len(computed) == 0 {
		return 0, nil
	}
	byID := make(map[string]*Analysis, len(computed))
	ids := make([]string, 0, len(computed))
	for _, a := range computed {
		byID[a.Result.Portfolio.ID] = a
		ids = append(ids, a.Result.Portfolio.ID)
	}
	rules, st, err := j.opts.Alerts.PortfolioRules(ctx, ids, riskMetrics...)
	if err != nil {
		return 0, err
	}
	rules = alerts.OwnRules(rules, func(pid string) string {
		if a := byID[pid]; a != nil {
			return a.Result.Portfolio.UserID
		}
		return ""
	})
	if len(rules) == 0 {
		return 0, nil
	}
	eng, err := alerts.NewEngine(rules...)
	if err != nil {
		return 0, fmt.Errorf("analytics: risk rules: %w", err)
	}
	if err := eng.Restore(st); err != nil {
		// A rule's invalid state restarts that rule; the others go on.
		j.opts.Logger.WarnContext(ctx, "analytics: risk rule state reset", "error", err.Error())
	}
	ticks := riskTicks(rules, byID, at)
	firings := eng.Evaluate(ticks)
	if len(firings) > 0 {
		if err := j.opts.Alerts.RecordFirings(ctx, firings); err != nil {
			return 0, err
		}
	}
	if err := j.opts.Alerts.SaveStateAndMarks(ctx, rules, eng.State()); err != nil {
		return len(firings), err
	}
	j.pushFirings(ctx, firings)
	return len(firings), nil
}

// pushBudget bounds the pushes of one risk-alert evaluation: a user's slow
// connections must not hold the run that computes everyone's figures.
const pushBudget = 5 * time.Second

// pushFirings delivers the firings to their owners' open connections, after
// they are recorded and the rules' state is saved: a push is best effort (the
// alert history keeps every firing), so a failed one is logged, never retried
// through the run.
func (j *Job) pushFirings(ctx context.Context, firings []alerts.Firing) {
	if j.opts.Notifier == nil || len(firings) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, pushBudget)
	defer cancel()
	failed := 0
	for _, f := range firings {
		if err := j.opts.Notifier.Notify(ctx, []string{f.UserID}, pricing.NewAlertMessage(f)); err != nil {
			failed++
		}
	}
	if failed > 0 {
		j.logger(ctx).WarnContext(ctx, "analytics: risk alerts not pushed (they are in the alert history)", "failed", failed, "firings", len(firings))
	}
}

// riskTicks turns the analyses into the ticks the rules listen to, one per
// portfolio and metric (and per symbol for weights), for each condition of a
// rule with several.
func riskTicks(rules []alerts.Rule, byID map[string]*Analysis, at time.Time) []alerts.Tick {
	var ticks []alerts.Tick
	seen := map[riskTickKey]bool{}
	for _, r := range rules {
		a := byID[r.PortfolioID]
		if a == nil {
			continue
		}
		for _, c := range r.Legs() {
			ticks = appendRiskTick(ticks, seen, r.PortfolioID, c, a, at)
		}
	}
	return ticks
}

// riskTickKey is what a risk tick is about.
type riskTickKey struct {
	pid    string
	metric alerts.Metric
	sym    string
}

// appendRiskTick appends the tick that condition c of a rule on portfolio pid
// listens to, unless seen has it already.
func appendRiskTick(ticks []alerts.Tick, seen map[riskTickKey]bool, pid string, c alerts.Condition, a *Analysis, at time.Time) []alerts.Tick {
	m := c.Kind.Metric()
	k := riskTickKey{pid, m, ""}
	if m == alerts.MetricWeight {
		k.sym = c.Symbol
	}
	if seen[k] {
		return ticks
	}
	seen[k] = true
	switch m {
	case alerts.MetricDrawdown:
		ticks = append(ticks, alerts.MetricTick(pid, m, fraction(a.Result.CurrentDrawdown), at))
	case alerts.MetricVaR:
		if v, ok := a.Result.Report.ValueAtRisk.Historical95.VaR.Get(); ok {
			ticks = append(ticks, alerts.MetricTick(pid, m, fraction(v), at))
		}
	case alerts.MetricConcentration:
		if v, ok := a.Result.Report.Diversification.LargestWeight.Get(); ok {
			ticks = append(ticks, alerts.MetricTick(pid, m, fraction(v), at))
		}
	case alerts.MetricWeight:
		ticks = append(ticks, alerts.WeightTick(pid, c.Symbol, a.Weights[c.Symbol], at))
	}
	return ticks
}

// fraction is a figure as the alerts engine's fixed-point decimal (10 places are
// far finer than any threshold).
func fraction(v float64) decimal.Decimal { return decimal.NewFromFloat(v).Round(10) }
