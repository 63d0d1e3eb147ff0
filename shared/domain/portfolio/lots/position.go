package lots

import (
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/shopspring/decimal"
)

// Position is one symbol's state: what is held, what it cost, and what it has
// earned and cost in fees and taxes over its whole history.
type Position struct {
	Symbol      string
	Quantity    decimal.Decimal // shares held; zero once closed
	CostBasis   decimal.Decimal // cost basis of the shares held (sum over Lots)
	RealizedPnL decimal.Decimal // sum of this symbol's sells' realized P&L
	Fees        decimal.Decimal // every fee paid on this symbol's transactions, FEE amounts included
	Taxes       decimal.Decimal // every tax paid on this symbol's transactions, dividend withholding included
	Dividends   decimal.Decimal // gross dividends received
	// Lots are the open lots, oldest first: under FIFO one per buy still (partly)
	// held, under AverageCost the single pool. Nil once closed.
	Lots []Lot
}

// AveragePrice is cost basis per share held, rounded to MoneyScale; zero when
// nothing is held.
func (p Position) AveragePrice() decimal.Decimal { return perShare(p.CostBasis, p.Quantity) }

// ValueAt values the position at a market price.
func (p Position) ValueAt(price decimal.Decimal) Valuation {
	mv := p.Quantity.Mul(price)
	return Valuation{MarketPrice: price, MarketValue: mv, UnrealizedPnL: mv.Sub(p.CostBasis)}
}

// Valuation is a position valued at a market price.
type Valuation struct {
	MarketPrice   decimal.Decimal
	MarketValue   decimal.Decimal // quantity × price
	UnrealizedPnL decimal.Decimal // market value − cost basis
}

// Lot is a block of shares with its cost basis. Under FIFO, Date is the buy's date
// (a split rescales Quantity and keeps Date); under AverageCost, the date of the
// first buy since the position was last empty.
type Lot struct {
	Date      calendar.Date
	Quantity  decimal.Decimal
	CostBasis decimal.Decimal
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
	Cash        decimal.Decimal // sum of every transaction's CashEffect
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
}

func perShare(cost, qty decimal.Decimal) decimal.Decimal {
	if qty.IsZero() {
		return decimal.Decimal{}
	}
	return cost.DivRound(qty, MoneyScale)
}
