package consumer

import (
	"context"
	"slices"
	"sync"

	"github.com/portfoliotracker/tracker/shared/readmodel"
)

// holdingsCache keeps, between batches, who holds each symbol and each holder's
// open positions, so that revaluing the portfolios of a batch is arithmetic in
// memory instead of a half-second aggregate over every position in Postgres.
// Coherence comes from holding_marks (migration 0006): the triggers on positions
// and portfolios move the marks of what changed; a batch reads the marks of its
// symbols and of their holders and reloads only what moved. Prices are read
// afresh every batch (other shards' containers move them).
type holdingsCache struct {
	mu      sync.Mutex
	holders map[string][]string // symbol → portfolios with an open position in it
	pf      map[string]*readmodel.Holdings
	marks   map[string]string // "hs:"+symbol / "hp:"+portfolio → the mark the entry reflects
}

func newHoldingsCache() *holdingsCache {
	return &holdingsCache{holders: map[string][]string{}, pf: map[string]*readmodel.Holdings{}, marks: map[string]string{}}
}

// valuations values every non-archived portfolio with an open position in one
// of symbols, sorted by portfolio ID, as readmodel.ValuationsHolding does.
func (hc *holdingsCache) valuations(ctx context.Context, db readmodel.PriceDB, symbols []string) ([]readmodel.PortfolioValuation, error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	// Marks before data: a change after this read moves the mark again and is
	// reloaded next time.
	keys := make([]string, len(symbols))
	for i, s := range symbols {
		keys[i] = "hs:" + s
	}
	marks, err := readmodel.HoldingMarks(ctx, db, keys)
	if err != nil {
		return nil, err
	}
	var stale []string
	for i, s := range symbols {
		// No mark: nobody ever held the symbol, or a rebuild truncated the
		// positions; either way, look again.
		if m, ok := hc.marks[keys[i]]; !ok || m == "" || m != marks[keys[i]] {
			stale = append(stale, s)
		}
	}
	if len(stale) > 0 {
		holders, err := readmodel.HoldersOf(ctx, db, stale)
		if err != nil {
			return nil, err
		}
		for _, s := range stale {
			hc.holders[s] = holders[s]
			hc.marks["hs:"+s] = marks["hs:"+s]
		}
	}
	seen := map[string]bool{}
	var touched []string
	for _, s := range symbols {
		for _, p := range hc.holders[s] {
			if !seen[p] {
				seen[p] = true
				touched = append(touched, p)
			}
		}
	}
	slices.Sort(touched)
	pkeys := make([]string, len(touched))
	for i, p := range touched {
		pkeys[i] = "hp:" + p
	}
	pmarks, err := readmodel.HoldingMarks(ctx, db, pkeys)
	if err != nil {
		return nil, err
	}
	stale = stale[:0]
	for i, p := range touched {
		if m, ok := hc.marks[pkeys[i]]; !ok || m == "" || m != pmarks[pkeys[i]] || hc.pf[p] == nil {
			stale = append(stale, p)
		}
	}
	if len(stale) > 0 {
		hs, err := readmodel.PortfolioHoldings(ctx, db, stale)
		if err != nil {
			return nil, err
		}
		for _, p := range stale {
			if h := hs[p]; h != nil {
				hc.pf[p] = h
				hc.marks["hp:"+p] = pmarks["hp:"+p]
			} else {
				delete(hc.pf, p)
				delete(hc.marks, "hp:"+p)
			}
		}
	}
	held := map[string]bool{}
	var need []string
	for _, p := range touched {
		if h := hc.pf[p]; h != nil {
			for _, pos := range h.Positions {
				if !held[pos.Symbol] {
					held[pos.Symbol] = true
					need = append(need, pos.Symbol)
				}
			}
		}
	}
	prices, err := readmodel.LatestPrices(ctx, db, need)
	if err != nil {
		return nil, err
	}
	ticked := make(map[string]bool, len(symbols))
	for _, s := range symbols {
		ticked[s] = true
	}
	out := make([]readmodel.PortfolioValuation, 0, len(touched))
	for _, p := range touched {
		h := hc.pf[p]
		if h == nil || h.Archived || !holds(h, ticked) {
			continue
		}
		out = append(out, readmodel.Value(p, h, prices))
	}
	return out, nil
}

// holds reports whether h has an open position in one of symbols: the holder
// index and a portfolio's positions are marked apart, so they may disagree for
// one batch after a trade.
func holds(h *readmodel.Holdings, ticked map[string]bool) bool {
	for _, p := range h.Positions {
		if ticked[p.Symbol] {
			return true
		}
	}
	return false
}
