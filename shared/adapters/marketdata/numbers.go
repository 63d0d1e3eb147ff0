package marketdata

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Bounds on numbers read from providers. decimal.Decimal stores a value as a
// coefficient and an exponent, so "1e999999999" parses cheaply and then costs
// gigabytes to print or compare; anything outside these bounds is malformed.
const (
	maxNumberLen = 64
	maxExponent  = 20
	minExponent  = -40
)

var errEmptyNumber = errors.New("empty number")

// parseDecimal reads a JSON number literal or a provider's numeric string exactly.
func parseDecimal(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Decimal{}, errEmptyNumber
	}
	if len(s) > maxNumberLen {
		return decimal.Decimal{}, fmt.Errorf("number %.20q… is too long", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' && c != 'e' && c != 'E' {
			return decimal.Decimal{}, fmt.Errorf("%q is not a number", s)
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%q is not a number", s)
	}
	return d, checkDecimal(d)
}

// checkDecimal rejects decimals whose exponent is outside the bounds above.
func checkDecimal(d decimal.Decimal) error {
	if e := d.Exponent(); e > maxExponent || e < minExponent {
		return fmt.Errorf("number with exponent %d is out of range", e)
	}
	if d.NumDigits() > 30 {
		return fmt.Errorf("number with %d digits is out of range", d.NumDigits())
	}
	return nil
}

// numberDecimal parses a json.Number (decoded with UseNumber or into a json.Number
// field), which keeps the literal's text, so the value is exact.
func numberDecimal(n json.Number) (decimal.Decimal, error) { return parseDecimal(string(n)) }

// numberInt64 parses an integral json.Number (a Unix timestamp). "1.7e9" and
// "1700000000.0" are accepted when they are whole.
func numberInt64(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	d, err := numberDecimal(n)
	if err != nil {
		return 0, err
	}
	if !d.IsInteger() || d.Abs().GreaterThan(decimal.New(1, 18)) {
		return 0, fmt.Errorf("%q is not a whole number", n)
	}
	return d.IntPart(), nil
}
