package portfolio

import (
	"time"

	"github.com/shopspring/decimal"
)

// Valuation is a portfolio's open positions priced at one instant: the data of a
// PortfolioValueCalculated event, and a row of the valuations read model. The
// prices consumer values portfolios on every tick, the analytics job's daily run
// at the session's close. MarketValue and CostBasis cover the same priced open
// positions; Unpriced lists the open positions without a price in the base
// currency.
type Valuation struct {
	PortfolioID   string
	UserID        string
	AsOf          time.Time
	MarketValue   decimal.Decimal
	CostBasis     decimal.Decimal
	UnrealizedPnL decimal.Decimal
	Unpriced      []string
}
