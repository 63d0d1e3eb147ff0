package memstore

import (
	"context"
	"math"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// FXRates is the in-memory readmodel.FXRates: the rates at the daily closes of
// the currencies' USD pairs held in Prices.
type FXRates struct{ Prices *Prices }

// RatesBetween is every rate between currencies in force on a day from..to at
// the daily closes. It holds every close up to to, not only the last before
// from: On answers the same for those days.
func (r FXRates) RatesBetween(_ context.Context, currencies []string, _, to calendar.Date) (*currency.Rates, error) {
	rates := currency.NewRates()
	for _, c := range r.Prices.closesOf(readmodel.PairSymbols(currencies), math.MinInt32, to) {
		if pair, ok := market.ParseFXPair(c.Symbol); ok && c.Close.IsPositive() {
			_ = rates.Add(c.Day, pair.Base, pair.Quote, c.Close) // an unknown code in a pair symbol prices nothing
		}
	}
	return rates, nil
}
