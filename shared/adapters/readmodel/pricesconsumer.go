package readmodel

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// PricesConsumerStore is the prices consumer's read models (prices.ReadModels)
// over db: latest_prices and daily_closes, the valuations it records and prunes,
// the symbol watchers, and the valuation of the portfolios a batch ticks, from
// the holders' positions kept in memory between batches (holdingsCache) and
// reloaded when holding_marks say they changed. One store per consumer: its
// cache is its container's.
//
// A store's error that no retry mends (the data itself refused, see
// markRefused) matches pricing.ErrRefused, which is how the consumer tells the
// ticks to set aside from those to retry.
type PricesConsumerStore struct {
	db       PriceDB
	holdings *holdingsCache
}

// NewPricesConsumerStore returns a store over db with an empty holdings cache.
func NewPricesConsumerStore(db PriceDB) *PricesConsumerStore {
	return &PricesConsumerStore{db: db, holdings: newHoldingsCache()}
}

// UpsertLatestPrices writes prices to latest_prices, newer wins (see the function).
func (s *PricesConsumerStore) UpsertLatestPrices(ctx context.Context, prices []market.Price) (int64, error) {
	rows := make([]LatestPrice, len(prices))
	for i, p := range prices {
		rows[i] = LatestPrice{Symbol: p.Symbol, Price: p.Price, Currency: p.Currency, AsOf: p.AsOf, Source: p.Source}
	}
	n, err := UpsertLatestPrices(ctx, s.db, rows)
	return n, markRefused(err)
}

// UpsertDailyCloses writes closes to daily_closes, newer wins (see the function).
func (s *PricesConsumerStore) UpsertDailyCloses(ctx context.Context, closes []market.DailyClose) (int64, error) {
	n, err := UpsertDailyCloses(ctx, s.db, closes)
	return n, markRefused(err)
}

// ValuationsHolding values every non-archived portfolio with an open position in
// one of symbols, sorted by portfolio ID, as the function of that name does, from
// the store's holdings cache.
func (s *PricesConsumerStore) ValuationsHolding(ctx context.Context, symbols []string) ([]market.PortfolioValuation, error) {
	vals, err := s.holdings.valuations(ctx, s.db, symbols)
	return vals, markRefused(err)
}

// PositionValues values the open positions of portfolioIDs, one by one, at the
// prices and rates of the last ValuationsHolding call, from the holdings cache;
// a portfolio that call did not value is left out.
func (s *PricesConsumerStore) PositionValues(_ context.Context, portfolioIDs []string) (map[string][]market.PositionValue, error) {
	return s.holdings.positionValues(portfolioIDs), nil
}

// RecordValuations inserts each event's data as a row of valuations; an
// (portfolio, as_of) already recorded is left as it is (see InsertValuations).
func (s *PricesConsumerStore) RecordValuations(ctx context.Context, evs []pricing.PortfolioValueCalculated) (int64, error) {
	rows := make([]Valuation, len(evs))
	for i, e := range evs {
		d := e.Data
		rows[i] = Valuation{PortfolioID: d.PortfolioID, UserID: e.UserID, AsOf: d.AsOf, MarketValue: d.MarketValue,
			CostBasis: d.CostBasis, UnrealizedPnL: d.UnrealizedPnL, Unpriced: d.Unpriced}
	}
	n, err := InsertValuations(ctx, s.db, rows)
	return n, markRefused(err)
}

// SymbolsHeldBy returns the symbols of the open positions of portfolioIDs.
func (s *PricesConsumerStore) SymbolsHeldBy(ctx context.Context, portfolioIDs []string) ([]string, error) {
	syms, err := SymbolsHeldBy(ctx, s.db, portfolioIDs)
	return syms, markRefused(err)
}

// WatchersOf returns the users with a live watch on one of symbols.
func (s *PricesConsumerStore) WatchersOf(ctx context.Context, symbols []string, now time.Time) ([]string, error) {
	return WatchersOf(ctx, s.db, symbols, now)
}

// PruneWatchers deletes at most limit watches expired at now.
func (s *PricesConsumerStore) PruneWatchers(ctx context.Context, now time.Time, limit int) (int64, error) {
	return PruneWatchers(ctx, s.db, now, limit)
}

// PruneValuations thins at most limit valuations in [from, before) to one a day.
func (s *PricesConsumerStore) PruneValuations(ctx context.Context, from, before time.Time, limit int) (int64, error) {
	return PruneValuations(ctx, s.db, from, before, limit)
}

// ConsumerAlertRules is AlertRules as the prices consumer's alert store: the same
// storage (pricing.AlertStore, PortfolioAlertStore, StateMarker and
// FiringRecorder), its errors marked as PricesConsumerStore's are.
type ConsumerAlertRules struct{ *AlertRules }

// NewConsumerAlertRules returns the alert rules over db for the prices consumer.
func NewConsumerAlertRules(db PriceDB) ConsumerAlertRules {
	return ConsumerAlertRules{NewAlertRules(db)}
}

// PriceRules implements pricing.AlertStore.
func (a ConsumerAlertRules) PriceRules(ctx context.Context, symbols []string) ([]alerts.Rule, alerts.State, error) {
	rules, st, err := a.AlertRules.PriceRules(ctx, symbols)
	return rules, st, markRefused(err)
}

// PortfolioRules implements pricing.PortfolioAlertStore.
func (a ConsumerAlertRules) PortfolioRules(ctx context.Context, portfolioIDs []string, metrics ...alerts.Metric) ([]alerts.Rule, alerts.State, error) {
	rules, st, err := a.AlertRules.PortfolioRules(ctx, portfolioIDs, metrics...)
	return rules, st, markRefused(err)
}

// SaveState implements pricing.AlertStore.
func (a ConsumerAlertRules) SaveState(ctx context.Context, rules []alerts.Rule, s alerts.State) error {
	return markRefused(a.AlertRules.SaveState(ctx, rules, s))
}

// RecordFirings implements pricing.FiringRecorder.
func (a ConsumerAlertRules) RecordFirings(ctx context.Context, firings []alerts.Firing) error {
	return markRefused(a.AlertRules.RecordFirings(ctx, firings))
}

// StateMarks implements pricing.StateMarker.
func (a ConsumerAlertRules) StateMarks(ctx context.Context, keys []string) (map[string]string, error) {
	marks, err := a.AlertRules.StateMarks(ctx, keys)
	return marks, markRefused(err)
}

// StateMarkChanges implements pricing.StateMarker.
func (a ConsumerAlertRules) StateMarkChanges(ctx context.Context, since uint64, ownPrefix string) (map[string]string, uint64, error) {
	changed, next, err := a.AlertRules.StateMarkChanges(ctx, since, ownPrefix)
	return changed, next, markRefused(err)
}

// ClaimStateMarks implements pricing.StateMarker.
func (a ConsumerAlertRules) ClaimStateMarks(ctx context.Context, expected map[string]string, token string) ([]string, error) {
	lost, err := a.AlertRules.ClaimStateMarks(ctx, expected, token)
	return lost, markRefused(err)
}

// SaveValueSamples implements pricing.StateMarker.
func (a ConsumerAlertRules) SaveValueSamples(ctx context.Context, portfolioIDs []string, samples [][]alerts.ValueSample) error {
	return markRefused(a.AlertRules.SaveValueSamples(ctx, portfolioIDs, samples))
}

// markRefused marks err with pricing.ErrRefused when PostgreSQL refused the data
// it was given, which no retry mends: a data error (IsDataError), or the
// protocol violation (SQLSTATE 08P01) that is its answer to a value it cannot
// read at all, such as a text with a NUL byte (which JSON's \u0000 lets through
// the decoder). The other connection errors (class 08) stay transient. The
// message is err's: the mark only adds the match.
func markRefused(err error) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if IsDataError(err) || errors.As(err, &pg) && pg.Code == "08P01" {
		return refusedError{err}
	}
	return err
}

// refusedError is an error PostgreSQL's refusal of the data caused.
type refusedError struct{ err error }

func (e refusedError) Error() string        { return e.err.Error() }
func (e refusedError) Unwrap() error        { return e.err }
func (e refusedError) Is(target error) bool { return target == pricing.ErrRefused }
