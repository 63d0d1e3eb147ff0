package httpapi_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"testing"
)

// lockedBuffer collects EMF lines written from concurrent requests. Large
// runs (benchmarks) keep only the newest 1 MB.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		b.buf.Reset()
	}
	return b.buf.Write(p)
}

// lines decodes the lines written so far, and forgets them.
func (b *lockedBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("an EMF line that is not JSON: %s", raw)
		}
		out = append(out, m)
	}
	b.buf.Reset()
	return out
}

// directives maps each metric of an EMF line to the dimensions it is
// aggregated by.
func directives(line map[string]any) map[string][]string {
	out := map[string][]string{}
	for _, d := range line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
		d := d.(map[string]any)
		var dims []string
		for _, k := range d["Dimensions"].([]any)[0].([]any) {
			dims = append(dims, k.(string))
		}
		for _, m := range d["Metrics"].([]any) {
			out[m.(map[string]any)["Name"].(string)] = dims
		}
	}
	return out
}

// Each request writes one line: Requests by route pattern and status class,
// RequestLatency by route, Commands by operation for an accepted command, and
// the pool's gauges; never a portfolio ID (the route is the pattern).
func TestEachRequestWritesItsMetrics(t *testing.T) {
	f := newPostgresAPI(t)
	f.metrics.lines(t)
	id := f.createPortfolio(alice, "metrics")
	f.do(alice, "GET", "/portfolios/"+id, "")
	f.do(alice, "GET", "/no/such/route", "")
	lines := f.metrics.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d lines for 3 requests: %v", len(lines), lines)
	}
	want := []struct{ route, class string }{{"POST /portfolios", "2xx"}, {"GET /portfolios/{id}", "2xx"}, {"unmatched", "4xx"}}
	for i, l := range lines {
		if l["Function"] != "api" || l["Route"] != want[i].route || l["StatusClass"] != want[i].class || l["Requests"] != 1.0 {
			t.Errorf("line %d: %v", i, l)
		}
		if _, ok := l["RequestLatency"].(float64); !ok {
			t.Errorf("line %d without a latency: %v", i, l)
		}
		d := directives(l)
		if !slices.Equal(d["Requests"], []string{"Function", "Route", "StatusClass"}) || !slices.Equal(d["RequestLatency"], []string{"Function", "Route"}) ||
			!slices.Equal(d["DatabasePoolIdle"], []string{"Function"}) {
			t.Errorf("line %d: directives %v", i, d)
		}
		raw, _ := json.Marshal(l)
		if bytes.Contains(raw, []byte(id)) {
			t.Errorf("line %d names the portfolio: %s", i, raw)
		}
	}
	if lines[0]["Kind"] != "createPortfolio" || lines[0]["Commands"] != 1.0 || !slices.Equal(directives(lines[0])["Commands"], []string{"Function", "Kind"}) {
		t.Errorf("the command's line: %v", lines[0])
	}
	if _, ok := lines[1]["Commands"]; ok {
		t.Errorf("a query counted as a command: %v", lines[1])
	}
}
