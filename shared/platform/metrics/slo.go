package metrics

import (
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// SLO is a service-level objective on one catalogued duration: its
// percentile over Period stays at or under Objective. The CDK stack alarms
// when it does not for Periods periods in a row (routed to the alarm topic);
// docs/observability.md states them, held to this list by a test.
type SLO struct {
	Name       string // the alarm's name suffix, e.g. "api-p99-get-portfolios-id"
	Metric     string // a catalogued Milliseconds metric
	Dimensions map[string]string
	Percentile string // CloudWatch's statistic: "p99"
	Objective  time.Duration
	Period     time.Duration
	Periods    int
	Meaning    string
}

// SLO objectives.
const (
	// APIObjective is a route's p99 inside the function (API Gateway and the
	// authorizer, cached, add tens of milliseconds).
	APIObjective = time.Second
	// SlowAPIObjective is the p99 of the routes that read or write many rows
	// by design (an import of thousands of activities).
	SlowAPIObjective = 5 * time.Second
	// TickToPushObjective: a price change reaches the browser within 2 s
	// (the web app's live value).
	TickToPushObjective = 2 * time.Second
	// ProjectionLagObjective: a command's read model within 5 s, well inside
	// read-your-writes' wait for most and its 503 for the rest.
	ProjectionLagObjective = 5 * time.Second
)

// slowOperations are the routes held to SlowAPIObjective.
var slowOperations = map[string]bool{"importActivities": true, "previewImport": true, "deleteMe": true}

// SLOs lists every objective: the API's p99 per route, tick → push p99 and
// projection lag p99.
func SLOs() []SLO {
	var out []SLO
	for _, r := range topology.HTTPRoutes {
		objective := APIObjective
		if slowOperations[r.OperationID] {
			objective = SlowAPIObjective
		}
		out = append(out, SLO{Name: "api-p99-" + r.OperationID, Metric: "RequestLatency",
			Dimensions: map[string]string{Function: "api", Route: r.Pattern()}, Percentile: "p99",
			Objective: objective, Period: 5 * time.Minute, Periods: 3, Meaning: "p99 of " + r.Pattern() + " inside the api function"})
	}
	return append(out,
		SLO{Name: "tick-to-push-p99", Metric: "TickToPush", Dimensions: map[string]string{Function: "prices"}, Percentile: "p99",
			Objective: TickToPushObjective, Period: 5 * time.Minute, Periods: 3, Meaning: "p99 from a tick's arrival on the stream to its pushes"},
		SLO{Name: "projection-lag-p99", Metric: "ProjectionLag", Dimensions: map[string]string{Function: "projector"}, Percentile: "p99",
			Objective: ProjectionLagObjective, Period: 5 * time.Minute, Periods: 3, Meaning: "p99 from an event's recording to its projection"},
	)
}
