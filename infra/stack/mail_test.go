package stack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// The mail resources exist when a function sends e-mail: the domain identity with its DKIM records as outputs and
// the configuration set as its default, whose event destination sends bounces and complaints (and nothing else)
// to the encrypted, TLS-only events topic, which SES may publish to for this configuration set only.
func TestMailResources(t *testing.T) {
	s := fixture(t, "rich")
	ids := s.ofType("AWS::SES::EmailIdentity")
	if len(ids) != 1 || s.res[ids[0]].Properties["EmailIdentity"] != testMailDomain {
		t.Fatalf("identities %v, want one for %s", ids, testMailDomain)
	}
	sets := s.ofType("AWS::SES::ConfigurationSet")
	if len(sets) != 1 || s.res[sets[0]].Properties["Name"] != s.prefix()+topology.SESConfigurationSet {
		t.Fatalf("configuration sets %v", sets)
	}
	if cs, _ := ref(obj(s.res[ids[0]].Properties["ConfigurationSetAttributes"])["ConfigurationSetName"]); cs != sets[0] {
		t.Errorf("the identity's default configuration set is %q, want %s", cs, sets[0])
	}
	suppression := fmt.Sprint(s.res[sets[0]].Properties["SuppressionOptions"])
	if !strings.Contains(suppression, "BOUNCE") || !strings.Contains(suppression, "COMPLAINT") {
		t.Errorf("suppression options %s", suppression)
	}
	dests := s.ofType("AWS::SES::ConfigurationSetEventDestination")
	if len(dests) != 1 {
		t.Fatalf("event destinations %v", dests)
	}
	dest := obj(s.res[dests[0]].Properties["EventDestination"])
	topic, _ := ref(obj(dest["SnsDestination"])["TopicARN"])
	types := strs(dest["MatchingEventTypes"])
	slices.Sort(types)
	if s.res[topic].Type != "AWS::SNS::Topic" || !jsonEqual(types, []string{"bounce", "complaint"}) || dest["Enabled"] != true {
		t.Errorf("event destination %v", dest)
	}
	if s.res[topic].Properties["TopicName"] != s.prefix()+topology.SESEventsTopic {
		t.Errorf("topic %v", s.res[topic].Properties)
	}
	if key, _ := ref(s.res[topic].Properties["KmsMasterKeyId"]); s.res[key].Type != "AWS::KMS::Key" || s.res[key].Properties["EnableKeyRotation"] != true {
		t.Errorf("the topic is not encrypted with a rotated key of its own: %v", s.res[topic].Properties)
	}
	var sesPublishes, tlsOnly bool
	for _, id := range s.ofType("AWS::SNS::TopicPolicy") {
		for _, st := range list(obj(s.res[id].Properties["PolicyDocument"])["Statement"]) {
			body := fmt.Sprint(st)
			if strings.Contains(body, "ses.amazonaws.com") && strings.Contains(body, "aws:SourceArn") && strings.Contains(body, "configuration-set/"+s.prefix()+topology.SESConfigurationSet) {
				sesPublishes = true
			}
			if strings.Contains(body, "aws:SecureTransport") && obj(st)["Effect"] == "Deny" {
				tlsOnly = true
			}
		}
	}
	if !sesPublishes || !tlsOnly {
		t.Errorf("topic policy: SES may publish for the configuration set %v, TLS only %v", sesPublishes, tlsOnly)
	}
	outputs := obj(s.json["Outputs"])
	for i := 1; i <= 3; i++ {
		if _, ok := outputs[fmt.Sprintf("MailDkimRecord%d", i)]; !ok {
			t.Errorf("no output MailDkimRecord%d", i)
		}
	}
}

// The declared topology sends no mail until a function says so; then the stack needs the domain.
func TestMailNeedsADomain(t *testing.T) {
	cfg := config(stack.Dev)
	cfg.MailDomain, cfg.MailFrom = "", ""
	if _, err := stack.New(awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())}), stack.Props{Config: cfg, Topology: richTopology(), Code: prebuilt(t), WebDir: webApp(t)}); err == nil || !strings.Contains(err.Error(), "mailDomain") {
		t.Errorf("a mail sender without -c mailDomain: %v", err)
	}
}

// Only the public routes skip the authorizer.
func TestPublicRoutesSkipTheAuthorizer(t *testing.T) {
	s := fixture(t, "rich")
	public := 0
	for _, id := range s.ofType("AWS::ApiGatewayV2::Route") {
		p := s.res[id].Properties
		key, _ := p["RouteKey"].(string)
		if !strings.HasPrefix(key, "GET ") && !strings.HasPrefix(key, "POST ") && !strings.HasPrefix(key, "PUT ") &&
			!strings.HasPrefix(key, "PATCH ") && !strings.HasPrefix(key, "DELETE ") {
			continue // WebSocket routes
		}
		auth := p["AuthorizationType"]
		if s.topo.PublicRoutes[key] {
			public++
			if auth != "NONE" || p["AuthorizerId"] != nil {
				t.Errorf("public route %s: authorization %v", key, auth)
			}
		} else if auth != "CUSTOM" {
			t.Errorf("route %s: authorization %v, want the Lambda authorizer", key, auth)
		}
	}
	if public != len(s.topo.PublicRoutes) || public == 0 {
		t.Errorf("%d public routes in the template, %d declared", public, len(s.topo.PublicRoutes))
	}
}

func TestMailConfigFromContext(t *testing.T) {
	get := func(kv ...string) func(string) string {
		m := map[string]string{stack.CtxSupabaseURL: testSupabaseURL}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := stack.ConfigFromContext(get(stack.CtxMailDomain, "mail.example.com"))
	if err != nil || c.MailFrom != "Portfolio Tracker <alerts@mail.example.com>" {
		t.Errorf("domain only: %+v %v", c, err)
	}
	if _, err := stack.ConfigFromContext(get(stack.CtxMailDomain, "example.com", stack.CtxMailFrom, "Alerts <alerts@news.example.com>")); err != nil {
		t.Errorf("a sender at a subdomain: %v", err)
	}
	for name, g := range map[string]func(string) string{
		"not a domain":            get(stack.CtxMailDomain, "localhost"),
		"a sender elsewhere":      get(stack.CtxMailDomain, "mail.example.com", stack.CtxMailFrom, "alerts@example.org"),
		"a sender without domain": get(stack.CtxMailFrom, "alerts@example.com"),
		"not an address":          get(stack.CtxMailDomain, "mail.example.com", stack.CtxMailFrom, "Portfolio Tracker"),
	} {
		if _, err := stack.ConfigFromContext(g); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Each subscription to the SES events topic has a dead-letter queue: encrypted, TLS only, that the topic (and only
// it) may send to, and that alarms when it holds anything; a bounce SNS could not deliver is kept.
func TestMailSubscriptionsHaveADeadLetterQueue(t *testing.T) {
	s := fixture(t, "rich")
	topics := s.ofType("AWS::SNS::Topic")
	subs := s.ofType("AWS::SNS::Subscription")
	if len(subs) == 0 {
		t.Fatal("no subscriptions")
	}
	for _, sub := range subs {
		redrive := obj(s.res[sub].Properties["RedrivePolicy"])
		queue, attr := ref(redrive["deadLetterTargetArn"])
		if queue == "" || attr != "Arn" || s.res[queue].Type != "AWS::SQS::Queue" {
			t.Fatalf("subscription %s: redrive policy %v", sub, s.res[sub].Properties["RedrivePolicy"])
		}
		if s.res[queue].Properties["SqsManagedSseEnabled"] != true {
			t.Errorf("dead-letter queue %s is not encrypted: %v", queue, s.res[queue].Properties)
		}
		topic, _ := ref(s.res[sub].Properties["TopicArn"])
		var topicMaySend, tlsOnly bool
		for _, id := range s.ofType("AWS::SQS::QueuePolicy") {
			if !slices.Contains(refsIn(s.res[id].Properties["Queues"]), queue) {
				continue
			}
			for _, st := range list(obj(s.res[id].Properties["PolicyDocument"])["Statement"]) {
				body := fmt.Sprint(st)
				if obj(st)["Effect"] == "Allow" && strings.Contains(body, "sns.amazonaws.com") && strings.Contains(body, "aws:SourceArn") &&
					slices.Contains(refsIn(st), topic) {
					topicMaySend = true
				}
				if obj(st)["Effect"] == "Deny" && strings.Contains(body, "aws:SecureTransport") {
					tlsOnly = true
				}
			}
		}
		if !slices.Contains(topics, topic) || !topicMaySend || !tlsOnly {
			t.Errorf("dead-letter queue %s: the topic %s may send %v, TLS only %v", queue, topic, topicMaySend, tlsOnly)
		}
		var alarmed bool
		for _, a := range s.ofType("AWS::CloudWatch::Alarm") {
			if slices.Contains(refsIn(s.res[a].Properties["Dimensions"]), queue) || strings.Contains(fmt.Sprint(s.res[a].Properties["Dimensions"]), queue) {
				alarmed = true
			}
		}
		if !alarmed {
			t.Errorf("no alarm on the dead-letter queue %s", queue)
		}
	}
}
