package storetest

import (
	"context"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// FXRateSubject is a command.Rates and the daily closes it reads.
type FXRateSubject struct {
	Rates  command.Rates
	Closes interface {
		UpsertDailyCloses(ctx context.Context, closes []readmodel.DailyClose) (int64, error)
	}
}

var _ command.Rates = readmodel.FXRates{}

// RunFXRates runs the suite of the rates the command service reads for the
// transactions recorded without one; newSubject returns a subject without
// closes.
func RunFXRates(t *testing.T, newSubject func(t *testing.T) FXRateSubject) {
	run(t, newSubject, []testCase[FXRateSubject]{
		{"RatesInForceAtTheCloses", testRatesInForce},
	})
}

// testRatesInForce: one read of a span answers the rate of each of its days at
// the pair's last close on or before it (a Saturday takes Friday's, dated
// Friday), inverted for the opposite direction, crossed through USD between two
// other currencies, exact for a quote unit (GBp is GBP/100); nothing before the
// first close, nothing for a currency without closes, and a later close changes
// nothing before it. A span that starts after a close has that close in force on
// its first days, however old (the command service names it when too old).
func testRatesInForce(t *testing.T, s FXRateSubject) {
	type rateCase struct{ from, to, day, want, dated string } // want "" for no rate
	ctx := t.Context()
	d := func(s string) calendar.Date {
		v, err := calendar.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	closes := []readmodel.DailyClose{
		{Symbol: "EURUSD=X", Day: d("2024-03-01"), Close: dec("1.08"), AsOf: t0, Source: "test"},
		{Symbol: "EURUSD=X", Day: d("2024-03-04"), Close: dec("1.09"), AsOf: t0, Source: "test"},
		{Symbol: "GBPUSD=X", Day: d("2024-03-01"), Close: dec("1.25"), AsOf: t0, Source: "test"},
		{Symbol: "AAPL", Day: d("2024-03-01"), Close: dec("180"), AsOf: t0, Source: "test"},
	}
	if _, err := s.Closes.UpsertDailyCloses(ctx, closes); err != nil {
		t.Fatal(err)
	}
	for _, read := range []struct {
		currencies []string
		from, to   string
		cases      []rateCase
	}{
		{[]string{"EUR", "GBp", "JPY", "USD"}, "2024-02-29", "2024-03-05", []rateCase{
			{"EUR", "USD", "2024-03-01", "1.08", "2024-03-01"},
			{"EUR", "USD", "2024-03-02", "1.08", "2024-03-01"}, // Saturday: Friday's close
			{"EUR", "USD", "2024-03-05", "1.09", "2024-03-04"},
			{"USD", "EUR", "2024-03-04", "0.917431192661", "2024-03-04"}, // 1/1.09 to 12 places
			{"GBP", "EUR", "2024-03-01", "1.157407407408", "2024-03-01"}, // 1.25 × 0.925925925926 (1/1.08) through USD
			{"GBp", "EUR", "2024-03-01", "0.01157407407408", "2024-03-01"},
			{"EUR", "USD", "2024-02-29", "", ""}, // before the first close
			{"JPY", "EUR", "2024-03-04", "", ""}, // no JPY pair
		}},
		{[]string{"EUR", "GBP", "USD"}, "2024-03-02", "2024-03-05", []rateCase{
			{"EUR", "USD", "2024-03-02", "1.08", "2024-03-01"}, // the close before the span
			{"EUR", "USD", "2024-03-04", "1.09", "2024-03-04"},
			{"GBP", "EUR", "2024-03-05", "1.146788990826", "2024-03-01"}, // 1.25 × 0.917431192661 (1/1.09), dated by the older leg
		}},
		{[]string{"USD", "EUR"}, "2024-03-20", "2024-03-20", []rateCase{
			{"USD", "EUR", "2024-03-20", "0.917431192661", "2024-03-04"}, // sixteen days old, still the one in force
		}},
	} {
		rates, err := s.Rates.RatesBetween(ctx, read.currencies, d(read.from), d(read.to))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range read.cases {
			rate, ok := rates.On(c.from, c.to, d(c.day))
			switch {
			case c.want == "" && ok:
				t.Errorf("read %v %s..%s: %s→%s on %s: %+v, want no rate", read.currencies, read.from, read.to, c.from, c.to, c.day, rate)
			case c.want != "" && (!ok || !rate.Value.Equal(dec(c.want)) || rate.Date != d(c.dated)):
				t.Errorf("read %v %s..%s: %s→%s on %s: %s dated %s (%v), want %s dated %s",
					read.currencies, read.from, read.to, c.from, c.to, c.day, rate.Value, rate.Date, ok, c.want, c.dated)
			}
		}
	}
}
