package stack

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Stage is a deployment stage. Names, removal policies and retention depend on it.
type Stage string

const (
	Dev  Stage = "dev"
	Prod Stage = "prod"
)

// Config is what varies between deployments. main reads it from CDK context
// (-c stage=prod -c frontendOrigin=... -c supabaseUrl=...).
type Config struct {
	Stage Stage
	// FrontendOrigin is the one origin CORS allows on the HTTP API.
	FrontendOrigin string
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
}

// Context keys main reads.
const (
	CtxStage                   = "stage"
	CtxFrontendOrigin          = "frontendOrigin"
	CtxSupabaseURL             = "supabaseUrl"
	CtxAlarmTopicARN           = "alarmTopicArn"
	CtxManageAPIGatewayAccount = "manageApiGatewayAccount"
)

// DevFrontendOrigin is the CORS origin dev allows when none is given: the
// frontend's local dev server.
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
	}
	if c.Stage == "" {
		c.Stage = Dev
	}
	if c.FrontendOrigin == "" && c.Stage == Dev {
		c.FrontendOrigin = DevFrontendOrigin
	}
	return c, c.Validate()
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if c.Stage != Dev && c.Stage != Prod {
		return fmt.Errorf("-c %s=%q: want %q or %q", CtxStage, c.Stage, Dev, Prod)
	}
	if err := checkOrigin(c.FrontendOrigin, c.Stage); err != nil {
		return fmt.Errorf("-c %s=%q: %w", CtxFrontendOrigin, c.FrontendOrigin, err)
	}
	u, err := url.Parse(c.SupabaseURL)
	if c.SupabaseURL == "" || err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("-c %s=%q: want the Supabase project URL, https://<project-ref>.supabase.co", CtxSupabaseURL, c.SupabaseURL)
	}
	if c.AlarmTopicARN != "" && !strings.HasPrefix(c.AlarmTopicARN, "arn:") {
		return fmt.Errorf("-c %s=%q: want an SNS topic ARN", CtxAlarmTopicARN, c.AlarmTopicARN)
	}
	return nil
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
