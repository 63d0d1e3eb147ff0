// Package symbol holds the one rule for instrument symbols, shared by the
// domain, the alert rules, the API and the WebSocket subscriptions: what a
// ticker may look like ("AAPL", "BRK.B", "^GSPC", "EURUSD=X", "7203.T"), or the
// free-text label a Ghostfolio export gives a manual asset ("Cash interest").
package symbol

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest symbol, in bytes.
const MaxLen = 32

// ErrInvalid is wrapped by every error of Check.
var ErrInvalid = errors.New("invalid symbol")

// Check accepts 1 to MaxLen bytes of visible characters (letters, digits,
// punctuation, symbols), with single ASCII spaces inside only. Control and
// format characters — bidi overrides, zero-width spaces and joiners — are
// refused: they make two different symbols look the same, or a symbol look
// like another.
func Check(s string) error {
	if s == "" || len(s) > MaxLen {
		return fmt.Errorf("%w: %q must be 1 to %d bytes", ErrInvalid, s, MaxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalid, s)
	}
	prevSpace := true // no leading space
	for _, r := range s {
		switch {
		case r == ' ':
			if prevSpace {
				return fmt.Errorf("%w: %q has a leading or doubled space", ErrInvalid, s)
			}
			prevSpace = true
			continue
		case !unicode.IsGraphic(r) || unicode.IsSpace(r):
			return fmt.Errorf("%w: %q holds the invisible or control character %U", ErrInvalid, s, r)
		}
		prevSpace = false
	}
	if prevSpace {
		return fmt.Errorf("%w: %q ends with a space", ErrInvalid, s)
	}
	return nil
}
