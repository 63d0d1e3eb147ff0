package stack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/infra/stack"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Every function exports its spans to X-Ray's OTLP endpoint in the stack's
// region, at its stage's sampling ratio, and may: its role allows PutSpans.
func TestFunctionsExportSpansToXRay(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		s := fixture(t, name)
		byID := s.functionsByID(t)
		for _, f := range s.topo.Functions {
			id := keyOf(byID, f.Name)
			vars := obj(obj(s.res[id].Properties["Environment"])["Variables"])
			if ep := fmt.Sprint(vars[topology.TracesEndpointEnvVar]); !strings.Contains(ep, "https://xray.") || !strings.Contains(ep, "/v1/traces") {
				t.Errorf("%s/%s: %s = %s, want X-Ray's OTLP endpoint", name, f.Name, topology.TracesEndpointEnvVar, ep)
			}
			if got, want := vars[topology.TracesSampleRatioEnvVar], stack.Stage(name).TraceSampleRatio(); got != want {
				t.Errorf("%s/%s: %s = %v, want %s", name, f.Name, topology.TracesSampleRatioEnvVar, got, want)
			}
			role, _ := ref(s.res[id].Properties["Role"])
			granted := false
			for _, st := range s.statementsOfRole(role) {
				granted = granted || (slices.Contains(strs(st["Action"]), "xray:PutSpans") && fmt.Sprint(st["Resource"]) == "*")
			}
			if !granted {
				t.Errorf("%s/%s: the role does not allow xray:PutSpans", name, f.Name)
			}
		}
	}
	if stack.Prod.TraceSampleRatio() == stack.Dev.TraceSampleRatio() {
		t.Error("prod samples as dev does")
	}
}
