package streaming

import (
	"cmp"
	"slices"
	"sync"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// Coalescer folds a stream's trades into at most one quote per symbol per
// interval: the interval's last trade (by trade time, the later arrival on a
// tie) carrying the interval's summed volume. Add is called by the stream's
// goroutine, Drain by the flushing one.
type Coalescer struct {
	mu      sync.Mutex
	pending map[string]market.Quote
	trades  int
	out     []market.Quote // reused by Drain
}

// NewCoalescer returns an empty coalescer.
func NewCoalescer() *Coalescer { return &Coalescer{pending: map[string]market.Quote{}} }

// Add folds one trade in. It never fails: its signature is the stream's emit.
func (c *Coalescer) Add(q market.Quote) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trades++
	prev, ok := c.pending[q.Symbol]
	if !ok {
		c.pending[q.Symbol] = q
		return nil
	}
	volume := prev.Volume.Add(q.Volume)
	if q.Timestamp.Before(prev.Timestamp) {
		q = prev // a late arrival of an earlier trade adds its volume only
	}
	q.Volume = volume
	c.pending[q.Symbol] = q
	return nil
}

// Drain returns the interval's quotes, by symbol, and how many trades they
// fold, and starts the next interval. The slice is valid until the next Drain.
func (c *Coalescer) Drain() (quotes []market.Quote, trades int) {
	c.mu.Lock()
	out := c.out[:0]
	for _, q := range c.pending {
		out = append(out, q)
	}
	clear(c.pending)
	trades, c.trades = c.trades, 0
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b market.Quote) int { return cmp.Compare(a.Symbol, b.Symbol) })
	c.out = out
	return out, trades
}
