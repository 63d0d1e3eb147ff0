package readmodel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portfoliotracker/tracker/shared/app/projection/rows"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

// IsDataError reports whether err is PostgreSQL refusing the data itself: the
// data exception (22), integrity constraint (23) and program limit (54) classes,
// which the same statement meets again however often it is retried. Anything else
// (a connection lost, a serialization failure, a timeout) may pass on a retry.
func IsDataError(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// drive applies the records idx, in one database transaction when it can and in
// more when it must:
//   - An aggregate whose missing versions exceed MaxFill catches up MaxFill of
//     them a transaction; its records beyond wait (deferred) for the next one.
//   - A transaction that fails on its data is tried again one aggregate at a
//     time, then, for the aggregate it still fails on, one version at a time; the
//     version it fails on alone is quarantined.
//   - Once the context's deadline is within Reserve, no transaction starts: the
//     records left fail, and the stream retries them (what was done is kept).
//
// reset names aggregates whose rows the first transaction deletes (Reproject).
func (p *Projector) drive(ctx context.Context, recs []Record, idx []int, reset []string, acc *BatchResult) error {
	step := map[string]bool{}
	forced := map[rows.AggVersion]string{}
	for round := 0; len(idx) > 0; round++ {
		if round > 0 && p.late(ctx) {
			for _, i := range idx {
				e := &recs[i].Event
				acc.Failures = append(acc.Failures, Failure{Index: i, AggregateID: e.AggregateID, Version: e.Version, EventType: e.EventType,
					Reason: "still catching up from the event store when the invocation's time ran out"})
			}
			return nil
		}
		r, deferred, tried, err := p.applyOnce(ctx, recs, idx, reset, step, forced)
		if err == nil {
			acc.Add(r)
			idx, reset = deferred, nil
			continue
		}
		if !IsDataError(err) {
			return err
		}
		groups := byAggregate(recs, idx)
		if len(groups) > 1 {
			p.log.Warn("a batch failed on its data: applying its aggregates one at a time", "aggregates", len(groups), "err", err)
			for _, g := range groups {
				if err := p.drive(ctx, recs, g, resetOf(reset, recs[g[0]].Event.AggregateID), acc); err != nil {
					return err
				}
			}
			return nil
		}
		id := recs[idx[0]].Event.AggregateID
		if !step[id] {
			p.log.Warn("an aggregate failed on its data: applying it one version at a time", "aggregateId", id, "err", err)
			step[id] = true
			continue
		}
		v := tried[id]
		key := rows.AggVersion{ID: id, Version: v}
		if v == 0 || forced[key] != "" {
			return err // not this version's doing: a retry, and the alarm, may tell
		}
		forced[key] = "the read models refuse it: " + err.Error()
	}
	return nil
}

func (p *Projector) late(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < p.reserve
}

// byAggregate splits record indexes by aggregate (records without one alone).
func byAggregate(recs []Record, idx []int) [][]int {
	pos := map[string]int{}
	var out [][]int
	for _, i := range idx {
		id := recs[i].Event.AggregateID
		k, ok := pos[id]
		if !ok || id == "" {
			k = len(out)
			pos[id] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], i)
	}
	return out
}

func resetOf(reset []string, id string) []string {
	if slices.Contains(reset, id) {
		return []string{id}
	}
	return nil
}

// applyOnce is one database transaction: load the aggregates' state, fill their
// missing versions from the event store, decide, recompute, write, and hand the
// quarantined events to the sink before committing. tried holds, for aggregates in
// step mode, the version the transaction applied (for drive, when it failed).
func (p *Projector) applyOnce(ctx context.Context, recs []Record, idx []int, reset []string, step map[string]bool,
	forced map[rows.AggVersion]string) (r BatchResult, deferred []int, tried map[string]int64, err error) {
	b := rows.NewBatch(recs, idx, p.log, step, forced)
	if len(b.IDs()) > 0 {
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			b.Reset()
			if err := load(ctx, tx, b, reset); err != nil {
				return err
			}
			if err := b.Fill(ctx, p.source, p.maxFill); err != nil {
				return err
			}
			if err := loadFilledTransactions(ctx, tx, b); err != nil {
				return err
			}
			b.Decide()
			b.Recompute()
			if err := write(ctx, tx, b); err != nil {
				return err
			}
			return p.send(ctx, b.Quarantined())
		})
		if err != nil {
			return BatchResult{}, nil, b.Tried(), err
		}
	}
	r = b.Result()
	if len(b.IDs()) > 0 {
		r.Transactions = 1
	}
	return r, slices.Clone(b.Deferred()), nil, nil
}

// send hands quarantined events to the failure destination.
func (p *Projector) send(ctx context.Context, qs []Quarantined) error {
	if p.sink == nil || len(qs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	recs := make([]quarantine.Record, len(qs))
	for i, q := range qs {
		recs[i] = quarantine.Record{Consumer: p.function, AggregateID: q.AggregateID, Version: q.Version, EventType: q.EventType,
			EventID: q.EventID, Reason: q.Reason, Image: q.Image, SequenceNumber: q.SequenceNumber, QuarantinedAt: now}
	}
	if err := p.sink.Send(ctx, recs); err != nil {
		return fmt.Errorf("quarantine %d events: %w", len(recs), err)
	}
	return nil
}
