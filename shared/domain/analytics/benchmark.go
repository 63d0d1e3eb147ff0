package analytics

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// benchmarkStats aligns the portfolio's trading-day returns with the benchmark's
// closes and computes BenchmarkStats (see its doc for the formulas). days are the
// range's calendar days, obs and ends the trading-day returns and their end indices.
func benchmarkStats(b *Benchmark, days []calendar.Date, obs []float64, ends []int, rf float64, warnings *[]string) BenchmarkStats {
	if b == nil {
		a := absent("no benchmark series given")
		return BenchmarkStats{Return: a, PortfolioReturn: a, Beta: a, Alpha: a, Correlation: a}
	}
	out := BenchmarkStats{Symbol: b.Symbol}
	if out.Symbol == "" {
		out.Symbol = DefaultBenchmarkSymbol
	}
	bd, bc := cleanBenchmark(b, out.Symbol, warnings)
	rp, rb, kd := alignBenchmark(days, obs, ends, bd, bc)
	m := len(rp)
	out.Observations = m
	if m == 0 {
		a := absent("the benchmark has no closes on two of the portfolio's trading days in the range")
		out.Return, out.PortfolioReturn, out.Beta, out.Alpha, out.Correlation = a, a, a, a, a
		return out
	}
	gp, gb := 1.0, 1.0
	for j := range rp {
		gp *= 1 + rp[j]
		gb *= 1 + rb[j]
	}
	out.Return, out.PortfolioReturn = val(gb-1), val(gp-1)
	if m < 2 {
		a := absent(fmt.Sprintf("needs at least 2 common returns with the benchmark, have %d", m))
		out.Beta, out.Alpha, out.Correlation = a, a, a
		return out
	}
	mp, sp := meanStd(rp)
	mb, sb := meanStd(rb)
	var cov float64
	for j := range rp {
		cov += (rp[j] - mp) * (rb[j] - mb)
	}
	cov /= float64(m - 1)
	if sb < zeroDeviation {
		a := absent("the benchmark's returns have zero variance")
		out.Beta, out.Alpha, out.Correlation = a, a, a
		return out
	}
	beta := cov / (sb * sb)
	out.Beta = val(beta)
	if sp < zeroDeviation {
		out.Correlation = absent(reasonZeroVol)
	} else {
		out.Correlation = val(min(1, max(-1, cov/(sp*sb))))
	}
	daily := rf / TradingDaysPerYear
	var sum float64
	var k int
	for j := range rp {
		f := float64(kd[j]) * daily
		sum += (rp[j] - f) - beta*(rb[j]-f)
		k += kd[j]
	}
	out.Alpha = val(TradingDaysPerYear * sum / float64(k))
	return out
}

// cleanBenchmark returns the benchmark's usable closes (positive and finite) in
// ascending date order, one per day (the last given for a repeated day).
func cleanBenchmark(b *Benchmark, symbol string, warnings *[]string) ([]calendar.Date, []float64) {
	n := min(len(b.Days), len(b.Closes))
	if len(b.Days) != len(b.Closes) {
		*warnings = append(*warnings, fmt.Sprintf("benchmark %s has %d days but %d closes; the extra ones are ignored", symbol, len(b.Days), len(b.Closes)))
	}
	days, closes := b.Days[:n], b.Closes[:n]
	ok := slices.IsSorted(days)
	for i := 1; ok && i < n; i++ {
		ok = days[i] != days[i-1]
	}
	bad := 0
	for _, c := range closes {
		if !(c > 0) || !isFinite(c) {
			bad++
		}
	}
	if ok && bad == 0 {
		return days, closes
	}
	if bad > 0 {
		*warnings = append(*warnings, fmt.Sprintf("benchmark %s: %d closes are not positive finite numbers and count as missing", symbol, bad))
	}
	type pt struct {
		d calendar.Date
		c float64
		i int
	}
	pts := make([]pt, 0, n)
	for i := range n {
		if c := closes[i]; c > 0 && isFinite(c) {
			pts = append(pts, pt{days[i], c, i})
		}
	}
	if !ok {
		*warnings = append(*warnings, fmt.Sprintf("benchmark %s: days are not strictly ascending; sorted, the last close of a repeated day kept", symbol))
		slices.SortFunc(pts, func(a, b pt) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.i, b.i)) })
	}
	od := make([]calendar.Date, 0, len(pts))
	oc := make([]float64, 0, len(pts))
	for _, p := range pts {
		if k := len(od); k > 0 && od[k-1] == p.d {
			oc[k-1] = p.c
			continue
		}
		od = append(od, p.d)
		oc = append(oc, p.c)
	}
	return od, oc
}

// alignBenchmark pairs the portfolio's and the benchmark's returns between
// consecutive common days (see BenchmarkStats). kd[j] counts the portfolio's trading
// days in pair j.
func alignBenchmark(days []calendar.Date, obs []float64, ends []int, bd []calendar.Date, bc []float64) (rp, rb []float64, kd []int) {
	if len(days) == 0 {
		return nil, nil, nil
	}
	rp = make([]float64, 0, len(obs))
	rb = make([]float64, 0, len(obs))
	kd = make([]int, 0, len(obs))
	bi := 0
	var prev float64
	have := false
	for bi < len(bd) && bd[bi] < days[0] { // anchor: last close on or before the day before the range
		prev, have = bc[bi], true
		bi++
	}
	g, k := 1.0, 0
	for j, r := range obs {
		g *= 1 + r
		k++
		d := days[ends[j]]
		for bi < len(bd) && bd[bi] < d {
			bi++
		}
		if bi < len(bd) && bd[bi] == d {
			c := bc[bi]
			bi++
			if have {
				rp = append(rp, g-1)
				rb = append(rb, c/prev-1)
				kd = append(kd, k)
			}
			prev, have, g, k = c, true, 1, 0
		}
	}
	return rp, rb, kd
}
