package currency_test

import (
	"errors"
	"math"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/shopspring/decimal"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func table(t *testing.T) *currency.Rates {
	t.Helper()
	r := currency.NewRates()
	for _, x := range []struct {
		d, from, to, rate string
	}{
		{"2024-01-02", "EUR", "USD", "1.1042"},
		{"2024-01-05", "EUR", "USD", "1.0950"},
		{"2024-01-03", "EUR", "USD", "1.0900"}, // out of order: sorted on read
		{"2024-01-02", "GBP", "USD", "1.2700"},
		{"2024-01-02", "USD", "JPY", "141.50"},
	} {
		if err := r.Add(day(x.d), x.from, x.to, dec(x.rate)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestRateInForceIsTheLastOnOrBefore(t *testing.T) {
	r := table(t)
	for _, c := range []struct {
		on, want, date string
	}{
		{"2024-01-02", "1.1042", "2024-01-02"},
		{"2024-01-03", "1.09", "2024-01-03"},
		{"2024-01-04", "1.09", "2024-01-03"}, // the 3rd's rate is still in force
		{"2024-06-30", "1.095", "2024-01-05"},
	} {
		got, ok := r.On("EUR", "USD", day(c.on))
		if !ok || !got.Value.Equal(dec(c.want)) || got.Date != day(c.date) || got.Via != "direct" {
			t.Errorf("EUR→USD on %s = %+v, %v; want %s of %s", c.on, got, ok, c.want, c.date)
		}
	}
	if _, ok := r.On("EUR", "USD", day("2024-01-01")); ok {
		t.Error("a rate before the first one: want none, not a silent 1")
	}
}

func TestInverseCrossAndUnits(t *testing.T) {
	r := table(t)
	// USD→EUR on the 2nd: 1 / 1.1042 = 0.90563303749320… (12 places).
	if got, _ := r.On("USD", "EUR", day("2024-01-02")); !got.Value.Equal(dec("0.905633037493")) || got.Via != "inverse" {
		t.Errorf("USD→EUR = %s via %s", got.Value, got.Via)
	}
	// EUR→GBP through USD: 1.1042 × (1 / 1.27 = 0.787401574803) = 0.86944881889747… (12 places).
	if got, _ := r.On("EUR", "GBP", day("2024-01-02")); got.Via != "cross" || !got.Value.Equal(dec("0.869448818897")) {
		t.Errorf("EUR→GBP = %s via %s", got.Value, got.Via)
	}
	// 1 GBp is a hundredth of 1.27 USD.
	if got, _ := r.On("GBp", "USD", day("2024-01-02")); !got.Value.Equal(dec("0.0127")) {
		t.Errorf("GBp→USD = %s", got.Value)
	}
	// EUR→JPY crosses: 1.1042 × 141.5 = 156.2443.
	if got, _ := r.On("EUR", "JPY", day("2024-01-02")); !got.Value.Equal(dec("156.2443")) {
		t.Errorf("EUR→JPY = %s", got.Value)
	}
	if got, _ := r.On("CHF", "CHF", day("2000-01-01")); !got.Value.Equal(dec("1")) || got.Via != "identity" {
		t.Errorf("CHF→CHF = %+v", got)
	}
	if _, err := r.Need("CHF", "USD", day("2024-01-02")); !errors.Is(err, currency.ErrNoRate) {
		t.Errorf("CHF→USD: want ErrNoRate, got %v", err)
	}
}

func TestAddRefusesNonsense(t *testing.T) {
	r := currency.NewRates()
	for _, c := range []struct{ from, to, rate string }{
		{"EUR", "EUR", "1"}, {"EUR", "UDS", "1.1"}, {"GBp", "USD", "0.0127"}, {"EUR", "USD", "0"}, {"EUR", "USD", "-1.1"},
	} {
		if err := r.Add(day("2024-01-02"), c.from, c.to, dec(c.rate)); err == nil {
			t.Errorf("Add(%s→%s %s) accepted", c.from, c.to, c.rate)
		}
	}
}

func TestDailyIsNaNUntilTheFirstRate(t *testing.T) {
	r := table(t)
	got := r.Daily("EUR", "USD", day("2024-01-01"), day("2024-01-04"))
	want := []float64{math.NaN(), 1.1042, 1.09, 1.09}
	for i := range want {
		if !(got[i] == want[i] || math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("Daily = %v, want %v", got, want)
		}
	}
}

func TestUnits(t *testing.T) {
	if s, d := currency.Settlement("GBp"); s != "GBP" || d != 100 {
		t.Errorf("GBp settles in %s/%d", s, d)
	}
	if got := currency.ToSettlement("GBX", dec("712550")); !got.Equal(dec("7125.50")) {
		t.Errorf("712550 GBX = %s GBP", got)
	}
	if currency.MinorDigits("JPY") != 0 || currency.MinorDigits("KWD") != 3 || currency.MinorDigits("GBp") != 2 || currency.MinorDigits("EUR") != 2 {
		t.Error("minor digits")
	}
	if !currency.Known("GBp") || currency.Known("gbp") || !currency.Known("EUR") {
		t.Error("Known")
	}
	// InUnit: a unit of the same settlement currency exactly, never another one.
	for _, c := range []struct{ from, amount, to, want string }{
		{"GBp", "7600", "GBP", "76"}, {"GBP", "76.05", "GBp", "7605"}, {"GBX", "7600", "GBp", "7600"}, {"USD", "200", "USD", "200"},
	} {
		if got, ok := currency.InUnit(c.from, dec(c.amount), c.to); !ok || !got.Equal(dec(c.want)) {
			t.Errorf("InUnit(%s %s → %s) = %s %v, want %s", c.amount, c.from, c.to, got, ok, c.want)
		}
	}
	if _, ok := currency.InUnit("USD", dec("200"), "EUR"); ok {
		t.Error("InUnit converts dollars into euros")
	}
	if _, ok := currency.InUnit("GBp", dec("200"), "ZAc"); ok {
		t.Error("InUnit converts pence into cents")
	}
}

// Daily makes On's choice on every day: over a table with gaps, a pair given both
// ways, crosses, and a quote unit, it agrees with On day by day (NaN where On has
// no rate). On rounds derived rates to 12 places; Daily does not round.
func TestDailyAgreesWithOn(t *testing.T) {
	r := table(t)
	for _, x := range []struct{ d, from, to, rate string }{
		{"2024-01-04", "USD", "EUR", "0.9"}, // the opposite pair, later: direct EUR→USD still wins
		{"2024-01-08", "CHF", "USD", "1.15"},
		{"2024-01-10", "GBP", "USD", "1.31"},
		{"2024-01-06", "JPY", "USD", "0.0068"}, // and USD→JPY from the 2nd: direct beats inverse per side
	} {
		if err := r.Add(day(x.d), x.from, x.to, dec(x.rate)); err != nil {
			t.Fatal(err)
		}
	}
	first, last := day("2023-12-30"), day("2024-01-12")
	for _, p := range [][2]string{{"EUR", "USD"}, {"USD", "EUR"}, {"EUR", "GBP"}, {"GBp", "EUR"}, {"EUR", "GBp"},
		{"CHF", "EUR"}, {"EUR", "CHF"}, {"JPY", "EUR"}, {"USD", "JPY"}, {"GBP", "GBP"}, {"CHF", "JPY"}} {
		got := r.Daily(p[0], p[1], first, last)
		for i, g := range got {
			d := first + calendar.Date(i)
			want, ok := r.On(p[0], p[1], d)
			switch {
			case !ok && !math.IsNaN(g):
				t.Errorf("%s→%s on %s: Daily %v, On none", p[0], p[1], d, g)
			case ok && math.Abs(g-want.Value.InexactFloat64()) > 1e-12+1e-11*want.Value.InexactFloat64(): // On keeps 12 places
				t.Errorf("%s→%s on %s: Daily %v, On %s (%s)", p[0], p[1], d, g, want.Value, want.Via)
			}
		}
	}
}

// Readers share a table whose rates were added out of order (the first read
// sorts): run with -race.
func TestConcurrentReadsOfAnUnsortedTable(t *testing.T) {
	r := currency.NewRates()
	for _, d := range []string{"2024-01-05", "2024-01-02", "2024-01-03"} {
		if err := r.Add(day(d), "EUR", "USD", dec("1.1")); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan bool)
	for range 8 {
		go func() {
			_, ok := r.On("USD", "EUR", day("2024-01-04"))
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("no rate on the 4th")
		}
	}
}
