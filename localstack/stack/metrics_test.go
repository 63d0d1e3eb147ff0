package stack

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// The collector reads the EMF lines among a function's output (prefixed by
// the runtime), passes every line on, and serves them aggregated per metric
// and dimension set, as JSON and as Prometheus text.
func TestMetricsCollectorAggregatesEMFLines(t *testing.T) {
	c := newMetricsCollector()
	var passed bytes.Buffer
	out := c.tee(&passed)
	var line bytes.Buffer
	w := emf.New(&line, map[string]string{"Function": "api"}).WithClock(func() time.Time { return time.Unix(0, 0) })
	write := func(s string) {
		if _, err := out.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for i, status := range []string{"2xx", "2xx", "4xx"} {
		line.Reset()
		w.WithDimensions(map[string]string{metrics.Route: "GET /portfolios/{id}", metrics.StatusClass: status}).Emit(
			emf.Metric{Name: "Requests", Value: 1, Dimensions: []string{metrics.Function, metrics.Route, metrics.StatusClass}},
			emf.Metric{Name: "RequestLatency", Unit: metrics.Milliseconds, Value: float64(10 * (i + 1)), Dimensions: []string{metrics.Function, metrics.Route}})
		write("[api#1] " + line.String())
	}
	line.Reset()
	emf.New(&line, map[string]string{"Function": "prices"}).Emit(emf.Metric{Name: "TickToPush", Unit: "Milliseconds", Values: []float64{5, 7}},
		emf.Metric{Name: "NotInTheCatalogue", Value: 1})
	write("[prices#2] " + line.String())
	write(`[api#1] {"level":"INFO","msg":"not a metric"}` + "\n")
	write(`[api#1] {"_aws": broken` + "\n")
	if got := strings.Count(passed.String(), "\n"); got != 6 {
		t.Fatalf("%d lines passed on", got)
	}

	rec := httptest.NewRecorder()
	c.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	var body struct {
		Lines, Undecodable int
		Uncatalogued       map[string][]string
		Series             []series
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Lines != 4 || body.Undecodable != 1 || len(body.Uncatalogued["prices"]) != 1 {
		t.Errorf("lines %d, undecodable %d, uncatalogued %v", body.Lines, body.Undecodable, body.Uncatalogued)
	}
	find := func(name string, dims map[string]string) *series {
		for i, s := range body.Series {
			if s.Name != name || len(s.Dimensions) != len(dims) {
				continue
			}
			ok := true
			for k, v := range dims {
				ok = ok && s.Dimensions[k] == v
			}
			if ok {
				return &body.Series[i]
			}
		}
		t.Fatalf("no series %s %v in %s", name, dims, rec.Body.Bytes())
		return nil
	}
	ok2xx := find("Requests", map[string]string{"Function": "api", "Route": "GET /portfolios/{id}", "StatusClass": "2xx"})
	lat := find("RequestLatency", map[string]string{"Function": "api", "Route": "GET /portfolios/{id}"})
	tick := find("TickToPush", map[string]string{"Function": "prices"})
	if ok2xx.Sum != 2 || lat.Count != 3 || lat.P50 != 20 || lat.Max != 30 || tick.Count != 2 || tick.P99 != 7 {
		t.Errorf("2xx %+v, latency %+v, tick %+v", ok2xx, lat, tick)
	}

	rec = httptest.NewRecorder()
	c.serveMetrics(rec, httptest.NewRequest("GET", "/metrics?name=Requests&StatusClass=4xx", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Series) != 1 || body.Series[0].Sum != 1 {
		t.Errorf("filtered: %s", rec.Body.Bytes())
	}

	rec = httptest.NewRecorder()
	c.serveMetrics(rec, httptest.NewRequest("GET", "/metrics?format=prometheus", nil))
	text := rec.Body.String()
	for _, want := range []string{
		"# TYPE portfoliotracker_requests_total counter\n",
		`portfoliotracker_requests_total{function="api",route="GET /portfolios/{id}",status_class="2xx"} 2` + "\n",
		"# TYPE portfoliotracker_request_latency_milliseconds summary\n",
		`portfoliotracker_request_latency_milliseconds{function="api",route="GET /portfolios/{id}",quantile="0.99"} 30` + "\n",
		`portfoliotracker_request_latency_milliseconds_count{function="api",route="GET /portfolios/{id}"} 3` + "\n",
		`portfoliotracker_tick_to_push_milliseconds_sum{function="prices"} 12` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("prometheus text lacks %q:\n%s", want, text)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
}
