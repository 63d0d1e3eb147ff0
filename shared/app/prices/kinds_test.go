package prices_test

import (
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// The consumer evaluates price rules on its ticks and, of the portfolio rules,
// those on portfolio values (valueAlerts) and the risk metrics it derives from
// the valuation (riskTicks: weight, drawdown, concentration): a kind the table
// gives it on another portfolio metric fails here until the consumer ticks that
// metric.
func TestTheConsumerTicksEveryMetricItEvaluates(t *testing.T) {
	if got := alerts.PortfolioMetrics(alerts.EvaluatedByPrices); !slices.Equal(got, []alerts.Metric{alerts.MetricValue}) {
		t.Fatalf("the kind table gives the prices consumer the portfolio metrics %v; it ticks only %q", got, alerts.MetricValue)
	}
	want := []alerts.Metric{alerts.MetricWeight, alerts.MetricValue, alerts.MetricDrawdown, alerts.MetricConcentration}
	if got := alerts.TickedMetrics(); !slices.Equal(got, want) {
		t.Fatalf("the kind table has the prices consumer tick %v; riskTicks derives %v", got, want)
	}
}
