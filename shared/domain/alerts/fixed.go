package alerts

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

// scale is the fixed-point unit: values are compared as integers of 1e-8.
const (
	scaleDigits = 8
	scaleUnit   = 100_000_000
)

// bounds is an observation x as floor(x·10⁸) and ceil(x·10⁸), saturated to int64.
// For any threshold t with at most 8 decimals, T = t·10⁸ an integer:
//
//	x ≥ t ⇔ lo ≥ T    x < t ⇔ lo < T    x ≤ t ⇔ hi ≤ T    x > t ⇔ hi > T
//
// (saturation keeps these true for |T| below the saturation point).
type bounds struct{ lo, hi int64 }

var pow10 = [...]int64{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000,
	1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000,
	100_000_000_000_000, 1_000_000_000_000_000, 10_000_000_000_000_000, 100_000_000_000_000_000,
	1_000_000_000_000_000_000}

var decimalUnit = decimal.New(1, 0)

// toBounds converts d exactly. The common case (a coefficient of up to 18 digits and
// a modest exponent) is integer arithmetic without allocation.
func toBounds(d decimal.Decimal) bounds {
	if d.NumDigits() <= 18 {
		c, e := d.CoefficientInt64(), int(d.Exponent())+scaleDigits
		if c == 0 {
			return bounds{}
		}
		switch {
		case e >= 0 && e < len(pow10):
			p := pow10[e]
			if c > math.MaxInt64/p || c < -math.MaxInt64/p {
				return saturated(c > 0)
			}
			return bounds{c * p, c * p}
		case e < 0 && -e < len(pow10):
			p := pow10[-e]
			q, r := c/p, c%p
			switch {
			case r == 0:
				return bounds{q, q}
			case c > 0:
				return bounds{q, q + 1}
			default:
				return bounds{q - 1, q}
			}
		case e < 0: // |x| < 1e-10: 0 < x or x < 0 within one unit
			return ratioSign(c)
		}
		return saturated(c > 0)
	}
	return slowBounds(d)
}

func ratioSign(c int64) bounds {
	switch {
	case c > 0:
		return bounds{0, 1}
	case c < 0:
		return bounds{-1, 0}
	}
	return bounds{}
}

func saturated(positive bool) bounds {
	if positive {
		return bounds{math.MaxInt64, math.MaxInt64}
	}
	return bounds{math.MinInt64, math.MinInt64}
}

// slowBounds is toBounds for long coefficients or wild exponents.
func slowBounds(d decimal.Decimal) bounds {
	if d.Exponent() < -200 { // absurd precision: keep 60 places, and the sign
		t := d.Truncate(60)
		if t.IsZero() {
			return ratioSign(int64(d.Sign()))
		}
		d = t
	}
	return quoBounds(d, decimalUnit)
}

// maxMagnitude is where bounds saturate (well inside int64 at 1e-8 units).
var maxMagnitude = decimal.New(9, 10)

// quoBounds returns the bounds of num/den (den > 0) exactly, with decimals.
func quoBounds(num, den decimal.Decimal) bounds {
	if num.IsZero() || !den.IsPositive() {
		return bounds{}
	}
	if num.Exponent()-den.Exponent() > 30 || num.Abs().GreaterThan(den.Mul(maxMagnitude)) {
		return saturated(num.IsPositive())
	}
	q, r := num.QuoRem(den, scaleDigits)
	v := q.Shift(scaleDigits).IntPart()
	switch r.Sign() {
	case 0:
		return bounds{v, v}
	case 1:
		return bounds{v, v + 1}
	default:
		return bounds{v - 1, v}
	}
}

// mustScaled returns d·10⁸ for a d with at most 8 decimals within range (validated
// thresholds), and whether it was exact.
func mustScaled(d decimal.Decimal) (int64, bool) {
	b := toBounds(d)
	return b.lo, b.lo == b.hi && b.lo != math.MaxInt64 && b.lo != math.MinInt64
}

// ratioBounds returns the bounds of num/den for fixed-point num and den (den > 0):
// floor and ceil of num·10⁸/den, computed in 128 bits.
func ratioBounds(num, den int64) bounds {
	if den <= 0 {
		return bounds{}
	}
	neg := num < 0
	un := uint64(num)
	if neg {
		un = uint64(-num) // num ≠ MinInt64 for real prices; wraps harmlessly otherwise
	}
	hi, lo := bits.Mul64(un, scaleUnit)
	if hi >= uint64(den) {
		return saturated(!neg)
	}
	q, r := bits.Div64(hi, lo, uint64(den))
	if q > math.MaxInt64-1 {
		return saturated(!neg)
	}
	v := int64(q)
	if !neg {
		if r == 0 {
			return bounds{v, v}
		}
		return bounds{v, v + 1}
	}
	if r == 0 {
		return bounds{-v, -v}
	}
	return bounds{-v - 1, -v}
}

// ratioDecimal is num/den as a decimal rounded to 8 places, for firings.
func ratioDecimal(num, den decimal.Decimal) decimal.Decimal {
	if den.IsZero() {
		return decimal.Zero
	}
	return num.DivRound(den, scaleDigits)
}
