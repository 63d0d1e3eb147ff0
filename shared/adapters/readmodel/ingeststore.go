package readmodel

import (
	"context"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// IngestStore is what the scheduled ingest reads and writes in the read models
// (shared/app/ingest's ports): the symbols to fetch quotes for, and the daily
// closes a backfill stores.
type IngestStore struct{ DB PriceDB }

// HeldSymbols returns the symbols held in any portfolio (see the function).
func (s IngestStore) HeldSymbols(ctx context.Context) ([]string, error) {
	return HeldSymbols(ctx, s.DB)
}

// AlertSymbols returns the symbols alert rules watch (see the function).
func (s IngestStore) AlertSymbols(ctx context.Context) ([]string, error) {
	return AlertSymbols(ctx, s.DB)
}

// UpsertDailyCloses writes closes to daily_closes, newer wins (see the function).
func (s IngestStore) UpsertDailyCloses(ctx context.Context, closes []market.DailyClose) (int64, error) {
	return UpsertDailyCloses(ctx, s.DB, closes)
}
