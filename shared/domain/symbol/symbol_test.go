package symbol

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, s := range []string{"AAPL", "BRK.B", "^GSPC", "EURUSD=X", "XETR:SAP", "7203.T", "BTC-USD", "ÖKO", "Cash interest", strings.Repeat("A", MaxLen)} {
		if err := Check(s); err != nil {
			t.Errorf("Check(%q): %v", s, err)
		}
	}
	for _, s := range []string{
		"", strings.Repeat("A", MaxLen+1), " AAPL", "AAPL ", "AA  PL", "AA\tPL", "AAPL\n", "\x00",
		"AAPL\u200b", // zero-width space
		"AA\u200dPL", // zero-width joiner
		"\u202eLPAA", // right-to-left override
		"AAPL\u2066", // left-to-right isolate
		"\ufeffAAPL", // byte-order mark
		"AA\u00a0PL", // no-break space
		"\xff",       // not UTF-8
	} {
		if err := Check(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Check(%q) = %v, want ErrInvalid", s, err)
		}
	}
}
