package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestOpenAPIDocumentsExactlyTheRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var served []string
	for _, r := range httpapi.New(httpapi.Config{}).Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	for _, s := range served {
		if !slices.Contains(documented, s) {
			t.Errorf("route %s is not documented", s)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("documented %s is not served", d)
		}
	}
}

// TestTopologyDeclaresExactlyTheRoutes: API Gateway gets its routes from the
// topology, so a route served here but not declared there would be unreachable.
func TestTopologyDeclaresExactlyTheRoutes(t *testing.T) {
	var declared, served []string
	for _, r := range topology.HTTPRoutes {
		declared = append(declared, r[0]+" "+r[1])
	}
	for _, r := range httpapi.New(httpapi.Config{}).Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	slices.Sort(declared)
	slices.Sort(served)
	if !slices.Equal(declared, served) {
		t.Fatalf("topology declares %v\nthe API serves %v", declared, served)
	}
}
