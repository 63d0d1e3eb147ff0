// Package stack assembles the Docker-free local stack behind `make run`: the
// emulators (DynamoDB Local, kinesis-mock, PostgreSQL, aws-ses-v2-local), the
// resources of the one topology declaration (shared/platform/topology), every
// function's real bootstrap behind the local Lambda runtime
// (localstack/runtime), the API Gateway front ends (localstack/gateway), the
// event source mappings and schedules (localstack/esm, localstack/schedule), a
// token issuer standing in for Supabase Auth, an SMS recorder standing in for
// SNS, and an optional demo. Nothing here is specific to a function: adding one
// to the topology adds it here.
package stack

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Config is what `make run` can change; every field has a default (Defaults) and
// an environment variable (FromEnv).
type Config struct {
	// Root is the repository (functions/ is built from there).
	Root string
	// DataDir keeps the emulators' data, checkpoints and the on-failure
	// records; it survives a restart (`make reset` removes it).
	DataDir string
	// BinDir receives the built functions (empty: DataDir/bin). `make run`
	// keeps them outside DataDir, so that after `make reset` the toolchain
	// finds them up to date instead of linking all of them again (8 s).
	BinDir string
	// Ports. 0 picks a free port (tests); the defaults are fixed so URLs stay
	// the same from one run to the next. WebPort serves the web app (WebDir)
	// and its /config.json.
	HTTPPort, WSPort, AuthPort, AdminPort   int
	WebPort                                 int
	DynamoDBPort, KinesisPort, PostgresPort int
	// SESPort is aws-ses-v2-local's: the SESv2 API the mail goes to, and its
	// inbox viewer.
	SESPort int
	// Demo seeds three users with a portfolio each (one in EUR holding US and
	// UK shares) and a price alert, once per
	// data folder.
	Demo bool
	// TickEvery fires the ingest function (the simulated price feed) this often,
	// on top of its topology schedule; 0 leaves only the topology's schedule.
	TickEvery time.Duration
	// BackfillEvery fires the backfill function and then the analytics
	// refresh this often, on top of their one-minute schedules, so that a
	// symbol's history and the charts it fills show within seconds; 0 leaves
	// only the schedules.
	BackfillEvery time.Duration
	// HistorySource, when set, replaces the backfill's HISTORY_SOURCE
	// (the topology's simulated).
	HistorySource string
	// WebDir is the web app's static export (default DefaultWebDir under Root).
	WebDir string
	// FrontendOrigin is the web app's origin, which the HTTP API and the Auth
	// stand-in answer CORS requests from (the dev stage's CORS origin); empty:
	// http://localhost:<WebPort>, the app this stack serves.
	FrontendOrigin string
	// Prefix is the physical name prefix of tables and streams.
	Prefix string
	// AWSEndpoint, when set, is an AWS-compatible endpoint (LocalStack) that
	// serves DynamoDB, DynamoDB Streams and Kinesis instead of DynamoDB Local and
	// kinesis-mock; the rest (functions, gateways, mappings, schedules, Postgres)
	// stays local, since LocalStack's API Gateway v2 needs a paid plan.
	AWSEndpoint string
	// Quiet drops the functions' own log lines from the console.
	Quiet bool
	// PriceSource is the ingest function's quote source: "simulated" (the
	// topology's, the default) or "replay", which plays ReplayFile (default
	// DefaultReplayFile under Root) in a loop.
	PriceSource, ReplayFile string
	// WithoutSchedules leaves the topology's schedules out, for tests that drive
	// their own price feed: the ingest function's one-minute simulated quotes
	// would move today's closes under them.
	WithoutSchedules bool
	// Features are the deploy-time choices this stack makes
	// (topology.Function.When): a function that needs one not listed is
	// neither built nor run. None by default: the local feed is simulated, so
	// there is no quote stream to hold.
	Features []topology.Feature
}

// Functions are the topology's functions this stack runs: those whose
// deploy-time feature, if any, it enables, each as the local sources resolve it
// (localSources).
func (c Config) Functions() []topology.Function {
	var out []topology.Function
	for _, f := range topology.Functions() {
		if f.When == "" || slices.Contains(c.Features, f.When) {
			out = append(out, localSources.For(f))
		}
	}
	return out
}

// Defaults are the ports a developer's tools (curl, websocat, a frontend) are
// pointed at. Postgres and the issuer sit on Supabase CLI's ports, so a frontend
// configured for `supabase start` finds them.
func Defaults(root string) Config {
	return Config{
		Root: root, DataDir: filepath.Join(root, ".data", "local"), BinDir: filepath.Join(root, ".local", "functions"),
		HTTPPort: 3000, WSPort: 3001, AdminPort: 3002, AuthPort: 54321, WebPort: 5173,
		DynamoDBPort: 8000, KinesisPort: 4567, PostgresPort: 54322, SESPort: 8005,
		Demo: true, TickEvery: 2 * time.Second, BackfillEvery: 5 * time.Second, Prefix: "pt-local-",
	}
}

// Settings are the PT_LOCAL_* variables `make run` reads
// (shared/platform/config); each overrides a field of Defaults.
var Settings = []config.Setting{
	{Name: "PT_LOCAL_HTTP_PORT", Meaning: "the HTTP API's port (3000)"},
	{Name: "PT_LOCAL_WS_PORT", Meaning: "the WebSocket API's port (3001)"},
	{Name: "PT_LOCAL_ADMIN_PORT", Meaning: "the admin endpoint's port (3002)"},
	{Name: "PT_LOCAL_AUTH_PORT", Meaning: "the token issuer's port (54321, Supabase CLI's)"},
	{Name: "PT_LOCAL_DYNAMODB_PORT", Meaning: "DynamoDB Local's port (8000)"},
	{Name: "PT_LOCAL_KINESIS_PORT", Meaning: "kinesis-mock's port (4567)"},
	{Name: "PT_LOCAL_POSTGRES_PORT", Meaning: "PostgreSQL's port (54322, Supabase CLI's)"},
	{Name: "PT_LOCAL_WEB_PORT", Meaning: "the web app's port (5173): web/out and its /config.json"},
	{Name: "PT_LOCAL_WEB_DIR", Meaning: "the web app's static export the stack serves (" + DefaultWebDir + "; make web builds it)"},
	{Name: "PT_LOCAL_FRONTEND_ORIGIN", Meaning: "the web app's origin the HTTP API and the Auth stand-in allow CORS requests from (http://localhost:<web port>; * for any)"},
	{Name: "PT_LOCAL_SES_PORT", Meaning: "aws-ses-v2-local's port (8005): the SES API and the inbox of every e-mail sent"},
	{Name: "PT_LOCAL_DATA", Meaning: "the data folder (.data/local); one of its own builds its own functions"},
	{Name: "PT_LOCAL_AWS_ENDPOINT", Meaning: "an AWS-compatible endpoint (LocalStack) serving DynamoDB and Kinesis instead of the emulators"},
	{Name: "PT_LOCAL_DEMO", Meaning: "seed the demo users and portfolios (true)"},
	{Name: "PT_LOCAL_TICK", Meaning: "how often the simulated price feed ticks (2s; 0 = the topology's schedule only)"},
	{Name: "PT_LOCAL_BACKFILL_EVERY", Meaning: "how often the history backfill and the analytics refresh run (5s; 0 = their one-minute schedules only)"},
	{Name: "PT_LOCAL_HISTORY_SOURCE", Meaning: "the backfill's history source: simulated (the default), polygon or alphavantage (with its key and base URL in the environment)"},
	{Name: "PT_LOCAL_PRICE_SOURCE", Meaning: "the ingest function's quote source: simulated (the default) or replay (a recorded session, PT_LOCAL_REPLAY_FILE)"},
	{Name: "PT_LOCAL_REPLAY_FILE", Meaning: "the recorded session replay plays (" + DefaultReplayFile + ")"},
	{Name: "PT_LOCAL_VERBOSE", Meaning: "1: the functions' logs on the console too, not only in the log file"},
	{Name: "PT_LOCAL_FEATURES", Meaning: "comma-separated deploy-time features to run the functions of (streaming-quotes; none by default)"},
}

// DefaultReplayFile is the recorded session of the demo's symbols, relative to
// the repository.
const DefaultReplayFile = "localstack/stack/testdata/replay-session.csv"

// localSettings reads Settings.
var localSettings = config.New("localstack", Settings)

// FromEnv overrides c with PT_LOCAL_* variables.
func FromEnv(c Config) (Config, error) {
	env := localSettings
	ints := map[string]*int{
		"PT_LOCAL_HTTP_PORT": &c.HTTPPort, "PT_LOCAL_WS_PORT": &c.WSPort, "PT_LOCAL_ADMIN_PORT": &c.AdminPort,
		"PT_LOCAL_AUTH_PORT": &c.AuthPort, "PT_LOCAL_DYNAMODB_PORT": &c.DynamoDBPort,
		"PT_LOCAL_KINESIS_PORT": &c.KinesisPort, "PT_LOCAL_POSTGRES_PORT": &c.PostgresPort, "PT_LOCAL_SES_PORT": &c.SESPort, "PT_LOCAL_WEB_PORT": &c.WebPort,
	}
	for name, p := range ints {
		if v := env.String(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return c, fmt.Errorf("%s=%q: want a port number", name, v)
			}
			*p = n
		}
	}
	if v := env.String("PT_LOCAL_DATA"); v != "" {
		// A data folder of its own (a test's) builds its own functions too: two
		// stacks never write one binary.
		c.DataDir, c.BinDir = v, ""
	}
	c.AWSEndpoint = env.String("PT_LOCAL_AWS_ENDPOINT")
	if v := env.String("PT_LOCAL_WEB_DIR"); v != "" {
		c.WebDir = v
	}
	if v := env.String("PT_LOCAL_FRONTEND_ORIGIN"); v != "" {
		c.FrontendOrigin = v
	}
	if v := env.String("PT_LOCAL_DEMO"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("PT_LOCAL_DEMO=%q: want true or false", v)
		}
		c.Demo = b
	}
	if v := env.String("PT_LOCAL_FEATURES"); v != "" {
		c.Features = nil
		for name := range strings.SplitSeq(v, ",") {
			feature := topology.Feature(strings.TrimSpace(name))
			if !slices.ContainsFunc(topology.Functions(), func(f topology.Function) bool { return f.When == feature }) {
				return c, fmt.Errorf("PT_LOCAL_FEATURES: no function needs %q", feature)
			}
			c.Features = append(c.Features, feature)
		}
	}
	if v := env.String("PT_LOCAL_TICK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("PT_LOCAL_TICK=%q: want a duration such as 2s (0 = the topology's schedule only)", v)
		}
		c.TickEvery = d
	}
	if v := env.String("PT_LOCAL_BACKFILL_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return c, fmt.Errorf("PT_LOCAL_BACKFILL_EVERY=%q: want a duration such as 5s (0 = the topology's schedules only)", v)
		}
		c.BackfillEvery = d
	}
	switch v := env.String("PT_LOCAL_HISTORY_SOURCE"); v {
	case "", "simulated", "polygon", "alphavantage":
		c.HistorySource = v
	default:
		return c, fmt.Errorf("PT_LOCAL_HISTORY_SOURCE=%q: want simulated, polygon or alphavantage", v)
	}
	switch v := env.String("PT_LOCAL_PRICE_SOURCE"); v {
	case "", "simulated":
	case "replay":
		c.PriceSource = v
	default:
		return c, fmt.Errorf("PT_LOCAL_PRICE_SOURCE=%q: want simulated or replay", v)
	}
	c.ReplayFile = env.String("PT_LOCAL_REPLAY_FILE")
	return c, nil
}

// priceSourceEnv is what PriceSource changes in a function's environment: a
// function that declares REPLAY_FILE (the ingest) replays the session file.
func priceSourceEnv(c Config, f topology.Function, env []string) ([]string, error) {
	// Only a function that can play a session (it declares REPLAY_FILE: the
	// ingest) replays; the others' quote source stays the simulated one.
	if c.PriceSource != "replay" || !slices.ContainsFunc(f.Settings, func(s topology.Setting) bool { return s.Name == "REPLAY_FILE" }) {
		return env, nil
	}
	file := c.ReplayFile
	if file == "" {
		file = filepath.Join(c.Root, DefaultReplayFile)
	}
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("replay file: %w", err)
	}
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "PRICE_SOURCE=") || strings.HasPrefix(kv, "REPLAY_FILE=")
	})
	return append(out, "PRICE_SOURCE=replay", "REPLAY_FILE="+file), nil
}
