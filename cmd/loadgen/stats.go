package main

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// durations: the smallest sample at or above p percent of them. Zero for no
// samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// outcomeTransport is the outcome of a request that got no HTTP answer
// (connection refused or reset, timeout).
const outcomeTransport = "transport"

// recorder collects each route's latencies and outcomes. Safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	routes map[string]*samples
}

type samples struct {
	latencies []time.Duration // of every request that got an answer
	outcomes  map[string]int  // HTTP status ("201", "413") or outcomeTransport
}

func newRecorder() *recorder { return &recorder{routes: map[string]*samples{}} }

// add records one request of route: its status (0: no answer) and latency.
func (r *recorder) add(route string, status int, took time.Duration) {
	outcome := outcomeTransport
	if status > 0 {
		outcome = strconv.Itoa(status)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.routes[route]
	if s == nil {
		s = &samples{outcomes: map[string]int{}}
		r.routes[route] = s
	}
	s.outcomes[outcome]++
	if status > 0 {
		s.latencies = append(s.latencies, took)
	}
}

// routeStats is one route's figures in a report.
type routeStats struct {
	Route string `json:"route"`
	Count int    `json:"count"`
	// OK counts 2xx answers (and 101 for a WebSocket handshake).
	OK int `json:"ok"`
	// Errors counts the other outcomes: HTTP statuses, or "transport".
	Errors    map[string]int `json:"errors,omitempty"`
	PerSecond float64        `json:"perSecond"`
	P50       millis         `json:"p50Ms"`
	P99       millis         `json:"p99Ms"`
	Max       millis         `json:"maxMs"`
}

// millis is a duration reported in milliseconds.
type millis float64

func ms(d time.Duration) millis { return millis(float64(d.Microseconds()) / 1000) }

func (m millis) duration() time.Duration {
	return time.Duration(float64(m) * float64(time.Millisecond))
}

// allRoutes names the row that sums every route.
const allRoutes = "all requests"

// stats returns each route's figures over elapsed, in route order, then the
// sum of all of them.
func (r *recorder) stats(elapsed time.Duration) []routeStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []routeStats
	all := &samples{outcomes: map[string]int{}}
	for _, route := range slices.Sorted(maps.Keys(r.routes)) {
		s := r.routes[route]
		out = append(out, s.stats(route, elapsed))
		all.latencies = append(all.latencies, s.latencies...)
		for k, n := range s.outcomes {
			all.outcomes[k] += n
		}
	}
	if len(out) > 1 {
		out = append(out, all.stats(allRoutes, elapsed))
	}
	return out
}

func (s *samples) stats(route string, elapsed time.Duration) routeStats {
	lat := slices.Clone(s.latencies)
	slices.Sort(lat)
	st := routeStats{Route: route, P50: ms(percentile(lat, 50)), P99: ms(percentile(lat, 99))}
	if len(lat) > 0 {
		st.Max = ms(lat[len(lat)-1])
	}
	for outcome, n := range s.outcomes {
		st.Count += n
		if code, err := strconv.Atoi(outcome); err == nil && (code >= 200 && code < 300 || code == http.StatusSwitchingProtocols) {
			st.OK += n
			continue
		}
		if st.Errors == nil {
			st.Errors = map[string]int{}
		}
		st.Errors[outcome] += n
	}
	if elapsed > 0 {
		st.PerSecond = float64(st.Count) / elapsed.Seconds()
	}
	return st
}

// latencyStats summarises a set of latencies.
type latencyStats struct {
	Count int    `json:"count"`
	P50   millis `json:"p50Ms"`
	P99   millis `json:"p99Ms"`
	Max   millis `json:"maxMs"`
}

func summarise(lat []time.Duration) latencyStats {
	lat = slices.Clone(lat)
	slices.Sort(lat)
	st := latencyStats{Count: len(lat), P50: ms(percentile(lat, 50)), P99: ms(percentile(lat, 99))}
	if len(lat) > 0 {
		st.Max = ms(lat[len(lat)-1])
	}
	return st
}
