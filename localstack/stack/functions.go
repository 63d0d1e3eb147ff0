package stack

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Stage is the local stack's stage name: every function's STAGE, so the Stage
// dimension of every metric GET /metrics shows.
const Stage = "local"

// localSources are the market-data sources of the local stack: no provider key
// is at hand, so quotes and history are simulated (the ingest may replay a
// recorded session instead, a setting of its own); Config.Functions gives each
// function the settings and keys this choice resolves (topology.Sources.For).
var localSources = topology.Sources{Quotes: topology.SimulatedSource, History: topology.SimulatedSource}

// buildFunctions builds the functions fns for this machine, with
// the tag and linker flags of the Lambda build (`make build`: lambda.norpc, the
// Runtime API only; -s -w, which also makes linking a third faster), into
// dir/<name>. One `go build` for all of them lets the toolchain share work and
// skip what is up to date.
func buildFunctions(ctx context.Context, root, dir string, fns []topology.Function) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var pkgs []string
	bins := map[string]string{}
	for _, f := range fns {
		pkgs = append(pkgs, "./functions/"+f.Name)
		bins[f.Name] = filepath.Join(dir, f.Name)
	}
	sort.Strings(pkgs)
	args := append([]string{"build", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build the functions: %w\n%s", err, out)
	}
	return bins, nil
}

// endpoints are the addresses the functions are given.
type endpoints struct {
	dynamoDB, kinesis, databaseURL, apiDatabaseURL, supabaseURL, wsManagement, jwtSecret string
	// serviceRoleKey is the Auth stand-in's service-role key.
	serviceRoleKey string
	// The mail plumbing (mail.go): the SESv2 and SNS endpoints, the HTTP API's URL (unsubscribe links), and the
	// notification signing key's stand-in.
	sesAPI, snsAPI, publicAPI, notificationKey string
	// dataDir holds the on-failure destinations (failureFile).
	dataDir string
	// traces is the collector's OTLP/HTTP URL (the admin endpoint's /v1/traces).
	traces string
}

// failureFile is a function's on-failure destination: its mapping's records of
// given-up batches and its own quarantine records, as JSON lines.
func failureFile(dataDir, function string) string {
	return filepath.Join(dataDir, "failures", function+".jsonl")
}

// sdkEnv is what every function is given for the AWS SDK (which reads it, not
// our code): the emulators' endpoints through the standard
// AWS_ENDPOINT_URL_<SERVICE> variables, a region and dummy credentials.
func sdkEnv(e endpoints) map[string]string {
	return map[string]string{
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_ENDPOINT_URL_DYNAMODB": e.dynamoDB, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": e.dynamoDB,
		"AWS_ENDPOINT_URL_KINESIS": e.kinesis,
		// No profile or shared config of the developer's may reach a function.
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// functionEnv is a function's environment as the CDK stack gives it on AWS
// (infra/stack/functions.go), with local stand-ins: plain values where AWS has
// secret ARNs (topology.Secret.PlainEnvVar), and the SDK's variables (sdkEnv).
// Beyond sdkEnv it is exactly the settings the topology says the local stack
// sets (topology.Function.Environment; a test holds the two together).
func functionEnv(f topology.Function, prefix string, e endpoints) []string {
	env := sdkEnv(e)
	for _, s := range f.Settings {
		if s.Value != "" {
			env[s.Name] = s.Value
		}
	}
	for _, a := range f.Tables {
		if t, ok := topology.TableByName(a.Table); ok {
			env[t.EnvVar] = topology.PhysicalName(prefix, t.Name)
		}
	}
	for _, s := range f.Streams {
		for _, ds := range topology.KinesisStreams() {
			if ds.Name == s {
				env[ds.EnvVar] = topology.PhysicalName(prefix, ds.Name)
			}
		}
	}
	stand := map[string]string{topology.DatabaseSecret: e.databaseURL, topology.APIDatabaseSecret: e.apiDatabaseURL, topology.JWTSecret: e.jwtSecret,
		topology.ServiceRoleKey: e.serviceRoleKey, topology.NotificationKey: e.notificationKey}
	for _, name := range f.Secrets {
		for _, s := range topology.Secrets() {
			if s.Name == name && s.LocalValue {
				env[s.PlainEnvVar] = stand[name]
			}
		}
	}
	// The Auth stand-in's URL, to every function that reads the project URL
	// (the authorizer; a user of Supabase Auth's admin API).
	if _, ok := f.SettingByName(topology.SupabaseURLEnvVar); ok {
		env[topology.SupabaseURLEnvVar] = e.supabaseURL
	}
	// A holder of the service-role key calls the stand-in's admin API.
	if slices.Contains(f.Secrets, topology.ServiceRoleKey) {
		env[topology.SupabaseURLEnvVar] = e.supabaseURL
	}
	if f.ManageConnections {
		env[topology.WebSocketCallbackEnvVar] = e.wsManagement
	}
	mailEnv(f, prefix, e, env)
	for _, tr := range f.Triggers {
		if tr.Kind == topology.DynamoDBStream || tr.Kind == topology.KinesisStream {
			// Where the stack sets the mapping's SQS queue URL.
			env[topology.FailureDestinationEnvVar] = (&url.URL{Scheme: "file", Path: failureFile(e.dataDir, f.Name)}).String()
		}
	}
	// Every function's spans go to the admin endpoint's collector (traces.go).
	env[topology.TracesEndpointEnvVar] = e.traces
	// Every metric's Stage dimension (GET /metrics shows it).
	env[topology.StageEnvVar] = Stage
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func functionNames(fns []topology.Function) []string {
	var out []string
	for _, f := range fns {
		out = append(out, f.Name)
	}
	return out
}
