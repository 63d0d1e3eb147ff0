package alerts

import (
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestKindsOfMetrics(t *testing.T) {
	for _, tc := range []struct {
		metrics []Metric
		want    []Kind
	}{
		{[]Metric{MetricValue}, []Kind{KindValueDrop}},
		{[]Metric{MetricPrice}, []Kind{KindPriceAbove, KindPriceBelow, KindPercentMove}},
		{[]Metric{MetricVaR, MetricWeight}, []Kind{KindWeightDrift, KindVaRBreach}},
		{nil, nil},
	} {
		if got := KindsOf(tc.metrics...); !slices.Equal(got, tc.want) {
			t.Errorf("KindsOf(%v) = %v, want %v", tc.metrics, got, tc.want)
		}
	}
	// Every kind listens to exactly one metric, and KindsOf inverts Metric.
	for _, k := range Kinds {
		if !slices.Contains(KindsOf(k.Metric()), k) {
			t.Errorf("%s not among KindsOf(%q)", k, k.Metric())
		}
	}
}

func TestPortfolioMetricsByEvaluator(t *testing.T) {
	for _, tc := range []struct {
		by   []Evaluator
		want []Metric
	}{
		{[]Evaluator{EvaluatedByPrices}, []Metric{MetricValue}},
		{[]Evaluator{EvaluatedByAnalytics}, []Metric{MetricWeight, MetricDrawdown, MetricVaR, MetricConcentration}},
		{nil, []Metric{MetricWeight, MetricValue, MetricDrawdown, MetricVaR, MetricConcentration}},
	} {
		if got := PortfolioMetrics(tc.by...); !slices.Equal(got, tc.want) {
			t.Errorf("PortfolioMetrics(%v) = %v, want %v", tc.by, got, tc.want)
		}
	}
}

// The prices consumer ticks value_drop's metric and the risk metrics that follow
// the value; a rule is evaluated on ticks only when all of its conditions are.
func TestTickedMetricsAndRules(t *testing.T) {
	want := []Metric{MetricWeight, MetricValue, MetricDrawdown, MetricConcentration}
	if got := TickedMetrics(); !slices.Equal(got, want) {
		t.Fatalf("TickedMetrics() = %v, want %v", got, want)
	}
	th := decimal.RequireFromString("0.1")
	for _, tc := range []struct {
		r    Rule
		want bool
	}{
		{Rule{Kind: KindDrawdown, PortfolioID: "p", Threshold: th}, true},
		{Rule{Kind: KindValueDrop, PortfolioID: "p", Threshold: th}, true},
		{Rule{Kind: KindVaRBreach, PortfolioID: "p", Threshold: th}, false},
		{Rule{PortfolioID: "p", Conditions: []Condition{{Kind: KindConcentration, Threshold: th}, {Kind: KindWeightDrift, Symbol: "A", Threshold: th}}}, true},
		{Rule{PortfolioID: "p", Conditions: []Condition{{Kind: KindConcentration, Threshold: th}, {Kind: KindVaRBreach, Threshold: th}}}, false},
	} {
		if got := tc.r.OnTicks(); got != tc.want {
			t.Errorf("%+v OnTicks() = %v, want %v", tc.r, got, tc.want)
		}
	}
}

// The live drawdown moves the last computation's wealth by the value's ratio.
func TestLiveDrawdown(t *testing.T) {
	d := decimal.RequireFromString
	m := WealthMark{Drawdown: 0.1, Value: d("1000")}
	for _, tc := range []struct {
		live string
		want string
		ok   bool
	}{
		{"1000", "0.1", true},
		{"880", "0.208", true},
		{"1200", "0", true}, // above the peak: no drawdown (the next computation raises the peak)
		{"0", "1", true},
	} {
		got, ok := m.LiveDrawdown(d(tc.live))
		if ok != tc.ok || (ok && !got.Equal(d(tc.want))) {
			t.Errorf("LiveDrawdown(%s) = %s, %v; want %s", tc.live, got, ok, tc.want)
		}
	}
	for _, bad := range []WealthMark{{}, {Drawdown: 0.1}, {Drawdown: 1, Value: d("1")}, {Drawdown: -0.5, Value: d("1")}} {
		if _, ok := bad.LiveDrawdown(d("100")); ok {
			t.Errorf("%+v valued a drawdown", bad)
		}
	}
}

// The table names each kind once; price rules are the prices consumer's (it
// alone sees ticks), and every metric has one evaluator (the stores load rules
// by metric for the evaluator that ticks it).
func TestKindTableIsWellFormed(t *testing.T) {
	kinds, evaluator := map[Kind]bool{}, map[Metric]Evaluator{}
	for _, s := range KindSpecs() {
		if s.Kind == "" || kinds[s.Kind] {
			t.Errorf("kind %q empty or listed twice", s.Kind)
		}
		kinds[s.Kind] = true
		if s.EvaluatedBy != EvaluatedByPrices && s.EvaluatedBy != EvaluatedByAnalytics {
			t.Errorf("%s: evaluator %q", s.Kind, s.EvaluatedBy)
		}
		if s.Metric == MetricPrice && s.EvaluatedBy != EvaluatedByPrices {
			t.Errorf("%s: price rules are evaluated by the prices consumer", s.Kind)
		}
		if e, ok := evaluator[s.Metric]; ok && e != s.EvaluatedBy {
			t.Errorf("metric %q is evaluated by %s and %s", s.Metric, e, s.EvaluatedBy)
		}
		evaluator[s.Metric] = s.EvaluatedBy
	}
	if Kind("nope").known() || Kind("nope").isPrice() || Kind("nope").Metric() != MetricPrice {
		t.Error("an unknown kind is known, a price rule, or listens to a metric")
	}
}

// Every kind of the table is evaluated: a valid rule of each fires on ticks of
// its metric. A kind added to the table without a sample here fails.
func TestEveryKindFiresOnItsMetric(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	samples := map[Kind]struct {
		rule  Rule
		ticks []Tick
	}{
		KindPriceAbove:    {Rule{Symbol: "AAPL", Threshold: d("100")}, []Tick{PriceTick("AAPL", d("101"), d("0"), at(1))}},
		KindPriceBelow:    {Rule{Symbol: "AAPL", Threshold: d("100")}, []Tick{PriceTick("AAPL", d("99"), d("0"), at(1))}},
		KindPercentMove:   {Rule{Symbol: "AAPL", Threshold: d("0.05")}, []Tick{PriceTick("AAPL", d("90"), d("100"), at(1))}},
		KindWeightDrift:   {Rule{PortfolioID: "p", Symbol: "VTI", TargetWeight: d("0.6"), Threshold: d("0.05")}, []Tick{WeightTick("p", "VTI", d("0.7"), at(1))}},
		KindValueDrop:     {Rule{PortfolioID: "p", Threshold: d("0.1"), Window: Duration(time.Hour)}, []Tick{ValueTick("p", d("100"), at(1)), ValueTick("p", d("85"), at(2))}},
		KindDrawdown:      {Rule{PortfolioID: "p", Threshold: d("0.2")}, []Tick{MetricTick("p", MetricDrawdown, d("0.25"), at(1))}},
		KindVaRBreach:     {Rule{PortfolioID: "p", Threshold: d("0.03")}, []Tick{MetricTick("p", MetricVaR, d("0.04"), at(1))}},
		KindConcentration: {Rule{PortfolioID: "p", Threshold: d("0.4")}, []Tick{MetricTick("p", MetricConcentration, d("0.5"), at(1))}},
	}
	for _, k := range Kinds {
		s, ok := samples[k]
		if !ok {
			t.Errorf("%s: no sample rule here (add one)", k)
			continue
		}
		r := s.rule
		r.ID, r.Kind = "r-"+string(k), k
		e, err := NewEngine(r)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		for _, tk := range s.ticks {
			if tk.Metric != k.Metric() {
				t.Errorf("%s: sample tick of metric %q, the kind listens to %q", k, tk.Metric, k.Metric())
			}
		}
		if f := e.Evaluate(s.ticks); len(f) != 1 || f[0].Kind != k {
			t.Errorf("%s: fired %+v", k, f)
		}
	}
}
