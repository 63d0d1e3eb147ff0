package readmodel

import (
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// PoolGauges returns the figures of pool for a metrics line: the connections
// in use and idle, and the time spent waiting for a connection (none idle)
// since the previous call. Safe for concurrent use; nil for a nil pool.
func PoolGauges(pool *pgxpool.Pool) func() []emf.Metric {
	if pool == nil {
		return nil
	}
	var mu sync.Mutex
	var waited time.Duration
	return func() []emf.Metric {
		st := pool.Stat()
		mu.Lock()
		total := st.EmptyAcquireWaitTime()
		wait := total - waited
		waited = total
		mu.Unlock()
		// By Function alone, on whatever line they join (an API request's
		// carries its route too).
		return []emf.Metric{
			{Name: "DatabasePoolAcquired", Value: float64(st.AcquiredConns()), Dimensions: []string{metrics.Function}},
			{Name: "DatabasePoolIdle", Value: float64(st.IdleConns()), Dimensions: []string{metrics.Function}},
			{Name: "DatabasePoolWait", Unit: "Milliseconds", Value: float64(wait.Microseconds()) / 1000, Dimensions: []string{metrics.Function}},
		}
	}
}

// Pool is the pool c sends through (nil when it wraps a single connection).
func (c *CallerDB) Pool() *pgxpool.Pool {
	p, _ := c.db.(*pgxpool.Pool)
	return p
}
