package emf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// A derived writer adds its dimensions and clock to its lines and leaves its
// parent's as they were.
func TestDerivedWritersAddDimensionsAndClock(t *testing.T) {
	var out bytes.Buffer
	at := time.Date(2025, 6, 30, 21, 0, 0, 0, time.UTC)
	base := emf.New(&out, map[string]string{"Function": "analytics"}).WithClock(func() time.Time { return at })
	base.WithDimensions(map[string]string{"Mode": "daily"}).Emit(emf.Metric{Name: "RunDuration", Unit: "Milliseconds", Value: 12})
	base.Emit(emf.Metric{Name: "StreamRecords", Value: 0})

	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), out.Bytes())
	}
	type line struct {
		Function, Mode string
		AWS            struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	var daily, stream line
	if err := json.Unmarshal(lines[0], &daily); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &stream); err != nil {
		t.Fatal(err)
	}
	m := daily.AWS.CloudWatchMetrics
	if daily.Function != "analytics" || daily.Mode != "daily" || daily.AWS.Timestamp != at.UnixMilli() || len(m) != 1 ||
		m[0].Namespace != emf.Namespace || len(m[0].Dimensions) != 1 || len(m[0].Dimensions[0]) != 2 ||
		m[0].Dimensions[0][0] != "Function" || m[0].Dimensions[0][1] != "Mode" || m[0].Metrics[0].Unit != "Milliseconds" {
		t.Errorf("daily line %s", lines[0])
	}
	m = stream.AWS.CloudWatchMetrics
	if stream.Mode != "" || stream.AWS.Timestamp != at.UnixMilli() || len(m[0].Dimensions[0]) != 1 || m[0].Metrics[0].Unit != "Count" {
		t.Errorf("stream line %s", lines[1])
	}
}

// emfLine is one line as CloudWatch reads it.
type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Rest map[string]any `json:"-"`
}

func parseLines(t *testing.T, out []byte) []emfLine {
	t.Helper()
	var lines []emfLine
	for _, raw := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var l emfLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("not JSON: %v: %s", err, raw)
		}
		if err := json.Unmarshal(raw, &l.Rest); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	return lines
}

// A metric aggregated by some of the line's dimensions gets a directive of its
// own: a latency by route, a count by route and status class, on one line.
func TestMetricsWithTheirOwnDimensionSets(t *testing.T) {
	var out bytes.Buffer
	w := emf.New(&out, map[string]string{"Function": "api"}).WithDimensions(map[string]string{"Route": "GET /x", "StatusClass": "2xx"})
	w.Emit(emf.Metric{Name: "Requests", Value: 1, Dimensions: []string{"Function", "Route", "StatusClass"}},
		emf.Metric{Name: "RequestLatency", Unit: "Milliseconds", Value: 1.5, Dimensions: []string{"Function", "Route"}},
		emf.Metric{Name: "DatabasePoolIdle", Value: 2, Dimensions: []string{"Function"}})
	lines := parseLines(t, out.Bytes())
	if len(lines) != 1 {
		t.Fatalf("%d lines", len(lines))
	}
	d := lines[0].AWS.CloudWatchMetrics
	if len(d) != 3 || !slices.Equal(d[0].Dimensions[0], []string{"Function", "Route", "StatusClass"}) || d[0].Metrics[0].Name != "Requests" ||
		!slices.Equal(d[1].Dimensions[0], []string{"Function", "Route"}) || d[1].Metrics[0].Unit != "Milliseconds" ||
		!slices.Equal(d[2].Dimensions[0], []string{"Function"}) {
		t.Errorf("directives %+v", d)
	}
	r := lines[0].Rest
	if r["Route"] != "GET /x" || r["StatusClass"] != "2xx" || r["RequestLatency"] != 1.5 || r["Requests"] != 1.0 {
		t.Errorf("values %s", out.Bytes())
	}
}

// CloudWatch's limits: at most 100 metrics a line, 100 values a metric, 30
// dimensions a set; what is larger is split, nothing is lost.
func TestLinesKeepToCloudWatchsLimits(t *testing.T) {
	var out bytes.Buffer
	dims := map[string]string{}
	for i := range 35 {
		dims[fmt.Sprintf("D%02d", i)] = "v"
	}
	w := emf.New(&out, dims)
	var ms []emf.Metric
	for i := range 150 {
		ms = append(ms, emf.Metric{Name: fmt.Sprintf("M%03d", i), Value: float64(i)})
	}
	values := make([]float64, 250)
	for i := range values {
		values[i] = float64(i)
	}
	ms = append(ms, emf.Metric{Name: "Lag", Unit: "Milliseconds", Values: values}, emf.Metric{Name: "Empty", Values: []float64{}},
		emf.Metric{Name: "NaN", Value: math.NaN()})
	w.Emit(ms...)
	lines := parseLines(t, out.Bytes())
	metrics, lagValues := 0, 0
	for _, l := range lines {
		n := 0
		for _, d := range l.AWS.CloudWatchMetrics {
			n += len(d.Metrics)
			if len(d.Dimensions[0]) > emf.MaxDimensionsPerSet {
				t.Errorf("%d dimensions in a set", len(d.Dimensions[0]))
			}
		}
		if n > emf.MaxMetricsPerLine {
			t.Errorf("%d metrics on a line", n)
		}
		metrics += n
		if vs, ok := l.Rest["Lag"].([]any); ok {
			if len(vs) > emf.MaxValuesPerMetric {
				t.Errorf("%d values of Lag on a line", len(vs))
			}
			lagValues += len(vs)
		}
		if _, ok := l.Rest["Empty"]; ok {
			t.Errorf("an empty list of values was written: %v", l.Rest)
		}
		if _, ok := l.Rest["NaN"]; ok {
			t.Errorf("NaN was written")
		}
	}
	if metrics != 150+3 || lagValues != 250 {
		t.Errorf("%d metric definitions (want 153: 150 and Lag's 3 chunks), %d Lag values", metrics, lagValues)
	}
}

// Dimension values are escaped as JSON strings, whatever they hold.
func TestDimensionValuesAreEscaped(t *testing.T) {
	var out bytes.Buffer
	emf.New(&out, map[string]string{"Function": "a\"b\\c\nd\x01é\xff"}).Emit(emf.Metric{Name: "Requests", Value: 1})
	lines := parseLines(t, out.Bytes())
	if got := lines[0].Rest["Function"]; got != "a\"b\\c\nd\x01é\ufffd" {
		t.Errorf("Function %q", got)
	}
}

// A nil writer, or one to nothing, discards.
func TestDisabledWriters(t *testing.T) {
	var w *emf.Writer
	w.Emit(emf.Metric{Name: "Requests", Value: 1})
	if w.Enabled() || emf.New(nil, nil).Enabled() || w.WithDimensions(map[string]string{"Kind": "x"}) != nil {
		t.Error("a nil writer is enabled")
	}
}

// Once the stage is set, every line carries it and every dimension set has it,
// an explicit one (a latency by Function and Route) too: the metrics of two
// stages in one account never mix.
func TestTheStageIsInEveryDimensionSet(t *testing.T) {
	emf.SetStage("prod")
	t.Cleanup(func() { emf.SetStage("") })
	var out bytes.Buffer
	emf.New(&out, map[string]string{"Function": "api", "Route": "GET /x", "StatusClass": "2xx"}).Emit(
		emf.Metric{Name: "Requests", Value: 1},
		emf.Metric{Name: "RequestLatency", Unit: "Milliseconds", Value: 3, Dimensions: []string{"Function", "Route"}})
	var line struct {
		Stage string
		AWS   struct {
			CloudWatchMetrics []struct{ Dimensions [][]string }
		} `json:"_aws"`
	}
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatal(err, out.String())
	}
	var sets [][]string
	for _, d := range line.AWS.CloudWatchMetrics {
		sets = append(sets, d.Dimensions...)
	}
	want := [][]string{{"Function", "Route", "StatusClass", "Stage"}, {"Function", "Route", "Stage"}}
	if line.Stage != "prod" || !slices.EqualFunc(sets, want, slices.Equal) {
		t.Errorf("Stage %q, sets %v, want prod and %v: %s", line.Stage, sets, want, out.String())
	}
	out.Reset()
	emf.SetStage("")
	emf.New(&out, map[string]string{"Function": "api"}).Emit(emf.Metric{Name: "Requests", Value: 1})
	if bytes.Contains(out.Bytes(), []byte("Stage")) {
		t.Errorf("no stage set, yet %s", out.String())
	}
}
