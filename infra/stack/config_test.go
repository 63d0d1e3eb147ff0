package stack_test

import (
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestConfigFromContext(t *testing.T) {
	ok := func(kv ...string) func(string) string {
		m := map[string]string{stack.CtxSupabaseURL: testSupabaseURL}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := stack.ConfigFromContext(ok())
	if err != nil || c.Stage != stack.Dev || c.FrontendOrigin != "" || c.Prefix() != "pt-dev-" || c.StackName() != "pt-dev" {
		t.Fatalf("default: %+v %v", c, err)
	}
	c, err = stack.ConfigFromContext(ok(stack.CtxStage, "prod", stack.CtxFrontendOrigin, "https://app.example.com", stack.CtxSupabaseAnonKey, testAnonKey))
	if err != nil || c.Stage != stack.Prod || c.Prefix() != "pt-prod-" || c.SupabaseAnonKey != testAnonKey {
		t.Fatalf("prod: %+v %v", c, err)
	}
	// Without frontendOrigin, the web app's own URL is the CORS origin.
	if c, err = stack.ConfigFromContext(ok(stack.CtxStage, "prod")); err != nil || c.FrontendOrigin != "" {
		t.Fatalf("prod without an origin: %+v %v", c, err)
	}
	if c.Sources != (topology.Sources{Quotes: topology.SimulatedSource, History: topology.SimulatedSource}) {
		t.Fatalf("without sources: %+v, want the simulated feed", c.Sources)
	}
	c, err = stack.ConfigFromContext(ok(stack.CtxQuoteSource, "finnhub", stack.CtxHistorySource, "polygon"))
	if err != nil || c.Sources != realSources {
		t.Fatalf("finnhub and polygon: %+v %v", c.Sources, err)
	}
	for name, get := range map[string]func(string) string{
		"unknown stage":          ok(stack.CtxStage, "staging"),
		"anon key with a quote":  ok(stack.CtxSupabaseAnonKey, `abc"def`),
		"prod with http origin":  ok(stack.CtxStage, "prod", stack.CtxFrontendOrigin, "http://app.example.com"),
		"wildcard origin":        ok(stack.CtxFrontendOrigin, "https://*.example.com"),
		"origin with a path":     ok(stack.CtxFrontendOrigin, "https://app.example.com/app"),
		"no supabase url":        ok(stack.CtxSupabaseURL, ""),
		"supabase url with path": ok(stack.CtxSupabaseURL, testSupabaseURL+"/auth/v1"),
		"plain http supabase":    ok(stack.CtxSupabaseURL, "http://abc.supabase.co"),
		"alarm topic not an arn": ok(stack.CtxAlarmTopicARN, "alarms"),
		"unknown quote source":   ok(stack.CtxQuoteSource, "yahoo"),
		"replay deployed":        ok(stack.CtxQuoteSource, "replay"),
		"finnhub history":        ok(stack.CtxHistorySource, "finnhub"),
		"capitalised source":     ok(stack.CtxHistorySource, "Polygon"),
	} {
		if _, err := stack.ConfigFromContext(get); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A bad source is named with its context key and the choices.
	_, err = stack.ConfigFromContext(ok(stack.CtxHistorySource, "finnhub"))
	if err == nil || !strings.Contains(err.Error(), "-c historySource=\"finnhub\"") || !strings.Contains(err.Error(), "simulated, polygon, alphavantage") {
		t.Errorf("bad history source: %v", err)
	}
}

func TestCheckRefusesWhatTheStackCannotBuild(t *testing.T) {
	if err := stack.Check(stack.FromPackage()); err != nil {
		t.Fatalf("the declared topology: %v", err)
	}
	if err := stack.Check(richTopology()); err != nil {
		t.Fatalf("the rich topology: %v", err)
	}
	cases := map[string]func(*stack.Topology){
		"routes without an authorizer": func(tp *stack.Topology) { tp.Functions = tp.Functions[1:] },
		"unknown table": func(tp *stack.Topology) {
			tp.Functions[1].Tables = append(tp.Functions[1].Tables, topology.TableAccess{Table: "nope", Access: topology.Read})
		},
		"unknown access level": func(tp *stack.Topology) {
			tp.Functions[1].Tables = append(tp.Functions[1].Tables, topology.TableAccess{Table: topology.EventsTable, Access: "delete-only"})
		},
		"unknown secret": func(tp *stack.Topology) { tp.Functions[1].Secrets = append(tp.Functions[1].Secrets, "nope") },
		"stream trigger on a table without a stream": func(tp *stack.Topology) {
			tp.Functions[2].Triggers = append(tp.Functions[2].Triggers, topology.Trigger{Kind: topology.DynamoDBStream, Source: topology.PricesTable})
		},
		"kinesis trigger on an unknown stream": func(tp *stack.Topology) {
			tp.Functions[2].Triggers = append(tp.Functions[2].Triggers, topology.Trigger{Kind: topology.KinesisStream, Source: "nope"})
		},
		"a third consumer of the events stream": func(tp *stack.Topology) {
			for _, n := range []string{"analytics", "audit"} {
				tp.Functions = append(tp.Functions, topology.Function{Name: n, Triggers: []topology.Trigger{{Kind: topology.DynamoDBStream, Source: topology.EventsTable}}})
			}
		},
		"two stream triggers on one function (two failure destinations)": func(tp *stack.Topology) {
			tp.Functions[2].Triggers = append(tp.Functions[2].Triggers, topology.Trigger{Kind: topology.KinesisStream, Source: topology.MarketDataStream})
		},
		"schedule without a time zone": func(tp *stack.Topology) {
			tp.Functions[2].Triggers = append(tp.Functions[2].Triggers, topology.Trigger{Kind: topology.Schedule, Expression: "rate(1 hour)"})
		},
	}
	for name, mutate := range cases {
		tp := stack.FromPackage()
		if tp.Functions[0].Name != "authorizer" || tp.Functions[1].Name != "api" || tp.Functions[2].Name != "projector" {
			t.Fatalf("the cases assume authorizer, api, projector first: %s, %s, %s", tp.Functions[0].Name, tp.Functions[1].Name, tp.Functions[2].Name)
		}
		mutate(&tp)
		if err := stack.Check(tp); err == nil || !strings.HasPrefix(err.Error(), "topology: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
