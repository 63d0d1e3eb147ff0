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

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// EventSource is what a rebuild reads: an EventReader plus a way to list every
// aggregate. Package readmodel/dynamosource is the events table's (a parallel Scan
// lists it; Events decodes like the live stream, so events of unknown types
// advance checkpoints there too).
type EventSource interface {
	AggregateIDs(ctx context.Context) ([]string, error)
	// Events returns the events with from ≤ version ≤ to (to = 0: to the end),
	// ascending (EventReader).
	EventReader
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
	// Quarantined are the events the projector skipped for good, as the live
	// projector does (projection_failures keeps them): unreadable in the store, or
	// impossible to apply.
	Quarantined []string
	Duration    time.Duration
}

// ProjectionTables are the tables a rebuild empties and refills. Profiles follow
// Supabase Auth and latest_prices the market feed: neither is a projection.
var ProjectionTables = []string{"portfolios", "transactions", "positions", "portfolio_totals", "cash_balances", "targets",
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
	pages := make(chan []Record, opts.Readers)
	var readers sync.WaitGroup
	for range opts.Readers {
		readers.Go(func() {
			for id := range todo {
				err := readAggregate(ctx, src, id, opts.PageSize, func(recs []Record) bool {
					select {
					case pages <- recs:
						return true
					case <-ctx.Done():
						return false
					}
				})
				if err != nil && ctx.Err() == nil {
					addFailure(fmt.Sprintf("aggregate %s: %v", id, err))
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

	proj := NewProjector(pool, ProjectorOptions{Metrics: opts.Metrics, Function: "replay", Logger: opts.Logger, Source: src})
	var pending []Record
	var applyErr error
	var quarantined []string
	flush := func() {
		if len(pending) == 0 || applyErr != nil {
			return
		}
		r, err := proj.ApplyRecords(ctx, pending)
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
		quarantined = append(quarantined, describeQuarantined(r.Quarantined)...)
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
	st.Failures, st.Quarantined = failures, quarantined
	if len(failures) > 0 {
		return st, fmt.Errorf("readmodel: rebuild: %d failures, first: %w", len(failures), errors.New(failures[0]))
	}
	return st, nil
}

// readAggregate reads an aggregate's events in pages and hands them to emit (false:
// stop). A version stored corrupt goes as an unreadable record: the projector reads
// it again and quarantines it, as it does live, and the aggregate's later events
// follow.
func readAggregate(ctx context.Context, src EventReader, id string, pageSize int, emit func([]Record) bool) error {
	for from := int64(1); ; {
		evs, err := src.Events(ctx, id, from, from+int64(pageSize)-1)
		recs := make([]Record, len(evs), len(evs)+1)
		for i := range evs {
			recs[i].Event = evs[i]
		}
		next := from + int64(len(evs))
		corrupt := err != nil && errors.Is(err, portfolio.ErrCorruptEvent) && ctx.Err() == nil
		if corrupt {
			recs = append(recs, Record{Event: portfolio.Event{AggregateID: id, Version: next}, Undecodable: "replay: " + err.Error()})
		}
		if len(recs) > 0 && !emit(recs) {
			return nil
		}
		switch {
		case corrupt:
			from = next + 1
		case err != nil:
			return fmt.Errorf("read from version %d: %w", next, err)
		case len(evs) < pageSize:
			return nil
		default:
			from = next
		}
	}
}

func describeQuarantined(qs []Quarantined) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = fmt.Sprintf("aggregate %s version %d (%s): %s", q.AggregateID, q.Version, q.EventType, q.Reason)
	}
	return out
}

// Reproject re-projects exactly the aggregates ids from src (tracker replay
// --failures): for each, in one transaction, its rows are deleted and its events
// applied again, so readers see the old rows until the new ones commit, and a
// live projector meanwhile is harmless (the aggregate's lock orders them). What is
// still unreadable or impossible to apply is quarantined again (and reported; the
// failure destination is not written to). Idempotent.
func Reproject(ctx context.Context, pool *pgxpool.Pool, src EventReader, ids []string, opts RebuildOptions) (RebuildStats, error) {
	start := time.Now()
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Metrics == nil {
		opts.Metrics = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	st := RebuildStats{Aggregates: len(ids)}
	proj := NewProjector(pool, ProjectorOptions{Metrics: opts.Metrics, Function: "replay", Logger: opts.Logger, Source: src})
	for _, id := range ids {
		var recs []Record
		if err := readAggregate(ctx, src, id, opts.PageSize, func(page []Record) bool { recs = append(recs, page...); return true }); err != nil {
			return st, fmt.Errorf("readmodel: reproject %s: %w", id, err)
		}
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("readmodel: reproject: %w", err)
		}
		if len(recs) == 0 {
			st.Failures = append(st.Failures, fmt.Sprintf("aggregate %s: not in the event store; its rows are left as they are", id))
			continue
		}
		all := make([]int, len(recs))
		for i := range all {
			all[i] = i
		}
		var r BatchResult
		if err := proj.drive(ctx, recs, all, []string{id}, &r); err != nil {
			return st, fmt.Errorf("readmodel: reproject %s: %w", id, err)
		}
		st.Batches += r.Transactions
		st.Events += len(recs)
		for _, f := range r.Failures {
			st.Failures = append(st.Failures, fmt.Sprintf("aggregate %s version %d (%s): %s", f.AggregateID, f.Version, f.EventType, f.Reason))
		}
		st.Quarantined = append(st.Quarantined, describeQuarantined(r.Quarantined)...)
	}
	st.Duration = time.Since(start)
	if len(st.Failures) > 0 {
		return st, fmt.Errorf("readmodel: reproject: %d failures, first: %w", len(st.Failures), errors.New(st.Failures[0]))
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
