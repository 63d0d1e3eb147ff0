package httpapi

import (
	"net/http"
	"slices"
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

// The CORS both stacks declare (topology) lets a browser send the request
// headers the server reads and read the read-model headers it writes: a name
// renamed on one side only would be dropped by the browser without an error.
func TestCORSNamesTheHeadersTheAPIUses(t *testing.T) {
	for _, h := range []string{"Authorization", "Idempotency-Key", "If-Match"} {
		if !slices.Contains(topology.CORSAllowHeaders, h) {
			t.Errorf("topology.CORSAllowHeaders lacks %s", h)
		}
	}
	for _, h := range []string{HeaderReadModelVersion, HeaderReadModelStale, "ETag", "Location", "Retry-After"} {
		if !slices.Contains(topology.CORSExposeHeaders, h) {
			t.Errorf("topology.CORSExposeHeaders lacks %s", h)
		}
	}
}
