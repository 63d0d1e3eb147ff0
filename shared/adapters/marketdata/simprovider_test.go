package marketdata

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

func TestSimQuotesDeterministic(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	a := SimQuotes{Seed: 7, Now: func() time.Time { return now }}
	b := SimQuotes{Seed: 7, Now: func() time.Time { return now }}
	for _, sym := range []string{"AAPL", "ZZZZ"} {
		qa, err := a.Quote(t.Context(), sym)
		if err != nil {
			t.Fatal(err)
		}
		qb, _ := b.Quote(t.Context(), sym)
		if !qa.Price.Equal(qb.Price) || !qa.Timestamp.Equal(qb.Timestamp) || qa.Validate() != nil {
			t.Fatalf("%s: %+v vs %+v", sym, qa, qb)
		}
		if qa.Timestamp.After(now) || now.Sub(qa.Timestamp) > 100*time.Second {
			t.Fatalf("%s: tick at %s for now %s", sym, qa.Timestamp, now)
		}
	}
	later := SimQuotes{Seed: 7, Now: func() time.Time { return now.Add(10 * time.Minute) }}
	q1, _ := a.Quote(t.Context(), "AAPL")
	q2, _ := later.Quote(t.Context(), "AAPL")
	if !q2.Timestamp.After(q1.Timestamp) {
		t.Fatal("the walk does not advance")
	}
	if _, err := a.Quote(t.Context(), "bad symbol!"); !errors.Is(err, KindNotFound) {
		t.Fatalf("invalid symbol: %v", err)
	}
}

// Simulated history ends where the simulated live walk starts: the last session
// before today closes at the symbol's reference price (AAPL's 190.00), whatever
// the range asked, and bars keep their shape (high ≥ close ≥ low).
func TestSimBarsJoinTheLiveWalk(t *testing.T) {
	now := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC) // a Wednesday
	bars, err := SimBars{Seed: 1, Now: func() time.Time { return now }}.DailyBars(t.Context(), "AAPL",
		calendar.MustNew(2025, 1, 2), calendar.MustNew(2026, 3, 3))
	if err != nil {
		t.Fatal(err)
	}
	last := bars[len(bars)-1]
	if last.Date != calendar.MustNew(2026, 3, 3) || !last.Close.Equal(decimal.RequireFromString("190")) {
		t.Fatalf("last bar %+v, want 2026-03-03 closing at 190", last)
	}
	for _, b := range bars {
		if b.High.LessThan(b.Close) || b.Low.GreaterThan(b.Close) || !b.Low.IsPositive() {
			t.Fatalf("bar out of shape: %+v", b)
		}
	}
	earlier, err := SimBars{Seed: 1, Now: func() time.Time { return now }}.DailyBars(t.Context(), "AAPL",
		calendar.MustNew(2025, 1, 2), calendar.MustNew(2025, 6, 30))
	if err != nil || !earlier[len(earlier)-1].Close.Equal(bars[len(earlier)-1].Close) {
		t.Fatalf("a shorter range is not a prefix of the longer one: %v", err)
	}
}

// The simulated feed quotes each symbol in its currency at a plausible price:
// London listings in pence (VUSA.L about 8,150p, any other .L between 100p and
// 9,000p), Frankfurt, Paris and Amsterdam in euros, the rest in dollars, and a
// USD pair at a rate near the currency's value in dollars.
func TestSimQuotesInTheirCurrency(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	s := SimQuotes{Seed: 7, Now: func() time.Time { return now }}
	d := decimal.RequireFromString
	for _, c := range []struct {
		symbol, currency, low, high string
	}{
		{"VUSA.L", "GBp", "7000", "9500"},
		{"ZZZZ.L", "GBp", "90", "10000"},
		{"SAP.DE", "EUR", "150", "210"},
		{"MC.PA", "EUR", "600", "800"},
		{"ADYEN.AS", "EUR", "8", "600"},
		{"AAPL", "USD", "160", "220"},
		{"ZZZZ", "USD", "8", "600"},
		{"EURUSD=X", "USD", "0.97", "1.19"},
		{"GBPUSD=X", "USD", "1.14", "1.40"},
		{"JPYUSD=X", "USD", "0.0060", "0.0074"},
		{"USDJPY=X", "JPY", "135", "165"},
	} {
		q, err := s.Quote(t.Context(), c.symbol)
		if err != nil {
			t.Fatal(err)
		}
		if q.Currency != c.currency || q.Price.LessThan(d(c.low)) || q.Price.GreaterThan(d(c.high)) || q.Validate() != nil {
			t.Errorf("%s: %s %s, want %s between %s and %s", c.symbol, q.Price, q.Currency, c.currency, c.low, c.high)
		}
		if SimCurrency(c.symbol) != c.currency {
			t.Errorf("SimCurrency(%s) = %s, want %s", c.symbol, SimCurrency(c.symbol), c.currency)
		}
	}
}
