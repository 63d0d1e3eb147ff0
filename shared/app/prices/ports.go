package prices

import (
	"context"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// Record is one record of a batch from market-data-updates, as the stream
// delivered it: the consumer decodes Data, reports a record that must be retried
// by its SequenceNumber, and sets aside a record that can never apply with where
// it was on the stream (ShardID, Stream, PartitionKey) and its data.
type Record struct {
	SequenceNumber string
	PartitionKey   string
	ShardID        string // "" when the trigger does not say
	Stream         string // the stream's ARN
	Data           []byte
	// ArrivedAt is when the stream took the record (Kinesis'
	// ApproximateArrivalTimestamp; zero when unknown): the start of TickToPush.
	ArrivedAt time.Time
}

// The ports below are the consumer's; the errors of their writes that no retry
// mends (a store refusing the data itself) match pricing.ErrRefused, so that the
// consumer sets those ticks aside instead of retrying them. The alert ports are
// pricing's (AlertStore and the interfaces it may also implement).

// LatestStore keeps the newest quote per symbol, newer wins (dynamoprices.Latest):
// it reports whether q was stored (false: a newer or the same tick was).
type LatestStore interface {
	Put(ctx context.Context, q market.Quote, eventID string) (bool, error)
}

// ReadModels are the read models the consumer writes and reads
// (readmodel.PricesConsumerStore).
type ReadModels interface {
	PriceWriter
	Valuations
	Watchers
	Retention
}

// PriceWriter keeps the latest price and each exchange day's close per symbol,
// set-based, newer wins (a late or duplicate tick changes nothing); each returns
// the rows written.
type PriceWriter interface {
	UpsertLatestPrices(ctx context.Context, prices []market.Price) (int64, error)
	UpsertDailyCloses(ctx context.Context, closes []market.DailyClose) (int64, error)
}

// Valuations values the portfolios a batch ticks and records their values.
type Valuations interface {
	// ValuationsHolding values every non-archived portfolio with an open position
	// in one of symbols at the latest prices, sorted by portfolio ID.
	ValuationsHolding(ctx context.Context, symbols []string) ([]market.PortfolioValuation, error)
	// RecordValuations keeps each event's valuation; one already recorded (the
	// same portfolio and as_of) is left as it is. It returns the rows inserted.
	RecordValuations(ctx context.Context, evs []pricing.PortfolioValueCalculated) (int64, error)
	// SymbolsHeldBy returns the symbols of the open positions of portfolioIDs.
	SymbolsHeldBy(ctx context.Context, portfolioIDs []string) ([]string, error)
	// PositionValues values the open positions of portfolioIDs one by one, in
	// their base currency, at the prices and rates of the last
	// ValuationsHolding call (a portfolio it did not value is left out): what
	// weight and concentration rules need, asked for the portfolios that have
	// such rules only.
	PositionValues(ctx context.Context, portfolioIDs []string) (map[string][]market.PositionValue, error)
}

// Watchers are the users watching symbols they may not hold (a WebSocket
// subscription to a quote): they get those symbols' quotes too.
type Watchers interface {
	WatchersOf(ctx context.Context, symbols []string, now time.Time) ([]string, error)
}

// Retention bounds what the consumer leaves behind: each prune deletes at most
// limit rows and returns how many it did.
type Retention interface {
	// PruneWatchers deletes the watches expired at now (connections closed
	// without an unsubscribe).
	PruneWatchers(ctx context.Context, now time.Time, limit int) (int64, error)
	// PruneValuations thins the valuations as of [from, before) to one a day.
	PruneValuations(ctx context.Context, from, before time.Time, limit int) (int64, error)
}
