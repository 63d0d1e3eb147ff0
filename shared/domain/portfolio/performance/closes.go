package performance

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/shopspring/decimal"
)

// MaxScale is the largest number of decimal places a close may have.
const MaxScale = 18

// MaxSymbolLen is the longest symbol accepted, the same limit as a transaction's.
const MaxSymbolLen = 32

var (
	// pow10u[i] = 10^i for 0 ≤ i ≤ 19.
	pow10u = func() (p [20]uint64) {
		p[0] = 1
		for i := 1; i < len(p); i++ {
			p[i] = p[i-1] * 10
		}
		return p
	}()
	// pow10f[i] = 10^i for 0 ≤ i ≤ 22, all exact in float64.
	pow10f = func() (p [23]float64) {
		p[0] = 1
		for i := 1; i < len(p); i++ {
			p[i] = p[i-1] * 10
		}
		return p
	}()
)

// Closes is a store of daily closing prices, per symbol, in a compact columnar
// layout (see the package doc). Fill it with LoadCSV, or with NewCloses, Add and
// Seal; once sealed it is read-only and safe for concurrent readers.
type Closes struct {
	index  map[string]int32
	series []symSeries
	n      int
	sealed bool
	source string // for Seal's error messages
	// cal is the calendar: while loading, the distinct dates seen in ascending
	// order as they arrived (a date later than all before it is appended). A symbol
	// whose dates so far are a run of it stores no dates of its own.
	cal []calendar.Date
}

// symSeries is one symbol's closes: close i is m[i] × 10^−scale on dates[i].
type symSeries struct {
	name  string
	dates []calendar.Date
	m32   []int32 // mantissas while every one fits in an int32 ...
	m64   []int64 // ... and once one does not (m32 is then nil)
	scale int     // decimal places, 0..MaxScale
	st    *staging
	next  int32  // LoadCSV: the symbol of the line that last followed this one's
	key   uint64 // symbolKey of name, 0 when it has none
}

// staging collects a symbol's closes before Seal, in chunks that are filled and
// never moved, so loading copies nothing; Seal concatenates them once. While its
// dates are the run Closes.cal[start:start+n] (follow), it keeps none of its own.
type staging struct {
	follow        bool
	start         int
	fullD         [][]calendar.Date
	full32        [][]int32
	full64        [][]int64
	curD          []calendar.Date
	cur32         []int32
	cur64         []int64
	wide          bool // mantissas are int64 (full64, cur64)
	n             int
	maxM          int64
	lastDay       calendar.Date
	lastM         int64
	unsorted      bool
	lastLine      int // input line of the last close, 0 if unknown
	conflictScale int // the scale an addConflict needed
}

// chunkMax bounds a staging chunk: at most one partly filled chunk per symbol is
// spare capacity, 8 KiB or less.
const chunkMax = 1024

// NewCloses returns an empty store for Add; call Seal before reading it.
func NewCloses() *Closes {
	return &Closes{index: make(map[string]int32)}
}

// Add records the close of symbol on day. Closes may come in any order; Seal sorts
// them. Adding the same (symbol, day) twice is accepted only with an equal price.
func (c *Closes) Add(symbol string, day calendar.Date, price decimal.Decimal) error {
	if c.sealed {
		return fmt.Errorf("performance: Add after Seal")
	}
	if msg := checkSymbol(symbol); msg != "" {
		return fmt.Errorf("performance: %s", msg)
	}
	if price.Sign() <= 0 {
		return fmt.Errorf("performance: close %s of %s on %s must be positive", price, symbol, day)
	}
	var mant uint64
	exp := int(price.Exponent())
	if price.NumDigits() <= 18 {
		mant = uint64(price.CoefficientInt64())
	} else {
		// A coefficient beyond int64 may still be exact after dropping trailing zeros.
		m, e, st := parseNumber([]byte(price.String()))
		if st != numOK {
			return fmt.Errorf("performance: close %s of %s on %s has more than 18 significant digits", price, symbol, day)
		}
		mant, exp = m, e
	}
	for mant%10 == 0 {
		mant /= 10
		exp++
	}
	s := &c.series[c.symbol(symbol)]
	st, prev := c.add(s, day, mant, exp, 0)
	if st != addOK {
		return fmt.Errorf("performance: %s", s.addError(st, prev, price.String(), day))
	}
	return nil
}

// checkSymbol returns what is wrong with a symbol, or "".
func checkSymbol(symbol string) string {
	switch {
	case symbol == "":
		return "empty symbol"
	case len(symbol) > MaxSymbolLen:
		return fmt.Sprintf("symbol %q is longer than %d characters", symbol, MaxSymbolLen)
	case symbol != strings.TrimSpace(symbol):
		return fmt.Sprintf("symbol %q has surrounding spaces", symbol)
	}
	return ""
}

// symbol returns the index of the series of name, creating it.
func (c *Closes) symbol(name string) int32 {
	i, ok := c.index[name]
	if !ok {
		i = int32(len(c.series))
		c.index[name] = i
		var key uint64
		if len(name) <= 7 {
			key, _ = symbolKey(append([]byte(name), make([]byte, 8)...)[:len(name)])
		}
		c.series = append(c.series, symSeries{name: name, st: &staging{}, next: -1, key: key})
	}
	return i
}

type addStatus int

const (
	addOK         addStatus = iota
	addTooPrecise           // more than MaxScale decimal places
	addTooLarge             // beyond int64 at any scale
	addConflict             // beyond int64 at the symbol's scale
	addDuplicate
)

// add records mant × 10^exp (mant > 0) on day for s. line is the input line for
// duplicate messages (0 when unknown). On a duplicate it returns the mantissa of
// the earlier close.
func (c *Closes) add(s *symSeries, day calendar.Date, mant uint64, exp int, line int) (addStatus, int64) {
	st := s.st
	if mant > math.MaxInt64 {
		return addTooLarge, 0
	}
	dec := 0
	if exp < 0 {
		dec = -exp
		if dec > MaxScale {
			return addTooPrecise, 0
		}
	} else if exp > 0 {
		if exp > 18 || mant > math.MaxInt64/pow10u[exp] {
			return addTooLarge, 0
		}
		mant *= pow10u[exp]
	}
	if dec != s.scale {
		if dec > s.scale {
			f := int64(pow10u[dec-s.scale])
			if st.maxM > math.MaxInt64/f {
				st.conflictScale = dec
				return addConflict, 0
			}
			s.rescale(f, dec)
		} else {
			f := pow10u[s.scale-dec]
			if mant > math.MaxInt64/f {
				st.conflictScale = s.scale
				return addConflict, 0
			}
			mant *= f
		}
	}
	m := int64(mant)
	if st.n > 0 && !st.unsorted {
		if day == st.lastDay {
			if st.lastM == m {
				return addOK, 0 // the same close again: keep one
			}
			return addDuplicate, st.lastM
		}
		if day < st.lastDay {
			st.unsorted = true
		}
	}

	// The date: still a run of the calendar, or the symbol's own.
	switch {
	case st.n == 0:
		st.follow, st.start = c.calPos(day)
	case st.follow:
		pos := st.start + st.n
		switch {
		case pos < len(c.cal) && c.cal[pos] == day:
		case pos == len(c.cal) && day > c.cal[pos-1]:
			c.cal = append(c.cal, day)
		default:
			st.unfollow(c.cal)
		}
	}
	if !st.follow {
		if len(st.curD) == cap(st.curD) {
			st.fullD = appendChunk(st.fullD, st.curD)
			st.curD = make([]calendar.Date, 0, chunkSize(st.n))
		}
		st.curD = append(st.curD, day)
	}

	if !st.wide && m <= math.MaxInt32 {
		if len(st.cur32) == cap(st.cur32) {
			st.full32 = appendChunk(st.full32, st.cur32)
			st.cur32 = make([]int32, 0, chunkSize(st.n))
		}
		st.cur32 = append(st.cur32, int32(m))
	} else {
		if !st.wide {
			st.widen()
		}
		if len(st.cur64) == cap(st.cur64) {
			st.full64 = appendChunk(st.full64, st.cur64)
			st.cur64 = make([]int64, 0, chunkSize(st.n))
		}
		st.cur64 = append(st.cur64, m)
	}
	st.n++
	st.lastDay, st.lastM, st.lastLine = day, m, line
	st.maxM = max(st.maxM, m)
	return addOK, 0
}

// calPos places a symbol's first date on the calendar: its position, appending it
// when it is later than every date so far. follow is false when the date falls
// between calendar dates.
func (c *Closes) calPos(day calendar.Date) (follow bool, pos int) {
	if n := len(c.cal); n == 0 || day > c.cal[n-1] {
		c.cal = append(c.cal, day)
		return true, n
	}
	pos, found := slices.BinarySearch(c.cal, day)
	return found, pos
}

// unfollow gives the symbol its own dates, copied from its run of the calendar.
func (st *staging) unfollow(cal []calendar.Date) {
	st.follow = false
	st.curD = make([]calendar.Date, st.n, max(st.n, 16))
	copy(st.curD, cal[st.start:st.start+st.n])
}

// chunkSize sizes a new chunk like what is already there (16 up to chunkMax), so
// a symbol with few closes stays small.
func chunkSize(n int) int { return min(max(n, 16), chunkMax) }

func appendChunk[T any](full [][]T, cur []T) [][]T {
	if len(cur) == 0 {
		return full
	}
	return append(full, cur)
}

// widen converts the staged mantissas to int64.
func (st *staging) widen() {
	st.full64 = make([][]int64, len(st.full32))
	for i, ch := range st.full32 {
		st.full64[i] = widen32(ch, len(ch))
	}
	st.cur64 = widen32(st.cur32, cap(st.cur32))
	st.full32, st.cur32, st.wide = nil, nil, true
}

func widen32(ch []int32, capacity int) []int64 {
	out := make([]int64, len(ch), capacity)
	for i, v := range ch {
		out[i] = int64(v)
	}
	return out
}

// rescale multiplies every staged mantissa by f (checked by the caller) for the
// new scale.
func (s *symSeries) rescale(f int64, scale int) {
	st := s.st
	s.scale = scale
	st.maxM *= f
	st.lastM *= f
	if !st.wide && st.maxM > math.MaxInt32 {
		st.widen()
	}
	if st.wide {
		for _, ch := range append(st.full64, st.cur64) {
			for i := range ch {
				ch[i] *= f
			}
		}
		return
	}
	for _, ch := range append(st.full32, st.cur32) {
		for i := range ch {
			ch[i] *= int32(f)
		}
	}
}

func (s *symSeries) mant(i int) int64 {
	if s.m64 != nil {
		return s.m64[i]
	}
	return int64(s.m32[i])
}

// float is close i as the nearest float64 (exact division by a power of ten, so
// correctly rounded whenever the mantissa is below 2^53).
func (s *symSeries) float(i int) float64 {
	if s.m64 != nil {
		return float64(s.m64[i]) / pow10f[s.scale]
	}
	return float64(s.m32[i]) / pow10f[s.scale]
}

func (s *symSeries) decimal(i int) decimal.Decimal {
	return decimal.New(s.mant(i), -int32(s.scale))
}

func (s *symSeries) addError(st addStatus, prev int64, text string, day calendar.Date) string {
	switch st {
	case addTooPrecise:
		return fmt.Sprintf("close %s has more than %d decimal places", text, MaxScale)
	case addTooLarge:
		return fmt.Sprintf("close %s is too large to store exactly (more than 18 digits)", text)
	case addConflict:
		return fmt.Sprintf("close %s cannot be stored exactly with the other closes of %s: at %d decimal places one of them needs more than 18 digits", text, s.name, s.st.conflictScale)
	case addDuplicate:
		where := ""
		if s.st.lastLine > 0 {
			where = fmt.Sprintf(" on line %d", s.st.lastLine)
		}
		return fmt.Sprintf("duplicate close for %s on %s: %s here, %s%s", s.name, day, text, decimal.New(prev, -int32(s.scale)), where)
	}
	return "ok"
}

// Seal sorts each symbol's closes by date, rejects a (symbol, date) recorded twice
// with different prices, and lays the columns out compactly. The store is
// read-only after.
func (c *Closes) Seal() error {
	if c.sealed {
		return nil
	}
	for i := range c.series {
		if err := c.series[i].sealMantissas(); err != nil {
			if c.source != "" {
				return fmt.Errorf("%s: %w", c.source, err)
			}
			return fmt.Errorf("performance: %w", err)
		}
	}
	c.sealDates()
	c.n = 0
	for i := range c.series {
		c.series[i].st = nil
		c.n += len(c.series[i].dates)
	}
	c.sealed = true
	return nil
}

// sealMantissas concatenates the staged mantissas into one exact-size column. A
// symbol that came out of date order is also sorted (stably) and its dates
// concatenated; repeated equal closes are dropped, unequal ones are an error.
func (s *symSeries) sealMantissas() error {
	st := s.st
	if !st.unsorted {
		if st.wide {
			s.m64 = concat(st.full64, st.cur64, st.n)
		} else {
			s.m32 = concat(st.full32, st.cur32, st.n)
		}
		st.full32, st.full64, st.cur32, st.cur64 = nil, nil, nil, nil
		return nil // dates are done by sealDates, which may share them
	}
	dates := concat(st.fullD, st.curD, st.n)
	var m64 []int64
	if st.wide {
		m64 = concat(st.full64, st.cur64, st.n)
	} else {
		m64 = make([]int64, 0, st.n)
		for _, ch := range append(st.full32, st.cur32) {
			for _, v := range ch {
				m64 = append(m64, int64(v))
			}
		}
	}
	wide := st.wide
	*st = staging{}
	perm := make([]int32, len(dates))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int { return cmp.Compare(dates[a], dates[b]) })
	outD := make([]calendar.Date, 0, len(perm))
	outM := make([]int64, 0, len(perm))
	for _, p := range perm {
		d, m := dates[p], m64[p]
		if n := len(outD); n > 0 && outD[n-1] == d {
			if outM[n-1] == m {
				continue
			}
			return fmt.Errorf("duplicate close for %s on %s: %s and %s (the input is not in date order, so the lines are not tracked)",
				s.name, d, decimal.New(outM[n-1], -int32(s.scale)), decimal.New(m, -int32(s.scale)))
		}
		outD = append(outD, d)
		outM = append(outM, m)
	}
	s.dates = slices.Clip(outD)
	if wide || slices.Max(append(outM, 0)) > math.MaxInt32 {
		s.m64 = slices.Clip(outM)
		return nil
	}
	s.m32 = make([]int32, len(outM))
	for i, v := range outM {
		s.m32[i] = int32(v)
	}
	return nil
}

func concat[T any](full [][]T, cur []T, n int) []T {
	out := make([]T, 0, n)
	for _, ch := range full {
		out = append(out, ch...)
	}
	return append(out, cur...)
}

// sealDates gives each symbol its date column. A symbol that followed the
// calendar gets its run of it. Symbols listed on one exchange share its trading
// calendar, so any other symbol whose dates are an identical run of a column
// already laid out gets a window into it too, and a copy only otherwise.
func (c *Closes) sealDates() {
	cal := slices.Clone(c.cal)
	c.cal = nil
	const maxCanon = 8 // distinct calendars tried per symbol
	canon := make([][]calendar.Date, 0, maxCanon)
	if len(cal) > 0 {
		canon = append(canon, cal)
	}
	var order []int
	for i := range c.series {
		s := &c.series[i]
		switch st := s.st; {
		case st.follow && st.n > 0:
			s.dates = cal[st.start : st.start+st.n : st.start+st.n]
		case st.n > 0 || len(s.dates) > 0:
			order = append(order, i)
		}
	}
	length := func(s *symSeries) int { return max(s.st.n, len(s.dates)) }
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(length(&c.series[b]), length(&c.series[a]))
	})
	for _, i := range order {
		s := &c.series[i]
		chunks, n := [][]calendar.Date{s.dates}, len(s.dates)
		if st := s.st; st.n > 0 { // in order, still staged
			chunks, n = appendChunk(st.fullD, st.curD), st.n
		}
		shared := false
		for _, col := range canon {
			if w, ok := window(col, chunks, n); ok {
				s.dates, shared = w, true
				break
			}
		}
		if !shared {
			if s.st.n > 0 {
				s.dates = concat(chunks, nil, n)
			}
			if len(canon) < maxCanon {
				canon = append(canon, s.dates)
			}
		}
	}
}

// window returns the run of col equal to the concatenation of chunks (n dates).
func window(col []calendar.Date, chunks [][]calendar.Date, n int) ([]calendar.Date, bool) {
	j, found := slices.BinarySearch(col, chunks[0][0])
	if !found || j+n > len(col) {
		return nil, false
	}
	w := col[j : j+n : j+n]
	at := 0
	for _, ch := range chunks {
		if !slices.Equal(w[at:at+len(ch)], ch) {
			return nil, false
		}
		at += len(ch)
	}
	return w, true
}

func (c *Closes) mustBeSealed() {
	if !c.sealed {
		panic("performance: Closes read before Seal")
	}
}

// lookup returns the series of symbol, or nil. A nil store has no symbols.
func (c *Closes) lookup(symbol string) *symSeries {
	if c == nil {
		return nil
	}
	c.mustBeSealed()
	i, ok := c.index[symbol]
	if !ok {
		return nil
	}
	return &c.series[i]
}

// searchLE returns the index of the last close on or before day, or −1.
func (s *symSeries) searchLE(day calendar.Date) int {
	i, found := slices.BinarySearch(s.dates, day)
	if found {
		return i
	}
	return i - 1
}

// On returns the last close of symbol on or before day, exactly, and the date of
// that close. ok is false when the symbol has no close on or before day.
func (c *Closes) On(symbol string, day calendar.Date) (price decimal.Decimal, closeDate calendar.Date, ok bool) {
	s := c.lookup(symbol)
	if s == nil {
		return decimal.Decimal{}, 0, false
	}
	i := s.searchLE(day)
	if i < 0 {
		return decimal.Decimal{}, 0, false
	}
	return s.decimal(i), s.dates[i], true
}

// OnFloat is On as the nearest float64, without allocating.
func (c *Closes) OnFloat(symbol string, day calendar.Date) (price float64, closeDate calendar.Date, ok bool) {
	s := c.lookup(symbol)
	if s == nil {
		return 0, 0, false
	}
	i := s.searchLE(day)
	if i < 0 {
		return 0, 0, false
	}
	return s.float(i), s.dates[i], true
}

// Span returns the first and last close dates of symbol and how many closes it has.
func (c *Closes) Span(symbol string) (first, last calendar.Date, n int) {
	s := c.lookup(symbol)
	if s == nil || len(s.dates) == 0 {
		return 0, 0, 0
	}
	return s.dates[0], s.dates[len(s.dates)-1], len(s.dates)
}

// Symbols returns the symbols with at least one close, sorted.
func (c *Closes) Symbols() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.series))
	for i := range c.series {
		if len(c.series[i].dates) > 0 {
			out = append(out, c.series[i].name)
		}
	}
	slices.Sort(out)
	return out
}

// Len returns the number of closes stored.
func (c *Closes) Len() int {
	if c == nil {
		return 0
	}
	return c.n
}
