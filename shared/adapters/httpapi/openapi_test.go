package httpapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// TestOpenAPIDocumentsExactlyTheRoutes holds the document to topology.HTTPRoutes:
// the same methods and paths, each under the route's operation ID.
func TestOpenAPIDocumentsExactlyTheRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented = append(documented, strings.ToUpper(method)+" "+path+" "+op.OperationID)
		}
	}
	var declared []string
	for _, r := range topology.HTTPRoutes {
		declared = append(declared, r.Pattern()+" "+r.OperationID)
	}
	slices.Sort(documented)
	slices.Sort(declared)
	for _, d := range declared {
		if !slices.Contains(documented, d) {
			t.Errorf("route %s is not documented under that operationId", d)
		}
	}
	for _, d := range documented {
		if !slices.Contains(declared, d) {
			t.Errorf("documented %s is not in topology.HTTPRoutes", d)
		}
	}
}

// TestServerServesExactlyTheDeclaredRoutes: API Gateway gets its routes from the
// topology, so the server must bind a handler to each of them, and to nothing
// else (New panics otherwise).
func TestServerServesExactlyTheDeclaredRoutes(t *testing.T) {
	var served []topology.Route
	for _, r := range httpapi.New(httpapi.Config{}).Routes() {
		served = append(served, r.Route)
	}
	if !slices.Equal(served, topology.HTTPRoutes) {
		t.Fatalf("the API serves %v\ntopology declares %v", served, topology.HTTPRoutes)
	}
}

// TestOpenAPIAlertKindsAreTheKindTable: the "kind" of every alert schema
// enumerates exactly alerts.Kinds, in the table's order.
func TestOpenAPIAlertKindsAreTheKindTable(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []alerts.Kind `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var checked []string
	for name, schema := range doc.Components.Schemas {
		kind, ok := schema.Properties["kind"]
		if !strings.HasPrefix(name, "Alert") || !ok {
			continue
		}
		checked = append(checked, name)
		if !slices.Equal(kind.Enum, alerts.Kinds) {
			t.Errorf("%s.kind enumerates %v; alerts.Kinds are %v", name, kind.Enum, alerts.Kinds)
		}
	}
	if len(checked) < 3 { // the rule as sent, as stored, and its firings
		t.Errorf("only %v have a kind", checked)
	}
}
