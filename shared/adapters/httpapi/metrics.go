package httpapi

import (
	"net/http"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// unmatchedRoute is the Route dimension of a request no route matched (404,
// 405): its path would be an unbounded dimension.
const unmatchedRoute = "unmatched"

// routeMetrics writes one EMF line per request of one route: Requests by
// status class, RequestLatency by route, Commands by operation for an accepted
// command, and the gauges (the database pool's). Its writers are built once,
// one per status class, so a request costs no map of dimensions.
type routeMetrics struct {
	command bool
	byClass [6]*emf.Writer // index: status / 100
	gauges  func() []emf.Metric
}

func newRouteMetrics(w *emf.Writer, gauges func() []emf.Metric, route topology.Route, pattern string) *routeMetrics {
	if !w.Enabled() {
		return nil
	}
	m := &routeMetrics{command: route.Method != http.MethodGet && route.OperationID != "", gauges: gauges}
	for c := 1; c < len(m.byClass); c++ {
		dims := map[string]string{metrics.Route: pattern, metrics.StatusClass: string(rune('0'+c)) + "xx"}
		if m.command {
			dims[metrics.Kind] = route.OperationID
		}
		m.byClass[c] = w.WithDimensions(dims)
	}
	return m
}

// measure wraps h to time it and write its line.
func (m *routeMetrics) measure(h http.HandlerFunc) http.HandlerFunc {
	if m == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		m.emit(sw.status(), time.Since(start))
	}
}

func (m *routeMetrics) emit(status int, took time.Duration) {
	class := status / 100
	if class < 1 || class >= len(m.byClass) {
		class = 5
	}
	line := make([]emf.Metric, 0, 6)
	line = append(line,
		emf.Metric{Name: "Requests", Value: 1, Dimensions: []string{metrics.Function, metrics.Route, metrics.StatusClass}},
		emf.Metric{Name: "RequestLatency", Unit: metrics.Milliseconds, Value: float64(took.Microseconds()) / 1000,
			Dimensions: []string{metrics.Function, metrics.Route}})
	if m.command && class == 2 {
		line = append(line, emf.Metric{Name: "Commands", Value: 1, Dimensions: []string{metrics.Function, metrics.Kind}})
	}
	if m.gauges != nil {
		line = append(line, m.gauges()...)
	}
	m.byClass[class].Emit(line...)
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
