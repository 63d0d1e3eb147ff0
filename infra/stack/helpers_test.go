package stack_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

const testSupabaseURL = "https://abcdefghijklmnopqrst.supabase.co"

// The sender of the fixtures' notification mail.
const (
	testMailDomain = "mail.example.com"
	testMailFrom   = "Portfolio Tracker <alerts@mail.example.com>"
)

func config(stage stack.Stage) stack.Config {
	return stack.Config{Stage: stage, FrontendOrigin: "https://app.example.com", SupabaseURL: testSupabaseURL, SupabaseAnonKey: testAnonKey,
		Sources:    topology.Sources{Quotes: topology.SimulatedSource, History: topology.SimulatedSource},
		MailDomain: testMailDomain, MailFrom: testMailFrom}
}

// realSources are the sources of the acceptance synthesis (-c quoteSource=finnhub
// -c historySource=polygon): the Finnhub stream runs, history comes from Polygon.
var realSources = topology.Sources{Quotes: topology.FinnhubSource, History: topology.PolygonSource}

// prebuilt is the test Code: a pre-built asset directory per function holding a
// tiny bootstrap, so a synthesis takes seconds. The real bundler (GoBuild) is
// what main uses; TestGoBuildBundlesARealFunction runs it.
func prebuilt(t testing.TB) stack.Code {
	root := t.TempDir()
	return func(f topology.Function) awslambda.Code {
		dir := filepath.Join(root, f.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n# "+f.Name+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return awslambda.Code_FromAsset(jsii.String(dir), nil)
	}
}

// webApp is the tests' web app: the placeholder page, a 404 page and a
// content-hashed script where Next writes them, so a synthesis needs no build.
func webApp(t testing.TB) string {
	dir := t.TempDir()
	if err := stack.WebPlaceholder(dir); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"404.html": "<!doctype html><title>Not found</title>\n", "_next/static/chunks/app-0123abcd.js": "console.log('app')\n"} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testAnonKey is the fixtures' Supabase anon key (public by design).
const testAnonKey = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.test-anon-key"

// richTopology is the system's topology plus what it does not declare yet:
// a Kinesis stream with a producer on a schedule and a consumer that pushes over
// WebSocket, WebSocket routes, a second stream consumer with a daily schedule in
// New York time, a function writing to an indexed table, a function sending
// e-mail and SMS that subscribes to SES's events, and a public route; the functions of
// real market data (the quote stream, which exists only when the quote source
// streams, and the history backfill) are the system's own.
func richTopology() stack.Topology {
	t := stack.FromPackage()
	t.KinesisStreams = []stack.KinesisStream{{Name: "market-data-updates", EnvVar: "MARKET_DATA_STREAM", Retention: 48 * time.Hour, Purpose: "normalised quotes, partition key = symbol"}}
	t.StreamAccess = map[string][]string{"ingest": {"market-data-updates"}, "stream": {"market-data-updates"}}
	mapping := topology.StreamMapping{BatchSize: 200, BatchingWindow: 2 * time.Second, MaxRetries: 3, MaxRecordAge: 10 * time.Minute, ParallelizationFactor: 4}
	// The synthetic functions replace the system's of the same name (their details
	// are what the assertions check) and add what it lacks.
	t.Functions = withFunctions(t.Functions,
		topology.Function{
			Name: "ingest", Purpose: "polls providers", Memory: 256, Timeout: 50 * time.Second, ReservedConcurrency: 1,
			Tables:   []topology.TableAccess{{Table: topology.RateLimitsTable, Access: topology.ReadWrite}},
			Settings: []topology.Setting{{Name: "PROVIDER", Value: "finnhub", SetBy: topology.BothStacks, Meaning: "the quote provider"}},
			Triggers: []topology.Trigger{{Kind: topology.Schedule, Expression: "rate(1 minute)", TimeZone: "America/New_York", Input: `{"source":"finnhub"}`}},
		},
		topology.Function{
			Name: "prices", Purpose: "applies quotes", Memory: 512, Timeout: 30 * time.Second, ManageConnections: true,
			Tables:   []topology.TableAccess{{Table: topology.PricesTable, Access: topology.Write}, {Table: topology.ConnectionsTable, Access: topology.Read}},
			Triggers: []topology.Trigger{{Kind: topology.KinesisStream, Source: "market-data-updates", Mapping: mapping}},
		},
		topology.Function{
			Name: "ws", Purpose: "WebSocket connections", Memory: 256, Timeout: 10 * time.Second, ManageConnections: true,
			Tables: []topology.TableAccess{{Table: topology.ConnectionsTable, Access: topology.ReadWrite}},
			Triggers: []topology.Trigger{
				{Kind: topology.WebSocketRoute, RouteKey: "$connect"},
				{Kind: topology.WebSocketRoute, RouteKey: "$disconnect"},
				{Kind: topology.WebSocketRoute, RouteKey: "$default"},
				{Kind: topology.WebSocketRoute, RouteKey: "subscribe"},
			},
		},
		topology.Function{
			Name: "mailer", Purpose: "sends notifications by e-mail and SMS", Memory: 256, Timeout: time.Minute, ReservedConcurrency: 2,
			Secrets:    []string{topology.DatabaseSecret, topology.NotificationKey},
			SendsEmail: true, SendsSMS: true,
			Settings: []topology.Setting{
				{Name: topology.MailFromEnvVar, Required: true, SetBy: topology.BothStacks, Meaning: "the sender"},
				{Name: topology.SESConfigurationSetEnvVar, SetBy: topology.CDKStack, Meaning: "the configuration set"},
				{Name: topology.PublicAPIURLEnvVar, Required: true, SetBy: topology.BothStacks, Meaning: "the links' base"},
			},
			Triggers: []topology.Trigger{{Kind: topology.SNSTopic, Source: topology.SESEventsTopic}},
		},
		topology.Function{
			Name: "analytics", Purpose: "metrics and risk", Memory: 1024, Timeout: time.Minute, ReservedConcurrency: 5,
			Secrets: []string{topology.DatabaseSecret},
			Triggers: []topology.Trigger{
				{Kind: topology.DynamoDBStream, Source: topology.EventsTable, Mapping: mapping},
				{Kind: topology.Schedule, Expression: "cron(5 16 ? * MON-FRI *)", TimeZone: "America/New_York", Input: `{"job":"daily"}`},
			},
		},
	)
	// A public route of the API's (the unsubscribe link's).
	for i, f := range t.Functions {
		if f.Name == "api" {
			t.Functions[i].Triggers = append(slices.Clone(f.Triggers), topology.Trigger{Kind: topology.HTTPRoute, Method: "GET", Path: "/unsubscribe-test"})
		}
	}
	t.PublicRoutes = map[string]bool{"GET /unsubscribe-test": true}
	return t
}

// leasesTable is the stream's lease table, which the acceptance synthesis
// checks the stream may update.
const leasesTable = topology.LeasesTable

func withFunctions(base []topology.Function, extra ...topology.Function) []topology.Function {
	out := slices.Clone(base)
	for _, f := range extra {
		if i := slices.IndexFunc(out, func(g topology.Function) bool { return g.Name == f.Name }); i >= 0 {
			out[i] = f
		} else {
			out = append(out, f)
		}
	}
	return out
}

// synthesized is one stack, synthesized once and shared by the tests.
type synthesized struct {
	cfg stack.Config
	// topo is what the stack built: the given topology as the configuration's
	// sources select it.
	topo  stack.Topology
	st    *stack.Stack
	tmpl  assertions.Template
	json  map[string]any
	res   map[string]resource
	annos assertions.Annotations
	// webConfig is config.json as the config deployment copies it (read at
	// synthesis: the cloud assembly goes with the test that made it).
	webConfig []byte
}

type resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	Metadata       map[string]any `json:"Metadata"`
	DependsOn      []string       `json:"DependsOn"`
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[string]*synthesized{}
)

// fixture synthesizes (once per test binary) the stack named: "dev" and "prod"
// are the declared topology in each stage, dev with simulated market data and
// no frontendOrigin (the web app's CloudFront URL is the CORS origin), prod
// with real sources (realSources) and a frontendOrigin, "rich" the richer
// synthetic one with real sources.
func fixture(t *testing.T, name string) *synthesized {
	t.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if s, ok := fixtures[name]; ok {
		return s
	}
	cfg, topo := config(stack.Dev), stack.FromPackage()
	switch name {
	case "dev":
		// No frontendOrigin: the web app's own URL is the API's CORS origin.
		cfg.FrontendOrigin = ""
	case "prod":
		cfg = config(stack.Prod)
		cfg.Sources = realSources
	case "rich":
		topo = richTopology()
		cfg.Sources = realSources
		cfg.ManageAPIGatewayAccount = true
		cfg.AlarmTopicARN = "arn:aws:sns:us-east-1:000000000000:alarms"
	}
	s := synth(t, cfg, topo)
	fixtures[name] = s
	return s
}

func synth(t testing.TB, cfg stack.Config, topo stack.Topology) *synthesized {
	start := time.Now()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	st, err := stack.New(app, stack.Props{Config: cfg, Topology: topo, Code: prebuilt(t), WebDir: webApp(t),
		Env: &awscdk.Environment{Account: jsii.String("000000000000"), Region: jsii.String("us-east-1")}})
	if err != nil {
		t.Fatal(err)
	}
	stack.CheckAwsSolutions(app)
	s := &synthesized{cfg: cfg, topo: st.Topology, st: st}
	s.tmpl = assertions.Template_FromStack(st.Stack, nil)
	s.annos = assertions.Annotations_FromStack(st.Stack)
	raw, err := json.Marshal(s.tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]resource `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &s.json); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s.res = doc.Resources
	for _, id := range s.ofType("Custom::CDKBucketDeployment") {
		p := s.res[id].Properties
		if slices.Contains(strs(p["Include"]), stack.WebConfigFile) {
			key := strings.TrimSuffix(strs(p["SourceObjectKeys"])[0], ".zip")
			if s.webConfig, err = os.ReadFile(filepath.Join(*app.Outdir(), "asset."+key, stack.WebConfigFile)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("synthesized %s (%d resources) in %s", *st.Stack.StackName(), len(s.res), time.Since(start).Round(time.Millisecond))
	return s
}

// ofType returns the logical IDs of the resources of a type, sorted.
func (s *synthesized) ofType(typ string) []string {
	var ids []string
	for id, r := range s.res {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (s *synthesized) prefix() string { return s.cfg.Prefix() }

// ref returns the logical ID in {"Ref": id} or {"Fn::GetAtt": [id, attr]}, and attr.
func ref(v any) (id, attr string) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", ""
	}
	if r, ok := m["Ref"].(string); ok {
		return r, ""
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
		a, _ := ga[0].(string)
		b, _ := ga[1].(string)
		return a, b
	}
	return "", ""
}

// refsIn collects every logical ID that v references, anywhere inside it
// (pseudo parameters such as AWS::Partition left out).
func refsIn(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id, _ := ref(x); id != "" {
				if !strings.HasPrefix(id, "AWS::") {
					out = append(out, id)
				}
				return
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// functionsByID maps our functions' logical IDs to their topology names.
func (s *synthesized) functionsByID(t *testing.T) map[string]string { return s.functionIDs() }

func (s *synthesized) functionIDs() map[string]string {
	out := map[string]string{}
	for _, id := range s.ofType("AWS::Lambda::Function") {
		name, _ := s.res[id].Properties["FunctionName"].(string)
		if strings.HasPrefix(name, s.prefix()) {
			out[id] = strings.TrimPrefix(name, s.prefix())
		}
	}
	return out
}

// byName maps a resource type's logical IDs to the topology name found in prop.
func (s *synthesized) byName(typ, prop string) map[string]string {
	out := map[string]string{}
	for _, id := range s.ofType(typ) {
		if name, ok := s.res[id].Properties[prop].(string); ok {
			out[id] = strings.TrimPrefix(name, s.prefix())
		}
	}
	return out
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

var fixtureNames = []string{"dev", "prod", "rich"}

// isDeploymentProvider reports whether a logical ID is the CDK's bucket
// deployment function's (or of its role and policy).
func isDeploymentProvider(id string) bool {
	return strings.HasPrefix(id, strings.ReplaceAll(stack.WebDeploymentProvider, "::", ""))
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
