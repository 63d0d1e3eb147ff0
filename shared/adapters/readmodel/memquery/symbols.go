package memquery

import (
	"context"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// SetHistories records the symbols' backfill records, replacing theirs, as
// symbol_history keeps them (updatedAt to the microsecond).
func (s *Store) SetHistories(_ context.Context, hs []market.HistoryStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hs {
		h.UpdatedAt = stored(h.UpdatedAt)
		s.histories[h.Symbol] = h
	}
	return nil
}

// PortfolioSymbols returns the symbols of one of the user's portfolios (held,
// traded in a transaction not voided, the benchmark), sorted, with their
// history status and latest price, or portfolio.ErrNotFound.
func (s *Store) PortfolioSymbols(_ context.Context, userID, portfolioID string) (readmodel.PortfolioSymbolsView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.owned(userID, portfolioID)
	if a == nil {
		return readmodel.PortfolioSymbolsView{}, portfolio.ErrNotFound
	}
	bySymbol := map[string]*readmodel.PortfolioSymbolView{}
	add := func(sym string) *readmodel.PortfolioSymbolView {
		if v := bySymbol[sym]; v != nil {
			return v
		}
		v := &readmodel.PortfolioSymbolView{Symbol: sym}
		bySymbol[sym] = v
		return v
	}
	for _, r := range a.txs {
		if !r.voided && r.tx.Symbol != "" {
			add(r.tx.Symbol).Traded = true
		}
	}
	if b := a.view.Settings.Benchmark; b != "" {
		add(b).Benchmark = true
	}
	out := readmodel.PortfolioSymbolsView{PortfolioID: portfolioID, Symbols: []readmodel.PortfolioSymbolView{}, AsOfVersion: a.view.Version}
	for _, v := range bySymbol {
		if p, ok := a.positions[v.Symbol]; ok && !p.Quantity.IsZero() {
			v.Held = true
		}
		if h, ok := s.histories[v.Symbol]; ok {
			v.History = &h
			if h.FilledFrom != nil {
				from, to := *h.FilledFrom, *h.FilledTo
				v.History.FilledFrom, v.History.FilledTo = &from, &to
			}
		}
		if lp, ok := s.prices[v.Symbol]; ok {
			at := lp.AsOf
			v.PriceAsOf, v.PriceSource = &at, lp.Source
		}
		out.Symbols = append(out.Symbols, *v)
	}
	slices.SortFunc(out.Symbols, func(x, y readmodel.PortfolioSymbolView) int { return strings.Compare(x.Symbol, y.Symbol) })
	return out, nil
}
