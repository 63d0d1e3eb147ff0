// Package emf writes CloudWatch Embedded Metric Format lines: one JSON object per
// line on stdout, which CloudWatch Logs turns into metrics without an API call
// (docs/architecture.md §4; there is no official Powertools for Go). The
// projector's stream handler and the prices consumer write through it.
package emf

import (
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric the project emits.
const Namespace = "PortfolioTracker"

// Metric is one named count or duration.
type Metric struct {
	Name  string
	Unit  string // "Count", "Milliseconds", ...
	Value float64
}

// Writer writes EMF lines. Its zero value discards; it is safe for concurrent use.
type Writer struct {
	mu         sync.Mutex
	w          io.Writer
	dimensions map[string]string
	now        func() time.Time
}

// New returns a writer to w whose lines carry the given dimensions (for example
// {"Function": "projector"}).
func New(w io.Writer, dimensions map[string]string) *Writer {
	return &Writer{w: w, dimensions: dimensions, now: time.Now}
}

// Emit writes one line with the metrics. Zero-valued metrics are written too: a
// zero is a data point ("no poison records in this batch").
func (e *Writer) Emit(metrics ...Metric) {
	if e == nil || e.w == nil || len(metrics) == 0 {
		return
	}
	keys := make([]string, 0, len(e.dimensions))
	for k := range e.dimensions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	defs := make([]map[string]string, len(metrics))
	line := make(map[string]any, len(metrics)+len(keys)+1)
	for k, v := range e.dimensions {
		line[k] = v
	}
	for i, m := range metrics {
		unit := m.Unit
		if unit == "" {
			unit = "Count"
		}
		defs[i] = map[string]string{"Name": m.Name, "Unit": unit}
		line[m.Name] = m.Value
	}
	dims := [][]string{keys}
	line["_aws"] = map[string]any{
		"Timestamp": e.now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": dims,
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(b)
}
