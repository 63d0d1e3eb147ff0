package topology

import (
	"maps"
	"slices"
	"testing"
)

func TestTablesAreWellFormed(t *testing.T) {
	seenName, seenEnv := map[string]bool{}, map[string]bool{}
	for _, tb := range Tables() {
		if tb.Name == "" || tb.PartitionKey.Name == "" || tb.EnvVar == "" || tb.Purpose == "" {
			t.Errorf("table %+v lacks a name, key, env var or purpose", tb)
		}
		if seenName[tb.Name] || seenEnv[tb.EnvVar] {
			t.Errorf("table %s or env var %s declared twice", tb.Name, tb.EnvVar)
		}
		seenName[tb.Name], seenEnv[tb.EnvVar] = true, true
		for _, k := range append([]Key{tb.PartitionKey}, keyOrNone(tb.SortKey)...) {
			if k.Type != String && k.Type != Number {
				t.Errorf("table %s key %s has type %q", tb.Name, k.Name, k.Type)
			}
		}
	}
	events, ok := TableByName(EventsTable)
	if !ok || events.Stream != NewImage || events.SortKey == nil || events.SortKey.Type != Number || !events.PointInTimeRecovery {
		t.Fatalf("events table must have a numeric sort key, a NEW_IMAGE stream and PITR: %+v", events)
	}
}

func keyOrNone(k *Key) []Key {
	if k == nil {
		return nil
	}
	return []Key{*k}
}

func TestFunctionsAreWellFormed(t *testing.T) {
	secrets := map[string]bool{}
	for _, s := range Secrets() {
		secrets[s.Name] = true
	}
	seen := map[string]bool{}
	for _, f := range Functions() {
		if f.Name == "" || f.Purpose == "" || f.Memory < 128 || f.Timeout <= 0 || len(f.Triggers) == 0 {
			t.Errorf("function %+v lacks a name, purpose, memory, timeout or trigger", f)
		}
		if seen[f.Name] {
			t.Errorf("function %s declared twice", f.Name)
		}
		if f.When != "" && f.When != StreamingQuotes {
			t.Errorf("%s: exists for %q, a feature no choice of sources enables", f.Name, f.When)
		}
		seen[f.Name] = true
		for _, a := range f.Tables {
			tb, ok := TableByName(a.Table)
			if !ok {
				t.Errorf("%s: unknown table %s", f.Name, a.Table)
			}
			for _, ix := range a.ScanIndexes {
				if !slices.ContainsFunc(tb.Indexes, func(i Index) bool { return i.Name == ix }) {
					t.Errorf("%s: may scan %s's index %s, which it does not have", f.Name, a.Table, ix)
				}
			}
		}
		for _, s := range f.Secrets {
			if !secrets[s] {
				t.Errorf("%s: unknown secret %s", f.Name, s)
			}
		}
		for _, tr := range f.Triggers {
			switch tr.Kind {
			case DynamoDBStream:
				tb, ok := TableByName(tr.Source)
				if !ok || tb.Stream == NoStream {
					t.Errorf("%s: stream trigger on %s, which has no stream", f.Name, tr.Source)
				}
				m := tr.Mapping
				if m.BatchSize < 1 || m.MaxRetries < 0 || m.MaxRetries > 10 || m.MaxRecordAge <= 0 {
					t.Errorf("%s: stream mapping needs a batch size, bounded retries and a record age: %+v", f.Name, m)
				}
			case HTTPRoute:
				if tr.Method == "" || tr.Path == "" || tr.Path[0] != '/' {
					t.Errorf("%s: route %q %q", f.Name, tr.Method, tr.Path)
				}
			case Schedule:
				if tr.Expression == "" || tr.TimeZone == "" {
					t.Errorf("%s: schedules need an expression and a time zone (docs/architecture.md §4)", f.Name)
				}
			case SNSTopic:
				if tr.Source != SESEventsTopic {
					t.Errorf("%s: subscribed to topic %q; the stacks own only %s", f.Name, tr.Source, SESEventsTopic)
				}
			}
		}
	}
}

// Each route is declared once, under an operation ID of its own: the API binds
// its handlers by operation ID and API Gateway its routes by pattern.
func TestHTTPRoutesAreWellFormed(t *testing.T) {
	patterns, operations := map[string]bool{}, map[string]bool{}
	for _, r := range HTTPRoutes {
		if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, r.Method) || r.Path == "" || r.Path[0] != '/' || r.OperationID == "" {
			t.Errorf("route %+v: needs an upper-case method, a path from / and an operation ID", r)
		}
		if patterns[r.Pattern()] || operations[r.OperationID] {
			t.Errorf("route %s (%s) declared twice", r.Pattern(), r.OperationID)
		}
		patterns[r.Pattern()], operations[r.OperationID] = true, true
	}
	for _, op := range PublicOperations {
		if !operations[op] {
			t.Errorf("public operation %s names no route", op)
		}
	}
}

// TestSettingsAreWellFormed: every function's environment names each variable
// once, with a meaning; a required setting has no default and both stacks set
// it; a fixed value is one both stacks give.
func TestSettingsAreWellFormed(t *testing.T) {
	for _, s := range Secrets() {
		if s.EnvVar == "" || s.PlainEnvVar == "" || s.EnvVar == s.PlainEnvVar {
			t.Errorf("secret %s needs distinct ARN and plain variables", s.Name)
		}
	}
	for _, f := range Functions() {
		seen := map[string]bool{}
		for _, s := range f.Environment() {
			if s.Name == "" || s.Meaning == "" {
				t.Errorf("%s: setting %+v lacks a name or a meaning", f.Name, s)
			}
			if seen[s.Name] {
				t.Errorf("%s: %s declared twice", f.Name, s.Name)
			}
			seen[s.Name] = true
			if s.Required && (s.Default != "" || s.SetBy != BothStacks) {
				t.Errorf("%s: %s is required, so it has no default and both stacks set it", f.Name, s.Name)
			}
			if s.Value != "" && s.SetBy != BothStacks {
				t.Errorf("%s: %s has a value, which both stacks give", f.Name, s.Name)
			}
			if s.SetBy&^BothStacks != 0 {
				t.Errorf("%s: %s: unknown provider %d", f.Name, s.Name, s.SetBy)
			}
		}
	}
}

// TestSourcesDecideFunctionsSettingsAndKeys: a deployment's choice of sources
// gives the source settings their values, keeps of each function's provider
// keys those of the providers it uses, and deploys a function made for a
// feature only when the choice enables it. The functions are the shapes the
// market-data functions take: a quote poller, a history backfill, a search that
// may use either source, a stream that exists for Finnhub only.
func TestSourcesDecideFunctionsSettingsAndKeys(t *testing.T) {
	declared := []Function{
		{Name: "quotes", Secrets: append([]string{DatabaseSecret}, ProviderKeys...), Settings: []Setting{PriceSourceSetting}},
		{Name: "history", Secrets: []string{DatabaseSecret, PolygonAPIKey, AlphaVantageAPIKey}, Settings: []Setting{HistorySourceSetting}},
		{Name: "search", Secrets: ProviderKeys, Settings: []Setting{PriceSourceSetting, HistorySourceSetting}},
		{Name: "stream", Secrets: []string{FinnhubAPIKey}, When: StreamingQuotes},
	}
	type want struct {
		secrets  []string
		settings map[string]string
	}
	for _, c := range []struct {
		sources Sources
		want    map[string]want
	}{
		{Sources{SimulatedSource, SimulatedSource}, map[string]want{
			"quotes":  {[]string{DatabaseSecret}, map[string]string{PriceSourceEnvVar: SimulatedSource}},
			"history": {[]string{DatabaseSecret}, map[string]string{HistorySourceEnvVar: SimulatedSource}},
			"search":  {nil, map[string]string{PriceSourceEnvVar: SimulatedSource, HistorySourceEnvVar: SimulatedSource}},
		}},
		{Sources{FinnhubSource, PolygonSource}, map[string]want{
			"quotes":  {[]string{DatabaseSecret, FinnhubAPIKey}, map[string]string{PriceSourceEnvVar: FinnhubSource}},
			"history": {[]string{DatabaseSecret, PolygonAPIKey}, map[string]string{HistorySourceEnvVar: PolygonSource}},
			"search":  {[]string{FinnhubAPIKey, PolygonAPIKey}, map[string]string{PriceSourceEnvVar: FinnhubSource, HistorySourceEnvVar: PolygonSource}},
			"stream":  {[]string{FinnhubAPIKey}, map[string]string{}},
		}},
		{Sources{AlphaVantageSource, AlphaVantageSource}, map[string]want{
			"quotes":  {[]string{DatabaseSecret, AlphaVantageAPIKey}, map[string]string{PriceSourceEnvVar: AlphaVantageSource}},
			"history": {[]string{DatabaseSecret, AlphaVantageAPIKey}, map[string]string{HistorySourceEnvVar: AlphaVantageSource}},
			"search":  {[]string{AlphaVantageAPIKey}, map[string]string{PriceSourceEnvVar: AlphaVantageSource, HistorySourceEnvVar: AlphaVantageSource}},
		}},
	} {
		if err := c.sources.Validate(); err != nil {
			t.Fatalf("%+v: %v", c.sources, err)
		}
		got := map[string]want{}
		for _, f := range c.sources.Deployed(declared) {
			w := want{f.Secrets, map[string]string{}}
			for _, s := range f.Settings {
				if s.SetBy != BothStacks {
					t.Errorf("%+v: %s: %s is the deployment's choice, which both stacks set", c.sources, f.Name, s.Name)
				}
				w.settings[s.Name] = s.Value
			}
			got[f.Name] = w
		}
		if len(got) != len(c.want) {
			t.Errorf("%+v: deploys %v, want %v", c.sources, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(c.want)))
		}
		for name, w := range c.want {
			if g := got[name]; !slices.Equal(g.secrets, w.secrets) || !maps.Equal(g.settings, w.settings) {
				t.Errorf("%+v: %s gets %v %v, want %v %v", c.sources, name, g.secrets, g.settings, w.secrets, w.settings)
			}
		}
	}
	// The declaration itself is left as it was.
	if len(declared[0].Secrets) != 4 || declared[0].Settings[0].Value != "" {
		t.Errorf("For changed the declaration: %+v", declared[0])
	}
}

func TestSourcesRefuseWhatARoleCannotUse(t *testing.T) {
	for _, s := range []Sources{{"", SimulatedSource}, {"replay", SimulatedSource}, {SimulatedSource, FinnhubSource}, {"Finnhub", SimulatedSource}, {SimulatedSource, ""}} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if got := (Sources{SimulatedSource, PolygonSource}).Simulated(); !slices.Equal(got, []string{"quotes"}) {
		t.Errorf("Simulated() = %v", got)
	}
	if (Sources{AlphaVantageSource, PolygonSource}).Enables(StreamingQuotes) || !(Sources{FinnhubSource, PolygonSource}).Enables(StreamingQuotes) {
		t.Error("the quote stream is Finnhub's only")
	}
}

// Each provider's key is declared once, as the secret of that provider, and
// every function that uses a source lists the keys of every provider it could
// be given.
func TestProviderKeysAreOnePerProvider(t *testing.T) {
	byProvider := map[string]string{}
	for _, s := range Secrets() {
		if s.Provider == "" {
			continue
		}
		if !slices.Contains(QuoteSources, s.Provider) && !slices.Contains(HistorySources, s.Provider) || s.Provider == SimulatedSource {
			t.Errorf("secret %s: provider %q is no source", s.Name, s.Provider)
		}
		if byProvider[s.Provider] != "" {
			t.Errorf("provider %s has two keys", s.Provider)
		}
		byProvider[s.Provider] = s.Name
	}
	for _, f := range Functions() {
		for _, set := range f.Settings {
			choices := map[string][]string{PriceSourceEnvVar: QuoteSources, HistorySourceEnvVar: HistorySources}[set.Name]
			for _, p := range choices {
				if key := byProvider[p]; key != "" && !slices.Contains(f.Secrets, key) {
					t.Errorf("%s reads %s but does not list %s, the key of %s", f.Name, set.Name, key, p)
				}
			}
		}
	}
}

func TestTheUnsubscribeRoutesArePublic(t *testing.T) {
	for _, r := range HTTPRoutes {
		if want := r.Path == "/unsubscribe"; r.Public() != want {
			t.Errorf("%s: public %v, want %v", r.Pattern(), r.Public(), want)
		}
	}
}
