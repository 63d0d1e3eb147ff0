package readmodel

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
)

// Warning codes of positions and totals beyond WarningUnknownSymbol.
const (
	// WarningNoRate: no exchange rate from a position's (or a cash balance's)
	// currency to the base is known: it is left unpriced, never valued at 1.
	WarningNoRate = "fx_rate_missing"
	// WarningPriceCurrency: the latest price is in another currency than the
	// symbol's trades: another listing, most likely; the position is unpriced.
	WarningPriceCurrency = "price_currency_mismatch"
)

// CashBalanceView is the cash held in one currency and, when a rate is known,
// its value in the base at today's rate.
type CashBalanceView struct {
	Currency string
	Amount   decimal.Decimal
	FXRate   *decimal.Decimal // currency → base (1 for the base itself)
	Value    *decimal.Decimal // Amount × FXRate
}

// ValueNeeds lists the currencies whose rates to the base value v: the
// settlement currency of each open position and of each cash balance, and the
// base; none when they are all the base (a single-currency portfolio reads no
// rate). A store loads them (LoadRates with live quotes) before ValuePositions.
func ValueNeeds(v *PositionsView) []string {
	var out []string
	add := func(c string) {
		if c != "" && c != v.BaseCurrency {
			out = append(out, c)
		}
	}
	for i := range v.Positions {
		if p := &v.Positions[i]; !p.Quantity.IsZero() {
			add(p.LocalCurrency)
		}
	}
	for _, b := range v.Totals.Balances {
		if !b.Amount.IsZero() { // an emptied account is worth 0 at any rate
			add(b.Currency)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return append(out, v.BaseCurrency)
}

// ValuePositions values v's open positions at the latest prices (by symbol,
// each in its trading currency) and the rates in force on day, and its cash
// balances at those rates; it sums the totals' market value and unrealized P&L
// in the base. A position whose price or rate is missing is unpriced and
// listed in Totals.Unpriced; a missing rate or a price in another currency
// than the symbol's trades adds a warning naming it. Nothing is ever valued at
// a rate of 1 unless its currency is the base. Both query stores call it, so
// they value alike.
func ValuePositions(v *PositionsView, prices map[string]LatestPrice, rates *currency.Rates, day calendar.Date) {
	base := v.BaseCurrency
	v.Totals.MarketValue, v.Totals.UnrealizedPnL, v.Totals.Unpriced = decimal.Decimal{}, decimal.Decimal{}, nil
	for i := range v.Positions {
		p := &v.Positions[i]
		if p.Quantity.IsZero() {
			continue
		}
		px, ok := prices[p.Symbol]
		if !ok {
			v.Totals.Unpriced = append(v.Totals.Unpriced, p.Symbol)
			continue
		}
		trading := p.Currency
		if trading == "" { // rows from before trades carried a currency: the base's
			trading = base
		}
		price, ok := priceIn(px, trading)
		if !ok {
			p.Warnings = append(p.Warnings, PositionWarning{Code: WarningPriceCurrency,
				Message: fmt.Sprintf("the latest price of %s is in %s, its trades in %s: it is left unpriced", p.Symbol, px.Currency, trading)})
			v.Totals.Unpriced = append(v.Totals.Unpriced, p.Symbol)
			continue
		}
		settle, _ := currency.Settlement(trading)
		rate, ok := rates.On(settle, base, day)
		if !ok {
			p.Warnings = append(p.Warnings, noRateWarning(settle, base, day))
			v.Totals.Unpriced = append(v.Totals.Unpriced, p.Symbol)
			continue
		}
		val := valueAt(p, trading, settle == base, price, rate.Value)
		at := px.AsOf
		p.MarketPrice, p.MarketValue, p.UnrealizedPnL, p.PriceAsOf, p.PriceSource = &price, &val.MarketValue, &val.UnrealizedPnL, &at, px.Source
		p.LocalMarketValue, p.LocalUnrealizedPnL = &val.LocalMarketValue, &val.LocalUnrealizedPnL
		p.PriceEffect, p.CurrencyEffect = &val.PriceEffect, &val.CurrencyEffect
		if settle != base {
			r := rate.Value
			p.FXRate = &r
		}
		v.Totals.MarketValue = v.Totals.MarketValue.Add(val.MarketValue)
		v.Totals.UnrealizedPnL = v.Totals.UnrealizedPnL.Add(val.UnrealizedPnL)
	}
	valueCash(&v.Totals, base, rates, day)
}

// valueAt is lots.Position.ValueAt; a position in the base (rate 1, its local
// cost its cost basis) takes the short way to the same figures: its whole
// unrealized P&L is price effect, and its local figures are its base ones
// (a 50-holding read made a third more allocations without it).
func valueAt(p *PositionView, trading string, inBase bool, price, rate decimal.Decimal) lots.Valuation {
	if inBase && p.LocalCostBasis.Equal(p.CostBasis) {
		mv := currency.ToSettlement(trading, p.Quantity.Mul(price))
		upnl := mv.Sub(p.CostBasis)
		return lots.Valuation{MarketPrice: price, Rate: rate, MarketValue: mv, UnrealizedPnL: upnl, PriceEffect: upnl,
			LocalMarketValue: mv, LocalUnrealizedPnL: upnl}
	}
	settle, _ := currency.Settlement(trading)
	pos := lots.Position{Currency: trading, Quantity: p.Quantity, CostBasis: p.CostBasis,
		Local: lots.Local{Currency: settle, CostBasis: p.LocalCostBasis}}
	return pos.ValueAt(price, rate)
}

// valueCash values each cash balance at the rate in force on day; CashValue is
// their sum when every one has a rate.
func valueCash(t *TotalsView, base string, rates *currency.Rates, day calendar.Date) {
	t.CashValue = nil
	sum, all := decimal.Decimal{}, true
	for i := range t.Balances {
		b := &t.Balances[i]
		b.FXRate, b.Value = nil, nil
		if b.Amount.IsZero() { // an emptied account: worth 0 at any rate, none needed
			zero := decimal.Decimal{}
			b.Value = &zero
			continue
		}
		rate, ok := rates.On(b.Currency, base, day)
		if !ok {
			all = false
			t.Warnings = append(t.Warnings, noRateWarning(b.Currency, base, day))
			continue
		}
		r, value := rate.Value, b.Amount
		if b.Currency != base {
			value = b.Amount.Mul(r)
		}
		b.FXRate, b.Value = &r, &value
		sum = sum.Add(value)
	}
	if all {
		t.CashValue = &sum
	}
}

func noRateWarning(from, to string, day calendar.Date) PositionWarning {
	return PositionWarning{Code: WarningNoRate,
		Message: fmt.Sprintf("no %s→%s exchange rate on or before %s (directly, inverted or through USD): left unpriced", from, to, day)}
}

// priceIn is a latest price in the trading currency: as quoted, or converted
// exactly between a currency and its quote unit (a London price in GBp for
// trades recorded in GBP); false when it is in another currency altogether.
func priceIn(px LatestPrice, trading string) (decimal.Decimal, bool) {
	if px.Currency == trading {
		return px.Price, true
	}
	ps, pd := currency.Settlement(px.Currency)
	ts, td := currency.Settlement(trading)
	if ps != ts {
		return decimal.Decimal{}, false
	}
	price := px.Price
	if pd != 1 {
		price = price.Shift(-2) // pence → pounds
	}
	if td != 1 {
		price = price.Shift(2) // pounds → pence
	}
	return price, true
}
