package lots

import (
	"cmp"
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

// num is the book's internal exact decimal. While the coefficient fits in an int64
// the value is c × 10^e and arithmetic on it allocates nothing; otherwise it is
// the decimal.Decimal *big, and arithmetic goes through the decimal package.
// Either way results are exact (divRound rounds exactly like
// decimal.Decimal.DivRound); the int64 form is only a faster representation.
//
// A small value keeps no trailing zeros in c (so each value has one
// representation and exponents stay as coarse as the value allows), never uses
// math.MinInt64 (so negation cannot overflow), and keeps e within
// [minExp, maxExp]. Zero is num{}. A big value is never zero and never fits the
// small form (fromDec decides).
type num struct {
	c   int64
	e   int32
	big *decimal.Decimal
}

const (
	minExp = -64
	maxExp = 64
)

var (
	// pow10[k] = 10^k; limit[k] = the largest c with c × 10^k ≤ math.MaxInt64.
	pow10, limit [19]int64
	// hiAt[e−minExp] and loAt[e−minExp] are ±math.MaxInt64 × 10^e: a decimal with
	// exponent e between them has an int64 coefficient (compared without allocating,
	// since the exponents are equal).
	hiAt, loAt [maxExp - minExp + 1]decimal.Decimal
)

func init() {
	p := int64(1)
	for k := range pow10 {
		pow10[k], limit[k] = p, math.MaxInt64/p
		p *= 10
	}
	for i := range hiAt {
		hiAt[i] = decimal.New(math.MaxInt64, int32(i+minExp))
		loAt[i] = decimal.New(-math.MaxInt64, int32(i+minExp))
	}
}

// mk returns c × 10^e in canonical form. c must not be math.MinInt64.
func mk(c int64, e int32) num {
	if c == 0 {
		return num{}
	}
	for c%10 == 0 {
		c /= 10
		e++
	}
	if e < minExp || e > maxExp {
		return boxed(decimal.New(c, e))
	}
	return num{c: c, e: e}
}

// fromDec converts without allocating when the value fits the small form.
func fromDec(d decimal.Decimal) num {
	if d.IsZero() {
		return num{}
	}
	if e := d.Exponent(); e >= minExp && e <= maxExp {
		i := e - minExp
		if d.Cmp(hiAt[i]) <= 0 && d.Cmp(loAt[i]) >= 0 {
			return mk(d.CoefficientInt64(), e)
		}
	}
	return boxed(d)
}

// boxed wraps a decimal that does not fit the small form. It is separate so that
// only this path moves the decimal to the heap.
func boxed(d decimal.Decimal) num { return num{big: &d} }

// dec converts to a decimal.Decimal (allocating for a small non-zero value).
func (n num) dec() decimal.Decimal {
	switch {
	case n.big != nil:
		return *n.big
	case n.c == 0:
		return decimal.Zero
	}
	return decimal.New(n.c, n.e)
}

func (n num) isZero() bool { return n.big == nil && n.c == 0 }

func (n num) sign() int {
	if n.big != nil {
		return n.big.Sign()
	}
	return cmp.Compare(n.c, 0)
}

func (n num) neg() num {
	if n.big != nil {
		return fromDec(n.big.Neg())
	}
	return num{c: -n.c, e: n.e}
}

// align returns the coefficients of two small values at their common (smaller)
// exponent, or ok = false if one would overflow.
func align(a, b num) (ca, cb int64, e int32, ok bool) {
	switch {
	case a.e == b.e:
		return a.c, b.c, a.e, true
	case a.e > b.e:
		k := a.e - b.e
		if k >= int32(len(pow10)) || a.c > limit[k] || a.c < -limit[k] {
			return 0, 0, 0, false
		}
		return a.c * pow10[k], b.c, b.e, true
	default:
		k := b.e - a.e
		if k >= int32(len(pow10)) || b.c > limit[k] || b.c < -limit[k] {
			return 0, 0, 0, false
		}
		return a.c, b.c * pow10[k], a.e, true
	}
}

func (a num) add(b num) num {
	if b.isZero() {
		return a
	}
	if a.isZero() {
		return b
	}
	if a.big == nil && b.big == nil {
		if ca, cb, e, ok := align(a, b); ok {
			s := ca + cb
			overflow := (cb > 0 && s < ca) || (cb < 0 && s > ca) || s == math.MinInt64
			if !overflow {
				return mk(s, e)
			}
		}
	}
	return fromDec(a.dec().Add(b.dec()))
}

func (a num) sub(b num) num { return a.add(b.neg()) }

func (a num) mul(b num) num {
	if a.isZero() || b.isZero() {
		return num{}
	}
	if a.big == nil && b.big == nil {
		hi, lo := bits.Mul64(uabs(a.c), uabs(b.c))
		if hi == 0 && lo <= math.MaxInt64 {
			c := int64(lo)
			if (a.c < 0) != (b.c < 0) {
				c = -c
			}
			return mk(c, a.e+b.e)
		}
	}
	return fromDec(a.dec().Mul(b.dec()))
}

func (a num) cmp(b num) int {
	if a.big == nil && b.big == nil {
		if ca, cb, _, ok := align(a, b); ok {
			return cmp.Compare(ca, cb)
		}
	}
	if sa, sb := a.sign(), b.sign(); sa != sb {
		return cmp.Compare(sa, sb)
	}
	return a.dec().Cmp(b.dec())
}

// divRound returns a / b rounded half away from zero to scale decimal places, as
// decimal.Decimal.DivRound does. b must not be zero.
func (a num) divRound(b num, scale int32) num {
	if a.isZero() {
		return num{}
	}
	if a.big == nil && b.big == nil {
		// a / b = (ca / cb) × 10^(ea−eb), so the result is q × 10^−scale with
		// q = round(ca × 10^k / cb), k = ea − eb + scale.
		k := int64(a.e) - int64(b.e) + int64(scale)
		ua, ub := uabs(a.c), uabs(b.c)
		var hi, lo uint64
		ok := true
		switch {
		case k >= 0 && k < int64(len(pow10)):
			hi, lo = bits.Mul64(ua, uint64(pow10[k]))
		case k < 0 && -k < int64(len(pow10)):
			var h uint64
			h, ub = bits.Mul64(ub, uint64(pow10[-k]))
			ok = h == 0
			lo = ua
		default:
			ok = false
		}
		if ok && hi < ub {
			q, r := bits.Div64(hi, lo, ub)
			up := r >= ub-r // 2r ≥ ub: the discarded part is at least half
			if q < math.MaxInt64 || q == math.MaxInt64 && !up {
				if up {
					q++
				}
				c := int64(q)
				if (a.c < 0) != (b.c < 0) {
					c = -c
				}
				return mk(c, -scale)
			}
		}
	}
	return fromDec(a.dec().DivRound(b.dec(), scale))
}

func uabs(c int64) uint64 {
	if c < 0 {
		return uint64(-c)
	}
	return uint64(c)
}

// equal reports a == b (both canonical, so small values compare by fields).
func (a num) equal(b num) bool {
	if a.big == nil && b.big == nil {
		return a.c == b.c && a.e == b.e
	}
	return a.cmp(b) == 0
}
