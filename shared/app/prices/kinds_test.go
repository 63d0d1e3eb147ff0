package prices_test

import (
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// The consumer evaluates price rules on its ticks and, of the portfolio rules,
// only those on portfolio values (valueAlerts): a kind the table gives it on
// another portfolio metric fails here until the consumer ticks that metric.
func TestTheConsumerTicksEveryMetricItEvaluates(t *testing.T) {
	if got := alerts.PortfolioMetrics(alerts.EvaluatedByPrices); !slices.Equal(got, []alerts.Metric{alerts.MetricValue}) {
		t.Fatalf("the kind table gives the prices consumer the portfolio metrics %v; it ticks only %q", got, alerts.MetricValue)
	}
}
