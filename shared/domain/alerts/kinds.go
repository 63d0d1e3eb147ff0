package alerts

import "slices"

// Kind is what a rule watches.
type Kind string

// The rule kinds. The string values are stored with the rules.
const (
	KindPriceAbove    Kind = "price_above"   // price ≥ Threshold (a price)
	KindPriceBelow    Kind = "price_below"   // price ≤ Threshold (a price)
	KindPercentMove   Kind = "percent_move"  // move vs previous close reaches Threshold (a fraction: 0.05 = 5%) in Direction
	KindWeightDrift   Kind = "weight_drift"  // |weight − TargetWeight| ≥ Threshold (the band, in weight units: 0.05 = ±5 points)
	KindValueDrop     Kind = "value_drop"    // 1 − value / (highest value within Window) ≥ Threshold (a fraction)
	KindDrawdown      Kind = "drawdown"      // drawdown metric ≥ Threshold (a fraction: 0.2 = 20% below peak)
	KindVaRBreach     Kind = "var_breach"    // value-at-risk metric ≥ Threshold (as the analytics function states it)
	KindConcentration Kind = "concentration" // concentration metric ≥ Threshold (a fraction: largest position's weight)
)

// Metric names what a tick's Value is.
type Metric string

// Metrics. The empty metric is a price tick.
const (
	MetricPrice         Metric = ""
	MetricValue         Metric = "value"         // portfolio market value (value_drop)
	MetricWeight        Metric = "weight"        // one position's weight, Tick.Symbol (weight_drift)
	MetricDrawdown      Metric = "drawdown"      // drawdown below peak, a positive fraction
	MetricVaR           Metric = "var"           // value at risk, positive
	MetricConcentration Metric = "concentration" // largest position's weight (or what analytics defines)
)

// Evaluator is the use case that computes a metric and evaluates the rules
// listening to it.
type Evaluator string

// Evaluators.
const (
	// EvaluatedByPrices: the prices consumer, on every batch of ticks: price
	// rules on the ticked symbols, and value rules on the portfolios it values
	// (with the analytics kinds marked OnTicks).
	EvaluatedByPrices Evaluator = "prices"
	// EvaluatedByAnalytics: the analytics job, on each day's figures and after
	// every change of a portfolio: the risk and rebalance rules. Those of them
	// whose metric follows the market value (KindSpec.OnTicks) are evaluated by
	// the prices consumer on ticks too, with the same state.
	EvaluatedByAnalytics Evaluator = "analytics"
)

// KindSpec is one row of the table of kinds.
type KindSpec struct {
	Kind Kind
	// Metric is what the rules listen to. MetricPrice makes them price rules,
	// on a symbol, of every portfolio; any other metric, portfolio rules, on one
	// portfolio's ticks of that metric.
	Metric Metric
	// EvaluatedBy computes Metric and evaluates the rules.
	EvaluatedBy Evaluator
	// OnTicks: the prices consumer also evaluates the rules of an analytics
	// kind on the portfolio's live valuation, at every batch that revalues it
	// (weights and the largest weight from its positions' values, drawdown from
	// the value against the wealth index of the last computation, WealthMark).
	// VaR is not: a tick does not change a historical VaR fraction.
	OnTicks bool
}

// kindTable is the one list of kinds: validation, the engine's indexes, the
// stores' queries by metric, the metrics the analytics job ticks and the API's
// enum derive from it (the API's document is checked against Kinds by a test).
// A kind's comparison is in the engine's compile (a new portfolio kind on a
// metric of its own gets "metric ≥ threshold"); its fields are checked in
// Rule.Validate.
var kindTable = [...]KindSpec{
	{KindPriceAbove, MetricPrice, EvaluatedByPrices, false},
	{KindPriceBelow, MetricPrice, EvaluatedByPrices, false},
	{KindPercentMove, MetricPrice, EvaluatedByPrices, false},
	{KindWeightDrift, MetricWeight, EvaluatedByAnalytics, true},
	{KindValueDrop, MetricValue, EvaluatedByPrices, false},
	{KindDrawdown, MetricDrawdown, EvaluatedByAnalytics, true},
	{KindVaRBreach, MetricVaR, EvaluatedByAnalytics, false},
	{KindConcentration, MetricConcentration, EvaluatedByAnalytics, true},
}

// Kinds lists every kind, in the table's order.
var Kinds = func() []Kind {
	out := make([]Kind, len(kindTable))
	for i, s := range kindTable {
		out[i] = s.Kind
	}
	return out
}()

// KindSpecs returns the table of kinds.
func KindSpecs() []KindSpec { return kindTable[:] }

// spec returns k's row of the table.
func (k Kind) spec() (KindSpec, bool) {
	for _, s := range kindTable {
		if s.Kind == k {
			return s, true
		}
	}
	return KindSpec{}, false
}

func (k Kind) known() bool {
	_, ok := k.spec()
	return ok
}

// Metric is the metric a rule of kind k listens to (MetricPrice for price rules
// and unknown kinds).
func (k Kind) Metric() Metric {
	s, _ := k.spec()
	return s.Metric
}

// isPrice reports a known kind of price rule.
func (k Kind) isPrice() bool {
	s, ok := k.spec()
	return ok && s.Metric == MetricPrice
}

// KindsOf lists the kinds of rule that listen to the metrics, in Kinds order.
func KindsOf(metrics ...Metric) []Kind {
	var out []Kind
	for _, s := range kindTable {
		for _, m := range metrics {
			if s.Metric == m {
				out = append(out, s.Kind)
				break
			}
		}
	}
	return out
}

// PortfolioMetrics lists, once each in table order, the metrics of the
// portfolio rules that the evaluators evaluate (none: every evaluator).
func PortfolioMetrics(by ...Evaluator) []Metric {
	var out []Metric
	for _, s := range kindTable {
		if s.Metric == MetricPrice || (len(by) > 0 && !slices.Contains(by, s.EvaluatedBy)) || slices.Contains(out, s.Metric) {
			continue
		}
		out = append(out, s.Metric)
	}
	return out
}

// TickedMetrics lists, once each in table order, the metrics of the portfolio
// rules the prices consumer evaluates on ticks: its own (value) and the
// analytics kinds it evaluates on ticks too (KindSpec.OnTicks).
func TickedMetrics() []Metric {
	var out []Metric
	for _, s := range kindTable {
		if s.Metric == MetricPrice || (s.EvaluatedBy != EvaluatedByPrices && !s.OnTicks) || slices.Contains(out, s.Metric) {
			continue
		}
		out = append(out, s.Metric)
	}
	return out
}

// OnTicks reports whether every condition of r is evaluated on price ticks by
// the prices consumer: a rule with a condition only analytics computes (VaR)
// is left to analytics whole, since a composite is judged on its conditions at
// one instant.
func (r Rule) OnTicks() bool {
	for _, c := range r.Legs() {
		s, ok := c.Kind.spec()
		if !ok || (s.EvaluatedBy != EvaluatedByPrices && !s.OnTicks) {
			return false
		}
	}
	return true
}
