package performance

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// ErrNoRate is wrapped by MWR and IRR when no rate of return exists.
var ErrNoRate = errors.New("no money-weighted rate of return")

// DailyReturns returns r_d for every day of the series (0 on days with nothing
// invested); TWR is their chained product.
func (s *Series) DailyReturns() []float64 {
	out := make([]float64, len(s.Value))
	prev := s.Start
	for i, v := range s.Value {
		if den := prev + s.Inflow[i]; den > 0 {
			out[i] = (v+s.Outflow[i])/den - 1
		}
		prev = v
	}
	return out
}

// TWR returns the time-weighted return over the whole series, not annualised
// (0.1 is +10%). It is 0 for a series on which nothing was ever invested.
func (s *Series) TWR() float64 {
	g := 1.0
	prev := s.Start
	for i, v := range s.Value {
		if den := prev + s.Inflow[i]; den > 0 {
			g *= (v + s.Outflow[i]) / den
		}
		prev = v
	}
	return g - 1
}

// Annualize converts a return r earned over days calendar days (len(Series.Days)
// for a series) to an annual rate, (1+r)^(365/days) − 1. Extrapolating a shorter
// period to a year is misleading, so for days < 365 it returns r unchanged and
// ok = false. A return of −100% or worse stays −1.
func Annualize(r float64, days int) (annual float64, ok bool) {
	if days < 365 {
		return r, false
	}
	if r <= -1 {
		return -1, true
	}
	return math.Pow(1+r, 365/float64(days)) - 1, true
}

// MWR returns the money-weighted return of the series: the annual internal rate of
// return of the investor's flows (see the package doc), 0.1 being 10% a year. It
// wraps ErrNoRate when there is no such rate.
func (s *Series) MWR() (float64, error) {
	n := len(s.Value)
	if n == 0 {
		return 0, fmt.Errorf("%w: empty series", ErrNoRate)
	}
	days := make([]int, 0, n+2)
	amts := make([]float64, 0, n+2)
	add := func(d int, a float64) {
		if a == 0 {
			return
		}
		if k := len(days); k > 0 && days[k-1] == d {
			amts[k-1] += a
			return
		}
		days = append(days, d)
		amts = append(amts, a)
	}
	add(0, -s.Start)
	for i := range n {
		add(i, s.Outflow[i]-s.Inflow[i])
	}
	add(n, s.Value[n-1])
	return solveIRR(days, amts)
}

// Flow is an investor's cash flow for IRR: negative when money is invested,
// positive when it is paid out (or is the final value).
type Flow struct {
	Day    calendar.Date
	Amount float64
}

// IRR returns the annual internal rate of return of flows, with time measured in
// days/365 from the earliest flow (XIRR's convention). Flows on the same day are
// summed. It wraps ErrNoRate when there is no rate.
func IRR(flows []Flow) (float64, error) {
	fs := slices.Clone(flows)
	slices.SortStableFunc(fs, func(a, b Flow) int { return cmp.Compare(a.Day, b.Day) })
	days := make([]int, 0, len(fs))
	amts := make([]float64, 0, len(fs))
	for _, f := range fs {
		if f.Amount == 0 {
			continue
		}
		d := int(f.Day) - int(fs[0].Day)
		if k := len(days); k > 0 && days[k-1] == d {
			amts[k-1] += f.Amount
			continue
		}
		days = append(days, d)
		amts = append(amts, f.Amount)
	}
	return solveIRR(days, amts)
}

// Bounds of the search for x = ln(1+r): r from e^−100 − 1 (−100% for practical
// purposes) to e^700 (the float64 range).
const (
	minLogRate = -100
	maxLogRate = 700
)

// solveIRR finds x with Σ amts[i]·e^(−x·days[i]/365) = 0 (days ascending, distinct)
// and returns r = e^x − 1.
func solveIRR(days []int, amts []float64) (float64, error) {
	var pos, neg bool
	for i, a := range amts {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return 0, fmt.Errorf("%w: flow %d is %v", ErrNoRate, i, a)
		}
		pos = pos || a > 0
		neg = neg || a < 0
	}
	switch {
	case len(amts) == 0:
		return 0, fmt.Errorf("%w: no flows", ErrNoRate)
	case !pos || !neg:
		return 0, fmt.Errorf("%w: the flows never change sign (money only goes in, or only comes out)", ErrNoRate)
	}
	if days[0] != 0 {
		off := days[0]
		days = slices.Clone(days)
		for i := range days {
			days[i] -= off
		}
	}
	npv := irrFunc{days: days, amts: amts}
	lo, hi, glo, ghi, found := npv.bracket()
	if !found {
		return 0, fmt.Errorf("%w: no rate between -100%% and e^%d solves the flows", ErrNoRate, maxLogRate)
	}
	if glo == 0 {
		return math.Expm1(lo), nil
	}
	if ghi == 0 {
		return math.Expm1(hi), nil
	}
	return math.Expm1(npv.solve(lo, hi, glo)), nil
}

type irrFunc struct {
	days []int
	amts []float64
}

// eval returns g(x) and g'(x), where g is the net present value
// Σ a_i·e^(−x·t_i) for x ≥ 0 and the same times e^(x·T) (T the last time) for x < 0:
// the same sign and roots, and no exponential overflows on either side.
func (f *irrFunc) eval(x float64) (g, dg float64) {
	days, amts := f.days, f.amts
	k := x / 365
	if x >= 0 {
		// Horner from the last flow back: acc_i = a_i + e^(−k·gap)·acc_{i+1}.
		one := math.Exp(-k)
		acc, dacc := amts[len(amts)-1], 0.0
		for i := len(amts) - 2; i >= 0; i-- {
			gap := days[i+1] - days[i]
			e := one
			if gap != 1 {
				e = math.Exp(-k * float64(gap))
			}
			dacc = e * (dacc - float64(gap)/365*acc)
			acc = amts[i] + e*acc
		}
		return acc, dacc
	}
	// Forward: acc_i = a_i + e^(k·gap)·acc_{i−1}, exponents ≤ 0 as k < 0.
	one := math.Exp(k)
	acc, dacc := amts[0], 0.0
	for i := 1; i < len(amts); i++ {
		gap := days[i] - days[i-1]
		e := one
		if gap != 1 {
			e = math.Exp(k * float64(gap))
		}
		dacc = e * (dacc + float64(gap)/365*acc)
		acc = amts[i] + e*acc
	}
	return acc, dacc
}

// bracket searches outwards from x = 0, alternating sides with doubling steps, for
// an interval whose ends have opposite signs, so the root nearest r = 0 is found.
func (f *irrFunc) bracket() (lo, hi, glo, ghi float64, ok bool) {
	g0, _ := f.eval(0)
	if g0 == 0 {
		return 0, 0, 0, 0, true
	}
	pPrev, gP := 0.0, g0 // positive side
	nPrev, gN := 0.0, g0 // negative side
	for h := 0.01; pPrev < maxLogRate || nPrev > minLogRate; h *= 2 {
		if pPrev < maxLogRate {
			x := min(h, maxLogRate)
			g, _ := f.eval(x)
			if g == 0 || (g > 0) != (gP > 0) {
				return pPrev, x, gP, g, true
			}
			pPrev, gP = x, g
		}
		if nPrev > minLogRate {
			x := max(-h, minLogRate)
			g, _ := f.eval(x)
			if g == 0 || (g > 0) != (gN > 0) {
				return x, nPrev, g, gN, true
			}
			nPrev, gN = x, g
		}
	}
	return 0, 0, 0, 0, false
}

// solve finds the root in [lo, hi] (g(lo) = glo, opposite in sign to g(hi)) by
// Newton's method, bisecting whenever a step would leave the bracket or converge
// too slowly (Numerical Recipes' rtsafe).
func (f *irrFunc) solve(lo, hi, glo float64) float64 {
	xl, xh := lo, hi // g(xl) < 0 < g(xh)
	if glo > 0 {
		xl, xh = hi, lo
	}
	x := 0.5 * (lo + hi)
	dxOld := math.Abs(hi - lo)
	dx := dxOld
	g, dg := f.eval(x)
	for range 300 {
		if ((x-xh)*dg-g)*((x-xl)*dg-g) > 0 || math.Abs(2*g) > math.Abs(dxOld*dg) {
			dxOld = dx
			dx = 0.5 * (xh - xl)
			x = xl + dx
		} else {
			dxOld = dx
			dx = g / dg
			x -= dx
		}
		if math.Abs(dx) <= 1e-14*max(1, math.Abs(x)) {
			return x
		}
		g, dg = f.eval(x)
		if g == 0 {
			return x
		}
		if g < 0 {
			xl = x
		} else {
			xh = x
		}
	}
	return x
}
