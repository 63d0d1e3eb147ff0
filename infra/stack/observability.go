package stack

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// failureQueue is one mapping's on-failure destination.
type failureQueue struct {
	label string // "projector ← events"
	queue awssqs.Queue
}

// DashboardName is the stage's dashboard (docs/observability.md, "Dashboard").
func (c Config) DashboardName() string { return c.Prefix() + "observability" }

// observability builds the SLO alarms and the dashboard (docs/observability.md):
// both read only catalogued metrics (shared/platform/metrics), and only of the
// functions the topology has.
func (b *builder) observability() {
	scope := constructs.NewConstruct(b.st, jsii.String("Observability"))
	alarms := b.sloAlarms(scope)
	b.dashboard(scope, alarms)
}

// catalogued is a PortfolioTracker metric of the catalogue, of the stack's
// stage (the Stage dimension every function's lines carry, from its STAGE
// setting): a name or a dimension it lacks is a programming error the tests
// report.
func (b *builder) catalogued(name string, dims map[string]string, stat string, period time.Duration) awscloudwatch.Metric {
	d, ok := metrics.Lookup(name)
	if !ok {
		panic("stack: metric " + name + " is not in shared/platform/metrics' catalogue")
	}
	for k := range dims {
		if !d.Allows(k) {
			panic(fmt.Sprintf("stack: metric %s has no dimension %s", name, k))
		}
	}
	dm := map[string]*string{metrics.Stage: jsii.String(string(b.cfg.Stage))}
	for k, v := range dims {
		dm[k] = jsii.String(v)
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(emf.Namespace), MetricName: jsii.String(name),
		DimensionsMap: &dm, Statistic: jsii.String(stat), Period: duration(period)})
}

// sloAlarms makes one alarm per objective of metrics.SLOs whose function the
// stack has, routed to the alarm topic.
func (b *builder) sloAlarms(scope constructs.Construct) []awscloudwatch.Alarm {
	var out []awscloudwatch.Alarm
	for _, s := range metrics.SLOs() {
		if _, ok := b.Functions[s.Dimensions[metrics.Function]]; !ok {
			continue
		}
		m := b.catalogued(s.Metric, s.Dimensions, s.Percentile, s.Period)
		out = append(out, b.alarm(scope, "SLO"+id(s.Name), b.name("slo", s.Name),
			fmt.Sprintf("SLO: %s above %s for %d periods of %s (docs/observability.md)", s.Meaning, s.Objective, s.Periods, s.Period),
			m, float64(s.Objective.Milliseconds()), awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, float64(s.Periods)))
	}
	return out
}

// dashboardPeriod is the graphs' period.
const dashboardPeriod = 5 * time.Minute

// dashboard is the stage's one dashboard: API latency and errors per route,
// function errors, iterator ages, tick → push, projection lag, the on-failure
// destinations, the cost drivers and the SLO alarms.
func (b *builder) dashboard(scope constructs.Construct, alarms []awscloudwatch.Alarm) {
	graph := func(title string, width float64, left []awscloudwatch.IMetric, objective time.Duration) awscloudwatch.IWidget {
		props := &awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: &left}
		if objective > 0 {
			props.LeftAnnotations = &[]*awscloudwatch.HorizontalAnnotation{{Value: jsii.Number(float64(objective.Milliseconds())), Label: jsii.String("objective")}}
		}
		return awscloudwatch.NewGraphWidget(props)
	}
	var rows [][]awscloudwatch.IWidget
	if _, ok := b.Functions["api"]; ok {
		var p50, p99, errs []awscloudwatch.IMetric
		for _, r := range topology.HTTPRoutes {
			dims := map[string]string{metrics.Function: "api", metrics.Route: r.Pattern()}
			p50 = append(p50, b.catalogued("RequestLatency", dims, "p50", dashboardPeriod))
			p99 = append(p99, b.catalogued("RequestLatency", dims, "p99", dashboardPeriod))
			errs = append(errs, b.catalogued("Requests", map[string]string{metrics.Function: "api", metrics.Route: r.Pattern(), metrics.StatusClass: "5xx"}, "Sum", dashboardPeriod))
		}
		rows = append(rows,
			[]awscloudwatch.IWidget{graph("API latency p50 per route (ms)", 12, p50, 0), graph("API latency p99 per route (ms)", 12, p99, metrics.APIObjective)},
			[]awscloudwatch.IWidget{graph("API 5xx per route", 24, errs, 0)})
	}
	var fnErrs, invocations, durations []awscloudwatch.IMetric
	for _, f := range b.topo.Functions {
		fn := b.Functions[f.Name]
		opts := &awscloudwatch.MetricOptions{Period: duration(dashboardPeriod), Statistic: jsii.String("Sum"), Label: jsii.String(f.Name)}
		fnErrs = append(fnErrs, fn.MetricErrors(opts), fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: duration(dashboardPeriod),
			Statistic: jsii.String("Sum"), Label: jsii.String(f.Name + " throttles")}))
		invocations = append(invocations, fn.MetricInvocations(opts))
		durations = append(durations, fn.MetricDuration(opts))
	}
	var ages []awscloudwatch.IMetric
	for _, ft := range b.topo.triggers(topology.DynamoDBStream, topology.KinesisStream) {
		ages = append(ages, awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("IteratorAge"),
			DimensionsMap: &map[string]*string{"FunctionName": b.Functions[ft.Function.Name].FunctionName()},
			Statistic:     jsii.String("Maximum"), Period: duration(dashboardPeriod), Label: jsii.String(ft.Function.Name + " ← " + ft.Trigger.Source),
		}))
	}
	rows = append(rows, []awscloudwatch.IWidget{graph("Function errors and throttles", 12, fnErrs, 0), graph("Iterator age per mapping (ms)", 12, ages, 0)})

	var latencies []awscloudwatch.IWidget
	if _, ok := b.Functions["prices"]; ok {
		latencies = append(latencies, graph("Tick → push (ms)", 12, []awscloudwatch.IMetric{
			b.catalogued("TickToPush", map[string]string{metrics.Function: "prices"}, "p50", dashboardPeriod),
			b.catalogued("TickToPush", map[string]string{metrics.Function: "prices"}, "p99", dashboardPeriod)}, metrics.TickToPushObjective))
	}
	if _, ok := b.Functions["projector"]; ok {
		latencies = append(latencies, graph("Projection lag (ms)", 12, []awscloudwatch.IMetric{
			b.catalogued("ProjectionLag", map[string]string{metrics.Function: "projector"}, "p50", dashboardPeriod),
			b.catalogued("ProjectionLag", map[string]string{metrics.Function: "projector"}, "p99", dashboardPeriod)}, metrics.ProjectionLagObjective))
	}
	if len(latencies) > 0 {
		rows = append(rows, latencies)
	}

	var failures []awscloudwatch.IMetric
	for _, q := range b.failureQueues {
		failures = append(failures, q.queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: duration(dashboardPeriod), Statistic: jsii.String("Maximum"), Label: jsii.String(q.label)}))
	}
	var records []awscloudwatch.IMetric
	for _, name := range slices.Sorted(maps.Keys(b.Streams)) {
		records = append(records, b.Streams[name].MetricIncomingRecords(&awscloudwatch.MetricOptions{Period: duration(dashboardPeriod),
			Statistic: jsii.String("Sum"), Label: jsii.String(name + " records in")}))
	}
	for _, name := range slices.Sorted(maps.Keys(b.Tables)) {
		records = append(records, b.Tables[name].MetricConsumedWriteCapacityUnits(&awscloudwatch.MetricOptions{Period: duration(dashboardPeriod),
			Statistic: jsii.String("Sum"), Label: jsii.String(name + " write units")}))
	}
	if _, ok := b.Functions["prices"]; ok {
		records = append(records, b.catalogued("PushesSent", map[string]string{metrics.Function: "prices"}, "Sum", dashboardPeriod))
	}
	rows = append(rows,
		[]awscloudwatch.IWidget{graph("On-failure destinations: messages", 12, failures, 0), graph("Cost drivers: records, write units, pushes", 12, records, 0)},
		[]awscloudwatch.IWidget{graph("Cost drivers: invocations", 12, invocations, 0), graph("Cost drivers: duration (ms, sum)", 12, durations, 0)})
	if len(alarms) > 0 {
		refs := make([]interfacesawscloudwatch.IAlarmRef, len(alarms))
		for i, a := range alarms {
			refs[i] = a
		}
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("SLO alarms"), Width: jsii.Number(24), Height: jsii.Number(6), Alarms: &refs})})
	}
	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(b.cfg.DashboardName()), Widgets: &widgets, DefaultInterval: awscdk.Duration_Hours(jsii.Number(3))})
}
