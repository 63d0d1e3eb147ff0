package readmodel

import (
	"context"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// The price, valuation and watcher read models are written and read through the
// package's functions on a PriceDB, which the prices consumer, the ingest and the
// analytics job call with the owner's pool. Prices, Valuations and Watchers bind
// those functions to one database as stores with a method set free of pgx: the
// ports a use case declares, and the contract suites in readmodel/storetest that
// the in-memory stores (package memstore) pass too.

// Prices is the store of latest_prices and daily_closes on a database.
type Prices struct{ db PriceDB }

// NewPrices returns the price store on db.
func NewPrices(db PriceDB) *Prices { return &Prices{db: db} }

// UpsertLatestPrices is UpsertLatestPrices on the store's database.
func (p *Prices) UpsertLatestPrices(ctx context.Context, prices []LatestPrice) (int64, error) {
	return UpsertLatestPrices(ctx, p.db, prices)
}

// UpsertDailyCloses is UpsertDailyCloses on the store's database.
func (p *Prices) UpsertDailyCloses(ctx context.Context, closes []DailyClose) (int64, error) {
	return UpsertDailyCloses(ctx, p.db, closes)
}

// DailyCloses is DailyCloses on the store's database.
func (p *Prices) DailyCloses(ctx context.Context, symbol string, from, to calendar.Date) ([]DailyClose, error) {
	return DailyCloses(ctx, p.db, symbol, from, to)
}

// LatestPriceOf is LatestPriceOf on the store's database.
func (p *Prices) LatestPriceOf(ctx context.Context, symbol string) (LatestPrice, bool, error) {
	return LatestPriceOf(ctx, p.db, symbol)
}

// LatestPrices is LatestPrices on the store's database.
func (p *Prices) LatestPrices(ctx context.Context, symbols []string) (map[string]LatestPrice, error) {
	return LatestPrices(ctx, p.db, symbols)
}

// Valuations is the store of the valuations read model on a database.
type Valuations struct{ db PriceDB }

// NewValuations returns the valuation store on db.
func NewValuations(db PriceDB) *Valuations { return &Valuations{db: db} }

// InsertValuations is InsertValuations on the store's database.
func (v *Valuations) InsertValuations(ctx context.Context, vals []Valuation) (int64, error) {
	return InsertValuations(ctx, v.db, vals)
}

// ValuationHistory is ValuationHistory on the store's database, as userID when
// it is a CallerDB.
func (v *Valuations) ValuationHistory(ctx context.Context, userID, portfolioID string, from, to time.Time, limit int) ([]Valuation, error) {
	return ValuationHistory(ctx, asCaller(v.db, userID), userID, portfolioID, from, to, limit)
}

// PruneValuations is PruneValuations on the store's database.
func (v *Valuations) PruneValuations(ctx context.Context, from, before time.Time, limit int) (int64, error) {
	return PruneValuations(ctx, v.db, from, before, limit)
}

// Watchers is the store of symbol_watchers on a database. Watch and Unwatch run
// as the connection's user when the database is a CallerDB (the ws function's),
// the others as the owner (the prices consumer's pool).
type Watchers struct{ db PriceDB }

// NewWatchers returns the watcher store on db.
func NewWatchers(db PriceDB) *Watchers { return &Watchers{db: db} }

// Watch is WatchSymbols.
func (w *Watchers) Watch(ctx context.Context, connectionID, userID string, symbols []string, until time.Time) error {
	return WatchSymbols(ctx, asCaller(w.db, userID), connectionID, userID, symbols, until)
}

// Unwatch is UnwatchSymbols of userID's connection.
func (w *Watchers) Unwatch(ctx context.Context, connectionID, userID string, symbols []string) error {
	return UnwatchSymbols(ctx, asCaller(w.db, userID), connectionID, symbols)
}

// WatchersOf is WatchersOf on the store's database.
func (w *Watchers) WatchersOf(ctx context.Context, symbols []string, now time.Time) ([]string, error) {
	return WatchersOf(ctx, w.db, symbols, now)
}

// PruneWatchers is PruneWatchers on the store's database.
func (w *Watchers) PruneWatchers(ctx context.Context, now time.Time, limit int) (int64, error) {
	return PruneWatchers(ctx, w.db, now, limit)
}

// Symbols is AlertSymbols on the store's database: every symbol a rule watches.
func (a *AlertRules) Symbols(ctx context.Context) ([]string, error) {
	return AlertSymbols(ctx, a.db)
}
