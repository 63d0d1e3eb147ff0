package market

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
)

// MaxSymbolLen bounds a symbol in bytes, as the portfolio domain does.
const MaxSymbolLen = 32

// Quote is one price observation, whatever its source.
//
// Price and Volume are exact decimals. Volume is zero when the source does not
// report one (Finnhub's REST quote). Timestamp is always UTC: the trade time for a
// trade, the provider's quote time for a REST quote. PreviousClose is the last
// session's close when the source reports it (REST quotes do, trades do not) and is
// then what percent-move alerts compare against; zero means unknown. Currency is
// the currency Price and PreviousClose are in (currency.Known: "GBp" for a
// London listing quoted in pence); "" when the source does not say (the stream's
// consumer takes USD).
type Quote struct {
	Symbol        string          `json:"symbol"`
	Price         decimal.Decimal `json:"price"`
	Volume        decimal.Decimal `json:"volume"`
	Timestamp     time.Time       `json:"timestamp"`
	Exchange      string          `json:"exchange,omitempty"`
	Source        string          `json:"source"`
	PreviousClose decimal.Decimal `json:"previousClose,omitzero"`
	Currency      string          `json:"currency,omitempty"`
}

// Validate checks the invariants every normalised quote holds: a symbol of 1 to
// MaxSymbolLen bytes, a positive price, a volume that is not negative, a non-zero
// UTC timestamp, a source, a previous close that is zero or positive, and a
// currency that is known when given.
func (q Quote) Validate() error {
	switch {
	case q.Symbol == "" || len(q.Symbol) > MaxSymbolLen:
		return fmt.Errorf("quote: symbol %q must be 1 to %d bytes", q.Symbol, MaxSymbolLen)
	case !q.Price.IsPositive():
		return fmt.Errorf("quote %s: price %s is not positive", q.Symbol, q.Price)
	case q.Volume.IsNegative():
		return fmt.Errorf("quote %s: volume %s is negative", q.Symbol, q.Volume)
	case q.PreviousClose.IsNegative():
		return fmt.Errorf("quote %s: previous close %s is negative", q.Symbol, q.PreviousClose)
	case q.Timestamp.IsZero():
		return fmt.Errorf("quote %s: no timestamp", q.Symbol)
	case q.Timestamp.Location() != time.UTC:
		return fmt.Errorf("quote %s: timestamp %s is not UTC", q.Symbol, q.Timestamp)
	case q.Source == "":
		return fmt.Errorf("quote %s: no source", q.Symbol)
	case q.Currency != "" && !currency.Known(q.Currency):
		return fmt.Errorf("quote %s: currency %q is not an ISO 4217 code or a quote unit such as GBp", q.Symbol, q.Currency)
	}
	return nil
}

// DailyBar is one session's open, high, low, close and volume. Date is the exchange's
// calendar day (America/New_York for US listings), never a UTC instant.
type DailyBar struct {
	Symbol string          `json:"symbol"`
	Date   calendar.Date   `json:"date"`
	Open   decimal.Decimal `json:"open"`
	High   decimal.Decimal `json:"high"`
	Low    decimal.Decimal `json:"low"`
	Close  decimal.Decimal `json:"close"`
	Volume decimal.Decimal `json:"volume"`
	Source string          `json:"source"`
}

// Validate checks positive prices, low ≤ high, a volume that is not negative, a
// symbol and a source. It does not insist that open and close lie inside [low, high]:
// adjusted series from real providers occasionally break that by a rounding step.
func (b DailyBar) Validate() error {
	switch {
	case b.Symbol == "" || len(b.Symbol) > MaxSymbolLen:
		return fmt.Errorf("bar: symbol %q must be 1 to %d bytes", b.Symbol, MaxSymbolLen)
	case !b.Open.IsPositive() || !b.High.IsPositive() || !b.Low.IsPositive() || !b.Close.IsPositive():
		return fmt.Errorf("bar %s %s: prices must be positive", b.Symbol, b.Date)
	case b.Low.GreaterThan(b.High):
		return fmt.Errorf("bar %s %s: low %s above high %s", b.Symbol, b.Date, b.Low, b.High)
	case b.Volume.IsNegative():
		return fmt.Errorf("bar %s %s: volume %s is negative", b.Symbol, b.Date, b.Volume)
	case b.Source == "":
		return fmt.Errorf("bar %s %s: no source", b.Symbol, b.Date)
	}
	return nil
}

// DailyClose is one row of daily_closes: Day is the exchange's calendar day,
// AsOf the time of the price (for a provider's daily bar, the session close).
type DailyClose struct {
	Symbol string
	Day    calendar.Date
	Close  decimal.Decimal
	AsOf   time.Time
	Source string
}

// Price is a symbol's newest price in a currency, as latest_prices keeps it (one
// row per symbol, newer wins).
type Price struct {
	Symbol   string
	Price    decimal.Decimal
	Currency string
	AsOf     time.Time
	Source   string
}

// SessionCloseHour is the US session's close, 16:00 in New York: the instant a
// provider's daily bar is stamped with.
const SessionCloseHour = 16

// SessionClose is when the session of day closes (16:00 New York), in UTC.
func SessionClose(day calendar.Date) time.Time {
	y, m, d := day.Time().Date()
	return time.Date(y, m, d, SessionCloseHour, 0, 0, 0, NewYork()).UTC()
}

// ClosesFromBars turns a provider's daily bars of symbol for from..to into daily
// closes stamped at their session's close, so that newer wins between a bar and
// the live ticks of its day. A bar that is not valid, not of symbol or outside the
// range is left out and counted in invalid; one whose session has not closed at
// now is left out and counted in open (stamped 16:00, it would win over the
// day's live ticks until then).
func ClosesFromBars(symbol string, from, to calendar.Date, bars []DailyBar, now time.Time) (closes []DailyClose, invalid, open int) {
	closes = make([]DailyClose, 0, len(bars))
	for _, b := range bars {
		if err := b.Validate(); err != nil || b.Symbol != symbol || b.Date.Before(from) || b.Date.After(to) {
			invalid++
			continue
		}
		closeAt := SessionClose(b.Date)
		if closeAt.After(now) {
			open++
			continue
		}
		closes = append(closes, DailyClose{Symbol: b.Symbol, Day: b.Date, Close: b.Close, AsOf: closeAt, Source: b.Source})
	}
	return closes, invalid, open
}
