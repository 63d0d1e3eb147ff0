package memquery

import (
	"context"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// WatchList is the in-memory readmodel.IngestStore.WatchList: the portfolios'
// needs from Portfolios (open positions, benchmarks and FX pairs of the
// portfolios not archived), the symbols of Alerts' rules (memstore.Alerts) and
// Watchers' live watches (memstore.Watchers). QuoteCurrency is the currency of
// the quotes (USD when empty).
type WatchList struct {
	Portfolios *Store
	Alerts     interface {
		Symbols(ctx context.Context) ([]string, error)
	}
	Watchers interface {
		WatchedSymbols(ctx context.Context, now time.Time) ([]string, error)
	}
	QuoteCurrency string
}

// WatchList returns the watch list at now, as readmodel.WatchList does.
func (w WatchList) WatchList(ctx context.Context, now time.Time) ([]market.WatchedSymbol, error) {
	currency := w.QuoteCurrency
	if currency == "" {
		currency = "USD"
	}
	needs := w.Portfolios.watchNeeds(currency)
	alerted, err := w.Alerts.Symbols(ctx)
	if err != nil {
		return nil, err
	}
	watched, err := w.Watchers.WatchedSymbols(ctx, now)
	if err != nil {
		return nil, err
	}
	for reason, symbols := range map[market.WatchReason][]string{market.WatchAlert: alerted, market.WatchWatched: watched} {
		for _, s := range symbols {
			needs[s] = append(needs[s], reason)
		}
	}
	return readmodel.WatchedSymbols(needs), nil
}

// watchNeeds is what the portfolios not archived need quoted: their open
// positions, their benchmarks, and the pair of each currency they need (the
// base and every currency their cash has moved in, as readmodel.WatchList reads
// cash_balances) other than quoteCurrency.
func (s *Store) watchNeeds(quoteCurrency string) map[string][]market.WatchReason {
	s.mu.RLock()
	defer s.mu.RUnlock()
	needs := map[string][]market.WatchReason{}
	for _, a := range s.aggs {
		if !a.exists || a.view.Archived {
			continue
		}
		for sym, p := range a.positions {
			if !p.Quantity.IsZero() {
				needs[sym] = append(needs[sym], market.WatchHeld)
			}
		}
		if b := a.view.Settings.Benchmark; b != "" {
			needs[b] = append(needs[b], market.WatchBenchmark)
		}
		for _, c := range a.currencies() {
			if pair, ok := market.ParseFXPair(c + quoteCurrency + "=X"); ok {
				needs[pair.Symbol()] = append(needs[pair.Symbol()], market.WatchFX) // repeats: WatchedSymbols keeps one
			}
		}
	}
	return needs
}

// currencies are the currencies a's rates are needed in: its base and the
// currency of each of its cash balances (the settlement currency of each
// transaction that moved cash, GBP for GBp, and each conversion's incoming
// one). With repeats.
func (a *aggregate) currencies() []string {
	out := []string{a.view.BaseCurrency}
	for _, b := range a.totals.Balances {
		out = append(out, b.Currency)
	}
	return out
}
