package emf_test

import (
	"bytes"
	"encoding/json"
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
