package readmodel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/portfoliotracker/tracker/shared/portfolio"
)

// EventSource is what a rebuild reads: Events as eventstore.Store has it, plus a
// way to list every aggregate. Package readmodel/dynamosource is the events
// table's (a parallel Scan lists it; Events decodes like the live stream, so
// events of unknown types advance checkpoints there too).
type EventSource interface {
	AggregateIDs(ctx context.Context) ([]string, error)
	// Events returns the events with from ≤ version ≤ to (to = 0: to the end),
	// ascending.
	Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error)
}

// RebuildOptions tunes Rebuild. Zero values take the defaults.
type RebuildOptions struct {
	// BatchSize is the number of events per projector transaction. Default 500.
	BatchSize int
	// PageSize is the number of events read per Events call. Default 1000.
	PageSize int
	// Readers is the number of aggregates read concurrently. Default 4.
	Readers int
	// Metrics receives the projector's EMF lines. Default: discarded.
	Metrics io.Writer
	Logger  *slog.Logger
}

// RebuildStats says what a rebuild did.
type RebuildStats struct {
	Aggregates int
	Events     int
	Batches    int
	// Failures are events the projector refused and aggregates that could not be
	// read; a rebuild with failures also returns an error.
	Failures []string
	Duration time.Duration
}

// ProjectionTables are the tables a rebuild empties and refills. Profiles follow
// Supabase Auth and latest_prices the market feed: neither is a projection.
var ProjectionTables = []string{"portfolios", "transactions", "positions", "portfolio_totals", "targets",
	"projection_checkpoints", "projection_failures"}

// Rebuild empties the projections and re-applies every aggregate's events from
// src. The projections are the same whatever the batching, so a rebuild gives the
// tables the live projector would have built, and two rebuilds give identical ones.
//
// The API sees partial read models while it runs. A live projector running
// meanwhile is harmless: its events meet a checkpoint behind them (a gap, retried
// by the stream) or ahead of them (a duplicate).
func Rebuild(ctx context.Context, pool *pgxpool.Pool, src EventSource, opts RebuildOptions) (RebuildStats, error) {
	start := time.Now()
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	if opts.Metrics == nil {
		opts.Metrics = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var st RebuildStats
	ids, err := src.AggregateIDs(ctx)
	if err != nil {
		return st, fmt.Errorf("readmodel: rebuild: list aggregates: %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	st.Aggregates = len(ids)

	if _, err := pool.Exec(ctx, "truncate table "+joinIdents(ProjectionTables)); err != nil {
		return st, fmt.Errorf("readmodel: rebuild: truncate: %w", err)
	}
	opts.Logger.Info("rebuild: projections emptied", "aggregates", len(ids))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		failures []string
	)
	addFailure := func(s string) {
		mu.Lock()
		failures = append(failures, s)
		mu.Unlock()
	}

	// Readers page through aggregates concurrently; one applier batches what they
	// send. Each aggregate is read by one reader, in order, so its events reach the
	// applier in version order.
	todo := make(chan string)
	pages := make(chan []portfolio.Event, opts.Readers)
	var readers sync.WaitGroup
	for range opts.Readers {
		readers.Go(func() {
			for id := range todo {
				for from := int64(1); ; {
					// A source may return the events before a corrupt one with
					// its error: they apply, and the aggregate stops there.
					evs, err := src.Events(ctx, id, from, from+int64(opts.PageSize)-1)
					if len(evs) > 0 {
						select {
						case pages <- evs:
						case <-ctx.Done():
							return
						}
					}
					if err != nil {
						if ctx.Err() == nil {
							addFailure(fmt.Sprintf("aggregate %s: read from version %d: %v", id, from+int64(len(evs)), err))
						}
						break
					}
					if len(evs) < opts.PageSize {
						break
					}
					from += int64(len(evs))
				}
			}
		})
	}
	go func() {
		defer close(todo)
		for _, id := range ids {
			select {
			case todo <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		readers.Wait()
		close(pages)
	}()

	proj := NewProjector(pool, ProjectorOptions{Metrics: opts.Metrics, Function: "replay", Logger: opts.Logger})
	var pending []portfolio.Event
	var applyErr error
	flush := func() {
		if len(pending) == 0 || applyErr != nil {
			return
		}
		r, err := proj.ApplyBatch(ctx, pending)
		if err != nil {
			applyErr = err
			cancel()
			return
		}
		st.Batches++
		st.Events += len(pending)
		for _, f := range r.Failures {
			addFailure(fmt.Sprintf("aggregate %s version %d (%s): %s", f.AggregateID, f.Version, f.EventType, f.Reason))
		}
		if st.Batches%100 == 0 {
			opts.Logger.Info("rebuild: progress", "events", st.Events, "batches", st.Batches)
		}
		pending = pending[:0]
	}
	for page := range pages {
		pending = append(pending, page...)
		if len(pending) >= opts.BatchSize {
			flush()
		}
	}
	flush()
	st.Duration = time.Since(start)
	if applyErr != nil {
		return st, fmt.Errorf("readmodel: rebuild: %w", applyErr)
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("readmodel: rebuild: %w", err)
	}
	slices.Sort(failures)
	st.Failures = failures
	if len(failures) > 0 {
		return st, fmt.Errorf("readmodel: rebuild: %d failures, first: %w", len(failures), errors.New(failures[0]))
	}
	return st, nil
}

func joinIdents(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += "public." + n
	}
	return s
}
