package analytics

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// fuzzNumber turns two bytes into a value with a wide range of magnitudes and the
// awkward ones (0, negative, tiny, huge, and rarely NaN/Inf).
func fuzzNumber(b0, b1 byte) float64 {
	switch b0 {
	case 0:
		return 0
	case 1:
		return math.NaN()
	case 2:
		return math.Inf(1)
	case 3:
		return -float64(b1)
	case 4:
		return 1e300 * float64(b1)
	case 5:
		return 1e-300 * float64(b1)
	}
	return float64(b0)*float64(b1)/16 + 0.01*float64(b0&7)
}

// FuzzCompute: whatever the series, benchmark and holdings, the report marshals to
// JSON (which rejects NaN and ±Inf in plain fields) without "NaN"/"Inf" text, and
// every OK metric is finite.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}, 0.02, int16(0), int16(400), int8(3))
	f.Add([]byte{0, 0, 0, 0, 0, 0}, 0.0, int16(-5), int16(2), int8(0))
	f.Add([]byte{4, 255, 5, 1, 4, 255, 5, 1, 6, 6}, math.Inf(1), int16(3), int16(1), int8(-1))
	f.Add([]byte{3, 9, 7, 7, 3, 9, 1, 0, 2, 0, 9, 9, 8, 8}, -0.5, int16(1), int16(1), int8(2))
	f.Fuzz(func(t *testing.T, data []byte, rf float64, from, to int16, top int8) {
		if len(data) > 4096 {
			data = data[:4096]
		}
		// Per day: value, inflow, outflow, benchmark close, a holding close: 10 bytes.
		n := len(data) / 10
		d0 := calendar.MustNew(2023, 12, 28)
		s := &performance.Series{Start: 100}
		var bd []calendar.Date
		var bc []float64
		hA := Holding{Symbol: "A", Value: 3}
		hB := Holding{Symbol: "B", Value: 1}
		for i := range n {
			b := data[i*10 : i*10+10]
			s.Days = append(s.Days, d0+calendar.Date(i))
			s.Value = append(s.Value, fuzzNumber(b[0], b[1]))
			s.Inflow = append(s.Inflow, math.Abs(fuzzNumber(b[2]&7, b[3])))
			s.Outflow = append(s.Outflow, math.Abs(fuzzNumber(b[4]&7, b[5])))
			if b[6]&1 == 0 {
				bd = append(bd, d0+calendar.Date(i)-calendar.Date(b[6]&4))
				bc = append(bc, fuzzNumber(b[6], b[7]))
			}
			hA.Closes = append(hA.Closes, fuzzNumber(b[8], b[9]))
			hB.Closes = append(hB.Closes, fuzzNumber(b[9], b[8]))
		}
		if n > 0 && data[0]&1 == 1 {
			hB.Closes = hB.Closes[1:] // misaligned
		}
		opts := Options{
			RiskFreeRate:   rf,
			Benchmark:      &Benchmark{Days: bd, Closes: bc},
			Holdings:       []Holding{hA, hB, {Symbol: "C", Value: float64(top)}},
			CorrelationTop: int(top),
		}
		if from != 0 || to != 0 {
			opts.Range = &DateRange{From: d0 + calendar.Date(from), To: d0 + calendar.Date(to)}
		}
		if n > 0 && data[n-1]&2 == 2 {
			opts.TradingDays = []calendar.Date{d0 + 3, d0 + 1, d0 + 7, d0 + 8}
		}
		r := Compute(s, opts)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		checkJSONNumbers(t, b)
		checkFinite(t, r)
	})
}

// checkJSONNumbers decodes b and fails on a number that does not parse as a finite
// float64 (text in strings, such as a warning, may say anything).
func checkJSONNumbers(t *testing.T, b []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("report JSON does not decode: %v\n%s", err, b)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case json.Number:
			if f, err := x.Float64(); err != nil || !isFinite(f) {
				t.Fatalf("number %s in %s", x, b)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// checkFinite fails on an OK metric that is not finite or an absent one without a
// reason.
func checkFinite(t *testing.T, r Report) {
	t.Helper()
	ms := []Metric{
		r.TotalReturn, r.TWR.Period, r.TWR.Annualized, r.MWR.Period, r.MWR.Annualized,
		r.MeanReturn.Daily, r.MeanReturn.Annualized,
		r.Volatility.Daily, r.Volatility.Period, r.Volatility.Annualized,
		r.DownsideDeviation.Daily, r.DownsideDeviation.Period, r.DownsideDeviation.Annualized,
		r.Sharpe, r.Sortino, r.MaxDrawdown.Value,
		r.ValueAtRisk.Historical95.VaR, r.ValueAtRisk.Historical95.CVaR, r.ValueAtRisk.Historical99.VaR, r.ValueAtRisk.Historical99.CVaR,
		r.ValueAtRisk.Parametric95.VaR, r.ValueAtRisk.Parametric95.CVaR, r.ValueAtRisk.Parametric99.VaR, r.ValueAtRisk.Parametric99.CVaR,
		r.Benchmark.Return, r.Benchmark.PortfolioReturn, r.Benchmark.Beta, r.Benchmark.Alpha, r.Benchmark.Correlation,
		r.Diversification.HHI, r.Diversification.Score, r.Diversification.EffectiveHoldings, r.Diversification.LargestWeight,
	}
	for i, m := range ms {
		if m.OK && !isFinite(m.Value) {
			t.Fatalf("metric %d OK with %v", i, m.Value)
		}
		if !m.OK && m.Reason == "" {
			t.Fatalf("metric %d absent without a reason", i)
		}
	}
	for _, row := range r.Correlation.Matrix {
		for _, c := range row {
			if c != nil && (!isFinite(*c) || *c < -1 || *c > 1) {
				t.Fatalf("correlation %v", *c)
			}
		}
	}
}

// TestRandomSeriesAreFinite runs a few hundred pseudo-random series through the same
// checks on every go test run (the fuzz target runs only its seeds there).
func TestRandomSeriesAreFinite(t *testing.T) {
	var buf [8]byte
	state := uint64(42)
	for iter := range 300 {
		data := make([]byte, 10*(iter%60))
		for i := range data {
			state = state*6364136223846793005 + 1442695040888963407
			binary.LittleEndian.PutUint64(buf[:], state)
			data[i] = buf[7]
		}
		s := &performance.Series{Start: float64(iter % 3)}
		for i := 0; i+2 <= len(data); i += 2 {
			s.Days = append(s.Days, calendar.Date(19000+i/2))
			s.Value = append(s.Value, fuzzNumber(data[i]%9, data[i+1]))
			s.Inflow = append(s.Inflow, float64(data[i]&3))
			s.Outflow = append(s.Outflow, float64(data[i+1]&1))
		}
		r := Compute(s, Options{RiskFreeRate: 0.01})
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		checkJSONNumbers(t, b)
		checkFinite(t, r)
	}
}
