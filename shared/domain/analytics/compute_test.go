package analytics

import (
	"math"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// The core hand-computed case: Monday 2024-01-01 to Friday 2024-01-05, opening value
// 100, no flows, daily returns +1%, −2%, +3%, −1%, +2%:
//
//	values 101, 98.98, 101.9494, 100.929906, 102.94850412
//	n = 5, μ = (0.01 − 0.02 + 0.03 − 0.01 + 0.02)/5 = 0.03/5 = 0.006
//	deviations 0.004, −0.026, 0.024, −0.016, 0.014
//	squares 0.000016 + 0.000676 + 0.000576 + 0.000256 + 0.000196 = 0.00172
//	σ = √(0.00172/4) = √0.00043 = 0.0207364413533277
//	annualised σ·√252 = 0.0207364413533277 × 15.8745078663875 = 0.329180801384285
//	period σ·√5 = 0.0207364413533277 × 2.23606797749979 = 0.0463680924774785
func coreSeries() []float64 { return []float64{0.01, -0.02, 0.03, -0.01, 0.02} }

func TestCoreReturnsAndVolatility(t *testing.T) {
	s := series("2024-01-01", 100, fromReturns(100, coreSeries()), nil)
	r := Compute(s, Options{})
	if r.TradingDays != 5 || r.CalendarDays != 5 {
		t.Fatalf("days %d/%d, want 5/5", r.TradingDays, r.CalendarDays)
	}
	dateIs(t, "from", r.From, "2024-01-01")
	dateIs(t, "to", r.To, "2024-01-05")
	// TWR = 102.94850412/100 − 1; with no flows the total return and the period MWR
	// are the same number.
	has(t, "twr", r.TWR.Period, 0.0294850412, 1e-13)
	has(t, "total", r.TotalReturn, 0.0294850412, 1e-13)
	has(t, "mwr period", r.MWR.Period, 0.0294850412, 1e-10)
	isAbsent(t, "twr annualised (5 days)", r.TWR.Annualized)
	isAbsent(t, "mwr annualised (5 days)", r.MWR.Annualized)

	has(t, "mean daily", r.MeanReturn.Daily, 0.006, 1e-15)
	has(t, "mean annual", r.MeanReturn.Annualized, 0.006*252, 1e-13)
	has(t, "σ daily", r.Volatility.Daily, 0.0207364413533277, 1e-15)
	has(t, "σ annual", r.Volatility.Annualized, 0.329180801384285, 1e-13)
	has(t, "σ period", r.Volatility.Period, 0.0463680924774785, 1e-14)

	// rf = 0: Sharpe = 252·0.006 / (σ·√252) = 0.006·√252/σ
	//   = 0.006 × 15.8745078663875 / 0.0207364413533277 = 4.59322048443188.
	// Downside (target 0): min(0, r)² = 0.0004 (−2%) + 0.0001 (−1%) = 0.0005;
	//   DD = √(0.0005/4) = 0.0111803398874989;
	//   Sortino = 0.006·√252/DD = 0.0952470471983 / 0.0111803398874989 = 8.51915488766345.
	has(t, "sharpe", r.Sharpe, 4.59322048443188, 1e-12)
	has(t, "dd daily", r.DownsideDeviation.Daily, 0.0111803398874989, 1e-15)
	has(t, "sortino", r.Sortino, 8.51915488766345, 1e-12)

	// Historical VaR, sorted −0.02, −0.01, 0.01, 0.02, 0.03:
	//   95%: h = 4 × 0.05 = 0.2, q = −0.02 + 0.2 × (−0.01 − (−0.02)) = −0.018 → VaR 0.018;
	//        CVaR = −mean{x ≤ −0.018} = −(−0.02) = 0.02.
	//   99%: h = 0.04, q = −0.02 + 0.04 × 0.01 = −0.0196 → VaR 0.0196; CVaR 0.02.
	v := r.ValueAtRisk
	has(t, "hVaR95", v.Historical95.VaR, 0.018, 1e-15)
	has(t, "hCVaR95", v.Historical95.CVaR, 0.02, 1e-15)
	has(t, "hVaR99", v.Historical99.VaR, 0.0196, 1e-15)
	has(t, "hCVaR99", v.Historical99.CVaR, 0.02, 1e-15)
	// Parametric: φ(1.6449) = e^(−1.6449²/2)/√(2π) = 0.103127773699946,
	//             φ(2.3263) = 0.0266551106318801.
	//   VaR95 = 1.6449 × 0.0207364413533277 − 0.006 = 0.0281093723820888
	//   CVaR95 = 0.0207364413533277 × 0.103127773699946 / 0.05 − 0.006 = 0.0367700606245636
	//   VaR99 = 2.3263 × 0.0207364413533277 − 0.006 = 0.0422391835202463
	//   CVaR99 = 0.0207364413533277 × 0.0266551106318801 / 0.01 − 0.006 = 0.0492732138384445
	has(t, "pVaR95", v.Parametric95.VaR, 0.0281093723820888, 1e-15)
	has(t, "pCVaR95", v.Parametric95.CVaR, 0.0367700606245636, 1e-15)
	has(t, "pVaR99", v.Parametric99.VaR, 0.0422391835202463, 1e-15)
	has(t, "pCVaR99", v.Parametric99.CVaR, 0.0492732138384445, 1e-15)

	// Drawdown: W = 1.01, 0.9898, 1.019494, 1.00929906, 1.0294850412. The peak 1.01
	// (Jan 1) falls to 0.9898 (Jan 2): 1 − 0.9898/1.01 = 0.02, recovered on Jan 3
	// (1.019494 ≥ 1.01). The later dip 1 − 1.00929906/1.019494 = 0.01 is smaller.
	dd := r.MaxDrawdown
	has(t, "mdd", dd.Value, 0.02, 1e-15)
	dateIs(t, "peak", dd.PeakDate, "2024-01-01")
	dateIs(t, "trough", dd.TroughDate, "2024-01-02")
	dateIs(t, "recovery", dd.RecoveryDate, "2024-01-03")

	isAbsent(t, "beta without benchmark", r.Benchmark.Beta)
}

// A risk-free rate of 2.52% a year is 0.0001 per trading day:
//
//	Sharpe = (252 × 0.006 − 0.0252) / 0.329180801384285 = 1.4868 / 0.329180801384285 = 4.51666680969135
//	downside vs 0.0001: (−0.0201)² + (−0.0101)² = 0.00040401 + 0.00010201 = 0.00050602
//	DD = √(0.00050602/4) = 0.0112474441541179
//	Sortino = 1.4868 / (0.0112474441541179 × 15.8745078663875) = 8.32718928214426
func TestCoreRiskFreeRate(t *testing.T) {
	s := series("2024-01-01", 100, fromReturns(100, coreSeries()), nil)
	r := Compute(s, Options{RiskFreeRate: 0.0252})
	has(t, "sharpe", r.Sharpe, 4.51666680969135, 1e-12)
	has(t, "dd", r.DownsideDeviation.Daily, 0.0112474441541179, 1e-15)
	has(t, "sortino", r.Sortino, 8.32718928214426, 1e-12)
	if r.RiskFreeRate != 0.0252 {
		t.Errorf("riskFreeRate %v", r.RiskFreeRate)
	}
}

// Deposits are not returns: Monday 2024-01-01 … Sunday 2024-01-14 (14 calendar days,
// 10 weekdays), opening value 1000.
//
//	Mon 01  1010                     r = 1010/1000 − 1 = +1%
//	Tue 02  1010 + deposit 500       r = 1510/(1010+500) − 1 = 0
//	Wed 03  1540.2                   r = 1540.2/1510 − 1 = +2%
//	Thu 04  1509.396                 r = −2%
//	Fri 05  1509.396
//	Sat 06  1509.396 + deposit 100 → 1609.396   r = 0 (a weekend: chained into Monday)
//	Sun 07  1609.396
//	Mon 08  1641.58392               r = +2%; trading-day return = 1.0·1.0·1.02 − 1 = 2%
//	Tue 09  withdrawal 641.58392 → 1000  r = (1000 + 641.58392)/1641.58392 − 1 = 0
//	Wed 10  1030                     +3%
//	Thu 11  1030
//	Fri 12  1019.7                   −1%
//	Sat 13, Sun 14: 1019.7           chained into Friday (0)
//
// Trading-day returns: 0.01, 0, 0.02, −0.02, 0, 0.02, 0, 0.03, 0, −0.01 (n = 10).
//
//	Σ = 0.05, μ = 0.005; deviations 0.005, −0.005, 0.015, −0.025, −0.005, 0.015,
//	−0.005, 0.025, −0.005, −0.015; squares (×1e−6) 25+25+225+625+25+225+25+625+25+225
//	= 2050e−6; σ = √(0.00205/9) = 0.0150923085635624.
//
// TWR = 1.01 · 1.02 · 0.98 · 1.02 · 1.03 · 0.99 − 1 (computed below).
func TestFlowsAreNotReturns(t *testing.T) {
	vals := []float64{1010, 1510, 1540.2, 1509.396, 1509.396, 1609.396, 1609.396, 1641.58392, 1000, 1030, 1030, 1019.7, 1019.7, 1019.7}
	s := series("2024-01-01", 1000, vals, map[int]float64{1: 500, 5: 100, 8: -641.58392})
	r := Compute(s, Options{})
	if r.TradingDays != 10 || r.CalendarDays != 14 {
		t.Fatalf("days %d/%d, want 10/14", r.TradingDays, r.CalendarDays)
	}
	// 1.01 × 1.02 = 1.0302; × 0.98 = 1.009596; × 1.02 = 1.02978792; × 1.03 = 1.0606815576;
	// × 0.99 = 1.050074742024.
	has(t, "twr", r.TWR.Period, 0.050074742024, 1e-12)
	has(t, "σ", r.Volatility.Daily, 0.0150923085635624, 1e-13)
	has(t, "mean", r.MeanReturn.Daily, 0.005, 1e-15)
	// Total return: (1019.7 + 641.58392 − 1000 − 600) / (1000 + 600) = 61.28392/1600.
	has(t, "total", r.TotalReturn, 61.28392/1600, 1e-13)
}

// Drawdown is measured on the TWR index, so a deposit during a fall does not look
// like a recovery: opening 100, Monday −10% (90), Tuesday a 1000 deposit (1090,
// r = 0), Wednesday +10% (1199). Market value went 100 → 1199, but W = 0.9, 0.9, 0.99:
// the drawdown is 1 − 0.9/1 = 10% from the opening value (peak date: the day before
// the range), trough Monday, not recovered.
func TestDrawdownIgnoresDeposits(t *testing.T) {
	s := series("2024-01-01", 100, []float64{90, 1090, 1199}, map[int]float64{1: 1000})
	r := Compute(s, Options{})
	has(t, "mdd", r.MaxDrawdown.Value, 0.1, 1e-15)
	dateIs(t, "peak", r.MaxDrawdown.PeakDate, "2023-12-31")
	dateIs(t, "trough", r.MaxDrawdown.TroughDate, "2024-01-01")
	dateIs(t, "recovery", r.MaxDrawdown.RecoveryDate, "")
	has(t, "twr", r.TWR.Period, -0.01, 1e-15) // 0.9 × 1.1 − 1
}

// A longer hand-checked drawdown path with a weekend inside the fall; W by day:
//
//	Mon 01 1.10  (peak)    Tue 02 0.99 (−10%)   Wed 03 0.891 (−10%)
//	Thu 04 0.9801 (+10%)   Fri 05 0.88209 (−10%)  Sat/Sun 0.88209 (carried)
//	Mon 08 1.0584 (+20%, still below the peak)
//	Tue 09 1.16424 (+10%, ≥ 1.10: recovered)
//
// MDD = 1 − 0.88209/1.10 = 0.1981; the trough is the Friday, the first day at the low
// (not the carried weekend days).
func TestDrawdownHandComputed(t *testing.T) {
	w := []float64{1.10, 0.99, 0.891, 0.9801, 0.88209, 0.88209, 0.88209, 1.0584, 1.16424}
	vals := make([]float64, len(w))
	for i := range w {
		vals[i] = 1000 * w[i]
	}
	r := Compute(series("2024-01-01", 1000, vals, nil), Options{})
	has(t, "mdd", r.MaxDrawdown.Value, 1-0.88209/1.10, 1e-14)
	dateIs(t, "peak", r.MaxDrawdown.PeakDate, "2024-01-01")
	dateIs(t, "trough", r.MaxDrawdown.TroughDate, "2024-01-05")
	dateIs(t, "recovery", r.MaxDrawdown.RecoveryDate, "2024-01-09")
}

// Beta and Jensen's alpha against a benchmark with a gap. Portfolio (opening 100):
// Mon 01 +2% (102), Tue 02 +1% (103.02), Wed 03 +1% (104.0502), Thu 04 −3%
// (100.928694), Fri 05 +2% (102.94726788). Benchmark closes: Fri 2023-12-29 100
// (the anchor: last close on or before the day before the range), Mon 101, Tue 102.01,
// Wed missing, Thu 99.9698, Fri 100.969498.
//
// Pairs (rp, rb, k): Mon (0.02, 0.01, 1), Tue (0.01, 0.01, 1),
// Wed+Thu (1.01 × 0.97 − 1 = −0.0203, 99.9698/102.01 − 1 = −0.02, 2), Fri (0.02, 0.01, 1).
//
//	mean rp = 0.0297/4 = 0.007425, mean rb = 0.01/4 = 0.0025
//	rb − mean: 0.0075, 0.0075, −0.0225, 0.0075 → Σ² = 3 × 0.00005625 + 0.00050625 = 0.000675
//	rp − mean: 0.012575, 0.002575, −0.027725, 0.012575
//	Σ cross = 0.0075 × (0.012575 + 0.002575 + 0.012575) + 0.0225 × 0.027725 = 0.03 × 0.027725 = 0.00083175
//	beta = 0.00083175 / 0.000675 = 1.23222222222222
//	rf = 2.52% → 0.0001 a trading day; Σk = 5:
//	Σ(rp − k·0.0001) = 0.0297 − 0.0005 = 0.0292; Σ(rb − k·0.0001) = 0.01 − 0.0005 = 0.0095
//	alpha = 252 × (0.0292 − 1.23222222222222 × 0.0095)/5 = 252 × 0.0174938888888889/5 = 0.881692
//	Σ(rp − mean)² = 2 × 0.000158130625 + 0.000006630625 + 0.000768675625 = 0.0010915675
//	corr = 0.00083175/√(0.0010915675 × 0.000675) = 0.968981810842535
//	benchmark return = 100.969498/100 − 1 = 0.00969498
//	portfolio return over the pairs = 1.02 × 1.01 × 0.9797 × 1.02 − 1 = 0.02947267880
func TestBenchmarkBetaAlphaWithGap(t *testing.T) {
	s := series("2024-01-01", 100, fromReturns(100, []float64{0.02, 0.01, 0.01, -0.03, 0.02}), nil)
	b := &Benchmark{
		Days:   []calendar.Date{day("2023-12-29"), day("2024-01-01"), day("2024-01-02"), day("2024-01-04"), day("2024-01-05")},
		Closes: []float64{100, 101, 102.01, 99.9698, 100.969498},
	}
	r := Compute(s, Options{Benchmark: b, RiskFreeRate: 0.0252})
	bs := r.Benchmark
	if bs.Symbol != "SPY" || bs.Observations != 4 {
		t.Fatalf("symbol %q, observations %d; want SPY, 4", bs.Symbol, bs.Observations)
	}
	has(t, "beta", bs.Beta, 1.23222222222222, 1e-12)
	has(t, "alpha", bs.Alpha, 0.881692, 1e-11)
	has(t, "corr", bs.Correlation, 0.968981810842535, 1e-12)
	has(t, "benchmark return", bs.Return, 0.00969498, 1e-13)
	has(t, "portfolio return", bs.PortfolioReturn, 1.02*1.01*0.9797*1.02-1, 1e-13)

	// rf = 0: alpha = 252 × (0.0297 − 1.23222222222222 × 0.01)/5 = 0.87584.
	r0 := Compute(s, Options{Benchmark: b})
	has(t, "alpha rf=0", r0.Benchmark.Alpha, 0.87584, 1e-11)

	// Without the anchor close (first close Monday) the Monday pair is lost: 3 pairs.
	b2 := &Benchmark{Symbol: "QQQ", Days: b.Days[1:], Closes: b.Closes[1:]}
	r2 := Compute(s, Options{Benchmark: b2})
	if r2.Benchmark.Observations != 3 || r2.Benchmark.Symbol != "QQQ" {
		t.Errorf("no anchor: %d observations of %s, want 3 of QQQ", r2.Benchmark.Observations, r2.Benchmark.Symbol)
	}
}

// A benchmark that does not overlap, or a flat one, gives absent figures.
func TestBenchmarkEdgeCases(t *testing.T) {
	s := series("2024-01-01", 100, fromReturns(100, coreSeries()), nil)
	none := Compute(s, Options{Benchmark: &Benchmark{Days: []calendar.Date{day("2020-01-01")}, Closes: []float64{1}}})
	isAbsent(t, "beta no overlap", none.Benchmark.Beta)
	isAbsent(t, "return no overlap", none.Benchmark.Return)

	flatDays := []calendar.Date{day("2023-12-29"), day("2024-01-01"), day("2024-01-02"), day("2024-01-03")}
	flat := Compute(s, Options{Benchmark: &Benchmark{Days: flatDays, Closes: []float64{5, 5, 5, 5}}})
	isAbsent(t, "beta flat benchmark", flat.Benchmark.Beta)
	has(t, "flat benchmark return", flat.Benchmark.Return, 0, 0)

	// Unsorted, duplicated and invalid closes are cleaned with warnings, and give the
	// same result as the clean input.
	clean := Compute(s, Options{Benchmark: &Benchmark{Days: flatDays[:3], Closes: []float64{100, 101, 99.99}}})
	messy := Compute(s, Options{Benchmark: &Benchmark{
		Days:   []calendar.Date{day("2024-01-02"), day("2023-12-29"), day("2024-01-01"), day("2024-01-01"), day("2024-01-03")},
		Closes: []float64{99.99, 100, 7, 101, math.NaN()},
	}})
	if clean.Benchmark.Observations != 2 || messy.Benchmark.Observations != 2 {
		t.Fatalf("observations clean %d messy %d, want 2", clean.Benchmark.Observations, messy.Benchmark.Observations)
	}
	// 2 pairs: (0.01, 0.01) and (−0.02, 99.99/101 − 1 = −0.01): beta = cov/var =
	// (0.015 × 0.01 × 2 / 1) / (0.01² × 2 / 1) … rb deviations ±0.01, rp ±0.015 → beta 1.5.
	has(t, "beta clean", clean.Benchmark.Beta, 1.5, 1e-9)
	has(t, "beta messy", messy.Benchmark.Beta, clean.Benchmark.Beta.Value, 0)
	if len(messy.Warnings) < 2 {
		t.Errorf("messy benchmark warnings: %q", messy.Warnings)
	}
}

// Diversification: values 50, 30, 20 (and a zero and a negative one that do not
// count). Weights 0.5, 0.3, 0.2:
//
//	HHI = 0.25 + 0.09 + 0.04 = 0.38; score = 100 × (1 − 0.38)/(1 − 1/3) = 62/(2/3) = 93
//	effective holdings = 1/0.38 = 2.63157894736842; largest 0.5 (A)
func TestDiversification(t *testing.T) {
	d := diversification([]Holding{{Symbol: "B", Value: 30}, {Symbol: "A", Value: 50}, {Symbol: "C", Value: 20}, {Symbol: "Z", Value: 0}, {Symbol: "N", Value: -5}})
	if d.Holdings != 3 || d.LargestSymbol != "A" {
		t.Errorf("holdings %d largest %q", d.Holdings, d.LargestSymbol)
	}
	has(t, "hhi", d.HHI, 0.38, 1e-15)
	has(t, "score", d.Score, 93, 1e-12)
	has(t, "effective", d.EffectiveHoldings, 2.63157894736842, 1e-13)
	has(t, "largest", d.LargestWeight, 0.5, 1e-15)

	// One holding: HHI 1, score 0, effective 1.
	one := diversification([]Holding{{Symbol: "X", Value: 7}})
	has(t, "one hhi", one.HHI, 1, 0)
	has(t, "one score", one.Score, 0, 0)
	has(t, "one effective", one.EffectiveHoldings, 1, 0)

	// Four equal holdings: HHI 1/4, score 100, effective 4.
	eq := diversification([]Holding{{Symbol: "A", Value: 1}, {Symbol: "B", Value: 1}, {Symbol: "C", Value: 1}, {Symbol: "D", Value: 1}})
	has(t, "equal hhi", eq.HHI, 0.25, 1e-15)
	has(t, "equal score", eq.Score, 100, 1e-12)
	has(t, "equal effective", eq.EffectiveHoldings, 4, 1e-12)
	if eq.LargestSymbol != "A" {
		t.Errorf("tie broken to %q, want A", eq.LargestSymbol)
	}

	// All cash: nothing to weigh.
	cash := diversification(nil)
	isAbsent(t, "cash hhi", cash.HHI)
	isAbsent(t, "cash score", cash.Score)
}

// Correlation of holdings over Mon 2024-01-01 … Thu 2024-01-04 (the opening close is
// on the first day, so the returns are Tue, Wed, Thu):
//
//	A closes 100, 101, 103.02, 106.1106    returns 0.01, 0.02, 0.03
//	B closes 50, 51, 53.04, 56.2224        returns 0.02, 0.04, 0.06 (= 2·A: r = 1)
//	C closes 10, 10.3, 10.506, 10.61106    returns 0.03, 0.02, 0.01 (r(A,C) = −1)
//	D closes 100, 101, 99.99, 101.9898     returns 0.01, −0.01, 0.02
//	E closes 7, 7, 7, 7                    constant: correlation undefined (null)
//
// r(A, D): A − mean = −0.01, 0, 0.01; D mean = 0.02/3, D − mean = 0.01/3, −0.05/3, 0.04/3;
// Σ cross = −0.0001/3 + 0 + 0.0004/3 = 0.0001; ΣA² = 0.0002; ΣD² = (1 + 25 + 16)e−4/9
// = 0.0042/9; r = 0.0001/√(0.0002 × 0.0042/9) = 0.0001/√(9.333…e−8) = 0.327326835353989.
//
// Top 4 by value: B (40), A (30), D (20), E (10) — C (5) is left out.
func TestCorrelationMatrix(t *testing.T) {
	s := series("2024-01-01", 100, []float64{100, 100, 100, 100}, nil)
	hs := []Holding{
		{Symbol: "A", Value: 30, Closes: []float64{100, 101, 103.02, 106.1106}},
		{Symbol: "B", Value: 40, Closes: []float64{50, 51, 53.04, 56.2224}},
		{Symbol: "C", Value: 5, Closes: []float64{10, 10.3, 10.506, 10.61106}},
		{Symbol: "D", Value: 20, Closes: []float64{100, 101, 99.99, 101.9898}},
		{Symbol: "E", Value: 10, Closes: []float64{7, 7, 7, 7}},
	}
	r := Compute(s, Options{Holdings: hs, CorrelationTop: 4})
	c := r.Correlation
	if !slices.Equal(c.Symbols, []string{"B", "A", "D", "E"}) {
		t.Fatalf("symbols %v", c.Symbols)
	}
	cell := func(i, j int) float64 {
		if c.Matrix[i][j] == nil {
			t.Fatalf("cell %d,%d is null", i, j)
		}
		return *c.Matrix[i][j]
	}
	near(t, "r(B,A)", cell(0, 1), 1, 1e-12)
	near(t, "r(A,D)", cell(1, 2), 0.327326835353989, 1e-12)
	near(t, "r(D,A)", cell(2, 1), 0.327326835353989, 1e-12)
	near(t, "r(B,D)", cell(0, 2), 0.327326835353989, 1e-12)
	near(t, "diag", cell(2, 2), 1, 0)
	for i := range 4 {
		if c.Matrix[3][i] != nil || c.Matrix[i][3] != nil {
			t.Errorf("constant E correlates with %d", i)
		}
	}

	// C vs A with a missing close: C's Wednesday close missing removes Wed and Thu
	// returns of C, leaving only Tue: fewer than 2 common returns → null. With all of
	// C: r(A, C) = −1.
	hs[2].Value = 100
	r = Compute(s, Options{Holdings: hs, CorrelationTop: 2})
	if !slices.Equal(r.Correlation.Symbols, []string{"C", "B"}) {
		t.Fatalf("symbols %v", r.Correlation.Symbols)
	}
	near(t, "r(C,B)", *r.Correlation.Matrix[0][1], -1, 1e-12)
	hs[2].Closes = []float64{10, 10.3, math.NaN(), 10.61106}
	r = Compute(s, Options{Holdings: hs, CorrelationTop: 2})
	if r.Correlation.Matrix[0][1] != nil {
		t.Errorf("r(C,B) with one common return = %v, want null", *r.Correlation.Matrix[0][1])
	}
	// Pairwise complete: a missing (zero) close in D removes two of D's four returns;
	// the other two pair with A's returns on the same days.
	s5 := series("2024-01-01", 100, []float64{100, 100, 100, 100, 100, 100}, nil)
	hs5 := []Holding{
		{Symbol: "A", Value: 2, Closes: []float64{100, 101, 103.02, 106.1106, 107.171706, 105.02827188}},
		{Symbol: "D", Value: 1, Closes: []float64{100, 0, 103.02, 106.1106, 107.171706, 105.02827188}},
	}
	r = Compute(s5, Options{Holdings: hs5})
	// s5 is Mon..Sat: the Saturday is chained into Friday, so 4 returns (Tue..Fri);
	// D misses Tue and Wed, keeps Thu 0.03 and Fri 107.171706/106.1106 − 1 = 0.01
	// (the Saturday close is not used: Friday ends the last trading-day return) —
	// identical to A there, r = 1.
	near(t, "pairwise", *r.Correlation.Matrix[0][1], 1, 1e-12)
}

// Edge cases return defined, absent-with-reason figures.
func TestEdgeCases(t *testing.T) {
	t.Run("nil series", func(t *testing.T) {
		r := Compute(nil, Options{})
		isAbsent(t, "twr", r.TWR.Period)
		isAbsent(t, "vol", r.Volatility.Annualized)
		isAbsent(t, "mdd", r.MaxDrawdown.Value)
		if r.From != nil || r.To != nil {
			t.Error("dates on an empty report")
		}
	})
	t.Run("one day", func(t *testing.T) {
		r := Compute(series("2024-01-01", 100, []float64{105}, nil), Options{})
		has(t, "twr", r.TWR.Period, 0.05, 1e-15)
		has(t, "total", r.TotalReturn, 0.05, 1e-15)
		isAbsent(t, "vol", r.Volatility.Daily)
		isAbsent(t, "sharpe", r.Sharpe)
		isAbsent(t, "var", r.ValueAtRisk.Historical95.VaR)
		has(t, "mdd", r.MaxDrawdown.Value, 0, 0)
	})
	t.Run("all cash", func(t *testing.T) {
		vals := make([]float64, 30)
		for i := range vals {
			vals[i] = 5000
		}
		r := Compute(series("2024-01-01", 5000, vals, nil), Options{RiskFreeRate: 0.03})
		has(t, "vol", r.Volatility.Annualized, 0, 0)
		isAbsent(t, "sharpe", r.Sharpe)
		isAbsent(t, "sortino", r.Sortino)
		has(t, "twr", r.TWR.Period, 0, 0)
		has(t, "var", r.ValueAtRisk.Historical99.VaR, 0, 0)
		has(t, "mwr", r.MWR.Period, 0, 1e-12) // −5000 at the start, +5000 at the end: IRR 0
		isAbsent(t, "hhi", r.Diversification.HHI)
	})
	t.Run("constant positive return", func(t *testing.T) {
		// +0.1% every day, Mon 2024-01-01 … Fri 2024-01-05: σ is float noise (≈1e−19).
		rets := []float64{0.001, 0.001, 0.001, 0.001, 0.001}
		r := Compute(series("2024-01-01", 100, fromReturns(100, rets), nil), Options{})
		has(t, "vol", r.Volatility.Daily, 0, 0)
		isAbsent(t, "sharpe", r.Sharpe)
	})
	t.Run("nothing invested", func(t *testing.T) {
		r := Compute(series("2024-01-01", 0, []float64{0, 0, 0}, nil), Options{})
		isAbsent(t, "total", r.TotalReturn)
		isAbsent(t, "mwr", r.MWR.Period)
		has(t, "twr", r.TWR.Period, 0, 0)
	})
	t.Run("malformed", func(t *testing.T) {
		s := series("2024-01-01", 100, []float64{1, 2}, nil)
		s.Inflow = s.Inflow[:1]
		r := Compute(s, Options{})
		isAbsent(t, "twr", r.TWR.Period)
		s = series("2024-01-01", 100, []float64{1, math.Inf(1)}, nil)
		r = Compute(s, Options{})
		isAbsent(t, "twr inf", r.TWR.Period)
	})
	t.Run("NaN risk-free rate", func(t *testing.T) {
		r := Compute(series("2024-01-01", 100, fromReturns(100, coreSeries()), nil), Options{RiskFreeRate: math.NaN()})
		if r.RiskFreeRate != 0 || len(r.Warnings) != 1 {
			t.Errorf("rf %v warnings %q", r.RiskFreeRate, r.Warnings)
		}
		has(t, "sharpe", r.Sharpe, 4.59322048443188, 1e-12)
	})
}

// Holidays: closes are carried forward by the series, so a weekday holiday is a zero
// return; with an exchange calendar that omits it, it is chained into the next day.
// Mon 01 +1%, Tue 02 holiday (0), Wed 03 +2%, Thu 04 −1%, Fri 05 +1%.
//
//	weekdays: returns 0.01, 0, 0.02, −0.01, 0.01 (n = 5)
//	calendar without Tue: 0.01, 0.02, −0.01, 0.01 (n = 4): μ = 0.0075,
//	  deviations 0.0025, 0.0125, −0.0175, 0.0025 → Σ² = (6.25 + 156.25 + 306.25 + 6.25)e−6
//	  = 475e−6, σ = √(0.000475/3) = 0.0125830573921179
func TestHolidays(t *testing.T) {
	s := series("2024-01-01", 100, fromReturns(100, []float64{0.01, 0, 0.02, -0.01, 0.01}), nil)
	r := Compute(s, Options{})
	if r.TradingDays != 5 {
		t.Errorf("weekday observations %d, want 5", r.TradingDays)
	}
	cal := []calendar.Date{day("2024-01-05"), day("2024-01-01"), day("2024-01-03"), day("2024-01-04")} // unsorted on purpose
	r = Compute(s, Options{TradingDays: cal})
	if r.TradingDays != 4 {
		t.Fatalf("calendar observations %d, want 4", r.TradingDays)
	}
	has(t, "σ", r.Volatility.Daily, 0.0125830573921179, 1e-15)
	if len(r.Warnings) != 1 {
		t.Errorf("warnings %q", r.Warnings)
	}
}

// Sub-ranges: the opening value is the previous day's value; ranges are clamped.
// Values 100 (open), 110, 121, 108.9, 119.79 on Mon..Thu: a range Tue..Wed opens at
// 110 and has TWR 108.9/110 − 1 = −1%.
func TestRanges(t *testing.T) {
	s := series("2024-01-01", 100, []float64{110, 121, 108.9, 119.79}, nil)
	r := Compute(s, Options{Range: &DateRange{From: day("2024-01-02"), To: day("2024-01-03")}})
	has(t, "twr", r.TWR.Period, 108.9/110-1, 1e-15)
	dateIs(t, "from", r.From, "2024-01-02")
	dateIs(t, "to", r.To, "2024-01-03")
	if len(r.Warnings) != 0 {
		t.Errorf("warnings %q", r.Warnings)
	}
	// Drawdown on the sub-range: W = 1.1, 0.99: peak Tue, trough Wed, 10%.
	has(t, "mdd", r.MaxDrawdown.Value, 0.1, 1e-15)
	dateIs(t, "peak", r.MaxDrawdown.PeakDate, "2024-01-02")

	r = Compute(s, Options{Range: &DateRange{From: day("2023-06-01"), To: day("2030-01-01")}})
	has(t, "clamped twr", r.TWR.Period, 0.1979, 1e-13)
	dateIs(t, "clamped from", r.From, "2024-01-01")
	if len(r.Warnings) != 1 {
		t.Errorf("warnings %q", r.Warnings)
	}
	r = Compute(s, Options{Range: &DateRange{From: day("2025-01-01"), To: day("2025-02-01")}})
	isAbsent(t, "outside", r.TWR.Period)
	r = Compute(s, Options{Range: &DateRange{From: day("2024-01-03"), To: day("2024-01-02")}})
	isAbsent(t, "reversed", r.TWR.Period)
}

// Annualisation only from 365 days: a series growing 10% over exactly 365 days has an
// annualised TWR of (1.1)^(365/365) − 1 = 10%; over 730 days 21% is 10% a year; one
// day less than a year is not annualised.
func TestAnnualisation(t *testing.T) {
	mk := func(days int, total float64) Report {
		vals := make([]float64, days)
		g := math.Pow(1+total, 1/float64(days))
		v := 100.0
		for i := range vals {
			v *= g
			vals[i] = v
		}
		return Compute(series("2021-01-01", 100, vals, nil), Options{})
	}
	r := mk(365, 0.10)
	has(t, "twr 1y", r.TWR.Annualized, 0.10, 1e-12)
	has(t, "mwr 1y", r.MWR.Annualized, 0.10, 1e-9)
	has(t, "mwr 1y period", r.MWR.Period, 0.10, 1e-9)
	r = mk(730, 0.21)
	has(t, "twr 2y", r.TWR.Annualized, 0.10, 1e-12)
	has(t, "twr 2y period", r.TWR.Period, 0.21, 1e-12)
	has(t, "mwr 2y", r.MWR.Annualized, 0.10, 1e-9)
	has(t, "mwr 2y period", r.MWR.Period, 0.21, 1e-9)
	r = mk(364, 0.10)
	isAbsent(t, "twr 364d", r.TWR.Annualized)
	isAbsent(t, "mwr 364d", r.MWR.Annualized)
	has(t, "mwr 364d period", r.MWR.Period, 0.10, 1e-9)
}

// The trading-day returns chain back to the TWR exactly (up to rounding), whatever
// falls on weekends.
func TestObservationsChainToTWR(t *testing.T) {
	rets := []float64{0.01, 0.02, -0.01, 0.03, 0.005, 0.004, -0.002, 0.01, 0, 0.02, 0.01} // Wed 2024-01-03 …
	s := series("2024-01-03", 100, fromReturns(100, rets), nil)
	obs, ends := observations(s.Days, s.DailyReturns(), newTradingCalendar(nil, nil))
	g := 1.0
	for _, o := range obs {
		g *= 1 + o
	}
	near(t, "Π obs", g-1, s.TWR(), 1e-15)
	// Wed..Sat 2024-01-13: weekdays Wed 3, Thu 4, Fri 5, Mon 8 … Fri 12 = 8; the Saturday
	// return is chained into Friday's, the weekend (6, 7) into Monday's.
	if len(obs) != 8 || s.Days[ends[3]] != day("2024-01-08") {
		t.Fatalf("obs %v ends %v", obs, ends)
	}
	near(t, "Saturday+Sunday+Monday", obs[3], 1.03*1.005*1.004-1, 1e-15)
	near(t, "Friday+Saturday", obs[7], 1.02*1.01-1, 1e-15)
}
