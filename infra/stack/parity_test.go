package stack_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// TestParity: every table, Kinesis stream, function, event source mapping,
// route, schedule, after-deployment run and SNS subscription that the topology declares is in the
// template, and the template has nothing of those kinds that the topology lacks.
func TestParity(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		same := func(kind string, got, want map[string]bool) {
			t.Helper()
			if g, w := sortedSet(got), sortedSet(want); !jsonEqual(g, w) {
				t.Errorf("%s: %s differ from the topology\n template %v\n topology %v", name, kind, g, w)
			}
		}
		// Tables and Kinesis streams.
		want, got := map[string]bool{}, map[string]bool{}
		for _, tb := range s.topo.Tables {
			want[tb.Name] = true
		}
		for _, n := range s.byName("AWS::DynamoDB::Table", "TableName") {
			got[n] = true
		}
		same("tables", got, want)
		want, got = map[string]bool{}, map[string]bool{}
		for _, k := range s.topo.KinesisStreams {
			want[k.Name] = true
		}
		for _, n := range s.byName("AWS::Kinesis::Stream", "Name") {
			got[n] = true
		}
		same("Kinesis streams", got, want)

		// Functions: ours are exactly the topology's; the only others are the
		// CDK's trigger provider, there when the topology has an after-deployment
		// run, and its bucket deployment function, which copies the web app (one).
		want, got = map[string]bool{}, map[string]bool{}
		for _, f := range s.topo.Functions {
			want[f.Name] = true
		}
		fns := s.functionsByID(t)
		deployers := 0
		for id, r := range s.res {
			if r.Type != "AWS::Lambda::Function" {
				continue
			}
			if n, ok := fns[id]; ok {
				got[n] = true
				continue
			}
			if isDeploymentProvider(id) {
				deployers++
				continue
			}
			if !strings.HasPrefix(id, "AWSCDKTriggerCustomResourceProvider") || len(triggersOf(s.topo, topology.AfterDeployment)) == 0 {
				t.Errorf("%s: function %s is not in the topology", name, id)
			}
		}
		same("functions", got, want)
		if deployers != 1 {
			t.Errorf("%s: %d bucket deployment functions, want the one the web app's deployments share", name, deployers)
		}

		// The web app: one private bucket, one distribution in front of it, and
		// the three deployments into it (assets, pages, config.json).
		if n, d, dep := len(s.ofType("AWS::S3::Bucket")), len(s.ofType("AWS::CloudFront::Distribution")), len(s.ofType("Custom::CDKBucketDeployment")); n != 1 || d != 1 || dep != 3 {
			t.Errorf("%s: %d buckets, %d distributions, %d bucket deployments; want 1, 1, 3", name, n, d, dep)
		}

		// Event source mappings: (function, source).
		tables := s.byName("AWS::DynamoDB::Table", "TableName")
		streams := s.byName("AWS::Kinesis::Stream", "Name")
		want, got = map[string]bool{}, map[string]bool{}
		for _, ft := range triggersOf(s.topo, topology.DynamoDBStream, topology.KinesisStream) {
			want[fmt.Sprintf("%s <- %s %s", ft.f.Name, ft.tr.Kind, ft.tr.Source)] = true
		}
		for _, id := range s.ofType("AWS::Lambda::EventSourceMapping") {
			p := s.res[id].Properties
			fn, _ := ref(p["FunctionName"])
			src, _ := ref(p["EventSourceArn"])
			kind, source := topology.DynamoDBStream, tables[src]
			if source == "" {
				kind, source = topology.KinesisStream, streams[src]
			}
			got[fmt.Sprintf("%s <- %s %s", fns[fn], kind, source)] = true
		}
		same("event source mappings", got, want)

		// Routes, with the function each one reaches.
		apis := s.byName("AWS::ApiGatewayV2::Api", "Name")
		integrations := map[string]string{} // integration -> function or "mock"
		for _, id := range s.ofType("AWS::ApiGatewayV2::Integration") {
			p := s.res[id].Properties
			integrations[id] = "mock"
			for _, r := range refsIn(p["IntegrationUri"]) {
				if fns[r] != "" {
					integrations[id] = fns[r]
				}
			}
		}
		want, got = map[string]bool{}, map[string]bool{}
		for _, ft := range triggersOf(s.topo, topology.HTTPRoute) {
			want[fmt.Sprintf("http %s %s -> %s", ft.tr.Method, ft.tr.Path, ft.f.Name)] = true
		}
		connect := "mock"
		for _, ft := range triggersOf(s.topo, topology.WebSocketRoute) {
			want[fmt.Sprintf("ws %s -> %s", ft.tr.RouteKey, ft.f.Name)] = true
			if ft.tr.RouteKey == stack.ConnectRoute {
				connect = ft.f.Name
			}
		}
		if len(triggersOf(s.topo, topology.WSAuthorizer)) > 0 {
			// $connect always exists behind the authorizer (a mock when no function handles it).
			want[fmt.Sprintf("ws %s -> %s", stack.ConnectRoute, connect)] = true
		}
		for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
			p := s.res[id].Properties
			api, _ := ref(p["ApiId"])
			integ := ""
			for _, r := range refsIn(p["Target"]) {
				integ = integrations[r]
			}
			got[fmt.Sprintf("%s %s -> %s", apis[api], p["RouteKey"], integ)] = true
		}
		same("routes", got, want)

		// Schedules and after-deployment runs.
		want, got = map[string]bool{}, map[string]bool{}
		for _, ft := range triggersOf(s.topo, topology.Schedule) {
			want[fmt.Sprintf("%s %s %s", ft.f.Name, ft.tr.Expression, ft.tr.TimeZone)] = true
		}
		for _, id := range s.ofType("AWS::Scheduler::Schedule") {
			p := s.res[id].Properties
			fn, _ := ref(obj(p["Target"])["Arn"])
			got[fmt.Sprintf("%s %s %s", fns[fn], p["ScheduleExpression"], p["ScheduleExpressionTimezone"])] = true
		}
		same("schedules", got, want)
		want, got = map[string]bool{}, map[string]bool{}
		for _, ft := range triggersOf(s.topo, topology.AfterDeployment) {
			want[ft.f.Name] = true
		}
		for _, id := range s.ofType("Custom::Trigger") {
			version, _ := ref(s.res[id].Properties["HandlerArn"])
			fn, _ := ref(s.res[version].Properties["FunctionName"])
			got[fns[fn]] = true
		}
		same("after-deployment runs", got, want)

		// Authorizers: one per API, the declared function.
		want, got = map[string]bool{}, map[string]bool{}
		for _, ft := range triggersOf(s.topo, topology.HTTPAuthorizer) {
			want["http "+ft.f.Name] = true
		}
		for _, ft := range triggersOf(s.topo, topology.WSAuthorizer) {
			want["ws "+ft.f.Name] = true
		}
		for _, id := range s.ofType("AWS::ApiGatewayV2::Authorizer") {
			p := s.res[id].Properties
			api, _ := ref(p["ApiId"])
			for _, r := range refsIn(p["AuthorizerUri"]) {
				if fns[r] != "" {
					got[apis[api]+" "+fns[r]] = true
				}
			}
		}
		same("authorizers", got, want)

		// SNS subscriptions: (function, topic).
		topics := s.byName("AWS::SNS::Topic", "TopicName")
		want, got = map[string]bool{}, map[string]bool{}
		for _, ft := range triggersOf(s.topo, topology.SNSTopic) {
			want[fmt.Sprintf("%s <- %s", ft.f.Name, ft.tr.Source)] = true
		}
		for _, id := range s.ofType("AWS::SNS::Subscription") {
			p := s.res[id].Properties
			fn, _ := ref(p["Endpoint"])
			topic, _ := ref(p["TopicArn"])
			got[fmt.Sprintf("%s <- %s", fns[fn], topics[topic])] = true
		}
		same("SNS subscriptions", got, want)

		// SLO alarms: one per objective of shared/platform/metrics.SLOs whose
		// function the topology has; and the one dashboard.
		want, got = map[string]bool{}, map[string]bool{}
		for _, slo := range metrics.SLOs() {
			if slices.ContainsFunc(s.topo.Functions, func(f topology.Function) bool { return f.Name == slo.Dimensions[metrics.Function] }) {
				want["slo-"+slo.Name] = true
			}
		}
		for _, n := range s.byName("AWS::CloudWatch::Alarm", "AlarmName") {
			if strings.HasPrefix(n, "slo-") {
				got[n] = true
			}
		}
		same("SLO alarms", got, want)
		if got := s.byName("AWS::CloudWatch::Dashboard", "DashboardName"); len(got) != 1 || slices.Collect(maps.Values(got))[0] != "observability" {
			t.Errorf("%s: dashboards %v, want the one observability dashboard", name, got)
		}
	}
}

// TestParityCatchesDrift: a stack built from one topology does not pass for
// another, so the parity test is not vacuous.
func TestParityCatchesDrift(t *testing.T) {
	s := fixture(t, "dev")
	rich := richTopology()
	// The two differ in their functions (the rich one adds the market-data
	// functions), schedules and the functions' settings.
	if len(triggersOf(rich, topology.Schedule)) == len(s.ofType("AWS::Scheduler::Schedule")) {
		t.Fatal("the rich topology should differ from the declared one in its schedules")
	}
}

// TestFunctionsGetTheirDeclaredSettings: the environment of every function in
// the template names exactly the settings the topology says the CDK stack sets
// (topology.Function.Environment, SetBy including CDKStack), with their fixed
// values. A setting the function may read but no stack sets (an override, or
// one with a default) is absent; one only the local stack sets (a secret's plain
// value) is absent too. The rich fixture's synthetic functions declare no real
// settings, so only the system's topology (dev, prod) is checked.
func TestFunctionsGetTheirDeclaredSettings(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		s := fixture(t, name)
		byID := s.functionsByID(t)
		for _, f := range s.topo.Functions {
			vars := obj(obj(s.res[keyOf(byID, f.Name)].Properties["Environment"])["Variables"])
			got, want := map[string]string{}, map[string]string{}
			for k, v := range vars {
				got[k] = "(computed)"
				if str, ok := v.(string); ok {
					got[k] = str
				}
			}
			for _, set := range f.Environment() {
				if set.SetBy&topology.CDKStack == 0 {
					continue
				}
				want[set.Name] = "(computed)"
				switch {
				case set.Value != "":
					want[set.Name] = set.Value
				case set.Name == stack.EnvSupabaseURL:
					want[set.Name] = testSupabaseURL
				case set.Name == topology.MailFromEnvVar:
					want[set.Name] = testMailFrom
				case set.Name == topology.TracesSampleRatioEnvVar:
					want[set.Name] = stack.Stage(name).TraceSampleRatio()
				case set.Name == topology.StageEnvVar:
					want[set.Name] = name
				}
			}
			if !jsonEqual(got, want) {
				t.Errorf("%s/%s: the template sets\n %v\nthe topology declares\n %v", name, f.Name, got, want)
			}
		}
	}
}
