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

func TestTablesFollowTheTopology(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		prod := s.cfg.Stage == stack.Prod
		// The events stream carries new images (docs/architecture.md §3), asserted through the CDK's own matcher too.
		s.tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"TableName":                        s.prefix() + topology.EventsTable,
			"StreamSpecification":              map[string]any{"StreamViewType": "NEW_IMAGE"},
			"BillingMode":                      "PAY_PER_REQUEST",
			"SSESpecification":                 map[string]any{"SSEEnabled": true},
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		})
		tables := s.byName("AWS::DynamoDB::Table", "TableName")
		for _, decl := range s.topo.Tables {
			var r resource
			for id, n := range tables {
				if n == decl.Name {
					r = s.res[id]
				}
			}
			if r.Type == "" {
				t.Errorf("%s: no table %s", name, decl.Name)
				continue
			}
			p := r.Properties
			keys := []topology.Key{decl.PartitionKey}
			if decl.SortKey != nil {
				keys = append(keys, *decl.SortKey)
			}
			var schema []any
			for i, k := range keys {
				schema = append(schema, map[string]any{"AttributeName": k.Name, "KeyType": []string{"HASH", "RANGE"}[i]})
			}
			if !jsonEqual(p["KeySchema"], schema) {
				t.Errorf("%s/%s: key schema %v, want %v", name, decl.Name, p["KeySchema"], schema)
			}
			defs := map[string]string{}
			for _, d := range list(p["AttributeDefinitions"]) {
				defs[obj(d)["AttributeName"].(string)] = obj(d)["AttributeType"].(string)
			}
			for _, k := range keys {
				if defs[k.Name] != string(k.Type) {
					t.Errorf("%s/%s: attribute %s is %q, want %q", name, decl.Name, k.Name, defs[k.Name], k.Type)
				}
			}
			if p["BillingMode"] != "PAY_PER_REQUEST" || !jsonEqual(p["SSESpecification"], map[string]any{"SSEEnabled": true}) {
				t.Errorf("%s/%s: not on-demand and encrypted: %v %v", name, decl.Name, p["BillingMode"], p["SSESpecification"])
			}
			if got := obj(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"]; got != decl.PointInTimeRecovery {
				t.Errorf("%s/%s: PITR %v, want %v", name, decl.Name, got, decl.PointInTimeRecovery)
			}
			if got := obj(p["StreamSpecification"])["StreamViewType"]; (decl.Stream == topology.NoStream && got != nil) || (decl.Stream != topology.NoStream && got != string(decl.Stream)) {
				t.Errorf("%s/%s: stream %v, want %q", name, decl.Name, got, decl.Stream)
			}
			ttl := obj(p["TimeToLiveSpecification"])
			if (decl.TTLAttribute == "") != (ttl == nil) || (ttl != nil && (ttl["AttributeName"] != decl.TTLAttribute || ttl["Enabled"] != true)) {
				t.Errorf("%s/%s: TTL %v, want %q", name, decl.Name, ttl, decl.TTLAttribute)
			}
			gsis, _ := p["GlobalSecondaryIndexes"].([]any)
			if len(gsis) != len(decl.Indexes) {
				t.Errorf("%s/%s: %d indexes, want %d", name, decl.Name, len(gsis), len(decl.Indexes))
			}
			for i, ix := range decl.Indexes {
				if i >= len(gsis) {
					break
				}
				g := obj(gsis[i])
				proj := "ALL"
				if ix.KeysOnly {
					proj = "KEYS_ONLY"
				}
				if g["IndexName"] != ix.Name || obj(g["Projection"])["ProjectionType"] != proj ||
					!jsonEqual(obj(list(g["KeySchema"])[0]), map[string]any{"AttributeName": ix.PartitionKey.Name, "KeyType": "HASH"}) {
					t.Errorf("%s/%s: index %v, want %+v", name, decl.Name, g, ix)
				}
			}
			if p["DeletionProtectionEnabled"] != prod {
				t.Errorf("%s/%s: deletion protection %v in %s", name, decl.Name, p["DeletionProtectionEnabled"], s.cfg.Stage)
			}
			if want := map[bool]string{true: "Retain", false: "Delete"}[prod]; r.DeletionPolicy != want {
				t.Errorf("%s/%s: deletion policy %q, want %q", name, decl.Name, r.DeletionPolicy, want)
			}
		}
	}
}

func TestKinesisStreams(t *testing.T) {
	s := fixture(t, "rich")
	for _, k := range s.topo.KinesisStreams {
		s.tmpl.HasResourceProperties(jsii.String("AWS::Kinesis::Stream"), map[string]any{
			"Name":                 s.prefix() + k.Name,
			"StreamModeDetails":    map[string]any{"StreamMode": "ON_DEMAND"},
			"StreamEncryption":     map[string]any{"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
			"RetentionPeriodHours": k.Retention.Hours(),
		})
	}
	dev := fixture(t, "dev")
	if n, want := len(dev.ofType("AWS::Kinesis::Stream")), len(dev.topo.KinesisStreams); n != want {
		t.Errorf("the declared topology has %d Kinesis streams, the stack has %d", want, n)
	}
	for _, k := range dev.topo.KinesisStreams {
		dev.tmpl.HasResourceProperties(jsii.String("AWS::Kinesis::Stream"), map[string]any{
			"Name":              dev.prefix() + k.Name,
			"StreamModeDetails": map[string]any{"StreamMode": "ON_DEMAND"},
		})
	}
}

func TestFunctionsFollowTheTopology(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		byID := s.functionsByID(t)
		tables := s.byName("AWS::DynamoDB::Table", "TableName")
		secrets := s.byName("AWS::SecretsManager::Secret", "Name")
		streams := s.byName("AWS::Kinesis::Stream", "Name")
		queues := s.byName("AWS::SQS::Queue", "QueueName")
		for _, f := range s.topo.Functions {
			id := keyOf(byID, f.Name)
			if id == "" {
				t.Errorf("%s: no function %s", name, f.Name)
				continue
			}
			p := s.res[id].Properties
			if p["Runtime"] != "provided.al2023" || !jsonEqual(p["Architectures"], []string{"arm64"}) || p["Handler"] != "bootstrap" {
				t.Errorf("%s/%s: runtime %v %v handler %v", name, f.Name, p["Runtime"], p["Architectures"], p["Handler"])
			}
			if tc, ok := p["TracingConfig"]; ok {
				t.Errorf("%s/%s: tracing %v: OpenTelemetry is the one tracer, Lambda's X-Ray segments stay off", name, f.Name, tc)
			}
			if num(p["MemorySize"]) != float64(f.Memory) || num(p["Timeout"]) != f.Timeout.Seconds() {
				t.Errorf("%s/%s: memory %v timeout %v", name, f.Name, p["MemorySize"], p["Timeout"])
			}
			if got, ok := p["ReservedConcurrentExecutions"]; (f.ReservedConcurrency == 0 && ok) || (f.ReservedConcurrency > 0 && num(got) != float64(f.ReservedConcurrency)) {
				t.Errorf("%s/%s: reserved concurrency %v, want %d", name, f.Name, got, f.ReservedConcurrency)
			}
			// The environment: exactly the names the topology gives it.
			env := obj(obj(p["Environment"])["Variables"])
			want := map[string]string{}
			for _, set := range f.Settings {
				if set.Value != "" {
					want[set.Name] = "=" + set.Value
				}
			}
			for _, a := range f.Tables {
				for _, decl := range s.topo.Tables {
					if decl.Name == a.Table {
						want[decl.EnvVar] = "table:" + a.Table
					}
				}
			}
			for _, sec := range f.Secrets {
				for _, decl := range s.topo.Secrets {
					if decl.Name == sec {
						want[decl.EnvVar] = "secret:" + sec
					}
				}
			}
			for _, ks := range s.topo.StreamAccess[f.Name] {
				for _, decl := range s.topo.KinesisStreams {
					if decl.Name == ks {
						want[decl.EnvVar] = "kinesis:" + ks
					}
				}
			}
			for _, tr := range f.Triggers {
				if tr.Kind == topology.HTTPAuthorizer || tr.Kind == topology.WSAuthorizer {
					want[stack.EnvSupabaseURL] = "=" + testSupabaseURL
				}
			}
			if _, reads := f.SettingByName(stack.EnvSupabaseURL); reads || slices.Contains(f.Secrets, topology.ServiceRoleKey) {
				want[stack.EnvSupabaseURL] = "=" + testSupabaseURL
			}
			if f.ManageConnections {
				want[stack.EnvWebSocketCallbackURL] = "callback"
			}
			for _, set := range f.Settings {
				if set.SetBy&topology.CDKStack == 0 {
					continue
				}
				switch set.Name {
				case topology.MailFromEnvVar:
					want[set.Name] = "=" + testMailFrom
				case topology.SESConfigurationSetEnvVar:
					want[set.Name] = "configuration set"
				case topology.PublicAPIURLEnvVar:
					want[set.Name] = "http api"
				}
			}
			for _, tr := range f.Triggers {
				if tr.Kind == topology.DynamoDBStream || tr.Kind == topology.KinesisStream {
					want[topology.FailureDestinationEnvVar] = "queue:" + f.Name + "-" + tr.Source + "-failures"
				}
			}
			want[topology.TracesEndpointEnvVar] = "xray"
			want[topology.TracesSampleRatioEnvVar] = "=" + s.cfg.Stage.TraceSampleRatio()
			want[topology.StageEnvVar] = "=" + string(s.cfg.Stage)
			got := map[string]string{}
			for k, v := range env {
				switch x := v.(type) {
				case string:
					got[k] = "=" + x
				default:
					rid, _ := ref(x)
					switch {
					case strings.Contains(fmt.Sprint(x), "https://xray."):
						got[k] = "xray"
					case tables[rid] != "":
						got[k] = "table:" + tables[rid]
					case secrets[rid] != "":
						got[k] = "secret:" + secrets[rid]
					case streams[rid] != "":
						got[k] = "kinesis:" + streams[rid]
					case queues[rid] != "":
						got[k] = "queue:" + queues[rid]
					case strings.Contains(fmt.Sprint(x), "execute-api") && slices.Contains(refsIn(x), keyOf(s.byName("AWS::ApiGatewayV2::Api", "Name"), "ws")):
						got[k] = "callback"
					case s.res[rid].Type == "AWS::SES::ConfigurationSet":
						got[k] = "configuration set"
					case s.res[rid].Type == "AWS::ApiGatewayV2::Api" && rid == keyOf(s.byName("AWS::ApiGatewayV2::Api", "Name"), "http"):
						got[k] = "http api"
					default:
						got[k] = fmt.Sprint(x)
					}
				}
			}
			if !jsonEqual(got, want) {
				t.Errorf("%s/%s: environment\n got %v\nwant %v", name, f.Name, got, want)
			}
		}
	}
}

func TestLogGroupsHaveRetention(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		s := fixture(t, name)
		days := map[stack.Stage]float64{stack.Dev: 30, stack.Prod: 365}[s.cfg.Stage]
		policy := map[stack.Stage]string{stack.Dev: "Delete", stack.Prod: "Retain"}[s.cfg.Stage]
		groups := s.ofType("AWS::Logs::LogGroup")
		for _, id := range groups {
			r := s.res[id]
			if num(r.Properties["RetentionInDays"]) != days || r.DeletionPolicy != policy {
				t.Errorf("%s: log group %v keeps %v days, deletion %s", name, r.Properties["LogGroupName"], r.Properties["RetentionInDays"], r.DeletionPolicy)
			}
			if n, _ := r.Properties["LogGroupName"].(string); !strings.HasPrefix(n, s.prefix()) && !strings.HasPrefix(n, "/aws/lambda/"+s.prefix()) {
				t.Errorf("%s: log group %q lacks the stage prefix", name, n)
			}
		}
		for id, fn := range s.functionsByID(t) {
			lg, _ := ref(obj(s.res[id].Properties["LoggingConfig"])["LogGroup"])
			if s.res[lg].Properties["LogGroupName"] != "/aws/lambda/"+s.prefix()+fn {
				t.Errorf("%s/%s: logs to %v", name, fn, s.res[lg].Properties)
			}
		}
		if want := len(s.topo.Functions) + 3; len(groups) != want { // + HTTP and WebSocket access logs, the web app's deployments
			t.Errorf("%s: %d log groups, want %d", name, len(groups), want)
		}
	}
}

func TestSecretsAreEmptyRetainedAndPassedByARN(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		names := s.byName("AWS::SecretsManager::Secret", "Name")
		for _, decl := range s.topo.Secrets {
			id := keyOf(names, decl.Name)
			if id == "" {
				t.Errorf("%s: no secret %s", name, decl.Name)
				continue
			}
			r := s.res[id]
			if _, ok := r.Properties["GenerateSecretString"]; ok != decl.Generated {
				t.Errorf("%s/%s: generates a value %v; only the system's own keys are generated, the others start empty for the operator", name, decl.Name, ok)
			}
			if _, ok := r.Properties["SecretString"]; ok {
				t.Errorf("%s/%s: has a value in the template", name, decl.Name)
			}
			if d, _ := r.Properties["Description"].(string); !strings.Contains(d, decl.Purpose) || r.DeletionPolicy != "Retain" {
				t.Errorf("%s/%s: description %q, deletion %q", name, decl.Name, d, r.DeletionPolicy)
			}
			if _, ok := obj(s.json["Outputs"])["SecretName"+idOf(decl.Name)]; !ok {
				t.Errorf("%s/%s: no output names it for the operator", name, decl.Name)
			}
		}
		if len(names) != len(s.topo.Secrets) {
			t.Errorf("%s: %d secrets, the topology declares %d", name, len(names), len(s.topo.Secrets))
		}
	}
}

func TestOutputs(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		s.tmpl.HasOutput(jsii.String("HttpApiUrl"), map[string]any{"Value": assertions.Match_ObjectLike(&map[string]any{
			"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{"https://"})}),
		})})
		s.tmpl.HasOutput(jsii.String("WebSocketUrl"), map[string]any{"Value": assertions.Match_ObjectLike(&map[string]any{
			"Fn::Join": assertions.Match_ArrayWith(&[]any{assertions.Match_ArrayWith(&[]any{"wss://"})}),
		})})
	}
}

func TestStagesPrefixEveryName(t *testing.T) {
	props := map[string]string{
		"AWS::DynamoDB::Table": "TableName", "AWS::Lambda::Function": "FunctionName", "AWS::SQS::Queue": "QueueName",
		"AWS::SecretsManager::Secret": "Name", "AWS::ApiGatewayV2::Api": "Name", "AWS::ApiGatewayV2::Authorizer": "Name",
		"AWS::CloudWatch::Alarm": "AlarmName", "AWS::Scheduler::Schedule": "Name", "AWS::Kinesis::Stream": "Name",
	}
	for _, name := range fixtureNames {
		s := fixture(t, name)
		if *s.st.Stack.StackName() != "pt-"+string(s.cfg.Stage) {
			t.Errorf("stack name %s", *s.st.Stack.StackName())
		}
		for id, r := range s.res {
			prop, ok := props[r.Type]
			if !ok || strings.HasPrefix(id, "AWSCDKTrigger") || isDeploymentProvider(id) {
				continue
			}
			if n, _ := r.Properties[prop].(string); !strings.HasPrefix(n, s.prefix()) {
				t.Errorf("%s: %s %s is named %q, without %q", name, r.Type, id, n, s.prefix())
			}
		}
	}
}

func keyOf(m map[string]string, v string) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return ""
}

// idOf mirrors the stack's construct IDs ("database-url" -> "DatabaseUrl").
func idOf(s string) string {
	var sb strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') }) {
		sb.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return sb.String()
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
