package memstore

import (
	"context"
	"math"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// FXRates is the in-memory readmodel.FXRates: the rate of a day at the daily
// closes of the currencies' USD pairs held in Prices.
type FXRates struct{ Prices *Prices }

// RateOn is the rate from → to in force on day at the daily closes, and false
// when none is.
func (r FXRates) RateOn(_ context.Context, from, to string, day calendar.Date) (currency.Rate, bool, error) {
	rates := currency.NewRates()
	for _, c := range r.Prices.closesOf(readmodel.PairSymbols([]string{from, to}), math.MinInt32, day) {
		if pair, ok := market.ParseFXPair(c.Symbol); ok && c.Close.IsPositive() {
			_ = rates.Add(c.Day, pair.Base, pair.Quote, c.Close) // an unknown code in a pair symbol prices nothing
		}
	}
	rate, ok := rates.On(from, to, day)
	return rate, ok, nil
}
