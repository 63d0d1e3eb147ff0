package stack_test

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// text concatenates the strings of a template value (an Fn::Join's parts),
// a reference standing as "<ref>".
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(text(e))
		}
		return b.String()
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			return text(j[1])
		}
		return "<ref>"
	}
	return ""
}

// dashboardMetric matches a PortfolioTracker metric in a dashboard body:
// ["PortfolioTracker","Name","Dim","value",...,{options}].
var dashboardMetric = regexp.MustCompile(`\["` + emf.Namespace + `","(\w+)"((?:,"[^"]*")*)`)

// TestDashboardShowsWhatTheIssueAsksFromCataloguedMetrics: the stage's one
// dashboard has every section of docs/observability.md, an iterator age per
// mapping and a line per on-failure destination, and reads only catalogued
// metrics with dimensions they carry.
func TestDashboardShowsWhatTheIssueAsksFromCataloguedMetrics(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		ids := s.ofType("AWS::CloudWatch::Dashboard")
		if len(ids) != 1 {
			t.Fatalf("%s: %d dashboards", name, len(ids))
		}
		body := text(s.res[ids[0]].Properties["DashboardBody"])
		for _, title := range []string{"API latency p50 per route", "API latency p99 per route", "API 5xx per route", "Function errors and throttles",
			"Iterator age per mapping", "Tick → push", "Projection lag", "On-failure destinations", "Cost drivers", "SLO alarms"} {
			if !strings.Contains(body, title) {
				t.Errorf("%s: no widget %q", name, title)
			}
		}
		found := dashboardMetric.FindAllStringSubmatch(body, -1)
		if len(found) < len(topology.HTTPRoutes) {
			t.Errorf("%s: %d PortfolioTracker metrics on the dashboard", name, len(found))
		}
		for _, m := range found {
			d, ok := metrics.Lookup(m[1])
			if !ok {
				t.Errorf("%s: the dashboard reads %s, which is not catalogued", name, m[1])
				continue
			}
			parts := strings.Split(strings.Trim(m[2], ","), ",")
			for i := 0; i+1 < len(parts); i += 2 {
				if dim := strings.Trim(parts[i], `"`); !d.Allows(dim) {
					t.Errorf("%s: the dashboard reads %s by %s, which it does not carry", name, d.Name, dim)
				}
			}
		}
		for _, ft := range triggersOf(s.topo, topology.DynamoDBStream, topology.KinesisStream) {
			if !strings.Contains(body, ft.f.Name+" ← "+ft.tr.Source) {
				t.Errorf("%s: no iterator age or failure destination of %s ← %s", name, ft.f.Name, ft.tr.Source)
			}
		}
		if n := strings.Count(body, `"IteratorAge"`); n != len(triggersOf(s.topo, topology.DynamoDBStream, topology.KinesisStream)) {
			t.Errorf("%s: %d iterator ages", name, n)
		}
	}
}

// TestSLOAlarmsHoldTheObjectives: each SLO alarm reads its catalogued metric's
// percentile, by its dimensions, against the objective in milliseconds, for
// the stated periods; missing data does not breach.
func TestSLOAlarmsHoldTheObjectives(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		alarms := s.byName("AWS::CloudWatch::Alarm", "AlarmName")
		n := 0
		for _, slo := range metrics.SLOs() {
			id := keyOf(alarms, "slo-"+slo.Name)
			if id == "" {
				continue // parity says whether it should be there
			}
			n++
			p := s.res[id].Properties
			dims := map[string]string{}
			for _, d := range list(p["Dimensions"]) {
				dims[obj(d)["Name"].(string)] = obj(d)["Value"].(string)
			}
			if p["Namespace"] != emf.Namespace || p["MetricName"] != slo.Metric || p["ExtendedStatistic"] != slo.Percentile ||
				num(p["Threshold"]) != float64(slo.Objective.Milliseconds()) || num(p["EvaluationPeriods"]) != float64(slo.Periods) ||
				num(p["Period"]) != slo.Period.Seconds() || p["ComparisonOperator"] != "GreaterThanThreshold" || p["TreatMissingData"] != "notBreaching" ||
				!jsonEqual(dims, withStage(slo.Dimensions, string(s.cfg.Stage))) {
				t.Errorf("%s: alarm slo-%s: %v", name, slo.Name, p)
			}
		}
		if n < 3 {
			t.Errorf("%s: %d SLO alarms", name, n)
		}
	}
	if !slices.ContainsFunc(metrics.SLOs(), func(s metrics.SLO) bool { return s.Metric == "TickToPush" }) {
		t.Error("no tick → push objective")
	}
}

// withStage is dims and the stage's Stage dimension, which every metric the
// stack reads carries.
func withStage(dims map[string]string, stage string) map[string]string {
	out := maps.Clone(dims)
	out[metrics.Stage] = stage
	return out
}
