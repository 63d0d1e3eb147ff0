package lots

import (
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/shopspring/decimal"
)

// Position is one symbol's state: what is held, what it cost, and what it has
// earned and cost in fees and taxes over its whole history. Money is in the
// book's base currency, at each transaction's own rate, except Local.
type Position struct {
	Symbol string
	// Currency is the currency the symbol trades in, as its trades recorded it
	// (GBp for a London listing priced in pence); "" if it was never traded.
	Currency    string
	Quantity    decimal.Decimal // shares held; zero once closed
	CostBasis   decimal.Decimal // cost basis of the shares held (sum over Lots)
	RealizedPnL decimal.Decimal // sum of this symbol's sells' realized P&L
	Fees        decimal.Decimal // every fee paid on this symbol's transactions, FEE amounts included
	Taxes       decimal.Decimal // every tax paid on this symbol's transactions, dividend withholding included
	Dividends   decimal.Decimal // gross dividends received
	// Local is the position's figures in the settlement currency of its trades.
	Local Local
	// Lots are the open lots, oldest first: under FIFO one per buy still (partly)
	// held, under AverageCost the single pool. Nil once closed.
	Lots []Lot
}

// Local holds a position's figures in the currency its trades settle in (GBP for
// a GBp listing): what it cost, what its sells realized, and its fees, taxes and
// gross dividends, before any exchange. Currency is "" for a symbol never
// traded, whose figures here are then all zero.
//
// Fees, Taxes and Dividends sum the symbol's transactions that settle in
// Currency (pence made pounds). One that settles in another currency (a USD
// dividend on a London ETF) cannot be converted without a rate the book does
// not have: it is in the position's base figures only, and Excluded counts it.
type Local struct {
	Currency    string
	CostBasis   decimal.Decimal
	RealizedPnL decimal.Decimal
	Fees        decimal.Decimal
	Taxes       decimal.Decimal
	Dividends   decimal.Decimal
	// Excluded is how many of the symbol's dividends and fee- or tax-bearing
	// transactions settled in another currency than Currency (every one, for a
	// symbol never traded) and are missing from the three figures above.
	Excluded int
}

// AveragePrice is cost basis per share held, rounded to MoneyScale; zero when
// nothing is held.
func (p Position) AveragePrice() decimal.Decimal { return perShare(p.CostBasis, p.Quantity) }

// ValueAt values the position at a market price in its trading currency and the
// rate that converts its settlement currency into the base today (1 when they
// are the same: the caller decides, the book never assumes).
//
// The base-currency unrealized P&L splits as Portfolio Performance splits it:
//
//	priceEffect    = (local market value − local cost basis) × rate today
//	currencyEffect = local cost basis × rate today − cost basis
//
// The price effect is what the price move earned, at today's rate; the currency
// effect is what the rate move did to the money invested. They sum to
// market value − cost basis exactly.
func (p Position) ValueAt(price, rate decimal.Decimal) Valuation {
	localMV := currency.ToSettlement(p.Currency, p.Quantity.Mul(price))
	mv := localMV
	if !rate.Equal(one) {
		mv = localMV.Mul(rate)
	}
	localCostNow := p.Local.CostBasis
	if !rate.Equal(one) {
		localCostNow = localCostNow.Mul(rate)
	}
	localUnrealized := localMV.Sub(p.Local.CostBasis)
	return Valuation{
		MarketPrice: price, Rate: rate,
		MarketValue: mv, UnrealizedPnL: mv.Sub(p.CostBasis),
		PriceEffect: mv.Sub(localCostNow), CurrencyEffect: localCostNow.Sub(p.CostBasis),
		LocalMarketValue: localMV, LocalUnrealizedPnL: localUnrealized,
	}
}

var one = decimal.NewFromInt(1)

// Valuation is a position valued at a market price and an exchange rate.
type Valuation struct {
	MarketPrice    decimal.Decimal // in the trading currency (pence for GBp)
	Rate           decimal.Decimal // settlement currency → base
	MarketValue    decimal.Decimal // local market value × rate
	UnrealizedPnL  decimal.Decimal // market value − cost basis = PriceEffect + CurrencyEffect
	PriceEffect    decimal.Decimal
	CurrencyEffect decimal.Decimal
	// In the settlement currency: quantity × price (pence made pounds), and that
	// minus the local cost basis.
	LocalMarketValue   decimal.Decimal
	LocalUnrealizedPnL decimal.Decimal
}

// Lot is a block of shares with its cost basis. Under FIFO, Date is the buy's date
// (a split rescales Quantity and keeps Date); under AverageCost, the date of the
// first buy since the position was last empty.
type Lot struct {
	Date           calendar.Date
	Quantity       decimal.Decimal
	CostBasis      decimal.Decimal // in the base, at the buys' rates
	LocalCostBasis decimal.Decimal // in the settlement currency
}

// UnitCost is cost basis per share, rounded to MoneyScale; zero for an empty lot.
func (l Lot) UnitCost() decimal.Decimal { return perShare(l.CostBasis, l.Quantity) }

// Summary holds the portfolio-level totals. See the package documentation for the
// identity that ties them together.
type Summary struct {
	CostBasis   decimal.Decimal // cost basis of everything held
	RealizedPnL decimal.Decimal // sum of every sell's realized P&L
	Fees        decimal.Decimal // every fee, on every transaction type, plus FEE amounts
	Taxes       decimal.Decimal // every tax, on every transaction type
	Dividends   decimal.Decimal // gross dividends
	Interest    decimal.Decimal // gross interest
	// Charges are the fees and taxes not already inside a trade's cost basis or
	// proceeds: on dividends, interest, splits, deposits and withdrawals, plus
	// FEE transactions in full.
	Charges     decimal.Decimal
	Deposits    decimal.Decimal
	Withdrawals decimal.Decimal
	// Cash is the sum of every transaction's cash effect in the base, each at its
	// own rate: the identity's cash. What the cash is worth today is Balances at
	// today's rates.
	Cash     decimal.Decimal
	Balances []Balance
}

// Balance is the cash held in one currency.
type Balance struct {
	Currency string
	Amount   decimal.Decimal
}

// Realization is the outcome of one sell.
type Realization struct {
	TxID      string
	Symbol    string
	Date      calendar.Date
	Quantity  decimal.Decimal // as sold (a dust oversell shows the quantity sold, not held)
	Proceeds  decimal.Decimal // quantity × price − fee − tax
	CostBasis decimal.Decimal // cost basis of the shares consumed
	PnL       decimal.Decimal // Proceeds − CostBasis
	LocalPnL  decimal.Decimal // the same in the settlement currency, before exchange
}

func perShare(cost, qty decimal.Decimal) decimal.Decimal {
	if qty.IsZero() {
		return decimal.Decimal{}
	}
	return cost.DivRound(qty, MoneyScale)
}
