package prices

import (
	"context"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// tickedMetrics are the metrics of the portfolio rules the consumer evaluates
// on ticks: value_drop's, and the risk and rebalance metrics that follow the
// value (alerts.KindSpec.OnTicks).
var tickedMetrics = alerts.TickedMetrics()

// isRiskRule reports a rule with a condition whose tick is derived from the
// valuation and the rule (riskTicks): a weight, the largest weight, a drawdown.
func isRiskRule(r alerts.Rule) bool {
	for _, c := range r.Legs() {
		switch c.Kind.Metric() {
		case alerts.MetricWeight, alerts.MetricConcentration, alerts.MetricDrawdown:
			return true
		}
	}
	return false
}

// riskTicks are the ticks of the risk and rebalance rules of the valued
// portfolios, at their valuation's instant (that of their value tick, so a
// rule of several conditions is judged at one instant):
//
//   - weight: a position's value over the sum of the positions' values (0 when
//     not held), from one pass over the positions of the portfolios with weight
//     or concentration rules (PositionValues), as analytics weighs them;
//   - concentration: the largest of those weights;
//   - drawdown: the live value against the wealth index of analytics' last
//     computation (alerts.WealthMark.LiveDrawdown); none before a computation.
func (c *Consumer) riskTicks(ctx context.Context, rules []alerts.Rule, wealth map[string]alerts.WealthMark, vals []market.PortfolioValuation) ([]alerts.Tick, error) {
	byID := make(map[string]*market.PortfolioValuation, len(vals))
	for i := range vals {
		byID[vals[i].PortfolioID] = &vals[i]
	}
	var weighed []string
	for _, r := range rules {
		if byID[r.PortfolioID] != nil && !slices.Contains(weighed, r.PortfolioID) && (r.HasKind(alerts.KindWeightDrift) || r.HasKind(alerts.KindConcentration)) {
			weighed = append(weighed, r.PortfolioID)
		}
	}
	var positions map[string][]market.PositionValue
	if len(weighed) > 0 {
		var err error
		if positions, err = c.cfg.DB.PositionValues(ctx, weighed); err != nil {
			return nil, fmt.Errorf("position values: %w", err)
		}
	}
	weights := make(map[string]*weighing, len(positions))
	for pid, ps := range positions {
		weights[pid] = newWeighing(ps)
	}
	type tickKey struct {
		pid    string
		metric alerts.Metric
		sym    string
	}
	seen := map[tickKey]bool{}
	var ticks []alerts.Tick
	for _, r := range rules {
		v := byID[r.PortfolioID]
		if v == nil {
			continue
		}
		for _, cond := range r.Legs() {
			m := cond.Kind.Metric()
			k := tickKey{r.PortfolioID, m, ""}
			if m == alerts.MetricWeight {
				k.sym = cond.Symbol
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			switch m {
			case alerts.MetricWeight:
				if w := weights[r.PortfolioID]; w != nil && w.total.Sign() > 0 {
					ticks = append(ticks, alerts.WeightTick(r.PortfolioID, cond.Symbol, w.of(cond.Symbol), v.AsOf))
				}
			case alerts.MetricConcentration:
				if w := weights[r.PortfolioID]; w != nil && w.total.Sign() > 0 {
					ticks = append(ticks, alerts.MetricTick(r.PortfolioID, m, w.largest(), v.AsOf))
				}
			case alerts.MetricDrawdown:
				if dd, ok := wealth[r.PortfolioID].LiveDrawdown(v.MarketValue); ok {
					ticks = append(ticks, alerts.MetricTick(r.PortfolioID, m, dd, v.AsOf))
				}
			}
		}
	}
	return ticks, nil
}

// weighing is a portfolio's positions and their total value: a weight is one
// division, done only for the symbols the rules name (and the largest).
type weighing struct {
	positions []market.PositionValue
	total     decimal.Decimal
}

func newWeighing(ps []market.PositionValue) *weighing {
	w := &weighing{positions: ps, total: decimal.Zero}
	for _, p := range ps {
		w.total = w.total.Add(p.Value)
	}
	return w
}

// of is symbol's weight (0 when not held), rounded as analytics rounds
// weights; the total must be positive.
func (w *weighing) of(symbol string) decimal.Decimal {
	v := decimal.Zero
	for _, p := range w.positions {
		if p.Symbol == symbol {
			v = v.Add(p.Value)
		}
	}
	return v.DivRound(w.total, 10)
}

// largest is the largest position's weight; the total must be positive.
func (w *weighing) largest() decimal.Decimal {
	top := decimal.Zero
	for _, p := range w.positions {
		if p.Value.GreaterThan(top) {
			top = p.Value
		}
	}
	return top.DivRound(w.total, 10)
}
