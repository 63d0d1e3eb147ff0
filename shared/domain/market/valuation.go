package market

import (
	"time"

	"github.com/shopspring/decimal"
)

// PortfolioValuation is a portfolio's market value from latest_prices: the sum of
// quantity × price over its open positions priced in its base currency.
// CostBasis is the cost basis of those same priced positions, so UnrealizedPnL =
// MarketValue − CostBasis. AsOf is the newest price used and NewestSymbol its
// symbol; Unpriced lists open positions without such a price. Version is the
// portfolio's aggregate version the positions reflect.
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
}

// LeadStaleness: see PortfolioValuation.FirstSymbol.
const LeadStaleness = 24 * time.Hour
