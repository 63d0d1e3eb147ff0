package activities

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// Limits on numbers. A JSON number (or a numeric string) is read exactly, in the JSON
// grammar: an optional minus, digits without a leading zero, an optional fraction
// and an optional exponent. Exponents are accepted because JavaScript — and so a
// Ghostfolio export — writes 0.0000001 as 1e-7. After the exponent is applied the
// value must have at most MaxDecimalPlaces digits after the point (trailing zeros
// do not count) and be smaller than 10^MaxIntegerDigits in magnitude.
const (
	MaxDecimalPlaces = 18
	MaxIntegerDigits = 15
	maxExponent      = 1000
)

// checkNumber reports whether b is a JSON number (used for values that are skipped).
func checkNumber(b []byte) bool {
	_, _, _, _, ok := splitNumber(b)
	return ok
}

// splitNumber checks the JSON number grammar and returns the parts.
func splitNumber(b []byte) (neg bool, intPart, frac []byte, exp int, ok bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false, nil, nil, 0, false
	}
	intPart = b[start:i]
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == fs {
			return false, nil, nil, 0, false
		}
		frac = b[fs:i]
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if exp <= maxExponent { // saturate: anything larger is out of range anyway
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if i == es {
			return false, nil, nil, 0, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return false, nil, nil, 0, false
	}
	return neg, intPart, frac, exp, true
}

// decKey identifies a small decimal: mantissa and exponent.
type decKey struct {
	m int64
	e int32
}

// decimalCache shares one decimal.Decimal among equal values. Activity files repeat
// the same quantities, prices and fees over and over, and each distinct Decimal
// costs two allocations (its big.Int and the word array); Decimals are immutable,
// so sharing is safe. It is direct-mapped, small enough to stay in cache: a map
// of the same job cost more in lookups than it saved in allocations.
type decimalCache [decimalCacheSize]struct {
	k decKey
	d decimal.Decimal
}

const decimalCacheSize = 1 << 12

func (c *decimalCache) get(k decKey) decimal.Decimal {
	h := (uint64(k.m)*0x9E3779B97F4A7C15 + uint64(uint32(k.e))*0xC2B2AE3D27D4EB4F) >> (64 - 12)
	slot := &c[h]
	if slot.k == k && slot.d != (decimal.Decimal{}) {
		return slot.d
	}
	slot.k, slot.d = k, decimal.New(k.m, k.e)
	return slot.d
}

// parseDecimal reads a JSON number's text exactly. The error text describes the
// value, for the caller to prefix with the field name. cache may be nil.
// negative reports a value below zero (not "-0").
func parseDecimal(b []byte, cache *decimalCache) (d decimal.Decimal, negative bool, err error) {
	neg, intPart, frac, exp, ok := splitNumber(b)
	if !ok {
		return decimal.Decimal{}, false, fmt.Errorf("%s is not a decimal number", quote(b))
	}
	if exp > maxExponent || exp < -maxExponent {
		return decimal.Decimal{}, false, fmt.Errorf("%s is out of range", quote(b))
	}
	// Significant digits: the integer and fraction digits without leading zeros.
	var digits [64]byte
	m := digits[:0]
	for _, part := range [][]byte{intPart, frac} {
		for _, c := range part {
			if len(m) == 0 && c == '0' {
				continue
			}
			if len(m) == cap(digits) {
				// More than 64 significant digits cannot pass the limits below.
				return decimal.Decimal{}, false, fmt.Errorf("%s has too many digits", quote(b))
			}
			m = append(m, c)
		}
	}
	e := exp - len(frac)
	if len(m) == 0 {
		return decimal.Decimal{}, false, nil
	}
	for e < 0 && m[len(m)-1] == '0' {
		m = m[:len(m)-1]
		e++
	}
	if e < -MaxDecimalPlaces {
		return decimal.Decimal{}, false, fmt.Errorf("%s has more than %d decimal places", quote(b), MaxDecimalPlaces)
	}
	if len(m)+e > MaxIntegerDigits {
		return decimal.Decimal{}, false, fmt.Errorf("%s is too large (at most %d integer digits)", quote(b), MaxIntegerDigits)
	}
	if len(m) <= 18 {
		var v int64
		for _, c := range m {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		if cache == nil {
			return decimal.New(v, int32(e)), neg, nil
		}
		return cache.get(decKey{v, int32(e)}), neg, nil
	}
	var bi big.Int
	if _, ok := bi.SetString(string(m), 10); !ok {
		return decimal.Decimal{}, false, fmt.Errorf("%s is not a decimal number", quote(b))
	}
	if neg {
		bi.Neg(&bi)
	}
	return decimal.NewFromBigInt(&bi, int32(e)), neg, nil
}
