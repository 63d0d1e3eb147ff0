package pricing

import (
	"time"

	"github.com/shopspring/decimal"
)

// Contract constants of PortfolioValueCalculated (events/schemas).
const (
	EventTypePortfolioValueCalculated = "PortfolioValueCalculated"
	AggregateTypePortfolio            = "Portfolio"
)

// PortfolioValueCalculated records one revaluation of a portfolio by the prices
// consumer, in the envelope of the portfolio events (events/schemas/common.v1.json;
// this type's schema is PortfolioValueCalculated.v1.json). It is kept in the
// valuations read model and pushed as the valuation message, never appended to
// the event table: it is derived from prices, which are facts from outside, not
// decisions (docs/architecture.md §1).
//
// Its ID is a name-based UUID of the portfolio and AsOf, and Timestamp is AsOf,
// so a re-processed batch produces the same event. EventVersion is the portfolio's
// aggregate version that the valued positions reflect. CausationID is the
// MarketDataUpdated event that carried the newest price used when it was in the
// batch ("" otherwise); CorrelationID is "" (no request caused it).
type PortfolioValueCalculated struct {
	EventID       string        `json:"eventId"`
	EventType     string        `json:"eventType"`
	AggregateID   string        `json:"aggregateId"`
	AggregateType string        `json:"aggregateType"`
	EventVersion  int64         `json:"eventVersion"`
	Timestamp     time.Time     `json:"timestamp"`
	UserID        string        `json:"userId"`
	CorrelationID string        `json:"correlationId"`
	CausationID   string        `json:"causationId"`
	SchemaVersion int           `json:"schemaVersion"`
	Data          ValuationData `json:"data"`
}

// ValuationData is the body of PortfolioValueCalculated: a row of the valuations
// read model (plus the currency, the portfolio's base currency). MarketValue and
// CostBasis cover the same priced open positions; UnrealizedPnL is their
// difference; Unpriced lists the open positions without a price (never null).
type ValuationData struct {
	PortfolioID   string          `json:"portfolioId"`
	AsOf          time.Time       `json:"asOf"`
	Currency      string          `json:"currency"`
	MarketValue   decimal.Decimal `json:"marketValue"`
	CostBasis     decimal.Decimal `json:"costBasis"`
	UnrealizedPnL decimal.Decimal `json:"unrealizedPnL"`
	Unpriced      []string        `json:"unpriced"`
}

// ValueCalculated builds the event for d, owned by userID, reflecting the
// portfolio's aggregate version.
func ValueCalculated(d ValuationData, userID string, version int64, causationID string) PortfolioValueCalculated {
	d.AsOf = d.AsOf.UTC()
	if d.Unpriced == nil {
		d.Unpriced = []string{}
	}
	name := EventTypePortfolioValueCalculated + "|" + d.PortfolioID + "|" + d.AsOf.Format(time.RFC3339Nano)
	return PortfolioValueCalculated{
		EventID: eventNamespace.Name(name), EventType: EventTypePortfolioValueCalculated,
		AggregateID: d.PortfolioID, AggregateType: AggregateTypePortfolio, EventVersion: version, Timestamp: d.AsOf,
		UserID: userID, CausationID: causationID, SchemaVersion: SchemaVersion, Data: d,
	}
}
