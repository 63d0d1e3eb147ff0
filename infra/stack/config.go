package stack

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Stage is a deployment stage. Names, removal policies and retention depend on it.
type Stage string

// TraceSampleRatio is the fraction of the traces the stage's functions start
// that they sample (a continued trace keeps its producer's decision): every
// one in dev, one in ten in prod (X-Ray bills spans by volume).
func (s Stage) TraceSampleRatio() string {
	if s == Prod {
		return "0.1"
	}
	return "1"
}

const (
	Dev  Stage = "dev"
	Prod Stage = "prod"
)

// Config is what varies between deployments. main reads it from CDK context
// (-c stage=prod -c frontendOrigin=... -c supabaseUrl=...).
type Config struct {
	Stage Stage
	// FrontendOrigin is the origin CORS allows on the HTTP API, when the web
	// app is served from a domain of its own; without it, the web app's
	// CloudFront URL (and, in dev, the local dev server's origin).
	FrontendOrigin string
	// SupabaseAnonKey is the Supabase project's anon (publishable) key, which
	// the web app's config.json carries to the browser: public by design (Row
	// Level Security guards the data), so a plain parameter, not a secret.
	SupabaseAnonKey string
	// SupabaseURL is the Supabase project URL (https://<ref>.supabase.co); the
	// authorizer derives the token issuer and the JWKS URL from it. Not a secret.
	SupabaseURL string
	// AlarmTopicARN, when set, receives every alarm's state changes (an existing
	// SNS topic; the stack creates none).
	AlarmTopicARN string
	// ManageAPIGatewayAccount sets the account's API Gateway CloudWatch role, which
	// WebSocket access logging needs and which exists once per account and region:
	// set it for the first stage deployed to an account whose API Gateway has no
	// CloudWatch role yet.
	ManageAPIGatewayAccount bool
	// MailDomain is the domain SES sends notification mail from: the stack
	// creates its identity (Easy DKIM; the DNS records are outputs), and needs
	// it as soon as a function sends e-mail. MailFrom is the sender, an address
	// at it ("Portfolio Tracker <alerts@<MailDomain>>" when not given).
	MailDomain, MailFrom string
	// Sources are the market-data sources: what the ingest polls, the history
	// it backfills from, whether the Finnhub stream runs, and which provider
	// keys exist (topology.Sources). Simulated unless chosen.
	Sources topology.Sources
}

// Context keys main reads.
const (
	CtxStage                   = "stage"
	CtxFrontendOrigin          = "frontendOrigin"
	CtxSupabaseURL             = "supabaseUrl"
	CtxAlarmTopicARN           = "alarmTopicArn"
	CtxManageAPIGatewayAccount = "manageApiGatewayAccount"
	CtxQuoteSource             = "quoteSource"
	CtxHistorySource           = "historySource"
	CtxMailDomain              = "mailDomain"
	CtxMailFrom                = "mailFrom"
	CtxSupabaseAnonKey         = "supabaseAnonKey"
)

// DevFrontendOrigin is the CORS origin dev allows besides the web app's own
// when no frontendOrigin is given: the frontend's local dev server.
const DevFrontendOrigin = "http://localhost:5173"

// ConfigFromContext reads the configuration through get (a CDK context lookup)
// and validates it.
func ConfigFromContext(get func(key string) string) (Config, error) {
	c := Config{
		Stage:                   Stage(strings.TrimSpace(get(CtxStage))),
		FrontendOrigin:          strings.TrimSpace(get(CtxFrontendOrigin)),
		SupabaseURL:             strings.TrimRight(strings.TrimSpace(get(CtxSupabaseURL)), "/"),
		AlarmTopicARN:           strings.TrimSpace(get(CtxAlarmTopicARN)),
		ManageAPIGatewayAccount: get(CtxManageAPIGatewayAccount) == "true",
		Sources:                 topology.Sources{Quotes: strings.TrimSpace(get(CtxQuoteSource)), History: strings.TrimSpace(get(CtxHistorySource))},
		MailDomain:              strings.TrimSpace(get(CtxMailDomain)),
		MailFrom:                strings.TrimSpace(get(CtxMailFrom)),
		SupabaseAnonKey:         strings.TrimSpace(get(CtxSupabaseAnonKey)),
	}
	if c.MailFrom == "" && c.MailDomain != "" {
		c.MailFrom = defaultMailFrom(c.MailDomain)
	}
	if c.Stage == "" {
		c.Stage = Dev
	}
	if c.Sources.Quotes == "" {
		c.Sources.Quotes = topology.SimulatedSource
	}
	if c.Sources.History == "" {
		c.Sources.History = topology.SimulatedSource
	}
	return c, c.Validate()
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if c.Stage != Dev && c.Stage != Prod {
		return fmt.Errorf("-c %s=%q: want %q or %q", CtxStage, c.Stage, Dev, Prod)
	}
	if c.FrontendOrigin != "" {
		if err := checkOrigin(c.FrontendOrigin, c.Stage); err != nil {
			return fmt.Errorf("-c %s=%q: %w", CtxFrontendOrigin, c.FrontendOrigin, err)
		}
	}
	if len(c.SupabaseAnonKey) > 4096 || strings.ContainsAny(c.SupabaseAnonKey, " \t\n\"'\\<>") {
		return fmt.Errorf("-c %s: want the Supabase project's anon key as Supabase shows it (one token, no spaces or quotes)", CtxSupabaseAnonKey)
	}
	u, err := url.Parse(c.SupabaseURL)
	if c.SupabaseURL == "" || err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("-c %s=%q: want the Supabase project URL, https://<project-ref>.supabase.co", CtxSupabaseURL, c.SupabaseURL)
	}
	if c.AlarmTopicARN != "" && !strings.HasPrefix(c.AlarmTopicARN, "arn:") {
		return fmt.Errorf("-c %s=%q: want an SNS topic ARN", CtxAlarmTopicARN, c.AlarmTopicARN)
	}
	if err := c.validateMail(); err != nil {
		return err
	}
	if !slices.Contains(topology.QuoteSources, c.Sources.Quotes) {
		return fmt.Errorf("-c %s=%q: want one of %s", CtxQuoteSource, c.Sources.Quotes, strings.Join(topology.QuoteSources, ", "))
	}
	if !slices.Contains(topology.HistorySources, c.Sources.History) {
		return fmt.Errorf("-c %s=%q: want one of %s (Finnhub's daily candles are not on its free tier)",
			CtxHistorySource, c.Sources.History, strings.Join(topology.HistorySources, ", "))
	}
	return nil
}

// SimulatedWarning is what a synthesis says loudly when a role of the market
// data is left to the simulated feed (stack.New annotates the stack with it,
// main prints it); "" when both sources are real.
func (c Config) SimulatedWarning() string {
	sim := c.Sources.Simulated()
	if len(sim) == 0 {
		return ""
	}
	what := map[string]string{"quotes": "PRICES ARE SIMULATED", "history": "HISTORY IS SIMULATED"}
	var parts []string
	for _, r := range sim {
		parts = append(parts, what[r])
	}
	return fmt.Sprintf("%s in %s: no real market data (-c %s=%s -c %s=%s). Choose real sources, e.g. -c %s=finnhub -c %s=polygon, "+
		"and store their API keys (infra/README.md, \"Market data\").",
		strings.Join(parts, " AND "), c.StackName(), CtxQuoteSource, c.Sources.Quotes, CtxHistorySource, c.Sources.History, CtxQuoteSource, CtxHistorySource)
}

func checkOrigin(origin string, stage Stage) error {
	if origin == "" {
		return fmt.Errorf("required for stage %s", stage)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || strings.Contains(origin, "*") {
		return fmt.Errorf("want one origin such as https://app.example.com")
	}
	if u.Scheme != "https" && !(stage == Dev && u.Scheme == "http") {
		return fmt.Errorf("want https (http only in dev)")
	}
	return nil
}

// Prefix is the stage's name prefix: every physical name starts with it.
func (c Config) Prefix() string { return "pt-" + string(c.Stage) + "-" }

// StackName is the CloudFormation stack's name.
func (c Config) StackName() string { return "pt-" + string(c.Stage) }

// removal is the policy for resources that hold data: kept in prod, deleted with
// a dev stack.
func (c Config) removal() awscdk.RemovalPolicy {
	if c.Stage == Prod {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// retention is how long logs are kept.
func (c Config) retention() awslogs.RetentionDays {
	if c.Stage == Prod {
		return awslogs.RetentionDays_ONE_YEAR
	}
	return awslogs.RetentionDays_ONE_MONTH
}
