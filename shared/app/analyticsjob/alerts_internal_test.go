package analyticsjob

import (
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
)

// The job ticks every metric the kind table gives it to evaluate: a kind added
// there on a new analytics metric fails here until riskTicks computes it.
func TestRiskTicksCoverEveryAnalyticsMetric(t *testing.T) {
	a := &Analysis{Weights: map[string]decimal.Decimal{"VTI": decimal.New(6, -1)}}
	a.Result.CurrentDrawdown = 0.1
	a.Result.Report.ValueAtRisk.Historical95.VaR = analytics.Metric{Value: 0.02, OK: true}
	a.Result.Report.Diversification.LargestWeight = analytics.Metric{Value: 0.6, OK: true}
	var rules []alerts.Rule
	for _, m := range riskMetrics {
		for _, k := range alerts.KindsOf(m) {
			rules = append(rules, alerts.Rule{ID: string(k), Kind: k, PortfolioID: "p", Symbol: "VTI"})
		}
	}
	var ticked []alerts.Metric
	for _, tk := range riskTicks(rules, map[string]*Analysis{"p": a}, time.Unix(1, 0)) {
		ticked = append(ticked, tk.Metric)
	}
	for _, m := range alerts.PortfolioMetrics(alerts.EvaluatedByAnalytics) {
		if !slices.Contains(ticked, m) {
			t.Errorf("metric %q is the job's to evaluate, and riskTicks does not tick it", m)
		}
	}
}
