package stack

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// The committed LocalStack init hook is what the topology renders: a table or
// stream added to the topology without regenerating the hook fails here.
func TestInitScriptMatchesTheTopology(t *testing.T) {
	root, err := emulator.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, InitScriptPath))
	if err != nil {
		t.Fatal(err)
	}
	want := InitScript(Defaults(root).Prefix)
	if string(got) != want {
		t.Errorf("%s is stale: run `go run ./cmd/localstack gen-init`", InitScriptPath)
	}
	for _, tb := range topology.Tables() {
		if !strings.Contains(want, "--table-name pt-local-"+tb.Name+" ") {
			t.Errorf("the hook does not create table %s", tb.Name)
		}
	}
	for _, s := range topology.KinesisStreams() {
		if !strings.Contains(want, "--stream-name pt-local-"+s.Name+" ") {
			t.Errorf("the hook does not create stream %s", s.Name)
		}
	}
}

func TestUserIDIsStableAndAUUID(t *testing.T) {
	a, b := UserID("alice"), UserID("Alice")
	if a != b {
		t.Errorf("UserID is case-sensitive: %s vs %s", a, b)
	}
	if !uuidPattern.MatchString(a) || a[14] != '5' {
		t.Errorf("UserID(alice) = %s, want a version-5 UUID", a)
	}
	if UserID("bob") == a {
		t.Error("two users share an ID")
	}
	id := "0b1e2d3c-4a5b-4c6d-8e7f-001122334455"
	if UserID(strings.ToUpper(id)) != id {
		t.Errorf("a UUID is not kept as it is")
	}
}

// Each function gets the variables the CDK stack would give it, with local
// values, and nothing it is not granted.
func TestFunctionEnvMirrorsTheStack(t *testing.T) {
	e := endpoints{dynamoDB: "http://ddb", kinesis: "http://kin", databaseURL: "postgres://db", apiDatabaseURL: "postgres://api", supabaseURL: "http://auth",
		wsManagement: "http://ws/local", jwtSecret: "s", dataDir: "/data"}
	for _, f := range Defaults("/r").Functions() {
		env := functionEnv(f, "pt-local-", e)
		has := func(kv string) bool { return slices.Contains(env, kv) }
		for _, a := range f.Tables {
			tb, _ := topology.TableByName(a.Table)
			if !has(tb.EnvVar + "=pt-local-" + tb.Name) {
				t.Errorf("%s: no %s", f.Name, tb.EnvVar)
			}
		}
		if slices.Contains(f.Secrets, topology.DatabaseSecret) != has("DATABASE_URL=postgres://db") {
			t.Errorf("%s: DATABASE_URL given iff the database secret is granted", f.Name)
		}
		if slices.Contains(f.Secrets, topology.APIDatabaseSecret) != has("API_DATABASE_URL=postgres://api") {
			t.Errorf("%s: API_DATABASE_URL given iff the API's database secret is granted", f.Name)
		}
		if f.ManageConnections != has("WEBSOCKET_CALLBACK_URL=http://ws/local") {
			t.Errorf("%s: WEBSOCKET_CALLBACK_URL given iff ManageConnections", f.Name)
		}
		consumer := slices.ContainsFunc(f.Triggers, func(tr topology.Trigger) bool {
			return tr.Kind == topology.DynamoDBStream || tr.Kind == topology.KinesisStream
		})
		if consumer != has(topology.FailureDestinationEnvVar+"=file:///data/failures/"+f.Name+".jsonl") {
			t.Errorf("%s: %s is the mapping's file iff the function consumes a stream", f.Name, topology.FailureDestinationEnvVar)
		}
		if !has("AWS_ENDPOINT_URL_DYNAMODB=http://ddb") || !has("AWS_ENDPOINT_URL_KINESIS=http://kin") {
			t.Errorf("%s: emulator endpoints missing", f.Name)
		}
		// Beyond the SDK's variables (with the endpoints of the services a
		// function sends mail or SMS through), exactly the settings the topology
		// says the local stack sets, with their fixed values.
		sdk := sdkEnv(e)
		got, want := map[string]string{}, map[string]string{}
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); sdk[k] == "" && !strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
				got[k] = v
			}
		}
		for _, s := range f.Environment() {
			if s.SetBy&topology.LocalStack != 0 {
				want[s.Name] = got[s.Name]
				if s.Value != "" {
					want[s.Name] = s.Value
				}
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: the local stack gives\n %v\nthe topology declares\n %v", f.Name, got, want)
		}
	}
}

func TestFromEnvRejectsBadValues(t *testing.T) {
	t.Setenv("PT_LOCAL_HTTP_PORT", "99999")
	if _, err := FromEnv(Defaults("/r")); err == nil {
		t.Error("port 99999 accepted")
	}
	t.Setenv("PT_LOCAL_HTTP_PORT", "3100")
	t.Setenv("PT_LOCAL_TICK", "500ms")
	c, err := FromEnv(Defaults("/r"))
	if err != nil || c.HTTPPort != 3100 || c.TickEvery != 500*time.Millisecond {
		t.Errorf("FromEnv = %+v, %v", c, err)
	}
	// `make run` builds the functions outside its data folder (they outlive a
	// reset); a data folder of its own (a test's) builds its own.
	if c.BinDir != filepath.Join("/r", ".local", "functions") {
		t.Errorf("BinDir %q", c.BinDir)
	}
	t.Setenv("PT_LOCAL_DATA", "/tmp/elsewhere")
	if c, _ := FromEnv(Defaults("/r")); c.DataDir != "/tmp/elsewhere" || c.BinDir != "" {
		t.Errorf("with PT_LOCAL_DATA: DataDir %q, BinDir %q", c.DataDir, c.BinDir)
	}
}

// PT_LOCAL_PRICE_SOURCE=replay gives the ingest function (and only a function
// with a REPLAY_FILE setting) the recorded session, which holds every demo
// symbol; the default leaves the topology's simulated feed.
func TestReplayPriceSource(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PT_LOCAL_PRICE_SOURCE", "replay")
	c, err := FromEnv(Defaults(root))
	if err != nil || c.PriceSource != "replay" {
		t.Fatalf("FromEnv = %+v, %v", c, err)
	}
	e := endpoints{dynamoDB: "http://ddb", kinesis: "http://kin", dataDir: "/data"}
	for _, f := range topology.Functions() {
		env, err := priceSourceEnv(c, f, functionEnv(f, "pt-local-", e))
		if err != nil {
			t.Fatal(err)
		}
		replays := slices.Contains(env, "PRICE_SOURCE=replay")
		if replays != (f.Name == "ingest") {
			t.Errorf("%s: replays %v", f.Name, replays)
		}
		if f.Name == "ingest" && (slices.Contains(env, "PRICE_SOURCE=simulated") || !slices.Contains(env, "REPLAY_FILE="+filepath.Join(root, DefaultReplayFile))) {
			t.Errorf("ingest env %v", env)
		}
	}
	session, err := marketdata.LoadReplayQuotes(filepath.Join(root, DefaultReplayFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range demoPlans {
		for _, b := range p.buys {
			if _, err := session.Quote(context.Background(), b.symbol); err != nil {
				t.Errorf("the recorded session lacks the demo's %s: %v", b.symbol, err)
			}
		}
	}
	t.Setenv("PT_LOCAL_PRICE_SOURCE", "finnhub")
	if _, err := FromEnv(Defaults(root)); err == nil {
		t.Error("PT_LOCAL_PRICE_SOURCE=finnhub accepted")
	}
	t.Setenv("PT_LOCAL_PRICE_SOURCE", "")
	if c, _ := FromEnv(Defaults(root)); c.PriceSource != "" {
		t.Errorf("the default is the simulated feed: %+v", c)
	}
}

// A function that needs a deploy-time feature runs only when the stack
// enables it: the quote stream is off by default (the local feed is
// simulated), on with PT_LOCAL_FEATURES=streaming-quotes.
func TestFeatureFunctionsRunOnlyWhenEnabled(t *testing.T) {
	names := func(c Config) []string { return functionNames(c.Functions()) }
	off := names(Defaults("/r"))
	if slices.Contains(off, "stream") || !slices.Contains(off, "ingest") || len(off) != len(topology.Functions())-1 {
		t.Errorf("by default the stack runs %v", off)
	}
	t.Setenv("PT_LOCAL_FEATURES", string(topology.StreamingQuotes))
	c, err := FromEnv(Defaults("/r"))
	if err != nil || !slices.Contains(names(c), "stream") || len(names(c)) != len(topology.Functions()) {
		t.Errorf("with the feature: %v %v", names(c), err)
	}
	t.Setenv("PT_LOCAL_FEATURES", "teleportation")
	if _, err := FromEnv(Defaults("/r")); err == nil {
		t.Error("an unknown feature accepted")
	}
}
