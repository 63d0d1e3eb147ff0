package rows

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Fill completes each aggregate's versions above its checkpoint from the event
// store: those missing between the checkpoint and the batch's highest (a gap),
// and those whose stream copy did not decode. It reads at most maxFill of them
// per aggregate (one in step mode); the batch's events beyond that wait for the
// next transaction. A version the store cannot give either is quarantined, and so
// is a version the caller forces. Without src (nil) nothing is read: a gap waits
// for the stream. An error means the store could not be read.
func (b *Batch) Fill(ctx context.Context, src EventReader, maxFill int64) error {
	for _, id := range b.ids {
		a := b.aggs[id]
		cp := a.Checkpoint
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
			if k.ID == id && k.Version > cp && k.Version <= limit {
				b.setQuarantine(id, k.Version, "", reason)
				decoded[k.Version] = &entry{}
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
func (b *Batch) setEvent(id string, e portfolio.Event) {
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
func (b *Batch) setQuarantine(id string, v int64, prefix, reason string) {
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

func (b *Batch) add(en entry) {
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
