package readmodel

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// LiveRates are the exchange rates of the moment: the latest quote of each USD
// pair (market.USDPair, "EURUSD=X") that was read, as currency.Rates derives
// them (direct, inverse, or cross through USD; quote units such as GBp exactly).
// A currency whose pair has no quote has no rate, never 1. A valuation converts
// every position of a portfolio at these rates, so each distinct conversion is
// derived once and kept (a batch converts the same few pairs thousands of
// times). Not safe for concurrent use.
type LiveRates struct {
	rates *currency.Rates
	quote map[string]LatestPrice // by the pair's currency (EUR for EURUSD=X)
	memo  map[conversion]liveRate
}

// liveDay is the one day LiveRates keeps its quotes on.
const liveDay calendar.Date = 0

type conversion struct{ from, to string }

// liveRate is one conversion: its value, and the pair quotes it comes from
// (their symbols and the newest as_of), which move a valuation's as_of.
type liveRate struct {
	value  decimal.Decimal
	asOf   time.Time
	symbol string // the pair whose quote is the newest, "" for a conversion without one
	ok     bool
}

// NewLiveRates returns the rates of the pair quotes among prices (other symbols
// are ignored; a quote that is not positive prices nothing).
func NewLiveRates(prices map[string]LatestPrice) *LiveRates {
	r := &LiveRates{rates: currency.NewRates(), quote: map[string]LatestPrice{}, memo: map[conversion]liveRate{}}
	for sym, lp := range prices {
		r.add(sym, lp)
	}
	return r
}

// add takes lp, the latest quote of symbol, when symbol is a USD pair.
func (r *LiveRates) add(symbol string, lp LatestPrice) {
	pair, ok := market.ParseFXPair(symbol)
	if !ok || pair.Quote != currency.Pivot || !lp.Price.IsPositive() {
		return
	}
	// Every quote goes in on one day (the rates of the moment, whatever day each
	// was quoted): the last quote of a pair is its rate now.
	if err := r.rates.Add(liveDay, pair.Base, pair.Quote, lp.Price); err != nil {
		return
	}
	r.quote[pair.Base] = lp
	clear(r.memo)
}

// rate converts an amount in from (a trading currency: GBp, EUR, ...) into to
// (a base currency).
func (r *LiveRates) rate(from, to string) liveRate {
	if r == nil {
		return liveRate{}
	}
	k := conversion{from, to}
	if lr, ok := r.memo[k]; ok {
		return lr
	}
	var lr liveRate
	if rate, ok := r.rates.On(from, to, liveDay); ok {
		lr = liveRate{value: rate.Value, ok: true}
		if fs, _ := currency.Settlement(from); fs != to {
			for _, c := range []string{fs, to} {
				if q, ok := r.quote[c]; ok && (q.AsOf.After(lr.asOf) || q.AsOf.Equal(lr.asOf) && q.Symbol < lr.symbol) {
					lr.asOf, lr.symbol = q.AsOf, q.Symbol
				}
			}
		}
	}
	r.memo[k] = lr
	return lr
}
