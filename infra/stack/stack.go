// Package stack is the CDK stack of the portfolio tracker. It builds every
// resource from the topology (shared/platform/topology): tables, Kinesis streams,
// functions with their roles, log groups and triggers, the HTTP and WebSocket
// APIs, schedules, secrets and alarms. Nothing here names a table, a function or
// a route: what the topology lacks, the stack lacks.
package stack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3deployment"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Props is what New needs.
type Props struct {
	Config   Config
	Topology Topology
	Code     Code
	// Env is the stack's account and region; nil leaves the stack
	// environment-agnostic (the CLI fills them in at deploy time).
	Env *awscdk.Environment
	// WebDir is the built web app (web/out, Next's static export), which the
	// stack deploys to the site's bucket; it must hold index.html (CheckWebDir;
	// WebPlaceholder writes a stand-in for a synthesis without a build).
	WebDir string
}

// Stack is the built stack with handles on what tests and main look at.
type Stack struct {
	Stack     awscdk.Stack
	Functions map[string]awslambda.Function
	Tables    map[string]awsdynamodb.Table
	Streams   map[string]awskinesis.Stream
	Secrets   map[string]awssecretsmanager.Secret
	HTTPURL   *string
	WSURL     *string
	// WebURL is the web app's URL (https://<distribution>.cloudfront.net).
	WebURL *string
	// Topology is what was built: Props.Topology as the configuration's
	// market-data sources select it (Topology.Select).
	Topology Topology
}

type builder struct {
	Stack
	st      awscdk.Stack
	cfg     Config
	topo    Topology
	code    Code
	ws      awsapigatewayv2.WebSocketApi
	account awscdk.CfnResource // API Gateway's account settings, when managed here
	mail    *mailResources     // the SES identity, configuration set and events topic, when a function sends mail
	// failureQueues are the mappings' on-failure destinations, in creation
	// order (the dashboard shows them).
	failureQueues []failureQueue

	webDir          string                             // the built web app (Props.WebDir)
	webURL          *string                            // the distribution's URL, once built (webSite)
	webDeploys      []awss3deployment.BucketDeployment // what copies the app and config.json
	httpAPIEndpoint *string                            // https://<api>.execute-api.<region>.amazonaws.com, once built (httpAPI)
}

// New builds the stack into app.
func New(scope constructs.Construct, p Props) (*Stack, error) {
	if err := p.Config.Validate(); err != nil {
		return nil, err
	}
	topo := p.Topology.Select(p.Config.Sources)
	if err := Check(topo); err != nil {
		return nil, err
	}
	if err := CheckWebDir(p.WebDir); err != nil {
		return nil, fmt.Errorf("the web app: %w", err)
	}
	if sendsMail(topo) && p.Config.MailDomain == "" {
		return nil, fmt.Errorf("-c %s=<domain> is required: a function sends notification e-mail, and SES needs the domain it sends from (infra/README.md, \"Notifications\")", CtxMailDomain)
	}
	st := awscdk.NewStack(scope, jsii.String(p.Config.StackName()), &awscdk.StackProps{
		Env:         p.Env,
		Description: jsii.String(fmt.Sprintf("Portfolio tracker (%s): built from shared/platform/topology", p.Config.Stage)),
		Tags:        &map[string]*string{"project": jsii.String("portfolio-tracker"), "stage": jsii.String(string(p.Config.Stage))},
	})
	b := &builder{
		Stack: Stack{Stack: st, Functions: map[string]awslambda.Function{}, Tables: map[string]awsdynamodb.Table{},
			Streams: map[string]awskinesis.Stream{}, Secrets: map[string]awssecretsmanager.Secret{}, Topology: topo},
		st: st, cfg: p.Config, topo: topo, code: p.Code, webDir: p.WebDir,
	}
	if w := p.Config.SimulatedWarning(); w != "" {
		awscdk.Annotations_Of(st).AddWarning(jsii.String(w))
	}
	b.secrets()
	b.tables()
	b.kinesisStreams()
	b.websocketAPI()
	b.mailIdentity()
	b.functions()
	b.mailSubscriptions()
	b.streamMappings()
	b.httpAPI()
	b.apiGatewayAccount()
	b.websocketRoutes()
	b.webSite()
	b.schedules()
	b.afterDeployment()
	b.observability()
	b.secretOutputs()
	return &b.Stack, nil
}

// MaxStreamConsumers is how many functions may read one DynamoDB stream: more
// than two readers of a shard are throttled.
const MaxStreamConsumers = 2

// Check refuses a topology the stack cannot build faithfully.
func Check(t Topology) error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	count := map[topology.TriggerKind]int{}
	consumers := map[string]int{}
	for _, f := range t.Functions {
		if f.Name == "" || strings.ContainsAny(f.Name, "/. ") {
			fail("function %q: bad name", f.Name)
		}
		streams := 0
		for _, tr := range f.Triggers {
			if tr.Kind == topology.DynamoDBStream || tr.Kind == topology.KinesisStream {
				streams++
			}
		}
		if streams > 1 {
			fail("%s: %d stream triggers: its failure destination (%s) would be ambiguous", f.Name, streams, topology.FailureDestinationEnvVar)
		}
		for _, a := range f.Tables {
			if _, ok := t.table(a.Table); !ok {
				fail("%s: unknown table %q", f.Name, a.Table)
			}
			if len(tableActions[a.Access]) == 0 {
				fail("%s: access %q to %s has no IAM actions", f.Name, a.Access, a.Table)
			}
		}
		for _, s := range f.Secrets {
			if _, ok := t.secret(s); !ok {
				fail("%s: unknown secret %q", f.Name, s)
			}
		}
		for _, s := range t.StreamAccess[f.Name] {
			if _, ok := t.kinesis(s); !ok {
				fail("%s: unknown Kinesis stream %q", f.Name, s)
			}
		}
		for _, tr := range f.Triggers {
			count[tr.Kind]++
			switch tr.Kind {
			case topology.DynamoDBStream:
				if tb, ok := t.table(tr.Source); !ok || tb.Stream == topology.NoStream {
					fail("%s: stream trigger on %q, which is no table with a stream", f.Name, tr.Source)
				}
				if consumers[tr.Source]++; consumers[tr.Source] == MaxStreamConsumers+1 {
					fail("more than %d consumers of the %s stream: DynamoDB throttles them (docs/architecture.md §3)", MaxStreamConsumers, tr.Source)
				}
			case topology.KinesisStream:
				if _, ok := t.kinesis(tr.Source); !ok {
					fail("%s: Kinesis trigger on unknown stream %q", f.Name, tr.Source)
				}
			case topology.Schedule:
				if tr.Expression == "" || tr.TimeZone == "" {
					fail("%s: a schedule needs an expression and a time zone", f.Name)
				}
			case topology.HTTPRoute:
				if tr.Method == "" || !strings.HasPrefix(tr.Path, "/") {
					fail("%s: bad route %q %q", f.Name, tr.Method, tr.Path)
				}
			case topology.WebSocketRoute:
				if tr.RouteKey == "" {
					fail("%s: WebSocket route without a route key", f.Name)
				}
			case topology.SNSTopic:
				if tr.Source != topology.SESEventsTopic {
					fail("%s: subscribed to topic %q; the stack owns only %s", f.Name, tr.Source, topology.SESEventsTopic)
				}
			}
		}
	}
	for s := range t.StreamAccess {
		if !hasFunction(t, s) {
			fail("stream access for unknown function %q", s)
		}
	}
	if count[topology.HTTPAuthorizer] > 1 || count[topology.WSAuthorizer] > 1 {
		fail("at most one HTTP and one WebSocket authorizer")
	}
	if count[topology.HTTPRoute] > 0 && count[topology.HTTPAuthorizer] == 0 {
		fail("HTTP routes need an http-authorizer: every route is authorized")
	}
	if count[topology.WebSocketRoute] > 0 && count[topology.WSAuthorizer] == 0 {
		fail("WebSocket routes need a ws-authorizer on $connect")
	}
	if len(errs) > 0 {
		return fmt.Errorf("topology: %s", strings.Join(errs, "; "))
	}
	return nil
}

func hasFunction(t Topology, name string) bool {
	for _, f := range t.Functions {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Settings are the environment variables the CDK app reads
// (shared/platform/config); the CDK CLI sets them.
var Settings = []config.Setting{
	{Name: "CDK_DEFAULT_ACCOUNT", Meaning: "the account to deploy to (set by the CDK CLI, or by `make synth` to a fixed value)"},
	{Name: "CDK_DEFAULT_REGION", Meaning: "the region to deploy to (likewise)"},
	{Name: "CDK_OUTDIR", Meaning: "where the CLI wants the cloud assembly; infra/cdk.out when the app runs on its own"},
}

// Environment reads Settings.
func Environment() *config.Env { return config.New("infra", Settings) }

// EnvFromEnvironment is the stack environment from CDK_DEFAULT_ACCOUNT and
// CDK_DEFAULT_REGION (set by the CDK CLI, or by `make synth` to fixed values), or
// nil when they are unset.
func EnvFromEnvironment() *awscdk.Environment {
	env := Environment()
	account, region := env.String("CDK_DEFAULT_ACCOUNT"), env.String("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}

// id turns logical names ("rate-limits", "$connect") into construct IDs ("RateLimits", "Connect").
func id(parts ...string) string {
	var sb strings.Builder
	for _, p := range parts {
		up := true
		for _, r := range p {
			switch {
			case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
				if up && r >= 'a' && r <= 'z' {
					r -= 'a' - 'A'
				}
				sb.WriteRune(r)
				up = false
			default:
				up = true
			}
		}
	}
	return sb.String()
}

func (b *builder) name(parts ...string) *string {
	return jsii.String(b.cfg.Prefix() + strings.Join(parts, "-"))
}

// alarm creates an alarm that fires when metric reaches threshold, wired to the
// alarm topic when there is one.
func (b *builder) alarm(scope constructs.Construct, cid string, name *string, desc string, metric awscloudwatch.IMetric, threshold float64, op awscloudwatch.ComparisonOperator, periods float64) awscloudwatch.Alarm {
	a := awscloudwatch.NewAlarm(scope, jsii.String(cid), &awscloudwatch.AlarmProps{
		AlarmName:          name,
		AlarmDescription:   jsii.String(desc),
		Metric:             metric,
		Threshold:          jsii.Number(threshold),
		ComparisonOperator: op,
		EvaluationPeriods:  jsii.Number(periods),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	if b.cfg.AlarmTopicARN != "" {
		// Set on the L1 resource: the SNS action construct would only wrap the ARN.
		cfn := a.Node().DefaultChild().(awscloudwatch.CfnAlarm)
		cfn.SetAlarmActions(jsii.Strings(b.cfg.AlarmTopicARN))
		cfn.SetOkActions(jsii.Strings(b.cfg.AlarmTopicARN))
	}
	return a
}
