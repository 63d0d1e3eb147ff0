// Package emf writes CloudWatch Embedded Metric Format lines: one JSON object per
// line on stdout, which CloudWatch Logs turns into metrics without an API call
// (docs/architecture.md §4, docs/observability.md; there is no official
// Powertools for Go). Every function writes through it, and every name it writes
// is one of shared/platform/metrics' catalogue (a test holds the emitters to it).
//
// A line is {"_aws":{"Timestamp":ms,"CloudWatchMetrics":[{"Namespace",
// "Dimensions":[[...]],"Metrics":[{"Name","Unit"}]}]}, dimension values...,
// metric values...}. CloudWatch takes at most 100 metrics per line, 100 values
// per metric and 30 dimensions per set: the writer splits what is larger into
// several lines, and keeps the first 30 dimensions (sorted by name) of a set.
package emf

import (
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Namespace is the CloudWatch namespace of every metric the project emits.
const Namespace = "PortfolioTracker"

// StageDimension is on every line and in every dimension set once SetStage
// named the stage, so that two stages in one account and region (dev and
// prod, each with its Function="api") never share a metric.
const StageDimension = "Stage"

var stage atomic.Pointer[string]

// SetStage makes s (the STAGE setting: dev, prod, local) the Stage dimension
// of every line every writer writes from now on, and a dimension of every set;
// "" leaves it out. A function's start calls it (functions/edge/lambdatrace),
// before its first invocation, so writers built at package initialisation
// carry it too.
func SetStage(s string) { stage.Store(&s) }

func currentStage() string {
	if s := stage.Load(); s != nil {
		return *s
	}
	return ""
}

// CloudWatch's limits on one EMF line.
const (
	MaxMetricsPerLine   = 100
	MaxValuesPerMetric  = 100
	MaxDimensionsPerSet = 30
	defaultUnit         = "Count"
)

// Metric is one named count or duration.
type Metric struct {
	Name  string
	Unit  string // "Count" (the default), "Milliseconds", ...
	Value float64
	// Values, when not nil, are several observations of the metric (each
	// record's lag in a batch) written instead of Value: CloudWatch counts each
	// in the statistics, so percentiles stay right. An empty list writes
	// nothing (no observation is not a zero).
	Values []float64
	// Dimensions names the writer's dimensions this metric is aggregated by
	// (a latency by {"Function","Route"} on a line that also carries
	// StatusClass); nil means all of them. A name the writer lacks is left out.
	Dimensions []string
}

// Writer writes EMF lines. Its zero value discards; it is safe for concurrent use.
type Writer struct {
	mu         *sync.Mutex // shared with the writers derived from this one: one line at a time on w
	w          io.Writer
	dimensions map[string]string
	keys       []string // dimensions' names, sorted
	now        func() time.Time
}

// New returns a writer to w whose lines carry the given dimensions (for example
// {"Function": "projector"}). A nil w discards.
func New(w io.Writer, dimensions map[string]string) *Writer {
	return &Writer{mu: &sync.Mutex{}, w: w, dimensions: dimensions, keys: slices.Sorted(maps.Keys(dimensions)), now: time.Now}
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
	d.keys = slices.Sorted(maps.Keys(d.dimensions))
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

// Enabled reports whether lines go anywhere: a caller may skip gathering
// what only a metric needs.
func (e *Writer) Enabled() bool { return e != nil && e.w != nil }

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Emit writes the metrics: one line, or several when CloudWatch's limits call
// for it. Zero-valued metrics are written too: a zero is a data point ("no
// poison records in this batch"). A metric whose value is NaN or infinite, or
// with no name, is left out (JSON has no such number).
func (e *Writer) Emit(metrics ...Metric) {
	if !e.Enabled() || len(metrics) == 0 {
		return
	}
	for _, line := range e.split(metrics) {
		bp := buffers.Get().(*[]byte)
		b := e.appendLine((*bp)[:0], line)
		e.mu.Lock()
		_, _ = e.w.Write(b)
		e.mu.Unlock()
		*bp = b
		buffers.Put(bp)
	}
}

// split cuts the metrics into lines CloudWatch accepts: at most
// MaxMetricsPerLine metrics, each with at most MaxValuesPerMetric values.
func (e *Writer) split(metrics []Metric) [][]Metric {
	if fits(metrics) {
		return [][]Metric{metrics}
	}
	var valid []Metric
	for _, m := range metrics {
		if m.Name == "" || m.Values == nil && !finite(m.Value) {
			continue
		}
		if m.Values != nil {
			vs := slices.DeleteFunc(slices.Clone(m.Values), func(v float64) bool { return !finite(v) })
			for len(vs) > 0 {
				n := min(len(vs), MaxValuesPerMetric)
				c := m
				c.Values = vs[:n:n]
				valid = append(valid, c)
				vs = vs[n:]
			}
			continue
		}
		valid = append(valid, m)
	}
	// A name appears at most once per line: chunks of one metric's values go
	// to lines of their own.
	var lines [][]Metric
	var cur []Metric
	seen := map[string]bool{}
	for _, m := range valid {
		if len(cur) == MaxMetricsPerLine || seen[m.Name] {
			lines, cur, seen = append(lines, cur), nil, map[string]bool{}
		}
		cur = append(cur, m)
		seen[m.Name] = true
	}
	if len(cur) > 0 {
		lines = append(lines, cur)
	}
	return lines
}

// fits reports whether metrics make one valid line as they are (the usual
// case, which then costs no copy).
func fits(metrics []Metric) bool {
	if len(metrics) > MaxMetricsPerLine {
		return false
	}
	for _, m := range metrics {
		if m.Name == "" || m.Values == nil && !finite(m.Value) || m.Values != nil && (len(m.Values) == 0 || len(m.Values) > MaxValuesPerMetric) {
			return false
		}
		for _, v := range m.Values {
			if !finite(v) {
				return false
			}
		}
	}
	return true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// appendLine appends one EMF line (with its newline) to b. It is written by
// hand, not with encoding/json, because the API writes one per request.
func (e *Writer) appendLine(b []byte, metrics []Metric) []byte {
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, e.now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[`...)
	// One directive per distinct dimension set, in order of first use.
	var setsBuf [8][]string
	var doneBuf [8]bool
	sets, done := setsBuf[:0], doneBuf[:0]
	stage := currentStage()
	if _, own := e.dimensions[StageDimension]; own {
		stage = "" // the writer's own value is written, and in its sets, as any dimension's
	}
	for _, m := range metrics {
		sets, done = append(sets, e.dimensionSet(m.Dimensions, stage != "")), append(done, false)
	}
	first := true
	for i := range metrics {
		if done[i] {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"Namespace":`...)
		b = appendString(b, Namespace)
		b = append(b, `,"Dimensions":[[`...)
		for j, k := range sets[i] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
		}
		b = append(b, `]],"Metrics":[`...)
		n := 0
		for j := i; j < len(metrics); j++ {
			if done[j] || !slices.Equal(sets[j], sets[i]) {
				continue
			}
			done[j] = true
			if n > 0 {
				b = append(b, ',')
			}
			n++
			unit := metrics[j].Unit
			if unit == "" {
				unit = defaultUnit
			}
			b = append(b, `{"Name":`...)
			b = appendString(b, metrics[j].Name)
			b = append(b, `,"Unit":`...)
			b = appendString(b, unit)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	for _, k := range e.keys {
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, e.dimensions[k])
	}
	if stage != "" {
		b = append(b, `,"`+StageDimension+`":`...)
		b = appendString(b, stage)
	}
	for _, m := range metrics {
		b = append(b, ',')
		b = appendString(b, m.Name)
		b = append(b, ':')
		if len(m.Values) == 0 {
			b = strconv.AppendFloat(b, m.Value, 'g', -1, 64)
			continue
		}
		b = append(b, '[')
		for j, v := range m.Values {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// dimensionSet is the writer's dimension names a metric is aggregated by, at
// most MaxDimensionsPerSet of them; withStage: and Stage, whatever names says.
func (e *Writer) dimensionSet(names []string, withStage bool) []string {
	set := e.keys
	if names != nil {
		set = make([]string, 0, len(names)+1)
		for _, k := range e.keys {
			if slices.Contains(names, k) {
				set = append(set, k)
			}
		}
	}
	if withStage {
		if names == nil {
			set = slices.Clip(set) // e.keys: append to a copy
		}
		set = append(set[:min(len(set), MaxDimensionsPerSet-1)], StageDimension)
	}
	if len(set) > MaxDimensionsPerSet {
		set = set[:MaxDimensionsPerSet]
	}
	return set
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
