package topology

import (
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
