package analytics

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// benchInput is a seeded synthetic portfolio: holdings prices are a one-factor
// geometric random walk on trading days (weekdays less about 9 random holidays a
// year, passed as Options.TradingDays), carried forward over the other calendar days;
// the portfolio holds fixed
// quantities plus a cash account with a monthly deposit and a yearly withdrawal; the
// benchmark closes on trading days with 1% random gaps.
type benchInput struct {
	series *performance.Series
	opts   Options
}

func genBench(holdings, years int, seed uint64) benchInput {
	rng := rand.New(rand.NewPCG(seed, 7))
	from := calendar.MustNew(2005, time.January, 1)
	to := calendar.MustNew(2005+years-1, time.December, 31)
	n := int(to-from) + 1

	trading := make([]bool, n)
	var tradingDays []calendar.Date
	for i := range n {
		wd := (from + calendar.Date(i)).Weekday()
		trading[i] = wd != time.Saturday && wd != time.Sunday && rng.IntN(261) >= 9
		if trading[i] {
			tradingDays = append(tradingDays, from+calendar.Date(i))
		}
	}
	// Market factor and benchmark.
	market := make([]float64, n)
	bm := &Benchmark{Symbol: "SPY"}
	level := 100.0
	for i := range n {
		if trading[i] {
			r := 0.0003 + 0.011*rng.NormFloat64()
			market[i] = r
			level *= 1 + r
			if rng.IntN(100) != 0 {
				bm.Days = append(bm.Days, from+calendar.Date(i))
				bm.Closes = append(bm.Closes, level)
			}
		}
	}
	s := &performance.Series{
		Days:        make([]calendar.Date, n),
		Value:       make([]float64, n),
		Inflow:      make([]float64, n),
		Outflow:     make([]float64, n),
		CashAccount: true,
	}
	for i := range n {
		s.Days[i] = from + calendar.Date(i)
	}
	hs := make([]Holding, holdings)
	for h := range hs {
		closes := make([]float64, n)
		p := 10 + 490*rng.Float64()
		beta := 0.5 + rng.Float64()
		idio := 0.005 + 0.02*rng.Float64()
		qty := float64(1 + rng.IntN(500))
		for i := range n {
			if trading[i] {
				p *= 1 + beta*market[i] + idio*rng.NormFloat64()
				p = max(p, 0.01)
			}
			closes[i] = p
			s.Value[i] += qty * p
		}
		hs[h] = Holding{Symbol: "SYM" + strconv.Itoa(h), Value: qty * closes[n-1], Closes: closes}
	}
	cash := 10000.0
	s.Start = s.Value[0] + cash
	for i := range n {
		d := s.Days[i]
		if d.Time().Day() == 1 {
			s.Inflow[i] = 1000
			cash += 1000
		}
		if d.Time().YearDay() == 200 {
			s.Outflow[i] = 5000
			cash -= 5000
		}
		s.Value[i] += cash
	}
	return benchInput{series: s, opts: Options{RiskFreeRate: 0.03, TradingDays: tradingDays, Benchmark: bm, Holdings: hs, CorrelationTop: 20}}
}

func benchCompute(b *testing.B, holdings, years int) {
	in := genBench(holdings, years, 1)
	r := Compute(in.series, in.opts)
	if !r.Volatility.Annualized.OK || !r.Benchmark.Beta.OK || len(r.Correlation.Symbols) != 20 || !r.MWR.Annualized.OK {
		b.Fatalf("incomplete report: %+v", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Compute(in.series, in.opts)
	}
}

// BenchmarkCompute300Holdings20Years: all metrics for 300 holdings over 20 years
// (7,305 calendar days, ≈5,000 trading days), correlation matrix of the top 20.
// Target ≤ 20 ms on one core.
func BenchmarkCompute300Holdings20Years(b *testing.B) { benchCompute(b, 300, 20) }

// BenchmarkComputeSmall: 20 holdings over 5 years; 10,000 portfolios a day in ≤ 60 s
// of one core need ≤ 6 ms each.
func BenchmarkComputeSmall(b *testing.B) { benchCompute(b, 20, 5) }

// The generated data look like a market: sanity bounds so the benchmark measures a
// realistic case (a 15–40% volatility, a beta near 1, 4,900–5,100 trading days).
func TestBenchDataIsRealistic(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 2.2M closes")
	}
	in := genBench(300, 20, 1)
	r := Compute(in.series, in.opts)
	vol, _ := r.Volatility.Annualized.Get()
	beta, _ := r.Benchmark.Beta.Get()
	if r.TradingDays < 4900 || r.TradingDays > 5100 || vol < 0.05 || vol > 0.4 || math.Abs(beta-1) > 0.6 {
		t.Errorf("trading days %d, vol %.3f, beta %.3f", r.TradingDays, vol, beta)
	}
	t.Logf("trading days %d, TWR %.3f, MWR %.4f/y, vol %.3f, Sharpe %.2f, MDD %.3f, beta %.2f, alpha %.4f, HHI %.4f",
		r.TradingDays, r.TWR.Period.Value, r.MWR.Annualized.Value, vol, r.Sharpe.Value, r.MaxDrawdown.Value.Value, beta, r.Benchmark.Alpha.Value, r.Diversification.HHI.Value)
}
