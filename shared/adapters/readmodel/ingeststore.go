package readmodel

import (
	"context"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// IngestStore is what the market-data functions read and write in the read
// models: the symbols to fetch quotes for (the ingest's and the stream's watch
// list), and the daily closes the backfill stores (shared/app/history's
// CloseStore). QuoteCurrency is the currency of the quotes (USD
// when empty): the FX pairs of the watch list end in it.
type IngestStore struct {
	DB            PriceDB
	QuoteCurrency string
}

// WatchList returns the complete watch list at now (see the function).
func (s IngestStore) WatchList(ctx context.Context, now time.Time) ([]market.WatchedSymbol, error) {
	currency := s.QuoteCurrency
	if currency == "" {
		currency = "USD"
	}
	return WatchList(ctx, s.DB, now, currency)
}

// UpsertDailyCloses writes closes to daily_closes, newer wins (see the function).
func (s IngestStore) UpsertDailyCloses(ctx context.Context, closes []market.DailyClose) (int64, error) {
	return UpsertDailyCloses(ctx, s.DB, closes)
}
