package httpapi

import (
	"context"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
	"github.com/shopspring/decimal"
)

// Places of the figures derived here: money as the base currency's smallest
// unit never needs more than 4; ratios (weights, a day's change) to 6, a
// ten-thousandth of a percent.
const (
	dayChangePlaces = 4
	ratioPlaces     = 6
)

// closeLookback is how far before a price's day its previous close is looked
// for: a long weekend and a holiday or two.
const closeLookback = 10

// ClosesReader reads the daily closes of symbols over a range, in one query
// (*readmodel.Metrics, memstore.Metrics).
type ClosesReader interface {
	LoadCloses(ctx context.Context, symbols []string, from, to calendar.Date) (*performance.Closes, error)
}

// addWeightsAndDayChanges fills what the holdings table shows beside the
// stored figures: each priced position's weight (its share of the priced
// positions' market value) and, with closes, its move since the previous close
// (the last close before the day of its price, New York time, as the prices
// function dates closes): previousClose, dayChange in the base (the market
// value now less the same quantity at the previous close, at today's rate:
// the price's move, not the rate's nor a trade's of today) and dayChangeRatio;
// the totals sum the day changes of the positions that have one. A failed read
// of the closes leaves the day's figures out (the positions still answer).
func addWeightsAndDayChanges(ctx context.Context, closes ClosesReader, resp *PositionsResponse) error {
	total := resp.Totals.MarketValue
	var symbols []string
	var first, last calendar.Date
	for i := range resp.Positions {
		p := &resp.Positions[i]
		if p.MarketValue == nil || p.MarketPrice == nil || p.PriceAsOf == nil {
			continue
		}
		if total.IsPositive() {
			w := p.MarketValue.DivRound(total, ratioPlaces)
			p.Weight = &w
		}
		day := priceDay(*p.PriceAsOf)
		if len(symbols) == 0 || day < first {
			first = day
		}
		if len(symbols) == 0 || day > last {
			last = day
		}
		symbols = append(symbols, p.Symbol)
	}
	if closes == nil || len(symbols) == 0 {
		return nil
	}
	loaded, err := closes.LoadCloses(ctx, symbols, first-closeLookback, last-1)
	if err != nil {
		return err
	}
	var dayTotal, previousTotal decimal.Decimal
	found := false
	for i := range resp.Positions {
		p := &resp.Positions[i]
		if p.MarketValue == nil || p.MarketPrice == nil || p.PriceAsOf == nil || !p.MarketPrice.IsPositive() {
			continue
		}
		day := priceDay(*p.PriceAsOf)
		prev, on, ok := loaded.On(p.Symbol, day-1)
		if !ok || day-on > closeLookback || !prev.IsPositive() {
			continue
		}
		previousValue := p.MarketValue.Mul(prev).DivRound(*p.MarketPrice, dayChangePlaces)
		change := p.MarketValue.Sub(previousValue)
		ratio := p.MarketPrice.DivRound(prev, ratioPlaces+4).Sub(decimal.NewFromInt(1)).Round(ratioPlaces)
		onDate := on
		p.PreviousClose, p.PreviousCloseDate, p.DayChange, p.DayChangeRatio = &prev, &onDate, &change, &ratio
		dayTotal, previousTotal, found = dayTotal.Add(change), previousTotal.Add(previousValue), true
	}
	if found {
		resp.Totals.DayChange = &dayTotal
		if previousTotal.IsPositive() {
			r := dayTotal.DivRound(previousTotal, ratioPlaces)
			resp.Totals.DayChangeRatio = &r
		}
	}
	return nil
}

// priceDay is the exchange day of a price's instant (New York).
func priceDay(asOf time.Time) calendar.Date {
	return calendar.FromTime(asOf.In(market.NewYork()))
}
