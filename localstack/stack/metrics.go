package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// metricsCollector reads the CloudWatch EMF lines the functions write to
// stdout (shared/platform/emf) and aggregates them as CloudWatch would, one
// series per metric and dimension set, for the admin endpoint's GET /metrics
// (JSON, or Prometheus' text exposition with ?format=prometheus). It keeps the
// newest maxSamples values of each series for its percentiles.
type metricsCollector struct {
	mu      sync.Mutex
	series  map[string]*series // by seriesKey
	lines   int64
	bad     int64               // lines that start like EMF but do not decode
	unknown map[string][]string // names not in the catalogue, by function
}

const maxSamples = 2048

// series is one metric under one set of dimension values.
type series struct {
	Name       string            `json:"name"`
	Unit       string            `json:"unit"`
	Dimensions map[string]string `json:"dimensions"`
	Count      int64             `json:"count"` // values received
	Sum        float64           `json:"sum"`
	Min        float64           `json:"min"`
	Max        float64           `json:"max"`
	Last       float64           `json:"last"`
	P50        float64           `json:"p50"`
	P90        float64           `json:"p90"`
	P99        float64           `json:"p99"`
	samples    []float64         // ring of the newest maxSamples
	next       int
}

func newMetricsCollector() *metricsCollector {
	return &metricsCollector{series: map[string]*series{}, unknown: map[string][]string{}}
}

// tee returns a writer that passes each line on to next and reads the EMF
// ones. The runtime writes one whole line per Write, prefixed "[name#n] ".
func (c *metricsCollector) tee(next io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		line := p
		if len(line) > 0 && line[0] == '[' {
			if i := bytes.Index(line, []byte("] ")); i > 0 {
				line = line[i+2:]
			}
		}
		if bytes.HasPrefix(line, []byte(`{"_aws":`)) {
			c.read(line)
		}
		return next.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// emfDocument is the part of an EMF line that says what it holds.
type emfDocument struct {
	AWS struct {
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

// read adds one EMF line's values to their series.
func (c *metricsCollector) read(line []byte) {
	var doc emfDocument
	var root map[string]json.RawMessage
	if json.Unmarshal(line, &doc) != nil || json.Unmarshal(line, &root) != nil {
		c.mu.Lock()
		c.bad++
		c.mu.Unlock()
		return
	}
	text := func(k string) string {
		var s string
		_ = json.Unmarshal(root[k], &s)
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines++
	for _, d := range doc.AWS.CloudWatchMetrics {
		if d.Namespace != emf.Namespace {
			continue
		}
		for _, set := range d.Dimensions {
			dims := make(map[string]string, len(set))
			for _, k := range set {
				dims[k] = text(k)
			}
			for _, m := range d.Metrics {
				if _, ok := metrics.Lookup(m.Name); !ok {
					fn := dims[metrics.Function]
					if !slices.Contains(c.unknown[fn], m.Name) {
						c.unknown[fn] = append(c.unknown[fn], m.Name)
					}
				}
				c.add(m.Name, m.Unit, dims, values(root[m.Name]))
			}
		}
	}
}

// values reads a metric's value: a number or a list of numbers.
func values(raw json.RawMessage) []float64 {
	var v float64
	if json.Unmarshal(raw, &v) == nil {
		return []float64{v}
	}
	var vs []float64
	_ = json.Unmarshal(raw, &vs)
	return vs
}

func seriesKey(name string, dims map[string]string) string {
	var b strings.Builder
	b.WriteString(name)
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		b.WriteString("\x00" + k + "=" + dims[k])
	}
	return b.String()
}

func (c *metricsCollector) add(name, unit string, dims map[string]string, vs []float64) {
	if len(vs) == 0 {
		return
	}
	key := seriesKey(name, dims)
	s := c.series[key]
	if s == nil {
		s = &series{Name: name, Unit: unit, Dimensions: dims, Min: math.Inf(1), Max: math.Inf(-1)}
		c.series[key] = s
	}
	for _, v := range vs {
		s.Count++
		s.Sum += v
		s.Min, s.Max, s.Last = min(s.Min, v), max(s.Max, v), v
		if len(s.samples) < maxSamples {
			s.samples = append(s.samples, v)
		} else {
			s.samples[s.next] = v
			s.next = (s.next + 1) % maxSamples
		}
	}
}

// metricsFilter picks series: by name and by dimension values (all given
// must match).
type metricsFilter struct {
	name string
	dims map[string]string
}

// snapshot copies the series the filter picks, with their percentiles, in
// name then dimensions order.
func (c *metricsCollector) snapshot(f metricsFilter) []series {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []series
	for _, key := range slices.Sorted(maps.Keys(c.series)) {
		s := c.series[key]
		if f.name != "" && s.Name != f.name {
			continue
		}
		match := true
		for k, v := range f.dims {
			if s.Dimensions[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		cp := *s
		cp.Dimensions = maps.Clone(s.Dimensions)
		sorted := slices.Sorted(slices.Values(s.samples))
		cp.P50, cp.P90, cp.P99 = quantile(sorted, 0.5), quantile(sorted, 0.9), quantile(sorted, 0.99)
		cp.samples = nil
		out = append(out, cp)
	}
	return out
}

// quantile is the nearest-rank quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// serveMetrics is GET /metrics: every series (?name= and ?<Dimension>=
// filter), as JSON or, with ?format=prometheus, Prometheus' text exposition.
func (c *metricsCollector) serveMetrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := metricsFilter{name: q.Get("name"), dims: map[string]string{}}
	for k, v := range q {
		if k != "name" && k != "format" && len(v) > 0 {
			f.dims[k] = v[0]
		}
	}
	list := c.snapshot(f)
	switch q.Get("format") {
	case "", "json":
		c.mu.Lock()
		body := map[string]any{"namespace": emf.Namespace, "lines": c.lines, "undecodable": c.bad, "uncatalogued": maps.Clone(c.unknown), "series": list}
		c.mu.Unlock()
		if list == nil {
			body["series"] = []series{}
		}
		writeJSON(w, http.StatusOK, body)
	case "prometheus":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = io.WriteString(w, prometheusText(list))
	default:
		writeError(w, http.StatusBadRequest, "bad_format", "format must be json or prometheus")
	}
}

// prometheusText writes the series in Prometheus' text exposition format: a
// Count metric as a counter (portfoliotracker_requests_total), a duration as a
// summary in milliseconds (…_milliseconds{quantile="0.99"}, _sum, _count).
// Dimensions become snake_case labels.
func prometheusText(list []series) string {
	var b strings.Builder
	typed := map[string]bool{}
	for _, s := range list {
		base := "portfoliotracker_" + snake(s.Name)
		labels := promLabels(s.Dimensions, "")
		if s.Unit == metrics.Milliseconds {
			name := base + "_milliseconds"
			if !typed[name] {
				typed[name] = true
				fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s summary\n", name, help(s.Name), name)
			}
			for _, q := range []struct {
				q string
				v float64
			}{{"0.5", s.P50}, {"0.9", s.P90}, {"0.99", s.P99}} {
				fmt.Fprintf(&b, "%s%s %s\n", name, promLabels(s.Dimensions, q.q), num(q.v))
			}
			fmt.Fprintf(&b, "%s_sum%s %s\n%s_count%s %d\n", name, labels, num(s.Sum), name, labels, s.Count)
			continue
		}
		name := base + "_total"
		if !typed[name] {
			typed[name] = true
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", name, help(s.Name), name)
		}
		fmt.Fprintf(&b, "%s%s %s\n", name, labels, num(s.Sum))
	}
	return b.String()
}

func help(name string) string {
	if d, ok := metrics.Lookup(name); ok {
		return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(d.Meaning)
	}
	return name + " (not in the catalogue)"
}

func promLabels(dims map[string]string, quantile string) string {
	keys := slices.Sorted(maps.Keys(dims))
	if len(keys) == 0 && quantile == "" {
		return ""
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, snake(k)+`="`+strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(dims[k])+`"`)
	}
	if quantile != "" {
		parts = append(parts, `quantile="`+quantile+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// snake turns a CamelCase name into snake_case: TickToPush → tick_to_push.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
