package market

import (
	"time"

	"github.com/shopspring/decimal"
)

// PortfolioValuation is a portfolio's market value in its base currency from
// latest_prices: the sum of quantity × price × the live rate of the price's
// currency into the base (the latest quotes of the USD pairs) over its open
// positions with a price and a rate. CostBasis (in the base) is the cost basis of
// those same priced positions, so UnrealizedPnL = MarketValue − CostBasis. AsOf
// is the newest price or pair quote used and NewestSymbol its symbol; Unpriced
// lists the open positions without a price or a rate (never valued at 1).
// Version is the portfolio's aggregate version the positions reflect.
type PortfolioValuation struct {
	PortfolioID   string
	UserID        string
	Currency      string
	Version       int64
	MarketValue   decimal.Decimal
	CostBasis     decimal.Decimal
	UnrealizedPnL decimal.Decimal
	AsOf          time.Time
	NewestSymbol  string
	// FirstSymbol is the smallest symbol among the priced positions whose price
	// is at most LeadStaleness older than AsOf: the prices consumer evaluates the
	// portfolio's value alerts in the batches that carry it, so in one shard's
	// batches only. A symbol that stopped trading (delisted, halted) stops leading
	// a day after the portfolio's other prices moved on.
	FirstSymbol string
	Unpriced    []string
	// CurrencyEffect is the part of UnrealizedPnL the exchange rates made since
	// the buys: over the priced positions that settle in another currency than
	// the base, local cost basis × today's rate − cost basis (zero when there
	// are none).
	CurrencyEffect decimal.Decimal
}

// PositionValue is one open position's market value in its portfolio's base
// currency, at the prices of a valuation.
type PositionValue struct {
	Symbol string
	Value  decimal.Decimal
}

// LeadStaleness: see PortfolioValuation.FirstSymbol.
const LeadStaleness = 24 * time.Hour
