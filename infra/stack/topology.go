package stack

import (
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Topology is everything the stack builds, as plain data. Production code passes
// FromPackage(); tests pass richer values (schedules, Kinesis streams, WebSocket
// routes) to cover code paths the system does not use yet.
type Topology struct {
	Tables    []topology.Table
	Functions []topology.Function
	Secrets   []topology.Secret
	// KinesisStreams are the Kinesis data streams. The topology package declares
	// none yet; FromPackage fills this from topology.KinesisStreams() once it exists.
	KinesisStreams []KinesisStream
	// StreamAccess grants functions PutRecord(s) on Kinesis streams, by function
	// name. It stands in for a Function.Streams field the topology lacks so far.
	StreamAccess map[string][]string
	// PublicRoutes are the HTTP routes ("GET /unsubscribe", Route.Pattern) that
	// no authorizer guards (topology.PublicOperations).
	PublicRoutes map[string]bool
}

// KinesisStream is a Kinesis data stream (on-demand, encrypted with the AWS
// managed key). It mirrors what topology.KinesisStream should declare.
type KinesisStream struct {
	Name      string        // logical name; physical = prefix + Name
	EnvVar    string        // carries the physical name to the producers
	Retention time.Duration // 24 h when zero
	Purpose   string
}

// FromPackage is the system's declared topology.
func FromPackage() Topology {
	t := Topology{
		Tables:       topology.Tables(),
		Functions:    topology.Functions(),
		Secrets:      topology.Secrets(),
		StreamAccess: map[string][]string{},
		PublicRoutes: map[string]bool{},
	}
	for _, r := range topology.HTTPRoutes {
		if r.Public() {
			t.PublicRoutes[r.Pattern()] = true
		}
	}
	for _, s := range topology.KinesisStreams() {
		t.KinesisStreams = append(t.KinesisStreams, KinesisStream{Name: s.Name, EnvVar: s.EnvVar, Retention: s.Retention, Purpose: s.Purpose})
	}
	for _, f := range t.Functions {
		if len(f.Streams) > 0 {
			t.StreamAccess[f.Name] = f.Streams
		}
	}
	return t
}

// Select is t as deployed with the chosen market-data sources
// (topology.Sources.Deployed): a function made for a feature the choice does not
// enable is left out with its stream access, the others carry the chosen
// sources in their source settings and keep of the provider keys they list
// those of the providers they use; a provider's key that no function keeps is
// not created. Everything the stack builds per function (role, log group,
// alarms, schedules, mappings, routes) follows from the functions kept.
func (t Topology) Select(s topology.Sources) Topology {
	out := t
	out.Functions = s.Deployed(t.Functions)
	out.StreamAccess = map[string][]string{}
	kept := map[string]bool{}
	for _, f := range out.Functions {
		for _, name := range f.Secrets {
			kept[name] = true
		}
		if streams, ok := t.StreamAccess[f.Name]; ok {
			out.StreamAccess[f.Name] = streams
		}
	}
	out.Secrets = nil
	for _, sec := range t.Secrets {
		if sec.Provider == "" || kept[sec.Name] {
			out.Secrets = append(out.Secrets, sec)
		}
	}
	return out
}

func (t Topology) table(name string) (topology.Table, bool) {
	for _, tb := range t.Tables {
		if tb.Name == name {
			return tb, true
		}
	}
	return topology.Table{}, false
}

func (t Topology) kinesis(name string) (KinesisStream, bool) {
	for _, s := range t.KinesisStreams {
		if s.Name == name {
			return s, true
		}
	}
	return KinesisStream{}, false
}

func (t Topology) secret(name string) (topology.Secret, bool) {
	for _, s := range t.Secrets {
		if s.Name == name {
			return s, true
		}
	}
	return topology.Secret{}, false
}

// triggers returns every trigger of the given kinds, with its function.
func (t Topology) triggers(kinds ...topology.TriggerKind) []FunctionTrigger {
	var out []FunctionTrigger
	for _, f := range t.Functions {
		for i, tr := range f.Triggers {
			for _, k := range kinds {
				if tr.Kind == k {
					out = append(out, FunctionTrigger{Function: f, Trigger: tr, Index: i})
				}
			}
		}
	}
	return out
}

// FunctionTrigger is one trigger and the function it invokes; Index is the
// trigger's position in the function's list (it names schedules).
type FunctionTrigger struct {
	Function topology.Function
	Trigger  topology.Trigger
	Index    int
}
