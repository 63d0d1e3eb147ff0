package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// Prices is the in-memory readmodel.Prices: the latest price per symbol and the
// daily closes, each replaced only by a price with a later as_of.
type Prices struct {
	mu     sync.RWMutex
	latest map[string]readmodel.LatestPrice
	closes map[closeKey]readmodel.DailyClose
}

type closeKey struct {
	symbol string
	day    calendar.Date
}

// NewPrices returns an empty store.
func NewPrices() *Prices {
	return &Prices{latest: map[string]readmodel.LatestPrice{}, closes: map[closeKey]readmodel.DailyClose{}}
}

// UpsertLatestPrices implements readmodel.Prices.UpsertLatestPrices.
func (p *Prices) UpsertLatestPrices(_ context.Context, prices []readmodel.LatestPrice) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	newest := map[string]readmodel.LatestPrice{}
	for _, lp := range prices {
		if cur, ok := newest[lp.Symbol]; !ok || lp.AsOf.After(cur.AsOf) {
			newest[lp.Symbol] = lp
		}
	}
	var n int64
	for sym, lp := range newest {
		if cur, ok := p.latest[sym]; ok && !cur.AsOf.Before(stamp(lp.AsOf)) {
			continue
		}
		p.latest[sym] = readmodel.LatestPrice{Symbol: sym, Price: numeric(lp.Price), Currency: lp.Currency, AsOf: stamp(lp.AsOf), Source: lp.Source}
		n++
	}
	return n, nil
}

// UpsertDailyCloses implements readmodel.Prices.UpsertDailyCloses.
func (p *Prices) UpsertDailyCloses(_ context.Context, closes []readmodel.DailyClose) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	newest := map[closeKey]readmodel.DailyClose{}
	for _, c := range closes {
		k := closeKey{c.Symbol, c.Day}
		if cur, ok := newest[k]; !ok || c.AsOf.After(cur.AsOf) {
			newest[k] = c
		}
	}
	var n int64
	for k, c := range newest {
		if cur, ok := p.closes[k]; ok && !cur.AsOf.Before(stamp(c.AsOf)) {
			continue
		}
		p.closes[k] = readmodel.DailyClose{Symbol: c.Symbol, Day: c.Day, Close: numeric(c.Close), AsOf: stamp(c.AsOf), Source: c.Source}
		n++
	}
	return n, nil
}

// DailyCloses implements readmodel.Prices.DailyCloses.
func (p *Prices) DailyCloses(_ context.Context, symbol string, from, to calendar.Date) ([]readmodel.DailyClose, error) {
	return p.closesOf([]string{symbol}, from, to), nil
}

// closesOf returns the closes of symbols over from..to, by day then symbol.
func (p *Prices) closesOf(symbols []string, from, to calendar.Date) []readmodel.DailyClose {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []readmodel.DailyClose
	for k, c := range p.closes {
		if k.day >= from && k.day <= to && slices.Contains(symbols, k.symbol) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b readmodel.DailyClose) int {
		if a.Day != b.Day {
			return int(a.Day - b.Day)
		}
		if a.Symbol < b.Symbol {
			return -1
		}
		if a.Symbol > b.Symbol {
			return 1
		}
		return 0
	})
	return out
}

// LatestPriceOf implements readmodel.Prices.LatestPriceOf.
func (p *Prices) LatestPriceOf(_ context.Context, symbol string) (readmodel.LatestPrice, bool, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	lp, ok := p.latest[symbol]
	return lp, ok, nil
}

// LatestPrices implements readmodel.Prices.LatestPrices.
func (p *Prices) LatestPrices(_ context.Context, symbols []string) (map[string]readmodel.LatestPrice, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]readmodel.LatestPrice, len(symbols))
	for _, s := range symbols {
		if lp, ok := p.latest[s]; ok {
			out[s] = lp
		}
	}
	return out, nil
}
