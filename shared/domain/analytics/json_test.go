package analytics

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

func TestMetricJSON(t *testing.T) {
	for _, c := range []struct {
		m    Metric
		want string
	}{
		{val(0.125), `{"value":0.125}`},
		{val(-1e-7), `{"value":-1e-07}`},
		{absent("needs \"2\" days"), `{"value":null,"reason":"needs \"2\" days"}`},
		{val(math.NaN()), `{"value":null,"reason":"` + reasonNotFinite + `"}`},
		{Metric{Value: math.Inf(1), OK: true}, `{"value":null,"reason":"` + reasonNotFinite + `"}`},
	} {
		b, err := json.Marshal(c.m)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("marshal %+v = %s, want %s", c.m, b, c.want)
		}
		var back Metric
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if v, ok := c.m.Get(); ok != back.OK || ok && v != back.Value {
			t.Errorf("round trip %+v → %+v", c.m, back)
		}
	}
	var m Metric
	if err := json.Unmarshal([]byte(`{"value":null}`), &m); err == nil {
		t.Error("absent metric without reason accepted")
	}
}

// The report marshals with camelCase keys, dates as YYYY-MM-DD and absent figures as
// null with a reason.
func TestReportJSON(t *testing.T) {
	s := series("2024-01-01", 100, fromReturns(100, coreSeries()), nil)
	r := Compute(s, Options{
		Holdings:  []Holding{{Symbol: "A", Value: 1, Closes: []float64{1, 2, 3, 2, 1}}, {Symbol: "B", Value: 2, Closes: []float64{3, 2, 1, 2, 3}}},
		Benchmark: &Benchmark{Days: []calendar.Date{day("2024-01-01"), day("2024-01-02")}, Closes: []float64{1, 2}},
	})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		`"from":"2024-01-01"`, `"to":"2024-01-05"`, `"calendarDays":5`, `"tradingDays":5`,
		`"totalReturn":{"value":`, `"twr":{"period":{"value":`, `"annualized":{"value":null,"reason":"the range is shorter than 365 days`,
		`"mwr":`, `"meanReturn":`, `"volatility":{"daily":`, `"downsideDeviation":`, `"sharpe":`, `"sortino":`,
		`"maxDrawdown":{"value":{"value":0.0199999`, `"peakDate":"2024-01-01"`, `"troughDate":"2024-01-02"`, `"recoveryDate":"2024-01-03"`,
		`"valueAtRisk":{"historical95":{"var":`, `"cvar":`, `"parametric99":`,
		`"benchmark":{"symbol":"SPY","observations":1,`, `"beta":{"value":null,"reason":"needs at least 2 common returns`,
		`"diversification":{"holdings":2,"hhi":`, `"largestSymbol":"B"`,
		`"correlation":{"symbols":["B","A"],"matrix":[[1,-0.85185185`,
	} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	empty, err := json.Marshal(Compute(nil, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(empty), `"from":null`) || !strings.Contains(string(empty), `"matrix":[]`) {
		t.Errorf("empty report: %s", empty)
	}
}
