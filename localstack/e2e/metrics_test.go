package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/stack"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// metricSeries is one series of the admin endpoint's GET /metrics.
type metricSeries struct {
	Name       string
	Dimensions map[string]string
	Count      int64
	Sum, P99   float64
}

// testMetrics checks what the trades and the tick before it made the functions
// emit (EMF on stdout, collected by the local stack): the API's requests per
// route pattern and status class with their latency and the commands, the
// authorizer's decisions, the projector's events and projection lag, the
// ingest's ticks, the prices consumer's batch with its tick-to-push latency
// and pushes, the WebSocket routes; nothing outside the catalogue, and the
// same in Prometheus' text format.
func testMetrics(t *testing.T, s *localStack) {
	admin := client{base: s.url("ADMIN")}
	var body struct {
		Lines        int
		Undecodable  int
		Uncatalogued map[string][]string
		Series       []metricSeries
	}
	// The prices function's line is written once its pushes are done, a
	// moment after the valuation reached the browser.
	want := []struct {
		name string
		dims map[string]string
		min  float64 // sum at least
	}{
		{"Requests", map[string]string{"Function": "api", "Route": "POST /portfolios/{id}/transactions", "StatusClass": "2xx"}, 3},
		{"RequestLatency", map[string]string{"Function": "api", "Route": "POST /portfolios/{id}/transactions"}, 0},
		{"Requests", map[string]string{"Function": "api", "Route": "POST /portfolios", "StatusClass": "4xx"}, 1},
		{"Commands", map[string]string{"Function": "api", "Kind": "recordTransaction"}, 3},
		{"DatabasePoolIdle", map[string]string{"Function": "api"}, 0},
		{"AuthorizerDecisions", map[string]string{"Function": "authorizer", "Kind": "allow"}, 1},
		{"AuthorizerDecisions", map[string]string{"Function": "authorizer", "Kind": "deny"}, 1},
		{"EventsApplied", map[string]string{"Function": "projector"}, 4},
		{"ProjectionLag", map[string]string{"Function": "projector"}, 0},
		{"TicksIngested", map[string]string{"Function": "ingest"}, 1},
		{"StreamRecords", map[string]string{"Function": "prices"}, 1},
		{"TickToPush", map[string]string{"Function": "prices"}, 0},
		{"PushesSent", map[string]string{"Function": "prices"}, 1},
		{"WebSocketMessages", map[string]string{"Function": "ws", "Kind": "$connect"}, 2},
	}
	for _, w := range want {
		w.dims[metrics.Stage] = stack.Stage // on every line, from every function's STAGE
	}
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A fresh value each time: decoding into the last one would add keys to
		// its series' dimension maps.
		body.Series, body.Uncatalogued = nil, nil
		if code := admin.do(t, "GET", "/metrics", nil, &body); code != 200 {
			t.Fatalf("GET /metrics: HTTP %d", code)
		}
		missing = nil
		for _, w := range want {
			if !hasSeries(body.Series, w.name, w.dims, w.min) {
				missing = append(missing, w.name+" "+formatDims(w.dims))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("no metric %s (or less than expected)", m)
	}
	if body.Undecodable != 0 || len(body.Uncatalogued) != 0 {
		t.Errorf("%d undecodable EMF lines; not in the catalogue: %v", body.Undecodable, body.Uncatalogued)
	}
	for _, se := range body.Series {
		if se.Dimensions[metrics.Stage] != stack.Stage {
			t.Errorf("%s %v: no Stage=%s", se.Name, se.Dimensions, stack.Stage)
		}
		for k, v := range se.Dimensions {
			if k == "PortfolioId" || k == "UserId" || len(v) == 36 && strings.Count(v, "-") == 4 {
				t.Errorf("a dimension names a user or portfolio: %s %v", se.Name, se.Dimensions)
			}
		}
		if se.Name == "TickToPush" && (se.P99 <= 0 || se.P99 > 10_000) {
			t.Errorf("tick to push p99 %v ms", se.P99)
		}
	}

	resp, err := http.Get(s.url("ADMIN") + "/metrics?format=prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	text, _ := io.ReadAll(resp.Body)
	for _, line := range []string{
		`portfoliotracker_requests_total{function="api",route="POST /portfolios/{id}/transactions",stage="local",status_class="2xx"} `,
		`portfoliotracker_tick_to_push_milliseconds{function="prices",stage="local",quantile="0.99"} `,
		`portfoliotracker_commands_total{function="api",kind="recordTransaction",stage="local"} `,
	} {
		if !strings.Contains(string(text), line) {
			t.Errorf("Prometheus text lacks %q", line)
		}
	}
}

func hasSeries(list []metricSeries, name string, dims map[string]string, atLeast float64) bool {
	for _, s := range list {
		if s.Name != name || len(s.Dimensions) != len(dims) || s.Count == 0 || s.Sum < atLeast {
			continue
		}
		match := true
		for k, v := range dims {
			match = match && s.Dimensions[k] == v
		}
		if match {
			return true
		}
	}
	return false
}

func formatDims(d map[string]string) string {
	var parts []string
	for k, v := range d {
		parts = append(parts, k+"="+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
