package stack_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestStreamMappingsHonourDesign4(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		fns := s.functionsByID(t)
		tables := s.byName("AWS::DynamoDB::Table", "TableName")
		streams := s.byName("AWS::Kinesis::Stream", "Name")
		mappings := s.ofType("AWS::Lambda::EventSourceMapping")
		for _, ft := range triggersOf(s.topo, topology.DynamoDBStream, topology.KinesisStream) {
			f, tr := ft.f, ft.tr
			fnID := keyOf(fns, f.Name)
			found := false
			for _, id := range mappings {
				p := s.res[id].Properties
				fid, _ := ref(p["FunctionName"])
				src, srcAttr := ref(p["EventSourceArn"])
				if fid != fnID || (tables[src] != tr.Source && streams[src] != tr.Source) {
					continue
				}
				found = true
				what := fmt.Sprintf("%s: mapping %s <- %s", name, f.Name, tr.Source)
				wantAttr, wantPos := "StreamArn", "TRIM_HORIZON"
				if tr.Kind == topology.KinesisStream {
					wantAttr, wantPos = "Arn", "LATEST"
				}
				m := tr.Mapping
				checks := map[string][2]any{
					"FunctionResponseTypes":          {p["FunctionResponseTypes"], []string{"ReportBatchItemFailures"}},
					"BisectBatchOnFunctionError":     {p["BisectBatchOnFunctionError"], true},
					"MaximumRetryAttempts":           {p["MaximumRetryAttempts"], m.MaxRetries},
					"MaximumRecordAgeInSeconds":      {p["MaximumRecordAgeInSeconds"], m.MaxRecordAge.Seconds()},
					"BatchSize":                      {p["BatchSize"], m.BatchSize},
					"MaximumBatchingWindowInSeconds": {p["MaximumBatchingWindowInSeconds"], m.BatchingWindow.Seconds()},
					"ParallelizationFactor":          {p["ParallelizationFactor"], m.ParallelizationFactor},
					"StartingPosition":               {p["StartingPosition"], wantPos},
					"EventSourceArn attribute":       {srcAttr, wantAttr},
				}
				for k, c := range checks {
					if !jsonEqual(c[0], c[1]) {
						t.Errorf("%s: %s = %v, want %v", what, k, c[0], c[1])
					}
				}
				// The on-failure destination: an encrypted SQS queue keeping 14 days,
				// refusing plain HTTP, with an alarm on anything in it.
				q, attr := ref(obj(obj(p["DestinationConfig"])["OnFailure"])["Destination"])
				qr := s.res[q]
				if qr.Type != "AWS::SQS::Queue" || attr != "Arn" {
					t.Errorf("%s: on-failure destination %v", what, p["DestinationConfig"])
					continue
				}
				if qr.Properties["SqsManagedSseEnabled"] != true || num(qr.Properties["MessageRetentionPeriod"]) != stack.FailureRetention.Seconds() {
					t.Errorf("%s: queue %v", what, qr.Properties)
				}
				if !s.queueEnforcesTLS(q) {
					t.Errorf("%s: queue %s accepts requests without TLS", what, q)
				}
				if !s.hasAlarm("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, 0, "GreaterThanThreshold") {
					t.Errorf("%s: no alarm on the failure queue's depth", what)
				}
				if !s.hasAlarm("AWS/Lambda", "IteratorAge", "FunctionName", fnID, float64(stack.IteratorAgeThreshold(m).Milliseconds()), "GreaterThanThreshold") {
					t.Errorf("%s: no iterator age alarm", what)
				}
			}
			if !found {
				t.Errorf("%s: no mapping %s <- %s", name, f.Name, tr.Source)
			}
		}
	}
}

// queueEnforcesTLS: a queue policy denies every request without aws:SecureTransport.
func (s *synthesized) queueEnforcesTLS(queue string) bool {
	for _, id := range s.ofType("AWS::SQS::QueuePolicy") {
		p := s.res[id].Properties
		if !slices.Contains(refsIn(p["Queues"]), queue) {
			continue
		}
		for _, st := range list(obj(p["PolicyDocument"])["Statement"]) {
			st := obj(st)
			if st["Effect"] == "Deny" && jsonEqual(st["Condition"], map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}) {
				return true
			}
		}
	}
	return false
}

// hasAlarm finds an alarm on namespace/metric whose dimension dim references target.
func (s *synthesized) hasAlarm(namespace, metric, dim, target string, threshold float64, op string) bool {
	for _, id := range s.ofType("AWS::CloudWatch::Alarm") {
		p := s.res[id].Properties
		if p["Namespace"] != namespace || p["MetricName"] != metric || num(p["Threshold"]) != threshold || p["ComparisonOperator"] != op {
			continue
		}
		for _, d := range list(p["Dimensions"]) {
			d := obj(d)
			if d["Name"] == dim && slices.Contains(refsIn(d["Value"]), target) {
				return true
			}
		}
	}
	return false
}

func TestFunctionAlarms(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		for id, fn := range s.functionsByID(t) {
			for _, metric := range []string{"Errors", "Throttles"} {
				if !s.hasAlarm("AWS/Lambda", metric, "FunctionName", id, 1, "GreaterThanOrEqualToThreshold") {
					t.Errorf("%s/%s: no %s alarm", name, fn, metric)
				}
			}
		}
	}
	// With an alarm topic, every alarm notifies it.
	s := fixture(t, "rich")
	for _, id := range s.ofType("AWS::CloudWatch::Alarm") {
		if !jsonEqual(s.res[id].Properties["AlarmActions"], []string{s.cfg.AlarmTopicARN}) {
			t.Errorf("rich: alarm %s does not notify the topic: %v", id, s.res[id].Properties["AlarmActions"])
		}
	}
}

func TestHTTPAPIAuthorizesEveryRoute(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		apis := s.byName("AWS::ApiGatewayV2::Api", "Name")
		httpAPI := keyOf(apis, "http")
		authorizerFn := keyOf(s.functionsByID(t), triggersOf(s.topo, topology.HTTPAuthorizer)[0].f.Name)
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"ApiId":                          map[string]any{"Ref": httpAPI},
			"AuthorizerType":                 "REQUEST",
			"AuthorizerPayloadFormatVersion": "2.0",
			"EnableSimpleResponses":          true,
			"IdentitySource":                 []string{"$request.header.Authorization"},
			"AuthorizerResultTtlInSeconds":   stack.AuthorizerCacheSeconds,
			"AuthorizerUri":                  assertions.Match_ObjectLike(&map[string]any{"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{map[string]any{"Fn::GetAtt": []string{authorizerFn, "Arn"}}})})}),
		})
		var authorizer string
		for _, id := range s.ofType("AWS::ApiGatewayV2::Authorizer") {
			if a, _ := ref(s.res[id].Properties["ApiId"]); a == httpAPI {
				authorizer = id
			}
		}
		routes := 0
		for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
			p := s.res[id].Properties
			if a, _ := ref(p["ApiId"]); a != httpAPI {
				continue
			}
			routes++
			if key, _ := p["RouteKey"].(string); s.topo.PublicRoutes[key] {
				continue // TestPublicRoutesSkipTheAuthorizer
			}
			if az, _ := ref(p["AuthorizerId"]); p["AuthorizationType"] != "CUSTOM" || az != authorizer {
				t.Errorf("%s: route %v is not behind the authorizer: %v %v", name, p["RouteKey"], p["AuthorizationType"], p["AuthorizerId"])
			}
		}
		if want := len(triggersOf(s.topo, topology.HTTPRoute)); routes != want {
			t.Errorf("%s: %d HTTP routes, want %d", name, routes, want)
		}
		// Integrations: Lambda proxy, payload 2.0.
		for _, id := range s.ofType("AWS::ApiGatewayV2::Integration") {
			p := s.res[id].Properties
			if a, _ := ref(p["ApiId"]); a == httpAPI && (p["IntegrationType"] != "AWS_PROXY" || p["PayloadFormatVersion"] != "2.0") {
				t.Errorf("%s: integration %v", name, p)
			}
		}
		// CORS for the frontend only: frontendOrigin when given, else the web
		// app's CloudFront URL (and in dev the local dev server); no credentials
		// (bearer tokens, not cookies).
		cors := obj(s.res[httpAPI].Properties["CorsConfiguration"])
		wantOrigins := []any{s.cfg.FrontendOrigin}
		if s.cfg.FrontendOrigin == "" {
			dist := s.ofType("AWS::CloudFront::Distribution")
			wantOrigins = []any{map[string]any{"Fn::Join": []any{"", []any{"https://", map[string]any{"Fn::GetAtt": []any{dist[0], "DomainName"}}}}}}
			if s.cfg.Stage == stack.Dev {
				wantOrigins = append(wantOrigins, stack.DevFrontendOrigin)
			}
		}
		if !jsonEqual(cors["AllowOrigins"], wantOrigins) || cors["AllowCredentials"] == true ||
			!slices.Equal(strs(cors["AllowHeaders"]), topology.CORSAllowHeaders) || !slices.Equal(strs(cors["ExposeHeaders"]), topology.CORSExposeHeaders) ||
			cors["MaxAge"] != topology.CORSMaxAge.Seconds() {
			t.Errorf("%s: CORS %v", name, cors)
		}
		for _, ft := range triggersOf(s.topo, topology.HTTPRoute) {
			if !slices.Contains(strs(cors["AllowMethods"]), ft.tr.Method) {
				t.Errorf("%s: CORS does not allow %s", name, ft.tr.Method)
			}
		}
		// The $default stage: throttled, JSON access logs.
		rate, burst := stack.Throttle(s.cfg.Stage)
		stage := s.stageOf(httpAPI)
		p := s.res[stage].Properties
		if p["StageName"] != "$default" || p["AutoDeploy"] != true ||
			!jsonEqual(p["DefaultRouteSettings"], map[string]any{"ThrottlingBurstLimit": burst, "ThrottlingRateLimit": rate}) {
			t.Errorf("%s: HTTP stage %v", name, p)
		}
		s.checkAccessLogs(t, name, stage, "requestId", "status", "routeKey")
	}
}

func (s *synthesized) stageOf(api string) string {
	for _, id := range s.ofType("AWS::ApiGatewayV2::Stage") {
		if a, _ := ref(s.res[id].Properties["ApiId"]); a == api {
			return id
		}
	}
	return ""
}

func (s *synthesized) checkAccessLogs(t *testing.T, name, stage string, fields ...string) {
	t.Helper()
	als := obj(s.res[stage].Properties["AccessLogSettings"])
	lg, attr := ref(als["DestinationArn"])
	if s.res[lg].Type != "AWS::Logs::LogGroup" || attr != "Arn" {
		t.Errorf("%s: stage %s logs to %v", name, stage, als["DestinationArn"])
	}
	var format map[string]string
	if err := json.Unmarshal([]byte(als["Format"].(string)), &format); err != nil {
		t.Errorf("%s: stage %s access log format is not JSON: %v", name, stage, err)
	}
	for _, f := range fields {
		if !strings.HasPrefix(format[f], "$context.") {
			t.Errorf("%s: stage %s access logs lack %s: %v", name, stage, f, format)
		}
	}
	// No IP address in a log line (docs/observability.md, "Logs").
	for f, v := range format {
		if strings.Contains(strings.ToLower(v), "sourceip") || strings.Contains(v, "$context.identity.") {
			t.Errorf("%s: stage %s access logs write the caller's %s (%s)", name, stage, f, v)
		}
	}
}

func TestWebSocketAPIAuthorizesConnect(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		apis := s.byName("AWS::ApiGatewayV2::Api", "Name")
		wsAPI := keyOf(apis, "ws")
		if s.res[wsAPI].Properties["ProtocolType"] != "WEBSOCKET" {
			t.Fatalf("%s: no WebSocket API: %v", name, apis)
		}
		authorizerFn := keyOf(s.functionsByID(t), triggersOf(s.topo, topology.WSAuthorizer)[0].f.Name)
		s.tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Authorizer"), map[string]any{
			"ApiId":          map[string]any{"Ref": wsAPI},
			"AuthorizerType": "REQUEST",
			"IdentitySource": []string{"route.request.querystring.token"},
			"AuthorizerUri":  assertions.Match_ObjectLike(&map[string]any{"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{map[string]any{"Fn::GetAtt": []string{authorizerFn, "Arn"}}})})}),
		})
		connect := 0
		for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
			p := s.res[id].Properties
			if a, _ := ref(p["ApiId"]); a != wsAPI || p["RouteKey"] != stack.ConnectRoute {
				continue
			}
			connect++
			az, _ := ref(p["AuthorizerId"])
			if p["AuthorizationType"] != "CUSTOM" || s.res[az].Type != "AWS::ApiGatewayV2::Authorizer" {
				t.Errorf("%s: $connect is not behind the authorizer: %v", name, p)
			}
		}
		if connect != 1 {
			t.Errorf("%s: %d $connect routes", name, connect)
		}
		stage := s.stageOf(wsAPI)
		if p := s.res[stage].Properties; p["StageName"] != string(s.cfg.Stage) || p["AutoDeploy"] != true {
			t.Errorf("%s: WebSocket stage %v", name, p)
		}
		s.checkAccessLogs(t, name, stage, "requestId", "connectionId", "eventType", "status")
	}
	// With an account role managed here, the stage waits for it.
	s := fixture(t, "rich")
	account := s.ofType("AWS::ApiGateway::Account")
	if len(account) != 1 || !slices.Contains(s.res[s.stageOf(keyOf(s.byName("AWS::ApiGatewayV2::Api", "Name"), "ws"))].DependsOn, account[0]) {
		t.Errorf("rich: API Gateway account %v, WebSocket stage does not depend on it", account)
	}
	if n := len(fixture(t, "dev").ofType("AWS::ApiGateway::Account")); n != 0 {
		t.Errorf("dev: manages the account-wide API Gateway settings without being asked")
	}
}

func TestSchedulesUseTimeZonesAndOwnRoles(t *testing.T) {
	s := fixture(t, "rich")
	fns := s.functionsByID(t)
	schedules := s.ofType("AWS::Scheduler::Schedule")
	want := triggersOf(s.topo, topology.Schedule)
	if len(schedules) != len(want) || len(want) < 2 {
		t.Fatalf("%d schedules, want %d", len(schedules), len(want))
	}
	for _, ft := range want {
		name := stack.ScheduleName(s.prefix(), ft.f.Name, ft.index)
		s.tmpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), map[string]any{
			"Name":                       name,
			"ScheduleExpression":         ft.tr.Expression,
			"ScheduleExpressionTimezone": ft.tr.TimeZone,
			"FlexibleTimeWindow":         map[string]any{"Mode": "OFF"},
			"State":                      "ENABLED",
			"Target": assertions.Match_ObjectLike(&map[string]any{
				"Arn":   map[string]any{"Fn::GetAtt": []string{keyOf(fns, ft.f.Name), "Arn"}},
				"Input": ft.tr.Input,
			}),
		})
		for _, id := range schedules {
			p := s.res[id].Properties
			if p["Name"] != name {
				continue
			}
			role, _ := ref(obj(p["Target"])["RoleArn"])
			trust := s.res[role].Properties["AssumeRolePolicyDocument"]
			if !strings.Contains(fmt.Sprint(trust), "scheduler.amazonaws.com") || !strings.Contains(fmt.Sprint(trust), "aws:SourceAccount") {
				t.Errorf("%s: role %s trusts %v", name, role, trust)
			}
			statements := s.statementsOfRole(role)
			if len(statements) != 1 || !jsonEqual(statements[0]["Action"], "lambda:InvokeFunction") ||
				!jsonEqual(statements[0]["Resource"], map[string]any{"Fn::GetAtt": []string{keyOf(fns, ft.f.Name), "Arn"}}) {
				t.Errorf("%s: role %s may do %v", name, role, statements)
			}
		}
	}
	if dev := fixture(t, "dev"); len(dev.ofType("AWS::Scheduler::Schedule")) != len(triggersOf(dev.topo, topology.Schedule)) {
		t.Errorf("dev: %d schedules, want %d", len(dev.ofType("AWS::Scheduler::Schedule")), len(triggersOf(dev.topo, topology.Schedule)))
	}
}

func TestAfterDeploymentRunsTheMigrations(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		fns := s.functionsByID(t)
		after := triggersOf(s.topo, topology.AfterDeployment)
		triggers := s.ofType("Custom::Trigger")
		if len(triggers) != len(after) || len(after) == 0 {
			t.Fatalf("%s: %d triggers, want %d", name, len(triggers), len(after))
		}
		for i, ft := range after {
			r := s.res[triggers[i]]
			version, _ := ref(r.Properties["HandlerArn"])
			fn, _ := ref(s.res[version].Properties["FunctionName"])
			if fns[fn] != ft.f.Name || r.Properties["InvocationType"] != "RequestResponse" || r.Properties["ExecuteOnHandlerChange"] != true {
				t.Errorf("%s: trigger %v runs %s", name, r.Properties, fns[fn])
			}
			// The other functions are updated after the migrations ran.
			for id, other := range fns {
				if other != ft.f.Name && !slices.Contains(s.res[id].DependsOn, triggers[i]) {
					t.Errorf("%s: %s is not updated after the migrations", name, other)
				}
			}
		}
	}
}

type fnTrigger struct {
	f     topology.Function
	tr    topology.Trigger
	index int
}

func triggersOf(t stack.Topology, kinds ...topology.TriggerKind) []fnTrigger {
	var out []fnTrigger
	for _, f := range t.Functions {
		for i, tr := range f.Triggers {
			if slices.Contains(kinds, tr.Kind) {
				out = append(out, fnTrigger{f, tr, i})
			}
		}
	}
	return out
}
