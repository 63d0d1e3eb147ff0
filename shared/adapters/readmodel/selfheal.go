package readmodel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
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
	forced := map[aggVersion]string{}
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
			acc.add(r)
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
		key := aggVersion{id, v}
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
	forced map[aggVersion]string) (r BatchResult, deferred []int, tried map[string]int64, err error) {
	b := newBatch(recs, idx, p.log)
	b.step, b.forced, b.resetIDs = step, forced, reset
	if len(b.ids) > 0 {
		err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			b.reset()
			if err := b.load(ctx, tx); err != nil {
				return err
			}
			if err := b.fill(ctx, p.source, p.maxFill); err != nil {
				return err
			}
			if err := b.loadFilledTransactions(ctx, tx); err != nil {
				return err
			}
			b.decide()
			b.recompute()
			if err := b.write(ctx, tx); err != nil {
				return err
			}
			return p.send(ctx, b.quarantined)
		})
		if err != nil {
			return BatchResult{}, nil, b.tried, err
		}
	}
	r = b.result()
	if len(b.ids) > 0 {
		r.Transactions = 1
	}
	return r, slices.Clone(b.deferred), nil, nil
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

// fill completes each aggregate's versions above its checkpoint from the event
// store: those missing between the checkpoint and the batch's highest (a gap),
// and those whose stream copy did not decode. It reads at most maxFill of them
// per aggregate (one in step mode); the batch's events beyond that wait for the
// next transaction. A version the store cannot give either is quarantined, and so
// is a version drive forces.
func (b *batch) fill(ctx context.Context, src EventReader, maxFill int64) error {
	for _, id := range b.ids {
		a := b.aggs[id]
		cp := a.checkpoint
		var top int64
		decoded := map[int64]*entry{}
		for _, i := range b.byID[id] {
			en := &b.entries[i]
			if v := en.ev.Version; v > cp {
				top = max(top, v)
				if en.undecodable == "" && decoded[v] == nil {
					decoded[v] = en
				}
			}
		}
		if top == 0 {
			continue
		}
		// A version the stream delivered whole as well needs nothing from the store.
		for _, i := range b.byID[id] {
			if en := &b.entries[i]; en.undecodable != "" && decoded[en.ev.Version] != nil {
				en.ev, en.undecodable = decoded[en.ev.Version].ev, ""
			}
		}
		limit := top
		if b.step[id] {
			limit = cp + 1
			b.tried[id] = limit
		}
		have := func(v int64) bool { return decoded[v] != nil }
		for k, reason := range b.forced {
			if k.id == id && k.version > cp && k.version <= limit {
				b.setQuarantine(id, k.version, "", reason)
				decoded[k.version] = &entry{}
			}
		}
		if src == nil {
			if limit < top {
				a.limit = limit
			}
			continue
		}
		// The holes, up to maxFill of them: the transaction stops at the last.
		var holes []int64
		for v := cp + 1; v <= limit; v++ {
			if have(v) {
				continue
			}
			if int64(len(holes)) == maxFill {
				limit = v - 1
				break
			}
			holes = append(holes, v)
		}
		if limit < top {
			a.limit = limit
		}
		if len(holes) == 0 {
			continue
		}
		b.filled++
		for _, run := range runs(holes) {
			got, bad, err := readRange(ctx, src, id, run[0], run[1])
			if err != nil {
				return err
			}
			for v := run[0]; v <= run[1]; v++ {
				if e, ok := got[v]; ok {
					b.fetched++
					b.setEvent(id, e)
					continue
				}
				reason := bad[v]
				if reason == "" {
					reason = fmt.Sprintf("version %d is not in the event store", v)
				}
				b.setQuarantine(id, v, "event store: ", reason)
			}
		}
		b.sortEntries(id)
	}
	return nil
}

// setEvent puts the store's copy of a version in place of the stream's unreadable
// ones, or adds it.
func (b *batch) setEvent(id string, e portfolio.Event) {
	found := false
	for _, i := range b.byID[id] {
		if en := &b.entries[i]; en.ev.Version == e.Version && en.undecodable != "" {
			en.ev, en.undecodable, found = e, "", true
		}
	}
	if !found {
		b.add(entry{ev: e, rec: -1})
	}
}

// setQuarantine marks a version to be quarantined: the stream's unreadable copies
// of it (whose images go along), or a stand-in for a version the stream lacks.
func (b *batch) setQuarantine(id string, v int64, prefix, reason string) {
	found := false
	for _, i := range b.byID[id] {
		if en := &b.entries[i]; en.ev.Version == v {
			why := prefix + reason
			if en.undecodable != "" && !strings.Contains(en.undecodable, reason) { // a replay read the same error
				why = en.undecodable + "; " + why
			}
			en.quarantine, en.undecodable, found = why, "", true
		}
	}
	if !found {
		b.add(entry{ev: portfolio.Event{AggregateID: id, Version: v}, rec: -1, quarantine: prefix + reason})
	}
}

func (b *batch) add(en entry) {
	b.byID[en.ev.AggregateID] = append(b.byID[en.ev.AggregateID], len(b.entries))
	b.entries = append(b.entries, en)
}

// runs groups ascending versions into [first, last] runs of consecutive ones.
func runs(vs []int64) [][2]int64 {
	var out [][2]int64
	for _, v := range vs {
		if n := len(out); n > 0 && out[n-1][1] == v-1 {
			out[n-1][1] = v
		} else {
			out = append(out, [2]int64{v, v})
		}
	}
	return out
}

// readRange reads versions from..to of an aggregate. A version stored corrupt is
// reported in bad (and reading goes on after it); a version the store lacks is in
// neither map. Any other error is returned: the store could not be read.
func readRange(ctx context.Context, src EventReader, id string, from, to int64) (got map[int64]portfolio.Event, bad map[int64]string, err error) {
	got, bad = map[int64]portfolio.Event{}, map[int64]string{}
	for next := from; next <= to; {
		evs, err := src.Events(ctx, id, next, to)
		for _, e := range evs {
			if e.AggregateID == id && e.Version >= next && e.Version <= to {
				got[e.Version] = e
			}
		}
		if n := len(evs); n > 0 {
			next = max(next, evs[n-1].Version+1)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, portfolio.ErrCorruptEvent) || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("read %s versions %d to %d from the event store: %w", id, next, to, err)
		}
		bad[next] = err.Error()
		next++
	}
	return got, bad, nil
}
