package readmodel

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// PairSymbols are the symbols of the USD pairs (market.USDPair) that price the
// given currencies against each other; quote units count as their currency
// (GBp as GBP), USD needs none. Sorted, without repeats.
func PairSymbols(currencies []string) []string {
	var out []string
	for _, c := range currencies {
		settle, _ := currency.Settlement(c)
		if p, ok := market.USDPair(settle); ok && !slices.Contains(out, p.Symbol()) {
			out = append(out, p.Symbol())
		}
	}
	slices.Sort(out)
	return out
}

// LoadRates reads the rates that price currencies over from..to: the daily
// closes of their USD pairs on those days and the last close before from (the
// rate in force on from), and, when live is set, each pair's latest quote as
// the rate of its day (it replaces that day's close: it is newer). Missing
// pairs are simply absent: currency.Rates reports them as no rate, never 1.
func LoadRates(ctx context.Context, db PriceDB, currencies []string, from, to calendar.Date, live bool) (*currency.Rates, error) {
	rates := currency.NewRates()
	symbols := PairSymbols(currencies)
	if len(symbols) == 0 {
		return rates, nil
	}
	// The last close before from needs its own order by (the one after a union
	// orders the union): without it, distinct on keeps any close of the symbol.
	rows, err := db.Query(ctx, `
select symbol, day::text, close::text from daily_closes
 where symbol = any($1::text[]) and day between $2::date and $3::date
union all
(select distinct on (symbol) symbol, day::text, close::text from daily_closes
  where symbol = any($1::text[]) and day < $2::date
  order by symbol, day desc)
 order by 1, 2`, symbols, from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("readmodel: load rates: %w", err)
	}
	var sym, day, px string
	if _, err := pgx.ForEachRow(rows, []any{&sym, &day, &px}, func() error {
		d, err := calendar.Parse(day)
		if err != nil {
			return err
		}
		return addPairRate(rates, sym, d, px)
	}); err != nil {
		return nil, fmt.Errorf("readmodel: load rates: %w", err)
	}
	if !live {
		return rates, nil
	}
	rows, err = db.Query(ctx, `select symbol, as_of, price::text from latest_prices where symbol = any($1::text[])`, symbols)
	if err != nil {
		return nil, fmt.Errorf("readmodel: load live rates: %w", err)
	}
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&sym, &at, &px}, func() error {
		return addPairRate(rates, sym, calendar.FromTime(at.UTC()), px)
	}); err != nil {
		return nil, fmt.Errorf("readmodel: load live rates: %w", err)
	}
	return rates, nil
}

// addPairRate adds a pair symbol's price as a rate; a symbol that is not a pair
// or a price that is not positive is skipped (market data, not ours to refuse).
func addPairRate(rates *currency.Rates, symbol string, day calendar.Date, price string) error {
	pair, ok := market.ParseFXPair(symbol)
	if !ok {
		return nil
	}
	v, err := decimal.NewFromString(price)
	if err != nil || !v.IsPositive() {
		return nil
	}
	if err := rates.Add(day, pair.Base, pair.Quote, v); err != nil {
		return nil //nolint:nilerr // an unknown code in a pair symbol prices nothing
	}
	return nil
}

// FXRates reads the rates of the days transactions recorded without one fall
// on (command.Rates): the daily closes of the currencies' USD pairs.
type FXRates struct{ db PriceDB }

// NewFXRates returns the rates over db.
func NewFXRates(db PriceDB) FXRates { return FXRates{db: db} }

// RatesBetween is every rate between currencies in force on a day from..to at
// the daily closes (LoadRates without the live quotes): one query.
func (r FXRates) RatesBetween(ctx context.Context, currencies []string, from, to calendar.Date) (*currency.Rates, error) {
	return LoadRates(ctx, r.db, currencies, from, to, false)
}
