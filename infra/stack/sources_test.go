package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// TestSelectKeepsWhatTheSourcesNeed: the chosen sources decide which functions
// exist, which provider keys are created and who may read them. Without real
// sources there is no stream and no provider key at all; with Finnhub quotes
// and Polygon history the stream runs and only those two keys exist, each
// granted to the functions that use that provider.
func TestSelectKeepsWhatTheSourcesNeed(t *testing.T) {
	simulated := config(stack.Dev).Sources
	for _, c := range []struct {
		sources  topology.Sources
		stream   bool
		keys     []string // the provider keys created
		ingest   []string // the secrets of the system's own ingest
		backfill []string
	}{
		{simulated, false, nil, []string{topology.DatabaseSecret}, []string{topology.DatabaseSecret}},
		{realSources, true, []string{topology.FinnhubAPIKey, topology.PolygonAPIKey},
			[]string{topology.DatabaseSecret, topology.FinnhubAPIKey}, []string{topology.DatabaseSecret, topology.PolygonAPIKey}},
		{topology.Sources{Quotes: topology.PolygonSource, History: topology.AlphaVantageSource}, false, []string{topology.PolygonAPIKey, topology.AlphaVantageAPIKey},
			[]string{topology.DatabaseSecret, topology.PolygonAPIKey}, []string{topology.DatabaseSecret, topology.AlphaVantageAPIKey}},
	} {
		market := stack.FromPackage().Select(c.sources)
		if err := stack.Check(market); err != nil {
			t.Fatalf("%+v: %v", c.sources, err)
		}
		_, stream := functionOf(market, "stream")
		if _, access := market.StreamAccess["stream"]; stream != c.stream || access != c.stream {
			t.Errorf("%+v: stream deployed %v, its stream access %v; want %v", c.sources, stream, access, c.stream)
		}
		var keys []string
		for _, s := range market.Secrets {
			if s.Provider != "" {
				keys = append(keys, s.Name)
			}
		}
		if !slices.Equal(keys, c.keys) {
			t.Errorf("%+v: provider keys %v, want %v", c.sources, keys, c.keys)
		}
		backfill, _ := functionOf(market, "backfill")
		ingest, _ := functionOf(market, "ingest")
		if !slices.Equal(backfill.Secrets, c.backfill) || !slices.Equal(ingest.Secrets, c.ingest) {
			t.Errorf("%+v: backfill reads %v (want %v), ingest %v (want %v)", c.sources, backfill.Secrets, c.backfill, ingest.Secrets, c.ingest)
		}
		if v := settingValue(ingest, topology.PriceSourceEnvVar); v != c.sources.Quotes {
			t.Errorf("%+v: the ingest's %s is %q", c.sources, topology.PriceSourceEnvVar, v)
		}
		if v := settingValue(backfill, topology.HistorySourceEnvVar); v != c.sources.History {
			t.Errorf("%+v: the backfill's %s is %q", c.sources, topology.HistorySourceEnvVar, v)
		}
	}
}

// TestRealSourcesSynthesizeTheStreamAndTheBackfill is the acceptance synthesis
// (-c quoteSource=finnhub -c historySource=polygon, no network): the stream
// function with its schedule and its lease table, the backfill with Polygon's
// key and nothing of Alpha Vantage's, the ingest polling Finnhub, and no warning.
func TestRealSourcesSynthesizeTheStreamAndTheBackfill(t *testing.T) {
	cfg, err := stack.ConfigFromContext(func(k string) string {
		return map[string]string{stack.CtxSupabaseURL: testSupabaseURL, stack.CtxQuoteSource: "finnhub", stack.CtxHistorySource: "polygon"}[k]
	})
	if err != nil || cfg.Sources != realSources {
		t.Fatalf("%+v %v", cfg.Sources, err)
	}
	s := fixture(t, "prod") // the system's own functions, with realSources
	fns := s.functionsByID(t)
	secrets := s.byName("AWS::SecretsManager::Secret", "Name")
	tables := s.byName("AWS::DynamoDB::Table", "TableName")

	streamID := keyOf(fns, "stream")
	if streamID == "" {
		t.Fatal("no stream function")
	}
	scheduled := false
	for _, id := range s.ofType("AWS::Scheduler::Schedule") {
		fn, _ := ref(obj(obj(s.res[id].Properties)["Target"])["Arn"])
		scheduled = scheduled || fn == streamID
	}
	if !scheduled {
		t.Error("the stream function has no schedule")
	}
	role, _ := ref(s.res[streamID].Properties["Role"])
	if !s.roleMay(role, "dynamodb:UpdateItem", func(target string) bool { return tables[target] == leasesTable }) {
		t.Error("the stream function may not update the lease table")
	}
	if !s.roleMay(role, "secretsmanager:GetSecretValue", func(target string) bool { return secrets[target] == topology.FinnhubAPIKey }) {
		t.Error("the stream function may not read Finnhub's key")
	}

	backfillID := keyOf(fns, "backfill")
	env := obj(obj(s.res[backfillID].Properties["Environment"])["Variables"])
	if id, _ := ref(env["POLYGON_API_KEY_SECRET_ARN"]); secrets[id] != topology.PolygonAPIKey || env[topology.HistorySourceEnvVar] != "polygon" {
		t.Errorf("backfill environment %v", env)
	}
	if _, ok := env["ALPHAVANTAGE_API_KEY_SECRET_ARN"]; ok {
		t.Error("the backfill is given Alpha Vantage's key, which no source chosen uses")
	}
	role, _ = ref(s.res[backfillID].Properties["Role"])
	if !s.roleMay(role, "secretsmanager:GetSecretValue", func(target string) bool { return secrets[target] == topology.PolygonAPIKey }) {
		t.Error("the backfill may not read Polygon's key")
	}
	if got := sortedValues(secrets); slices.Contains(got, topology.AlphaVantageAPIKey) || !slices.Contains(got, topology.FinnhubAPIKey) || !slices.Contains(got, topology.PolygonAPIKey) {
		t.Errorf("secrets %v: want Finnhub's and Polygon's keys, not Alpha Vantage's", got)
	}

	// The system's own ingest, in the prod fixture (the same sources).
	p := fixture(t, "prod")
	env = obj(obj(p.res[keyOf(p.functionsByID(t), "ingest")].Properties["Environment"])["Variables"])
	if env[topology.PriceSourceEnvVar] != "finnhub" || env["FINNHUB_API_KEY_SECRET_ARN"] == nil || env["POLYGON_API_KEY_SECRET_ARN"] != nil {
		t.Errorf("ingest environment %v", env)
	}
	for _, name := range []string{"rich", "prod"} {
		if w := simulatedWarnings(fixture(t, name)); len(w) > 0 {
			t.Errorf("%s: warns %v with real sources", name, w)
		}
	}
}

// TestSimulatedSourcesWarn: without chosen sources the stack runs the
// simulated feed, creates no provider key, has no stream, and the synthesis
// warns that prices and history are simulated.
func TestSimulatedSourcesWarn(t *testing.T) {
	s := fixture(t, "dev")
	w := simulatedWarnings(s)
	if len(w) != 1 || !strings.Contains(w[0], "PRICES ARE SIMULATED AND HISTORY IS SIMULATED") || !strings.Contains(w[0], "-c quoteSource=finnhub") {
		t.Fatalf("warnings %v", w)
	}
	env := obj(obj(s.res[keyOf(s.functionsByID(t), "ingest")].Properties["Environment"])["Variables"])
	if env[topology.PriceSourceEnvVar] != topology.SimulatedSource {
		t.Errorf("ingest %s = %v", topology.PriceSourceEnvVar, env[topology.PriceSourceEnvVar])
	}
	for _, sec := range s.topo.Secrets {
		if sec.Provider != "" {
			t.Errorf("provider key %s created for the simulated feed", sec.Name)
		}
	}
	// One simulated role is warned about alone.
	half := config(stack.Dev)
	half.Sources.Quotes = topology.FinnhubSource
	if w := half.SimulatedWarning(); !strings.HasPrefix(w, "HISTORY IS SIMULATED in pt-dev") || strings.Contains(w, "PRICES") {
		t.Errorf("history simulated: %q", w)
	}
	if w := (stack.Config{Stage: stack.Dev, Sources: realSources}).SimulatedWarning(); w != "" {
		t.Errorf("real sources: %q", w)
	}
}

func simulatedWarnings(s *synthesized) []string {
	var out []string
	for _, m := range *s.annos.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*SIMULATED.*"))) {
		_, _, data := stack.Message(m)
		if str, ok := data.(string); ok {
			out = append(out, str)
		}
	}
	return out
}

// roleMay reports whether the role's policy allows action on a resource that
// target accepts.
func (s *synthesized) roleMay(role, action string, target func(string) bool) bool {
	for _, st := range s.statementsOfRole(role) {
		if slices.Contains(strs(st["Action"]), action) && slices.ContainsFunc(refsIn(st["Resource"]), target) {
			return true
		}
	}
	return false
}

func functionOf(t stack.Topology, name string) (topology.Function, bool) {
	i := slices.IndexFunc(t.Functions, func(f topology.Function) bool { return f.Name == name })
	if i < 0 {
		return topology.Function{}, false
	}
	return t.Functions[i], true
}

func settingValue(f topology.Function, name string) string {
	for _, s := range f.Settings {
		if s.Name == name {
			return s.Value
		}
	}
	return ""
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
