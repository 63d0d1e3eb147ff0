// Package emf writes CloudWatch Embedded Metric Format lines: one JSON object per
// line on stdout, which CloudWatch Logs turns into metrics without an API call
// (docs/architecture.md §4; there is no official Powertools for Go). The
// projector's stream handler, the prices consumer and the analytics job write
// through it.
package emf

import (
	"encoding/json"
	"io"
	"maps"
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
	mu         *sync.Mutex // shared with the writers derived from this one: one line at a time on w
	w          io.Writer
	dimensions map[string]string
	now        func() time.Time
}

// New returns a writer to w whose lines carry the given dimensions (for example
// {"Function": "projector"}).
func New(w io.Writer, dimensions map[string]string) *Writer {
	return &Writer{mu: &sync.Mutex{}, w: w, dimensions: dimensions, now: time.Now}
}

// WithDimensions returns a writer to the same output whose lines carry dimensions
// besides e's (a scheduled run's {"Mode": "daily"}); a name in both takes the new
// value.
func (e *Writer) WithDimensions(dimensions map[string]string) *Writer {
	if e == nil {
		return nil
	}
	d := *e
	d.dimensions = make(map[string]string, len(e.dimensions)+len(dimensions))
	maps.Copy(d.dimensions, e.dimensions)
	maps.Copy(d.dimensions, dimensions)
	return &d
}

// WithClock returns a writer to the same output whose lines are stamped with
// now() (a job's injectable clock) instead of time.Now().
func (e *Writer) WithClock(now func() time.Time) *Writer {
	if e == nil {
		return nil
	}
	d := *e
	d.now = now
	return &d
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
