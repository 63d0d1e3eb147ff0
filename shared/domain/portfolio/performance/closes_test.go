package performance

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/shopspring/decimal"
)

func load(t *testing.T, text string) *Closes {
	t.Helper()
	c, err := LoadCSV(strings.NewReader(text), "prices.csv")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantClose(t *testing.T, c *Closes, sym, on, price, closeDate string) {
	t.Helper()
	p, d, ok := c.On(sym, day(on))
	if price == "" {
		if ok {
			t.Errorf("On(%s, %s) = %s on %s, want none", sym, on, p, d)
		}
		return
	}
	if !ok || !p.Equal(dec(price)) || d != day(closeDate) {
		t.Errorf("On(%s, %s) = %s, %s, %v; want %s on %s", sym, on, p, d, ok, price, closeDate)
	}
	f, fd, ok := c.OnFloat(sym, day(on))
	if want := dec(price).InexactFloat64(); !ok || math.Abs(f-want) > 2.3e-16*want || fd != d {
		t.Errorf("OnFloat(%s, %s) = %v, %s; want %v", sym, on, f, fd, want)
	}
}

func TestLoadCSVHeaderCRLFBlankUnsorted(t *testing.T) {
	text := "\ufeffdate,symbol,close\r\n" +
		"\r\n" +
		"2024-01-03,AAPL,186.10\r\n" +
		"  2024-01-02 , AAPL , 185.64 \r\n" +
		"\n" +
		"2024-01-02,\"MSFT\",370.87\r\n" +
		"2024-01-05,AAPL,181.18" // no final newline
	c := load(t, text)
	if c.Len() != 4 {
		t.Errorf("Len = %d, want 4", c.Len())
	}
	if got := c.Symbols(); !slices.Equal(got, []string{"AAPL", "MSFT"}) {
		t.Errorf("Symbols = %v", got)
	}
	wantClose(t, c, "AAPL", "2024-01-01", "", "")
	wantClose(t, c, "AAPL", "2024-01-02", "185.64", "2024-01-02")
	wantClose(t, c, "AAPL", "2024-01-03", "186.1", "2024-01-03")
	wantClose(t, c, "AAPL", "2024-01-04", "186.1", "2024-01-03") // carried forward
	wantClose(t, c, "AAPL", "2099-01-01", "181.18", "2024-01-05")
	wantClose(t, c, "MSFT", "2024-01-09", "370.87", "2024-01-02")
	wantClose(t, c, "NOPE", "2024-01-09", "", "")
	first, last, n := c.Span("AAPL")
	if first != day("2024-01-02") || last != day("2024-01-05") || n != 3 {
		t.Errorf("Span = %s %s %d", first, last, n)
	}
}

func TestLoadCSVNoHeaderAndReorderedHeader(t *testing.T) {
	c := load(t, "2024-01-02,X,1\n")
	wantClose(t, c, "X", "2024-01-02", "1", "2024-01-02")
	c = load(t, "Symbol,Close,Date\nX,2.5,2024-01-02\n")
	wantClose(t, c, "X", "2024-01-02", "2.5", "2024-01-02")
	c = load(t, "")
	if c.Len() != 0 || len(c.Symbols()) != 0 {
		t.Error("empty input has closes")
	}
}

// Prices of very different sizes in one symbol are kept exactly: the symbol's scale
// grows to the most decimals seen and its column widens to int64 when needed.
func TestLoadCSVExactPrices(t *testing.T) {
	c := load(t, strings.Join([]string{
		"2024-01-01,A,12.5",
		"2024-01-02,A,0.000001234",         // rescale to 9 places: 12.5 → 12500000000 (int64)
		"2024-01-03,A,123456789.123456789", // 18 digits at 9 places
		"2024-01-04,A,1e2",
		"2024-01-05,A,+2.50E-1",
		"2024-01-01,B,7",
		"2024-01-02,B,7.25",
		"2024-01-03,B,100.000000000000000000000", // trailing zeros are not precision
	}, "\n"))
	wantClose(t, c, "A", "2024-01-01", "12.5", "2024-01-01")
	wantClose(t, c, "A", "2024-01-02", "0.000001234", "2024-01-02")
	wantClose(t, c, "A", "2024-01-03", "123456789.123456789", "2024-01-03")
	wantClose(t, c, "A", "2024-01-04", "100", "2024-01-04")
	wantClose(t, c, "A", "2024-01-05", "0.25", "2024-01-05")
	wantClose(t, c, "B", "2024-01-01", "7", "2024-01-01")
	wantClose(t, c, "B", "2024-01-02", "7.25", "2024-01-02")
	wantClose(t, c, "B", "2024-01-03", "100", "2024-01-03")
	if s := c.lookup("B"); s.m32 == nil || s.scale != 2 {
		t.Errorf("B: int32 column expected at scale 2, got scale %d, m32 %v", s.scale, s.m32 != nil)
	}
	if s := c.lookup("A"); s.m64 == nil || s.scale != 9 {
		t.Errorf("A: int64 column expected at scale 9, got scale %d", s.scale)
	}
}

func TestLoadCSVDuplicates(t *testing.T) {
	// Equal repeats are accepted, in order and out of order.
	c := load(t, "2024-01-02,X,1.50\n2024-01-02,X,1.5\n2024-01-01,X,1\n2024-01-01,X,1.0\n")
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	// A different value names both lines when the file is in date order.
	_, err := LoadCSV(strings.NewReader("date,symbol,close\n2024-01-02,X,1.5\n2024-01-02,Y,3\n2024-01-02,X,1.6\n"), "p.csv")
	if err == nil || err.Error() != "p.csv:4: duplicate close for X on 2024-01-02: 1.6 here, 1.5 on line 2" {
		t.Errorf("in-order duplicate: %v", err)
	}
	// Out of order it is found after sorting and names both values.
	_, err = LoadCSV(strings.NewReader("2024-01-02,X,1.5\n2024-01-01,X,1\n2024-01-02,X,1.6\n"), "p.csv")
	if err == nil || !strings.HasPrefix(err.Error(), "p.csv: duplicate close for X on 2024-01-02: 1.5 and 1.6") {
		t.Errorf("out-of-order duplicate: %v", err)
	}
}

func TestLoadCSVErrors(t *testing.T) {
	long := "2024-01-01,X," + strings.Repeat("1", MaxLineLen)
	for _, tc := range []struct{ text, want string }{
		{"2024-01-01,X,1\n2024-02-30,X,1\n", `prices.csv:2: invalid date: "2024-02-30" does not exist`},
		{"2024/01/01,X,1\n", `prices.csv:1: invalid date: "2024/01/01" is not YYYY-MM-DD`},
		{"\n\n2024-01-01,X,abc\n", `prices.csv:3: close "abc" is not a decimal number`},
		{"2024-01-01,X,1.2.3\n", `prices.csv:1: close "1.2.3" is not a decimal number`},
		{"2024-01-01,X,\n", `prices.csv:1: close "" is not a decimal number`},
		{"2024-01-01,X,1e\n", `prices.csv:1: close "1e" is not a decimal number`},
		{"2024-01-01,X,NaN\n", `prices.csv:1: close "NaN" is not a decimal number`},
		{"2024-01-01,X,0\n", `prices.csv:1: close "0" must be positive`},
		{"2024-01-01,X,-1.5\n", `prices.csv:1: close "-1.5" must be positive`},
		{"2024-01-01,X,0.000\n", `prices.csv:1: close "0.000" must be positive`},
		{"2024-01-01,X\n", `prices.csv:1: want 3 fields date,symbol,close, got 2`},
		{"2024-01-01,X,1,2\n", `prices.csv:1: want 3 fields date,symbol,close, got 4`},
		{"2024-01-01\n", `prices.csv:1: want 3 fields date,symbol,close, got 1`},
		{"2024-01-01, ,1\n", `prices.csv:1: empty symbol`},
		{"2024-01-01,\"\",1\n", `prices.csv:1: empty symbol`},
		{"2024-01-01," + strings.Repeat("S", 33) + ",1\n", `prices.csv:1: symbol "` + strings.Repeat("S", 33) + `" is longer than 32 characters`},
		{"2024-01-01,X,12345678901234567891\n", `prices.csv:1: close "12345678901234567891" has more than 18 significant digits`},
		{"2024-01-01,X,12345678901234567890\n", `prices.csv:1: close 12345678901234567890 is too large to store exactly (more than 18 digits)`},
		{"2024-01-01,X,1e-19\n", `prices.csv:1: close 1e-19 has more than 18 decimal places`},
		{"2024-01-01,X,1e19\n", `prices.csv:1: close 1e19 is too large to store exactly (more than 18 digits)`},
		{"2024-01-01,X,0.000000000000000001\n2024-01-02,X,10\n", `prices.csv:2: close 10 cannot be stored exactly with the other closes of X: at 18 decimal places one of them needs more than 18 digits`},
		{"2024-01-01,X,10\n2024-01-02,X,0.000000000000000001\n", `prices.csv:2: close 0.000000000000000001 cannot be stored exactly with the other closes of X: at 18 decimal places one of them needs more than 18 digits`},
		{"date,ticker,close\n", `prices.csv:1: header "date,ticker,close" must name the columns date, symbol and close`},
		{"date,date,close\n", `prices.csv:1: header "date,date,close" must name the columns date, symbol and close`},
		{long, fmt.Sprintf("prices.csv:1: line longer than %d bytes", MaxLineLen)},
		{long + "\n2024-01-02,X,1\n", fmt.Sprintf("prices.csv:1: line longer than %d bytes", MaxLineLen)},
		{"2024-01-01,X,1\n" + long + strings.Repeat("1", 4*MaxLineLen) + "\n", fmt.Sprintf("prices.csv:2: line longer than %d bytes", MaxLineLen)},
	} {
		_, err := LoadCSV(strings.NewReader(tc.text), "prices.csv")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%.40q:\n got  %v\n want %s", tc.text, err, tc.want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%.40q: %T is not a *ParseError", tc.text, err)
		}
	}
	_, err := LoadCSV(strings.NewReader("2024-13-01,X,1\n"), "p")
	if !errors.Is(err, calendar.ErrInvalidDate) {
		t.Errorf("bad date does not wrap calendar.ErrInvalidDate: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestLoadCSVReadError(t *testing.T) {
	_, err := LoadCSV(failingReader{}, "p.csv")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v", err)
	}
	_, err = LoadCSV(io.MultiReader(strings.NewReader("2024-01-01,X,1\n"), stuckReader{}), "p.csv")
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("reader making no progress: %v", err)
	}
	// A reader handing out one byte at a time still gives every line.
	c, err := LoadCSV(iotest.OneByteReader(strings.NewReader("date,symbol,close\n2024-01-01,X,1.5\r\n2024-01-02,X,2\n")), "p.csv")
	if err != nil || c.Len() != 2 {
		t.Fatalf("one byte at a time: %v", err)
	}
	wantClose(t, c, "X", "2024-01-01", "1.5", "2024-01-01")
}

func TestAddAndSeal(t *testing.T) {
	c := NewCloses()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Add("X", day("2024-01-03"), dec("3")))
	must(c.Add("X", day("2024-01-01"), dec("1.10")))
	must(c.Add("X", day("2024-01-02"), decimal.New(2, 0)))
	must(c.Add("Y", day("2024-01-02"), dec("15.00000000000000000000")))  // a 22-digit coefficient
	must(c.Add("Z", day("2024-01-02"), dec("0.0000000000000000010000"))) // 1e-18
	if err := c.Add("X", day("2024-01-04"), dec("0")); err == nil {
		t.Error("zero accepted")
	}
	if err := c.Add("", day("2024-01-04"), dec("1")); err == nil {
		t.Error("empty symbol accepted")
	}
	if err := c.Add("Z", day("2024-01-03"), dec("10")); err == nil {
		t.Error("unrepresentable close accepted") // 10 at Z's 18 places needs 20 digits
	}
	if err := c.Add("Y", day("2024-01-03"), dec("1e19")); err == nil {
		t.Error("too large a close accepted")
	}
	must(c.Seal())
	if err := c.Add("X", day("2024-01-05"), dec("1")); err == nil {
		t.Error("Add after Seal accepted")
	}
	wantClose(t, c, "X", "2024-01-01", "1.1", "2024-01-01")
	wantClose(t, c, "X", "2024-01-02", "2", "2024-01-02")
	wantClose(t, c, "X", "2024-01-09", "3", "2024-01-03")
	wantClose(t, c, "Y", "2024-01-02", "15", "2024-01-02")
	wantClose(t, c, "Z", "2024-01-02", "0.000000000000000001", "2024-01-02")
	if c.Len() != 5 {
		t.Errorf("Len = %d, want 5", c.Len())
	}
}

func TestReadBeforeSealPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("On before Seal did not panic")
		}
	}()
	c := NewCloses()
	c.On("X", 0)
}

// Symbols on one calendar share a date column; a symbol listed later shares a window.
func TestSealSharesDateColumns(t *testing.T) {
	var b bytes.Buffer
	d0 := day("2020-01-01")
	for i := range 100 {
		for _, s := range []string{"A", "B", "C"} {
			if s == "C" && i < 40 {
				continue // listed later
			}
			fmt.Fprintf(&b, "%s,%s,%d.5\n", d0+calendar.Date(i), s, i+1)
		}
		if i%2 == 0 {
			fmt.Fprintf(&b, "%s,D,1\n", d0+calendar.Date(i)) // its own calendar
		}
	}
	c, err := LoadCSV(&b, "gen")
	if err != nil {
		t.Fatal(err)
	}
	a, bb, cc, dd := c.lookup("A").dates, c.lookup("B").dates, c.lookup("C").dates, c.lookup("D").dates
	if &a[0] != &bb[0] || &cc[0] != &a[40] {
		t.Error("date columns not shared")
	}
	if &dd[0] == &a[0] {
		t.Error("D shares a column it does not match")
	}
	wantClose(t, c, "C", "2020-01-01", "", "")
	wantClose(t, c, "C", d0.AddDays(45).String(), "46.5", d0.AddDays(45).String())
	wantClose(t, c, "D", d0.AddDays(3).String(), "1", d0.AddDays(2).String())
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		mant uint64
		exp  int
		st   numStatus
	}{
		{"1", 1, 0, numOK},
		{"100", 1, 2, numOK},
		{"0.05", 5, -2, numOK},
		{"10.05", 1005, -2, numOK},
		{"1.50", 15, -1, numOK},
		{".5", 5, -1, numOK},
		{"5.", 5, 0, numOK},
		{"007", 7, 0, numOK},
		{"1.5e3", 15, 2, numOK},
		{"1.5E-3", 15, -4, numOK},
		{"9223372036854775807", 9223372036854775807, 0, numOK},
		{"9223372036854775808", 0, 0, numTooManyDigits},
		{"0.000000000000000000000000000001", 1, -30, numOK},
		{"0", 0, 0, numNotPositive},
		{"-0", 0, 0, numNotPositive},
		{"-2", 0, 0, numNotPositive},
		{"", 0, 0, numSyntax},
		{".", 0, 0, numSyntax},
		{"+", 0, 0, numSyntax},
		{"1..2", 0, 0, numSyntax},
		{"1e+", 0, 0, numSyntax},
		{"1 2", 0, 0, numSyntax},
		{"0x10", 0, 0, numSyntax},
		{"99999999999999999999x", 0, 0, numSyntax},
	} {
		m, e, st := parseNumber([]byte(tc.in))
		if m != tc.mant || e != tc.exp || st != tc.st {
			t.Errorf("parseNumber(%q) = %d, %d, %d; want %d, %d, %d", tc.in, m, e, st, tc.mant, tc.exp, tc.st)
		}
	}
}

// FuzzParseNumber checks the fast parser against decimal.NewFromString.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1", "0.05", "123.4500", "1e5", "-3", "9223372036854775807", "00.010", "1.5E-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, e, st := parseNumber([]byte(s))
		if st != numOK {
			return
		}
		if m == 0 || m%10 == 0 || m > 1<<63-1 {
			t.Fatalf("parseNumber(%q) mantissa %d", s, m)
		}
		want, err := decimal.NewFromString(s)
		if err != nil {
			return // e.g. exponent forms NewFromString does not take
		}
		if e < -1000 || e > 1000 {
			return
		}
		if got := decimal.New(int64(m), int32(e)); !got.Equal(want) {
			t.Fatalf("parseNumber(%q) = %s, NewFromString = %s", s, got, want)
		}
	})
}

// FuzzLoadCSV never panics, and whatever it accepts is sorted, positive and
// readable back.
func FuzzLoadCSV(f *testing.F) {
	for _, s := range []string{
		"date,symbol,close\n2024-01-02,AAPL,185.64\n2024-01-03,AAPL,186.10\n",
		"2024-01-03,X,1\r\n2024-01-02,X,2\r\n\r\n2024-01-02,Y,0.5",
		"symbol,close,date\nX,1e3,2024-01-01\n",
		"2024-01-01,X,1\n2024-01-01,X,1.0\n",
		"2024-01-01,X,0.000000000000000001\n2024-01-02,X,10\n",
		"\ufeff2024-02-29,\"Q\",7\n",
		"2024-01-01,X,-1\n",
		",,\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadCSV(bytes.NewReader(data), "fuzz")
		if err != nil {
			if c != nil {
				t.Fatal("closes returned with an error")
			}
			return
		}
		total := 0
		for _, sym := range c.Symbols() {
			s := c.lookup(sym)
			total += len(s.dates)
			for i := range s.dates {
				if i > 0 && s.dates[i] <= s.dates[i-1] {
					t.Fatalf("%s dates not strictly increasing", sym)
				}
				p, d, ok := c.On(sym, s.dates[i])
				if !ok || d != s.dates[i] || !p.IsPositive() {
					t.Fatalf("On(%s, %s) = %s, %s, %v", sym, s.dates[i], p, d, ok)
				}
				if fl := s.float(i); !(fl > 0) {
					t.Fatalf("float close %v", fl)
				}
			}
		}
		if total != c.Len() {
			t.Fatalf("Len %d, counted %d", c.Len(), total)
		}
		// A space after every comma sends every line down the general path, which
		// must read the same closes as the fast one.
		spaced, err := LoadCSV(bytes.NewReader(bytes.ReplaceAll(data, []byte(","), []byte(", "))), "fuzz")
		if err != nil {
			if strings.Contains(err.Error(), "longer than") {
				return
			}
			t.Fatalf("accepted, but not with spaces after the commas: %v", err)
		}
		if !slices.Equal(spaced.Symbols(), c.Symbols()) || spaced.Len() != c.Len() {
			t.Fatalf("with spaces: symbols %v, %d closes; without: %v, %d", spaced.Symbols(), spaced.Len(), c.Symbols(), c.Len())
		}
		for _, sym := range c.Symbols() {
			a, b := c.lookup(sym), spaced.lookup(sym)
			if !slices.Equal(a.dates, b.dates) {
				t.Fatalf("%s dates differ", sym)
			}
			for i := range a.dates {
				if !a.decimal(i).Equal(b.decimal(i)) {
					t.Fatalf("%s close %d: %s vs %s", sym, i, a.decimal(i), b.decimal(i))
				}
			}
		}
	})
}

// Random closes added in date-major, shuffled and per-symbol orders read back
// exactly as a plain map says: this walks the calendar-following, unfollowing,
// unsorted, rescaling and widening paths of the store.
func TestClosesMatchReference(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		d0 := day("2020-01-01")
		type key struct {
			sym string
			d   calendar.Date
		}
		ref := map[key]decimal.Decimal{}
		var keys []key
		syms := []string{"A", "B", "C", "D", "E"}
		for _, sym := range syms {
			start, gap := rng.IntN(20), rng.IntN(4) // gap 0: some days skipped at random
			for i := start; i < 80; i++ {
				if gap > 0 && i%(gap+1) == 0 || gap == 0 && rng.IntN(5) == 0 {
					continue
				}
				var p decimal.Decimal
				switch rng.IntN(10) {
				case 0:
					p = decimal.New(1+rng.Int64N(1e12), -int32(rng.IntN(7))) // needs int64
				default:
					p = decimal.New(1+rng.Int64N(1e5), -int32(rng.IntN(5)))
				}
				k := key{sym, d0 + calendar.Date(i)}
				ref[k] = p
				keys = append(keys, k)
			}
		}
		switch seed % 3 {
		case 0: // date-major
			slices.SortStableFunc(keys, func(a, b key) int { return cmp.Compare(a.d, b.d) })
		case 1:
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		var csv bytes.Buffer
		c := NewCloses()
		for _, k := range keys {
			if err := c.Add(k.sym, k.d, ref[k]); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&csv, "%s,%s,%s\n", k.d, k.sym, ref[k])
		}
		if err := c.Seal(); err != nil {
			t.Fatal(err)
		}
		loaded, err := LoadCSV(&csv, "ref")
		if err != nil {
			t.Fatal(err)
		}
		for _, store := range []*Closes{c, loaded} {
			if store.Len() != len(ref) {
				t.Fatalf("seed %d: Len %d, want %d", seed, store.Len(), len(ref))
			}
			for _, sym := range syms {
				var last decimal.Decimal
				var lastDay calendar.Date
				have := false
				for i := -1; i < 82; i++ {
					d := d0 + calendar.Date(i)
					if p, ok := ref[key{sym, d}]; ok {
						last, lastDay, have = p, d, true
					}
					p, cd, ok := store.On(sym, d)
					if ok != have || ok && (!p.Equal(last) || cd != lastDay) {
						t.Fatalf("seed %d: On(%s, %s) = %s %s %v; want %s %s %v", seed, sym, d, p, cd, ok, last, lastDay, have)
					}
				}
			}
		}
	}
}
