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
	weights := make(map[string]map[string]decimal.Decimal, len(positions))
	for pid, ps := range positions {
		weights[pid] = weightsOf(ps)
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
				if w, ok := weights[r.PortfolioID]; ok {
					ticks = append(ticks, alerts.WeightTick(r.PortfolioID, cond.Symbol, w[cond.Symbol], v.AsOf))
				}
			case alerts.MetricConcentration:
				if w, ok := weights[r.PortfolioID]; ok && len(w) > 0 {
					largest := decimal.Zero
					for _, x := range w {
						if x.GreaterThan(largest) {
							largest = x
						}
					}
					ticks = append(ticks, alerts.MetricTick(r.PortfolioID, m, largest, v.AsOf))
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

// weightsOf is each position's share of the positions' total value, rounded
// as analytics rounds weights; empty when they are worth nothing.
func weightsOf(ps []market.PositionValue) map[string]decimal.Decimal {
	total := decimal.Zero
	for _, p := range ps {
		total = total.Add(p.Value)
	}
	out := make(map[string]decimal.Decimal, len(ps))
	if total.Sign() <= 0 {
		return out
	}
	for _, p := range ps {
		out[p.Symbol] = out[p.Symbol].Add(p.Value.DivRound(total, 10))
	}
	return out
}
