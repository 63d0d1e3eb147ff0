package analyticsjob

import (
	"encoding/json"
	"io"
	"slices"
	"sync"
	"time"
)

// emf writes CloudWatch Embedded Metric Format lines (docs/architecture.md §4), in the
// PortfolioTracker namespace the other functions use (readmodel's emf package is
// internal to it, and this is the whole of it that the job needs).
type emf struct {
	mu sync.Mutex
	w  io.Writer
}

type metric struct {
	name  string
	unit  string
	value float64
}

// emit writes one line with dims as the dimensions. Zeros are data points too.
func (e *emf) emit(dims map[string]string, at time.Time, metrics ...metric) {
	if e == nil || e.w == nil {
		return
	}
	keys := make([]string, 0, len(dims))
	line := make(map[string]any, len(dims)+len(metrics)+1)
	for k, v := range dims {
		keys = append(keys, k)
		line[k] = v
	}
	slices.Sort(keys)
	defs := make([]map[string]string, len(metrics))
	for i, m := range metrics {
		unit := m.unit
		if unit == "" {
			unit = "Count"
		}
		defs[i] = map[string]string{"Name": m.name, "Unit": unit}
		line[m.name] = m.value
	}
	line["_aws"] = map[string]any{
		"Timestamp":         at.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{"Namespace": "PortfolioTracker", "Dimensions": [][]string{keys}, "Metrics": defs}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}
