package analytics

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// Compute returns every metric of the series over opts.Range (the whole series when
// nil). It never fails: what cannot be computed is an absent Metric with a Reason,
// and input problems that were worked around are listed in Report.Warnings.
//
// The series must be a daily series as performance.Build makes it (one entry per
// calendar day, Value, Inflow and Outflow indexed like Days).
func Compute(s *performance.Series, opts Options) Report {
	rf := opts.RiskFreeRate
	var warnings []string
	if !isFinite(rf) {
		warnings = append(warnings, fmt.Sprintf("risk-free rate %v is not a number; 0 used", rf))
		rf = 0
	}
	r := Report{RiskFreeRate: rf}

	w, reason := cut(s, opts.Range, &warnings)
	if reason == "" && w.n > 0 {
		r.From, r.To = new(w.days[0]), new(w.days[w.n-1])
	}
	if reason != "" {
		r.fillAbsent(reason)
		r.Diversification = diversification(opts.Holdings)
		r.Warnings = warnings
		return r
	}
	r.CalendarDays = w.n

	r.TotalReturn = totalReturn(w.view)
	r.TWR = twr(w.view)
	r.MWR = mwr(w.view)

	daily := w.view.DailyReturns()
	r.MaxDrawdown = maxDrawdown(w.view.Days, daily)

	tr := newTradingCalendar(opts.TradingDays, &warnings)
	obs, ends := observations(w.view.Days, daily, tr)
	r.TradingDays = len(obs)
	r.riskFigures(obs, rf)

	r.Benchmark = benchmarkStats(opts.Benchmark, w.view.Days, obs, ends, rf, &warnings)
	r.Diversification = diversification(opts.Holdings)
	r.Correlation = correlation(opts.Holdings, opts.CorrelationTop, w, ends, &warnings)
	r.Warnings = warnings
	return r
}

// window is the part of a series inside the range: view shares the series' slices,
// with Start set to the value at the end of the day before the range.
type window struct {
	view *performance.Series
	days []calendar.Date
	i0   int // index of the first day in the full series
	n    int // number of days
	full int // length of the full series
}

// cut slices the series to the range, or returns why there is nothing to compute.
func cut(s *performance.Series, rg *DateRange, warnings *[]string) (window, string) {
	if s == nil || len(s.Days) == 0 {
		return window{}, reasonNoHistory
	}
	n := len(s.Days)
	if len(s.Value) != n || len(s.Inflow) != n || len(s.Outflow) != n {
		return window{}, fmt.Sprintf("malformed series: %d days but %d values, %d inflows, %d outflows", n, len(s.Value), len(s.Inflow), len(s.Outflow))
	}
	for i := 1; i < n; i++ {
		if s.Days[i] <= s.Days[i-1] {
			return window{}, fmt.Sprintf("malformed series: day %s follows %s", s.Days[i], s.Days[i-1])
		}
	}
	if int(s.Days[n-1]-s.Days[0])+1 != n {
		*warnings = append(*warnings, "the series skips calendar days; annualisation and the money-weighted return count its entries as days")
	}
	i0, i1 := 0, n-1
	if rg != nil {
		if rg.To < rg.From {
			return window{}, fmt.Sprintf("empty range: %s is before %s", rg.To, rg.From)
		}
		if rg.To < s.Days[0] || rg.From > s.Days[n-1] {
			return window{}, fmt.Sprintf("%s: the range %s..%s is outside the series %s..%s", reasonNoHistory, rg.From, rg.To, s.Days[0], s.Days[n-1])
		}
		i0, _ = slices.BinarySearch(s.Days, rg.From)
		j, found := slices.BinarySearch(s.Days, rg.To)
		if !found {
			j--
		}
		i1 = j
		if rg.From < s.Days[0] || rg.To > s.Days[n-1] {
			*warnings = append(*warnings, fmt.Sprintf("the range %s..%s is clamped to the series %s..%s", rg.From, rg.To, s.Days[i0], s.Days[i1]))
		}
		if i1 < i0 {
			return window{}, reasonNoHistory
		}
	}
	start := s.Start
	if i0 > 0 {
		start = s.Value[i0-1]
	}
	if !isFinite(start) {
		return window{}, "the series holds values that are not finite numbers"
	}
	for i := i0; i <= i1; i++ {
		if !isFinite(s.Value[i]) || !isFinite(s.Inflow[i]) || !isFinite(s.Outflow[i]) {
			return window{}, fmt.Sprintf("the series holds a value or flow that is not a finite number on %s", s.Days[i])
		}
	}
	v := &performance.Series{
		Days:        s.Days[i0 : i1+1],
		Start:       start,
		Value:       s.Value[i0 : i1+1],
		Inflow:      s.Inflow[i0 : i1+1],
		Outflow:     s.Outflow[i0 : i1+1],
		CashAccount: s.CashAccount,
	}
	return window{view: v, days: v.Days, i0: i0, n: i1 - i0 + 1, full: n}, ""
}

// fillAbsent marks every series metric absent for reason.
func (r *Report) fillAbsent(reason string) {
	a := absent(reason)
	r.TotalReturn = a
	r.TWR = Return{a, a}
	r.MWR = Return{a, a}
	r.MeanReturn = Scaled{a, a}
	r.Volatility = Volatility{a, a, a}
	r.DownsideDeviation = Volatility{a, a, a}
	r.Sharpe, r.Sortino = a, a
	r.MaxDrawdown = Drawdown{Value: a}
	v := VaR{a, a}
	r.ValueAtRisk = ValueAtRisk{v, v, v, v}
	r.Benchmark = BenchmarkStats{Return: a, PortfolioReturn: a, Beta: a, Alpha: a, Correlation: a}
	r.Correlation = Correlation{Symbols: []string{}, Matrix: [][]*float64{}, Reason: reason}
}

// totalReturn is (MVE + ΣCFout − MVB − ΣCFin) / (MVB + ΣCFin).
func totalReturn(s *performance.Series) Metric {
	var in, out float64
	for i := range s.Value {
		in += s.Inflow[i]
		out += s.Outflow[i]
	}
	capital := s.Start + in
	if !(capital > 0) {
		return absent("nothing was invested: opening value plus inflows is not positive")
	}
	end := s.Value[len(s.Value)-1]
	return val((end + out - capital) / capital)
}

// twr is the series' TWR and, for 365 days or more, its annualised rate.
func twr(s *performance.Series) Return {
	t := s.TWR()
	out := Return{Period: val(t), Annualized: absent(reasonShortRange)}
	if a, ok := performance.Annualize(t, len(s.Days)); ok {
		out.Annualized = val(a)
	}
	return out
}

// mwr is the series' IRR, as a rate over the range and, for 365 days or more, per
// year.
func mwr(s *performance.Series) Return {
	irr, err := s.MWR()
	if err != nil {
		a := absent(err.Error())
		return Return{a, a}
	}
	days := len(s.Days)
	period := -1.0
	if irr > -1 {
		period = math.Expm1(math.Log1p(irr) * float64(days) / 365)
	}
	out := Return{Period: val(period), Annualized: absent(reasonShortRange)}
	if days >= 365 {
		out.Annualized = val(irr)
	}
	return out
}

// tradingCalendar tells which days end a trading-day return. Queries must come in
// ascending order of day.
type tradingCalendar struct {
	days []calendar.Date // nil: Monday to Friday
	at   int
}

func newTradingCalendar(days []calendar.Date, warnings *[]string) *tradingCalendar {
	if days == nil {
		return &tradingCalendar{}
	}
	if !slices.IsSorted(days) {
		*warnings = append(*warnings, "Options.TradingDays is not in ascending order; it was sorted")
		days = slices.Clone(days)
		slices.Sort(days)
	}
	return &tradingCalendar{days: days}
}

func (c *tradingCalendar) is(d calendar.Date) bool {
	if c.days == nil {
		wd := d.Weekday()
		return wd != time.Saturday && wd != time.Sunday
	}
	for c.at < len(c.days) && c.days[c.at] < d {
		c.at++
	}
	return c.at < len(c.days) && c.days[c.at] == d
}

// observations chains the calendar-day returns into trading-day returns. ends[k] is
// the index (into days) of the trading day that ends return k. Days after the last
// trading day are chained into the last return; a range without a trading day is one
// return ending on its last day.
func observations(days []calendar.Date, daily []float64, tc *tradingCalendar) (obs []float64, ends []int) {
	obs = make([]float64, 0, len(daily)*5/7+2)
	ends = make([]int, 0, cap(obs))
	g := 1.0
	for i, r := range daily {
		g *= 1 + r
		if tc.is(days[i]) {
			obs = append(obs, g-1)
			ends = append(ends, i)
			g = 1
		}
	}
	switch {
	case len(obs) == 0 && len(daily) > 0:
		obs = append(obs, g-1)
		ends = append(ends, len(daily)-1)
	case g != 1 && len(obs) > 0:
		k := len(obs) - 1
		obs[k] = (1+obs[k])*g - 1
	}
	return obs, ends
}

// zeroDeviation is the daily deviation below which returns count as constant: float
// rounding leaves about 1e-17 on a constant series, and no real portfolio moves by
// less than 1e-12 a day.
const zeroDeviation = 1e-12

// riskFigures fills the figures computed from the trading-day returns.
func (r *Report) riskFigures(obs []float64, rf float64) {
	n := len(obs)
	sqrtN, sqrtY := math.Sqrt(float64(n)), math.Sqrt(TradingDaysPerYear)
	mu, sd := meanStd(obs)
	r.MeanReturn = Scaled{Daily: val(mu), Annualized: val(mu * TradingDaysPerYear)}
	if n < 2 {
		a := absent(fmt.Sprintf("needs at least 2 trading-day returns, have %d", n))
		r.Volatility = Volatility{a, a, a}
		r.DownsideDeviation = Volatility{a, a, a}
		r.Sharpe, r.Sortino = a, a
		v := VaR{a, a}
		r.ValueAtRisk = ValueAtRisk{v, v, v, v}
		return
	}
	if sd < zeroDeviation {
		sd = 0
	}
	r.Volatility = Volatility{Daily: val(sd), Period: val(sd * sqrtN), Annualized: val(sd * sqrtY)}
	target := rf / TradingDaysPerYear
	dd := downsideDeviation(obs, target)
	if dd < zeroDeviation {
		dd = 0
	}
	r.DownsideDeviation = Volatility{Daily: val(dd), Period: val(dd * sqrtN), Annualized: val(dd * sqrtY)}

	excess := mu*TradingDaysPerYear - rf
	switch {
	case sd == 0:
		r.Sharpe, r.Sortino = absent(reasonZeroVol), absent(reasonZeroVol)
	case dd == 0:
		r.Sharpe = val(excess / (sd * sqrtY))
		r.Sortino = absent("no trading-day return is below the target rf/252, so the downside deviation is zero")
	default:
		r.Sharpe = val(excess / (sd * sqrtY))
		r.Sortino = val(excess / (dd * sqrtY))
	}

	sorted := slices.Clone(obs)
	slices.Sort(sorted)
	r.ValueAtRisk = ValueAtRisk{
		Historical95: historicalVaR(sorted, 0.95),
		Historical99: historicalVaR(sorted, 0.99),
		Parametric95: parametricVaR(mu, sd, 0.95, z95),
		Parametric99: parametricVaR(mu, sd, 0.99, z99),
	}
}
