package readmodel

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// holdingsCache keeps, between batches, who holds each symbol and each holder's
// open positions, so that revaluing the portfolios of a batch is arithmetic in
// memory instead of a half-second aggregate over every position in Postgres.
// Coherence comes from holding_marks (migrations 0006 and 0009): the triggers on
// positions and portfolios move the marks of what changed; a batch reads the marks
// that moved since the previous batch (the marks' change feed), drops what they
// cover, and loads what it lacks. Prices are read afresh every batch (other
// shards' containers move them).
//
// A batch walks some 200,000 (symbol, holder) pairs at 10,000 portfolios, so
// holders are pointers and symbols small integers: the walk dedupes with batch
// stamps instead of map look-ups.
type holdingsCache struct {
	mu       sync.Mutex
	holders  map[string][]*heldPortfolio // symbol → portfolios with an open position in it
	symMarks map[string]string           // symbol → the mark ("hs:"+symbol) holders[symbol] reflects
	pf       map[string]*heldPortfolio
	cursor   uint64 // position in holding_marks' change feed
	batch    uint64 // stamps what the current batch has seen
	symbols  map[string]int32
	names    []string
	symSeen  []uint64 // by symbol index: the batch that last needed its price
	ticked   []uint64 // by symbol index: the batch that last ticked it
	// fxNeeds is, once fxLoaded, every portfolio (not archived) that needs rates
	// (Holdings.RateCurrencies), with those currencies: a tick of a currency's
	// pair revalues them. fxStale are the portfolios whose mark moved since
	// their needs were read; they are read again at the next pair tick.
	fxNeeds  map[string][]string
	fxLoaded bool
	fxStale  map[string]bool
	// lastPrices and lastRates are the prices (by symbol index) and rates the
	// last batch valued with: positionValues values positions at them.
	lastPrices []*LatestPrice
	lastRates  *LiveRates
}

// heldPortfolio is one portfolio as the cache knows it.
type heldPortfolio struct {
	id     string
	h      *Holdings // nil: not loaded, or no such portfolio
	syms   []int32   // h.Positions' symbols, by index
	pairs  []int32   // the USD pairs of h.RateCurrencies(), by index
	mark   string    // the mark ("hp:"+id) h reflects, when marked
	marked bool
	seen   uint64 // the batch that last touched it
}

func newHoldingsCache() *holdingsCache {
	return &holdingsCache{holders: map[string][]*heldPortfolio{}, symMarks: map[string]string{},
		pf: map[string]*heldPortfolio{}, symbols: map[string]int32{}, fxStale: map[string]bool{}}
}

func (hc *holdingsCache) portfolio(id string) *heldPortfolio {
	p := hc.pf[id]
	if p == nil {
		p = &heldPortfolio{id: id}
		hc.pf[id] = p
	}
	return p
}

func (hc *holdingsCache) symbol(name string) int32 {
	i, ok := hc.symbols[name]
	if !ok {
		i = int32(len(hc.names))
		hc.symbols[name] = i
		hc.names = append(hc.names, name)
		hc.symSeen = append(hc.symSeen, 0)
		hc.ticked = append(hc.ticked, 0)
	}
	return i
}

// valuations values every non-archived portfolio with an open position in one
// of symbols, sorted by portfolio ID, as ValuationsHolding does.
func (hc *holdingsCache) valuations(ctx context.Context, db PriceDB, symbols []string) ([]PortfolioValuation, error) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	changed, next, err := HoldingMarkChanges(ctx, db, hc.cursor)
	if err != nil {
		return nil, err
	}
	for k, m := range changed {
		switch {
		case strings.HasPrefix(k, "hs:"):
			if held, ok := hc.symMarks[k[3:]]; ok && held != m {
				delete(hc.symMarks, k[3:])
			}
		case strings.HasPrefix(k, "hp:"):
			if p := hc.pf[k[3:]]; p != nil && p.marked && p.mark != m {
				p.marked = false
			}
			if hc.fxLoaded {
				hc.fxStale[k[3:]] = true
			}
		}
	}
	hc.cursor = next
	hc.batch++
	batch := hc.batch

	var stale []string
	for _, s := range symbols {
		hc.ticked[hc.symbol(s)] = batch
		if _, ok := hc.symMarks[s]; !ok {
			stale = append(stale, s)
		}
	}
	if len(stale) > 0 {
		// Marks before data: a change after this read moves the mark again, after
		// the cursor just taken, and is dropped next time.
		marks, err := HoldingMarks(ctx, db, prefixed("hs:", stale))
		if err != nil {
			return nil, err
		}
		holders, err := HoldersOf(ctx, db, stale)
		if err != nil {
			return nil, err
		}
		for _, s := range stale {
			ps := make([]*heldPortfolio, len(holders[s]))
			for i, id := range holders[s] {
				ps[i] = hc.portfolio(id)
			}
			hc.holders[s] = ps
			hc.symMarks[s] = marks["hs:"+s]
		}
	}
	var touched []*heldPortfolio
	touch := func(p *heldPortfolio) {
		if p.seen != batch {
			p.seen = batch
			touched = append(touched, p)
		}
	}
	for _, s := range symbols {
		for _, p := range hc.holders[s] {
			touch(p)
		}
	}
	if err := hc.touchRateHolders(ctx, db, symbols, touch); err != nil {
		return nil, err
	}
	slices.SortFunc(touched, func(a, b *heldPortfolio) int { return strings.Compare(a.id, b.id) })
	stale = stale[:0]
	for _, p := range touched {
		if !p.marked {
			stale = append(stale, p.id)
		}
	}
	if len(stale) > 0 {
		marks, err := HoldingMarks(ctx, db, prefixed("hp:", stale))
		if err != nil {
			return nil, err
		}
		hs, err := PortfolioHoldings(ctx, db, stale)
		if err != nil {
			return nil, err
		}
		for _, id := range stale {
			p := hc.pf[id]
			p.h, p.syms, p.pairs, p.marked = hs[id], nil, nil, false
			if p.h == nil {
				continue
			}
			p.mark, p.marked = marks["hp:"+id], true
			p.syms = make([]int32, len(p.h.Positions))
			for k, pos := range p.h.Positions {
				p.syms[k] = hc.symbol(pos.Symbol)
			}
			for _, sym := range PairSymbols(p.h.RateCurrencies()) {
				p.pairs = append(p.pairs, hc.symbol(sym))
			}
		}
	}
	var need []int32
	for _, p := range touched {
		for _, si := range p.syms {
			if hc.symSeen[si] != batch {
				hc.symSeen[si] = batch
				need = append(need, si)
			}
		}
		for _, si := range p.pairs {
			if hc.symSeen[si] != batch {
				hc.symSeen[si] = batch
				need = append(need, si)
			}
		}
	}
	priceOf := make([]*LatestPrice, len(hc.names))
	rates := NewLiveRates(nil)
	if err := hc.readPrices(ctx, db, need, &priceOf, rates); err != nil {
		return nil, err
	}
	hc.lastPrices, hc.lastRates = priceOf, rates
	out := make([]PortfolioValuation, 0, len(touched))
	var at []*LatestPrice
	for _, p := range touched {
		if p.h == nil || p.h.Archived || !hc.holdsTicked(p) {
			continue
		}
		at = at[:0]
		for _, si := range p.syms {
			at = append(at, priceOf[si])
		}
		out = append(out, ValueAt(p.id, p.h, at, rates))
	}
	return out, nil
}

// positionValues values, position by position, those of portfolioIDs that the
// last batch valued, at the prices and rates it valued them with: a pass over
// a portfolio's positions for the alert rules that need them (weights), apart
// from the valuation's sums, so portfolios without such rules pay nothing.
func (hc *holdingsCache) positionValues(portfolioIDs []string) map[string][]market.PositionValue {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	out := make(map[string][]market.PositionValue, len(portfolioIDs))
	var at []*LatestPrice
	for _, id := range portfolioIDs {
		p := hc.pf[id]
		if p == nil || p.h == nil || p.seen != hc.batch {
			continue
		}
		at = at[:0]
		for _, si := range p.syms {
			var lp *LatestPrice
			if int(si) < len(hc.lastPrices) {
				lp = hc.lastPrices[si]
			}
			at = append(at, lp)
		}
		out[id] = PositionValues(p.h, at, hc.lastRates)
	}
	return out
}

// readPrices reads the latest prices of the symbols need (by index) into
// priceOf, and the pairs' among them into rates.
func (hc *holdingsCache) readPrices(ctx context.Context, db PriceDB, need []int32, priceOf *[]*LatestPrice, rates *LiveRates) error {
	if len(need) == 0 {
		return nil
	}
	if n := len(hc.names) - len(*priceOf); n > 0 {
		*priceOf = append(*priceOf, make([]*LatestPrice, n)...)
	}
	names := make([]string, len(need))
	for i, si := range need {
		names[i] = hc.names[si]
	}
	prices, err := LatestPrices(ctx, db, names)
	if err != nil {
		return err
	}
	for i, si := range need {
		if lp, ok := prices[names[i]]; ok {
			(*priceOf)[si] = &lp
			rates.add(names[i], lp)
		}
	}
	return nil
}

// touchRateHolders touches the portfolios that need the rate of a currency
// whose USD pair is among symbols: a pair's tick revalues them. Their needs are
// read once, then again for the portfolios whose mark moved since.
func (hc *holdingsCache) touchRateHolders(ctx context.Context, db PriceDB, symbols []string, touch func(*heldPortfolio)) error {
	var ticked []string
	for _, s := range symbols {
		if pair, ok := market.ParseFXPair(s); ok && pair.Quote == currency.Pivot {
			ticked = append(ticked, pair.Base)
		}
	}
	if len(ticked) == 0 {
		return nil
	}
	switch {
	case !hc.fxLoaded:
		needs, err := RateNeeds(ctx, db, nil)
		if err != nil {
			return err
		}
		hc.fxNeeds, hc.fxLoaded = needs, true
		clear(hc.fxStale)
	case len(hc.fxStale) > 0:
		ids := make([]string, 0, len(hc.fxStale))
		for id := range hc.fxStale {
			ids = append(ids, id)
		}
		needs, err := RateNeeds(ctx, db, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if n, ok := needs[id]; ok {
				hc.fxNeeds[id] = n
			} else {
				delete(hc.fxNeeds, id)
			}
		}
		clear(hc.fxStale)
	}
	for id, currencies := range hc.fxNeeds {
		for _, c := range ticked {
			if slices.Contains(currencies, c) {
				touch(hc.portfolio(id))
				break
			}
		}
	}
	return nil
}

// holdsTicked reports whether p has an open position in a symbol of this batch:
// the holder index and a portfolio's positions are marked apart, so they may
// disagree for one batch after a trade.
func (hc *holdingsCache) holdsTicked(p *heldPortfolio) bool {
	for _, si := range p.syms {
		if hc.ticked[si] == hc.batch {
			return true
		}
	}
	for _, si := range p.pairs {
		if hc.ticked[si] == hc.batch {
			return true
		}
	}
	return false
}

func prefixed(prefix string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = prefix + id
	}
	return out
}
