package topology

// Setting is one environment variable a program reads: a function's, or a dev
// tool's. Functions read theirs through shared/platform/config, which refuses a
// name the program did not declare, applies Default and reports every missing
// Required setting at once.
type Setting struct {
	Name    string
	Meaning string
	// Default is what the program uses when the variable is unset or empty.
	Default string
	// Required settings have no default: a function started without one stops
	// at start, naming every one missing. A required setting is one both stacks
	// set (SetBy == BothStacks).
	Required bool
	// SetBy says which stacks give the variable a value; Operator (the zero
	// value) means neither: an override the operator may add, or the default.
	SetBy Provider
	// Value, when set, is the value both stacks give (the deployment's choice,
	// which may differ from Default); when empty, each stack computes its own
	// (a resource's physical name, an ARN, an endpoint).
	Value string
}

// Provider says which stacks set a setting.
type Provider uint8

const (
	// Operator: neither stack sets it.
	Operator Provider = 0
	// CDKStack: the deployed stack (infra/stack), e.g. a secret's ARN.
	CDKStack Provider = 1 << 0
	// LocalStack: the local stack (localstack/stack), e.g. a secret's plain
	// value where no Secrets Manager runs.
	LocalStack Provider = 1 << 1
	// BothStacks set it.
	BothStacks = CDKStack | LocalStack
)

// Settings of every function with ManageConnections, and of every function
// with a stream trigger.
const (
	// WebSocketCallbackEnvVar is the WebSocket stage's management endpoint
	// (https://<api>.execute-api.<region>.amazonaws.com/<stage> on AWS).
	WebSocketCallbackEnvVar = "WEBSOCKET_CALLBACK_URL"
	// WebSocketEndpointEnvVar overrides it (a custom domain).
	WebSocketEndpointEnvVar = "WEBSOCKET_ENDPOINT"
)

// Environment lists every variable f reads, once each: those its resources
// carry (its tables' and streams' names, its secrets, the WebSocket endpoint,
// its failure destination), then its own Settings. Both stacks set, for each
// function, exactly the settings whose SetBy names them (infra/stack's and
// localstack/stack's tests hold them to it).
func (f Function) Environment() []Setting {
	var out []Setting
	for _, a := range f.Tables {
		if t, ok := TableByName(a.Table); ok {
			out = append(out, Setting{Name: t.EnvVar, Required: true, SetBy: BothStacks,
				Meaning: "the " + t.Name + " table's name: " + t.Purpose})
		}
	}
	for _, s := range f.Streams {
		for _, ds := range KinesisStreams() {
			if ds.Name == s {
				out = append(out, Setting{Name: ds.EnvVar, Required: true, SetBy: BothStacks,
					Meaning: "the " + ds.Name + " Kinesis stream's name: " + ds.Purpose})
			}
		}
	}
	for _, name := range f.Secrets {
		for _, s := range Secrets() {
			if s.Name != name {
				continue
			}
			plain := Operator
			if s.LocalValue {
				plain = LocalStack
			}
			out = append(out,
				Setting{Name: s.EnvVar, SetBy: CDKStack, Meaning: "the ARN of a Secrets Manager secret holding " + s.Purpose},
				Setting{Name: s.PlainEnvVar, SetBy: plain, Meaning: "instead of " + s.EnvVar + ", the value itself (local runs): " + s.Purpose})
		}
	}
	if f.ManageConnections {
		out = append(out,
			Setting{Name: WebSocketCallbackEnvVar, SetBy: BothStacks, Meaning: "the WebSocket API stage's management endpoint, to push to connections"},
			Setting{Name: WebSocketEndpointEnvVar, Meaning: "overrides " + WebSocketCallbackEnvVar + " (a custom domain's https://<domain>/<base-path>)"})
	}
	for _, tr := range f.Triggers {
		if tr.Kind == DynamoDBStream || tr.Kind == KinesisStream {
			out = append(out, Setting{Name: FailureDestinationEnvVar, SetBy: BothStacks,
				Meaning: "where records that can never apply go: the mapping's on-failure SQS queue URL, or a file:// URL (local stack); none when unset"})
			break
		}
	}
	out = append(out,
		Setting{Name: StageEnvVar, Required: true, SetBy: BothStacks,
			Meaning: "the stage's name (dev, prod; local in the local stack): the Stage dimension of every metric the function writes, and its spans' deployment.environment.name"},
		Setting{Name: TracesEndpointEnvVar, SetBy: BothStacks,
			Meaning: "the OTLP/HTTP URL the function's spans go to (X-Ray's OTLP endpoint in AWS, the local stack's collector locally); empty: no tracing"},
		Setting{Name: TracesSampleRatioEnvVar, Default: "1", SetBy: CDKStack,
			Meaning: "the fraction (0 to 1) of the traces the function starts that are sampled (the stage's); a continued trace keeps its producer's decision"})
	return append(out, f.Settings...)
}

// StageEnvVar is every function's stage name (functions/edge/lambdatrace
// gives it to shared/platform/emf and to the spans' resource).
const StageEnvVar = "STAGE"

// Every function's tracing settings (functions/edge/lambdatrace; named as
// OpenTelemetry's environment variables are).
const (
	TracesEndpointEnvVar    = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	TracesSampleRatioEnvVar = "OTEL_TRACES_SAMPLER_ARG"
)

// SettingByName returns f's setting, or false.
func (f Function) SettingByName(name string) (Setting, bool) {
	for _, s := range f.Environment() {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Settings a function that sends notifications may declare, which both stacks
// compute for it (each sets those whose SetBy names it): the sender, the SES
// configuration set and the HTTP API's public URL (the base of unsubscribe
// links).
const (
	// MailFromEnvVar is the sender: an address of the SES identity, with a
	// display name (the CDK context mailFrom; locally "Portfolio Tracker
	// <alerts@example.test>").
	MailFromEnvVar = "MAIL_FROM"
	// SESConfigurationSetEnvVar names the SES configuration set whose event
	// destination publishes bounces and complaints to SESEventsTopic.
	SESConfigurationSetEnvVar = "SES_CONFIGURATION_SET"
	// PublicAPIURLEnvVar is the HTTP API's public base URL, without a
	// trailing slash.
	PublicAPIURLEnvVar = "PUBLIC_API_URL"
)

// SESConfigurationSet is the configuration set's logical name; the physical
// one is Prefix + it (PhysicalName), the value of SESConfigurationSetEnvVar.
const SESConfigurationSet = "notifications"
