package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// A route without a handler and a handler without a route are both refused,
// and named.
func TestBindRoutesRefusesAMismatch(t *testing.T) {
	ok := func(http.ResponseWriter, *http.Request) error { return nil }
	routes := []topology.Route{{Method: "GET", Path: "/a", OperationID: "getA"}, {Method: "GET", Path: "/b", OperationID: "getB"}}
	bound, err := bindRoutes(routes, map[string]handler{"getA": ok, "getB": ok})
	if err != nil || len(bound) != 2 || bound[1].Route != routes[1] {
		t.Fatalf("matching tables: %v, %+v", err, bound)
	}
	_, err = bindRoutes(routes, map[string]handler{"getA": ok, "getC": ok})
	if err == nil || !strings.Contains(err.Error(), "GET /b (getB) has no handler") || !strings.Contains(err.Error(), "handler getC has no route") {
		t.Fatalf("mismatched tables: %v", err)
	}
}

// Every handler of the server is bound to a declared route, and every declared
// route has one.
func TestEveryDeclaredRouteHasAHandler(t *testing.T) {
	if _, err := bindRoutes(topology.HTTPRoutes, (&Server{}).handlers()); err != nil {
		t.Fatal(err)
	}
}
