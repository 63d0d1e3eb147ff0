package readmodel

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseDecimalBytesMatchesDecimal(t *testing.T) {
	cases := []string{"0", "-0", "1", "-1", "10.50", "-123.4500", "0.000000000001", "99999999999999999", "-9999999999999999.9",
		"123456789012345678901234567890.123", "1e5", ".5", "-", "1.2.3", "12a"}
	r := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		s := strconv.FormatInt(r.Int64N(1<<62)-(1<<61), 10)
		if p := r.IntN(len(s) + 1); p > 0 && p < len(s) && s[p-1] != '-' {
			s = s[:p] + "." + s[p:]
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		want, werr := decimal.NewFromString(s)
		got, gerr := parseDecimalBytes([]byte(s))
		if (werr != nil) != (gerr != nil) {
			// A lone "-" or ".5" may be read differently, but never silently wrong.
			if gerr == nil && !got.Equal(want) {
				t.Errorf("%q: got %s (err %v), decimal says %s (err %v)", s, got, gerr, want, werr)
			}
			continue
		}
		if werr == nil && (got.String() != want.String() || got.Exponent() != want.Exponent()) {
			t.Errorf("%q: got %s (exp %d), want %s (exp %d)", s, got, got.Exponent(), want, want.Exponent())
		}
	}
}

func TestParseDateBytes(t *testing.T) {
	for _, s := range []string{"2024-02-29", "1970-01-01", "0001-01-01", "9999-12-31"} {
		d, err := parseDateBytes([]byte(s))
		if err != nil || d.String() != s {
			t.Errorf("%s: %v %v", s, d, err)
		}
	}
	for _, s := range []string{"2023-02-29", "2024-13-01", "24-01-01", "2024-0a-01", "infinity"} {
		if _, err := parseDateBytes([]byte(s)); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}

func TestCursorAndUUID(t *testing.T) {
	d, seq, err := ParseTransactionCursor(TransactionCursor(20000, 42))
	if err != nil || d != 20000 || seq != 42 {
		t.Fatalf("round trip: %v %d %v", d, seq, err)
	}
	for _, s := range []string{"", "!!", "MTox", "MjoyMDI0LTAxLTAxOjE"} {
		if _, _, err := ParseTransactionCursor(s); err == nil {
			t.Errorf("cursor %q accepted", s)
		}
	}
	for s, ok := range map[string]bool{
		"0a0a0a0a-0000-4000-8000-00000000000a": true, "0A0A0A0A-0000-4000-8000-00000000000A": true,
		"0a0a0a0a00000-4000-8000-00000000000a": false, "user-1": false, "": false, "0a0a0a0a-0000-4000-8000-00000000000g": false,
	} {
		if isUUID(s) != ok {
			t.Errorf("isUUID(%q) = %v", s, !ok)
		}
	}
}
