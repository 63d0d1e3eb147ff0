package currency

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/shopspring/decimal"
)

// Pivot is the currency crosses go through when no direct pair is known: every
// provider quotes each currency against the dollar.
const Pivot = "USD"

// InverseScale is the number of decimal places kept when a rate is inverted or
// crossed (1/1.0842 has no finite expansion); 12 keeps the error far below a
// cent on any amount the bounds accept.
const InverseScale = 12

// ErrNoRate reports that no rate for a pair is in force on a day.
var ErrNoRate = errors.New("no exchange rate")

// Rate is the price of one unit of From in To on a day, and the date of the
// oldest quote it was derived from.
type Rate struct {
	From, To string
	Value    decimal.Decimal
	Date     calendar.Date
	// Via is "direct", "inverse", "cross" (through Pivot) or "identity".
	Via string
}

// Rates is a table of dated exchange rates, one series per ordered pair as given.
// The rate in force on a day is the last one dated on or before it. Add rates,
// then read. The first read after an out-of-order Add sorts, once, under a lock:
// once the Adds are done, any number of goroutines may read (the analytics job
// shares one table between its workers); Add must not race a read. The zero
// value is not usable: use NewRates.
type Rates struct {
	pairs    map[pair]*series
	unsorted atomic.Bool
	mu       sync.Mutex
}

type pair struct{ from, to string }

type series struct {
	days  []calendar.Date
	rates []decimal.Decimal
}

// NewRates returns an empty table.
func NewRates() *Rates { return &Rates{pairs: map[pair]*series{}} }

// Add records that on day one unit of from cost rate units of to. Both must be
// ISO codes (a quote unit such as GBp is derived, never stored); a second rate
// for the same pair and day replaces the first.
func (r *Rates) Add(day calendar.Date, from, to string, rate decimal.Decimal) error {
	switch {
	case !IsISO(from) || !IsISO(to):
		return fmt.Errorf("rate %s→%s: want two ISO 4217 codes such as EUR and USD", from, to)
	case from == to:
		return fmt.Errorf("rate %s→%s: a currency against itself is always 1", from, to)
	case !rate.IsPositive():
		return fmt.Errorf("rate %s→%s on %s: %s is not positive", from, to, day, rate)
	}
	k := pair{from, to}
	s := r.pairs[k]
	if s == nil {
		s = &series{}
		r.pairs[k] = s
	}
	if n := len(s.days); n > 0 && s.days[n-1] >= day {
		r.unsorted.Store(true)
	}
	s.days = append(s.days, day)
	s.rates = append(s.rates, rate)
	return nil
}

// Len is the number of rates held.
func (r *Rates) Len() int {
	n := 0
	for _, s := range r.pairs {
		n += len(s.days)
	}
	return n
}

// Currencies lists every currency some rate mentions, sorted.
func (r *Rates) Currencies() []string {
	seen := map[string]bool{}
	for k := range r.pairs {
		seen[k.from], seen[k.to] = true, true
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// sort orders each series by day; of two rates on one day the later added wins.
func (r *Rates) sort() {
	if !r.unsorted.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.unsorted.Load() {
		return
	}
	for _, s := range r.pairs {
		idx := make([]int, len(s.days))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return s.days[idx[a]] < s.days[idx[b]] })
		days := make([]calendar.Date, 0, len(idx))
		rates := make([]decimal.Decimal, 0, len(idx))
		for _, i := range idx {
			if n := len(days); n > 0 && days[n-1] == s.days[i] {
				rates[n-1] = s.rates[i]
				continue
			}
			days = append(days, s.days[i])
			rates = append(rates, s.rates[i])
		}
		s.days, s.rates = days, rates
	}
	r.unsorted.Store(false)
}

// stored is the rate of a pair as given, in force on day.
func (r *Rates) stored(from, to string, day calendar.Date) (decimal.Decimal, calendar.Date, bool) {
	s := r.pairs[pair{from, to}]
	if s == nil {
		return decimal.Decimal{}, 0, false
	}
	i := sort.Search(len(s.days), func(i int) bool { return s.days[i] > day }) - 1
	if i < 0 {
		return decimal.Decimal{}, 0, false
	}
	return s.rates[i], s.days[i], true
}

// iso is the rate between two ISO codes: direct, else the inverse of the
// opposite pair, else through Pivot.
func (r *Rates) iso(from, to string, day calendar.Date) (Rate, bool) {
	if from == to {
		return Rate{From: from, To: to, Value: decimal.NewFromInt(1), Date: day, Via: "identity"}, true
	}
	if v, d, ok := r.stored(from, to, day); ok {
		return Rate{From: from, To: to, Value: v, Date: d, Via: "direct"}, true
	}
	if v, d, ok := r.stored(to, from, day); ok {
		return Rate{From: from, To: to, Value: one.DivRound(v, InverseScale), Date: d, Via: "inverse"}, true
	}
	if from == Pivot || to == Pivot {
		return Rate{}, false
	}
	a, okA := r.iso(from, Pivot, day)
	b, okB := r.iso(Pivot, to, day)
	if !okA || !okB {
		return Rate{}, false
	}
	return Rate{From: from, To: to, Value: a.Value.Mul(b.Value).Round(InverseScale), Date: min(a.Date, b.Date), Via: "cross"}, true
}

var one = decimal.NewFromInt(1)

// On is the rate from → to in force on day: one unit of from costs Value units
// of to. Quote units are converted exactly (1 GBp = GBP/100). It reports false
// when neither the pair, its inverse, nor both legs through USD have a rate on
// or before day; there is no silent 1.
func (r *Rates) On(from, to string, day calendar.Date) (Rate, bool) {
	r.sort()
	fs, fd := Settlement(from)
	ts, td := Settlement(to)
	rate, ok := r.iso(fs, ts, day)
	if !ok {
		return Rate{}, false
	}
	rate.From, rate.To = from, to
	if fd != 1 {
		rate.Value = rate.Value.Shift(-2)
	}
	if td != 1 {
		rate.Value = rate.Value.Shift(2)
	}
	return rate, true
}

// Need is On as an error: ErrNoRate, naming the pair and the day.
func (r *Rates) Need(from, to string, day calendar.Date) (Rate, error) {
	if rate, ok := r.On(from, to, day); ok {
		return rate, nil
	}
	return Rate{}, fmt.Errorf("%w: %s→%s on or before %s (directly, inverted, or through %s)", ErrNoRate, from, to, day, Pivot)
}

// Daily is the rate from → to on each day from first to last inclusive as
// float64 (for daily value series), NaN on days with no rate in force. It makes
// On's choice on every day (direct, else inverse, else through USD) in one pass
// over each series, so a 20-year column costs microseconds, not a decimal
// conversion per day; values agree with On's to float64 precision.
func (r *Rates) Daily(from, to string, first, last calendar.Date) []float64 {
	n := int(last-first) + 1
	if n <= 0 {
		return nil
	}
	r.sort()
	fs, fd := Settlement(from)
	ts, td := Settlement(to)
	out := r.dailyISO(fs, ts, first, n)
	if k := float64(td) / float64(fd); k != 1 {
		for i := range out {
			out[i] *= k
		}
	}
	return out
}

// dailyISO is iso on each of n days from first.
func (r *Rates) dailyISO(from, to string, first calendar.Date, n int) []float64 {
	out := make([]float64, n)
	if from == to {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	direct, inverse := r.cursor(from, to, first), r.cursor(to, from, first)
	var a, b []float64
	if from != Pivot && to != Pivot {
		a, b = r.dailyISO(from, Pivot, first, n), r.dailyISO(Pivot, to, first, n)
	}
	for i := range out {
		day := first + calendar.Date(i)
		if v, ok := direct.at(day); ok {
			out[i] = v
		} else if v, ok := inverse.at(day); ok {
			out[i] = 1 / v
		} else if a != nil {
			out[i] = a[i] * b[i] // NaN when either leg is
		} else {
			out[i] = math.NaN()
		}
	}
	return out
}

// cursor walks one stored series forward, day by day.
type cursor struct {
	s *series
	i int // the rate in force, −1 before the first
	f float64
}

func (r *Rates) cursor(from, to string, first calendar.Date) cursor {
	s := r.pairs[pair{from, to}]
	if s == nil {
		return cursor{i: -1}
	}
	c := cursor{s: s, i: sort.Search(len(s.days), func(i int) bool { return s.days[i] > first }) - 1}
	if c.i >= 0 {
		c.f = toFloat(s.rates[c.i])
	}
	return c
}

// at is the rate in force on day; days must not decrease between calls.
func (c *cursor) at(day calendar.Date) (float64, bool) {
	if c.s == nil {
		return 0, false
	}
	moved := false
	for c.i+1 < len(c.s.days) && c.s.days[c.i+1] <= day {
		c.i++
		moved = true
	}
	if c.i < 0 {
		return 0, false
	}
	if moved {
		c.f = toFloat(c.s.rates[c.i])
	}
	return c.f, true
}

// pow10 are the powers of ten exact in float64.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// toFloat is d as the nearest float64: one correctly rounded division when the
// coefficient and the power of ten are exact in float64 (any rate a file gives),
// else decimal's own conversion.
func toFloat(d decimal.Decimal) float64 {
	if e := -int(d.Exponent()); e >= 0 && e < len(pow10) && d.NumDigits() <= 15 {
		return float64(d.CoefficientInt64()) / pow10[e]
	}
	return d.InexactFloat64()
}
