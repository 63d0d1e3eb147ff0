package stack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// statement is one IAM statement and the roles it is attached to.
type statement struct {
	where string
	roles []string
	body  map[string]any
}

// statements walks every AWS::IAM::Policy and every role's inline policies.
func (s *synthesized) statements() []statement {
	var out []statement
	add := func(where string, roles []string, doc any) {
		sts := list(obj(doc)["Statement"])
		if one := obj(obj(doc)["Statement"]); one != nil {
			sts = []any{one}
		}
		for _, st := range sts {
			out = append(out, statement{where, roles, obj(st)})
		}
	}
	for _, id := range s.ofType("AWS::IAM::Policy") {
		p := s.res[id].Properties
		add(id, refsIn(p["Roles"]), p["PolicyDocument"])
	}
	for _, id := range s.ofType("AWS::IAM::Role") {
		for _, pol := range list(s.res[id].Properties["Policies"]) {
			add(id, []string{id}, obj(pol)["PolicyDocument"])
		}
	}
	return out
}

func (s *synthesized) statementsOfRole(role string) []map[string]any {
	var out []map[string]any
	for _, st := range s.statements() {
		if slices.Contains(st.roles, role) {
			out = append(out, st.body)
		}
	}
	return out
}

// xrayActions are the only actions allowed on Resource "*": X-Ray has no
// resource-level permissions.
var xrayActions = []string{"xray:PutSpans", "xray:PutSpansForIndexing"}

func TestIAMHasNoWildcardActionsAndNoStarResources(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		sts := s.statements()
		if len(sts) < len(s.topo.Functions)*3 {
			t.Fatalf("%s: only %d statements found: the walk misses policies", name, len(sts))
		}
		for _, st := range sts {
			if _, ok := st.body["NotAction"]; ok {
				t.Errorf("%s: %s uses NotAction", name, st.where)
			}
			if _, ok := st.body["NotResource"]; ok {
				t.Errorf("%s: %s uses NotResource", name, st.where)
			}
			if slices.ContainsFunc(st.roles, isDeploymentProvider) {
				continue // the CDK's bucket deployment function: TestWebDeploymentProviderReachesOnlyTheSite
			}
			actions := strs(st.body["Action"])
			// The one Deny narrows an SMS sender's Publish on * to phone numbers.
			smsOnly := st.body["Effect"] == "Deny" && jsonEqual(actions, []string{"sns:Publish"}) &&
				strings.Contains(fmt.Sprint(st.body["Resource"]), ":sns:*:*:*")
			if st.body["Effect"] != "Allow" && !smsOnly {
				t.Errorf("%s: %s has a %v statement", name, st.where, st.body["Effect"])
			}
			if len(actions) == 0 {
				t.Errorf("%s: %s has a statement without actions: %v", name, st.where, st.body)
			}
			for _, a := range actions {
				if a == "*" || strings.HasSuffix(a, "*") || strings.Contains(a, "*") {
					t.Errorf("%s: %s allows the wildcard action %q", name, st.where, a)
				}
			}
			for _, r := range resourcesOf(st.body["Resource"]) {
				if r == "*" && !allIn(actions, xrayActions) && !smsSender(s, st.roles) {
					t.Errorf("%s: %s allows %v on every resource", name, st.where, actions)
				}
			}
		}
		for _, id := range s.ofType("AWS::IAM::Role") {
			for _, m := range list(s.res[id].Properties["ManagedPolicyArns"]) {
				arn := fmt.Sprint(m)
				ok := ((strings.HasPrefix(id, "AWSCDKTrigger") || isDeploymentProvider(id)) && strings.Contains(arn, "service-role/AWSLambdaBasicExecutionRole")) ||
					(strings.HasPrefix(id, "ApiGatewayCloudWatchRole") && strings.Contains(arn, "service-role/AmazonAPIGatewayPushToCloudWatchLogs"))
				if !ok {
					t.Errorf("%s: role %s has the managed policy %s", name, id, arn)
				}
			}
		}
	}
}

// resourcesOf lists a statement's resources, as "*" or as a rendering of each.
func resourcesOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, resourcesOf(e)...)
		}
		return out
	case nil:
		return nil
	}
	return []string{fmt.Sprint(v)}
}

func allIn(actions, allowed []string) bool {
	for _, a := range actions {
		if !slices.Contains(allowed, a) {
			return false
		}
	}
	return true
}

func TestFunctionRolesGrantOnlyWhatTheTopologyDeclares(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		fns := s.functionsByID(t)
		tables := s.byName("AWS::DynamoDB::Table", "TableName")
		secrets := s.byName("AWS::SecretsManager::Secret", "Name")
		streams := s.byName("AWS::Kinesis::Stream", "Name")
		queues := map[string]bool{}
		for _, id := range s.ofType("AWS::SQS::Queue") {
			queues[id] = true
		}
		for _, f := range s.topo.Functions {
			fnID := keyOf(fns, f.Name)
			role, _ := ref(s.res[fnID].Properties["Role"])
			if trust := fmt.Sprint(s.res[role].Properties["AssumeRolePolicyDocument"]); !strings.Contains(trust, "lambda.amazonaws.com") {
				t.Errorf("%s/%s: role trusts %s", name, f.Name, trust)
			}
			for other, otherName := range fns { // one role per function
				if otherRole, _ := ref(s.res[other].Properties["Role"]); other != fnID && otherRole == role {
					t.Errorf("%s: %s and %s share a role", name, f.Name, otherName)
				}
			}
			allowedTables, allowedSecrets, allowedStreams, sources := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
			scans := map[string]bool{}
			for _, a := range f.Tables {
				allowedTables[a.Table] = true
				scans[a.Table] = len(a.ScanIndexes) > 0
			}
			for _, sec := range f.Secrets {
				allowedSecrets[sec] = true
			}
			for _, k := range s.topo.StreamAccess[f.Name] {
				allowedStreams[k] = true
			}
			for _, tr := range f.Triggers {
				if tr.Kind == topology.DynamoDBStream || tr.Kind == topology.KinesisStream {
					sources[tr.Source] = true
				}
			}
			gotSecrets := map[string]bool{}
			manage, sendsEmail, sendsSMS := false, false, false
			for _, st := range s.statementsOfRole(role) {
				actions := strs(st["Action"])
				targets := refsIn(st["Resource"])
				for _, a := range actions {
					service, _, _ := strings.Cut(a, ":")
					for _, target := range targets {
						var ok bool
						switch service {
						case "dynamodb":
							ok = allowedTables[tables[target]] || sources[tables[target]]
							if a == "dynamodb:Scan" {
								// On one declared index alone, never on the table.
								_, several := st["Resource"].([]any)
								ok = scans[tables[target]] && !several && strings.Contains(fmt.Sprint(st["Resource"]), "/index/")
							}
						case "secretsmanager":
							ok = a == "secretsmanager:GetSecretValue" && allowedSecrets[secrets[target]]
							gotSecrets[secrets[target]] = ok
						case "kinesis":
							ok = (allowedStreams[streams[target]] && strings.HasPrefix(a, "kinesis:Put")) || (sources[streams[target]] && !strings.HasPrefix(a, "kinesis:Put"))
						case "logs":
							ok = s.res[target].Type == "AWS::Logs::LogGroup" && s.res[target].Properties["LogGroupName"] == "/aws/lambda/"+s.prefix()+f.Name
						case "sqs":
							ok = queues[target] && len(sources) > 0 && !slices.Contains(actions, "sqs:ReceiveMessage") && !slices.Contains(actions, "sqs:DeleteMessage")
						case "execute-api":
							ok = f.ManageConnections && a == "execute-api:ManageConnections" && s.res[target].Type == "AWS::ApiGatewayV2::Api"
							manage = manage || ok
						case "ses":
							// The identity (and the configuration set, by name), from the configured sender only.
							ok = f.SendsEmail && a == "ses:SendEmail" &&
								(s.res[target].Type == "AWS::SES::EmailIdentity" || s.res[target].Type == "AWS::SES::ConfigurationSet") &&
								strings.Contains(fmt.Sprint(st["Condition"]), "ses:FromAddress:alerts@"+testMailDomain)
							sendsEmail = sendsEmail || ok
						}
						if !ok {
							t.Errorf("%s/%s: may %s on %s (%s)", name, f.Name, a, target, s.res[target].Type)
						}
					}
					if a == "sns:Publish" && len(targets) == 0 {
						// Allowed on * (a phone number has no ARN), denied on every topic and endpoint.
						sendsSMS = sendsSMS || (f.SendsSMS && st["Effect"] == "Allow" && st["Resource"] == "*")
						if !f.SendsSMS {
							t.Errorf("%s/%s: may %s on %v without SendsSMS", name, f.Name, a, st["Resource"])
						}
						continue
					}
					if len(targets) == 0 && !slices.Contains(xrayActions, a) {
						t.Errorf("%s/%s: may %s on %v", name, f.Name, a, st["Resource"])
					}
				}
			}
			if !jsonEqual(sortedSet(gotSecrets), sortedSet(allowedSecrets)) {
				t.Errorf("%s/%s: reads secrets %v, declares %v", name, f.Name, sortedSet(gotSecrets), sortedSet(allowedSecrets))
			}
			if manage != f.ManageConnections {
				t.Errorf("%s/%s: ManageConnections %v, declared %v", name, f.Name, manage, f.ManageConnections)
			}
			if sendsEmail != f.SendsEmail || sendsSMS != f.SendsSMS {
				t.Errorf("%s/%s: sends e-mail %v and SMS %v, declared %v and %v", name, f.Name, sendsEmail, sendsSMS, f.SendsEmail, f.SendsSMS)
			}
			if f.SendsSMS && !slices.ContainsFunc(s.statementsOfRole(role), func(st map[string]any) bool {
				return st["Effect"] == "Deny" && jsonEqual(st["Action"], "sns:Publish")
			}) {
				t.Errorf("%s/%s: may publish SMS but is not denied publishing to topics", name, f.Name)
			}
		}
		// The after-deployment provider may invoke only the migrations' function.
		for _, id := range s.ofType("AWS::IAM::Role") {
			if !strings.HasPrefix(id, "AWSCDKTrigger") {
				continue
			}
			for _, st := range s.statementsOfRole(id) {
				fn := refsIn(st["Resource"])
				if !jsonEqual(st["Action"], []string{"lambda:InvokeFunction"}) || len(fn) != 1 || !hasKindNamed(s.topo, fns[fn[0]], topology.AfterDeployment) {
					t.Errorf("%s: the trigger provider may %v on %v", name, st["Action"], st["Resource"])
				}
			}
		}
	}
}

// smsSender reports whether one of roles is the role of a function that sends SMS.
func smsSender(s *synthesized, roles []string) bool {
	fns := map[string]string{}
	for id, name := range s.functionIDs() {
		role, _ := ref(s.res[id].Properties["Role"])
		fns[role] = name
	}
	for _, r := range roles {
		for _, f := range s.topo.Functions {
			if f.Name == fns[r] && f.SendsSMS {
				return true
			}
		}
	}
	return false
}

func hasKindNamed(t stack.Topology, fn string, kind topology.TriggerKind) bool {
	for _, ft := range triggersOf(t, kind) {
		if ft.f.Name == fn {
			return true
		}
	}
	return false
}

// TestAwsSolutionsNag fails on any unsuppressed cdk-nag AwsSolutions finding
// (errors and warnings), and on a suppression without a written reason.
func TestAwsSolutionsNag(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		for _, m := range *s.annos.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			_, path, data := stack.Message(m)
			t.Errorf("%s: cdk-nag error at %s: %v", name, path, data)
		}
		for _, m := range *s.annos.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			_, path, data := stack.Message(m)
			t.Errorf("%s: cdk-nag warning at %s: %v", name, path, data)
		}
		suppressions := 0
		for id, r := range s.res {
			for _, sup := range list(obj(obj(r.Metadata)["cdk_nag"])["rules_to_suppress"]) {
				sup := obj(sup)
				suppressions++
				if reason, _ := sup["reason"].(string); len(reason) < 60 {
					t.Errorf("%s: %s suppresses %v with the reason %q", name, id, sup["id"], reason)
				}
				if sup["id"] == "AwsSolutions-IAM5" && len(list(sup["applies_to"])) == 0 {
					t.Errorf("%s: %s suppresses IAM5 for every finding, not named ones", name, id)
				}
			}
		}
		if suppressions == 0 {
			t.Errorf("%s: no suppression metadata found: the walk is broken", name)
		}
	}
}

// The events table is append-only: no function's role may change or remove one
// of its items (UpdateItem, DeleteItem, or BatchWriteItem, which deletes and
// cannot be conditioned), and the API, its one writer, may add items and read;
// it alone may also delete items one by one (DeleteItem), for DELETE /me's
// erasure of the caller's portfolios (topology.AppendErase).
func TestEventsTableIsAppendOnly(t *testing.T) {
	for _, name := range fixtureNames {
		s := fixture(t, name)
		fns := s.functionsByID(t)
		tables := s.byName("AWS::DynamoDB::Table", "TableName")
		for _, f := range s.topo.Functions {
			role, _ := ref(s.res[keyOf(fns, f.Name)].Properties["Role"])
			got := map[string]bool{}
			for _, st := range s.statementsOfRole(role) {
				for _, target := range refsIn(st["Resource"]) {
					if tables[target] != topology.EventsTable {
						continue
					}
					for _, a := range strs(st["Action"]) {
						got[a] = true
					}
				}
			}
			for _, a := range []string{"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} {
				if got[a] && (f.Name != "api" || a != "dynamodb:DeleteItem") {
					t.Errorf("%s/%s: may %s on the events table", name, f.Name, a)
				}
			}
			if f.Name == "api" && (!got["dynamodb:PutItem"] || !got["dynamodb:Query"] || !got["dynamodb:DeleteItem"]) {
				t.Errorf("%s/api: may only %v on the events table; it appends (PutItem), loads (Query) and erases (DeleteItem)", name, sortedSet(got))
			}
		}
	}
}
