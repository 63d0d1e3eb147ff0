// Package decimaltext reads the decimals clients send as text ("12.50",
// "-0.05"). It checks length and shape before anything is parsed, so a
// megabyte of digits costs one length comparison rather than seconds of
// big-integer work, and a number in exponent form ("1e9") or with stray
// characters is refused with a clear message.
package decimaltext

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

// Limits of a decimal's text: at most MaxLen bytes, MaxIntegerDigits digits
// before the point and MaxFractionDigits after it. They bound the text, not
// the value: the domain bounds values (portfolio.CheckBounds).
const (
	MaxLen            = 40
	MaxIntegerDigits  = 20
	MaxFractionDigits = 18
)

// ErrInvalid is wrapped by every error of Parse.
var ErrInvalid = errors.New("invalid decimal")

// Parse reads "[-]digits[.digits]".
func Parse(s string) (decimal.Decimal, error) {
	if err := Check(s); err != nil {
		return decimal.Decimal{}, err
	}
	d, err := decimal.NewFromString(s)
	if err != nil { // unreachable after Check; kept so a parser change cannot slip through
		return decimal.Decimal{}, fmt.Errorf("%w: %q: %v", ErrInvalid, s, err)
	}
	return d, nil
}

// Check verifies length and shape without parsing.
func Check(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(s) > MaxLen {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalid, MaxLen)
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	intDigits, fracDigits, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if dot {
				fracDigits++
			} else {
				intDigits++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return fmt.Errorf("%w: %q is not a plain decimal such as \"12.50\"", ErrInvalid, s)
		}
	}
	switch {
	case intDigits == 0 || (dot && fracDigits == 0):
		return fmt.Errorf("%w: %q is not a plain decimal such as \"12.50\"", ErrInvalid, s)
	case intDigits > MaxIntegerDigits:
		return fmt.Errorf("%w: %q has more than %d digits before the point", ErrInvalid, s, MaxIntegerDigits)
	case fracDigits > MaxFractionDigits:
		return fmt.Errorf("%w: %q has more than %d decimal places", ErrInvalid, s, MaxFractionDigits)
	}
	return nil
}
