package decimaltext

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAcceptsPlainDecimals(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "12.50": "12.5", "-0.05": "-0.05", "007": "7",
		"12345678901234567890.123456789012345678": "12345678901234567890.123456789012345678",
	} {
		d, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if d.String() != want {
			t.Errorf("Parse(%q) = %s, want %s", in, d, want)
		}
	}
}

func TestParseRefusesWhatIsNotAPlainDecimal(t *testing.T) {
	for _, in := range []string{
		"", "-", ".", "1.", ".5", "+1", "1e3", "1E3", "0x10", "1,5", " 1", "1 ", "1..2", "--1", "NaN", "Infinity",
		"١٢", // Arabic-Indic digits
		strings.Repeat("9", MaxIntegerDigits+1),
		"0." + strings.Repeat("1", MaxFractionDigits+1),
		strings.Repeat("1", 1<<20),
	} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%.20q) = %v, want ErrInvalid", in, err)
		}
	}
}

// A megabyte of digits is refused on its length: the check never walks it.
func BenchmarkParseHostileMegabyte(b *testing.B) {
	s := strings.Repeat("7", 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err == nil {
			b.Fatal("accepted")
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "12.50", "-0.05", "1e3", "", "1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if len(s) > MaxLen {
			t.Fatalf("Parse(%q) accepted %d bytes", s, len(s))
		}
		back, err := Parse(d.String())
		if err != nil || !back.Equal(d) {
			t.Fatalf("Parse(%q) = %s does not read back: %v", s, d, err)
		}
	})
}
