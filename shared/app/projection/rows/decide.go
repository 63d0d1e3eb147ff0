package rows

import (
	"fmt"
	"slices"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
)

// fail reports a record failed; an event read from the store has none to report.
func (b *Batch) fail(en *entry, reason string) {
	if en.rec < 0 {
		return
	}
	e := &en.ev
	b.failures = append(b.failures, Failure{Index: en.rec, AggregateID: e.AggregateID, Version: e.Version, EventType: e.EventType, Reason: reason})
}

// quarantine skips an event for good.
func (b *Batch) quarantine(en *entry, reason string) {
	q := Quarantined{Index: en.rec, AggregateID: en.ev.AggregateID, Version: en.ev.Version, EventType: en.ev.EventType,
		EventID: en.ev.EventID, Reason: reason}
	if en.rec >= 0 {
		q.Image, q.SequenceNumber = b.recs[en.rec].Image, b.recs[en.rec].SequenceNumber
	}
	b.quarantined = append(b.quarantined, q)
	b.log.Error("event quarantined: the checkpoint passes it, the aggregate's later events apply",
		"aggregateId", q.AggregateID, "version", q.Version, "eventType", q.EventType, "reason", reason)
}

// Decide walks each aggregate's entries in version order against its checkpoint.
func (b *Batch) Decide() {
	for _, id := range b.ids {
		a := b.aggs[id]
		idx := b.byID[id]
		for k, i := range idx {
			en := &b.entries[i]
			e := &en.ev
			if e.Version <= a.Checkpoint {
				b.dups++
				continue
			}
			if a.limit > 0 && e.Version > a.limit {
				// Beyond this transaction's catch-up: the next one applies it.
				for _, j := range idx[k:] {
					if r := b.entries[j].rec; r >= 0 {
						b.deferred = append(b.deferred, r)
					}
				}
				break
			}
			reason, why := "", en.quarantine
			switch {
			case why != "":
			case e.Version > a.Checkpoint+1:
				reason = fmt.Sprintf("gap: version %d follows checkpoint %d", e.Version, a.Checkpoint)
				b.gaps++
			case en.undecodable != "":
				reason = en.undecodable // no event store to read it from: wait for a redelivery
			default:
				if err := a.apply(e); err != nil {
					why = err.Error() // the event itself can never apply
				}
			}
			if reason != "" {
				// Later events (sorted, so all above the checkpoint) must wait for this one.
				b.fail(en, reason)
				for _, j := range idx[k+1:] {
					b.fail(&b.entries[j], fmt.Sprintf("follows version %d, which failed", e.Version))
				}
				break
			}
			if why != "" {
				b.quarantine(en, why)
			} else {
				if !KnownEventType(e.EventType) {
					b.skipped++
				}
				b.applied++
			}
			a.Checkpoint, a.Advanced = e.Version, true
			if !e.Timestamp.IsZero() { // a quarantined record may not tell
				a.CheckpointTime = e.Timestamp
			}
			if a.Portfolio.Exists {
				a.Portfolio.Version, a.PortfolioChanged = e.Version, true
				if !e.Timestamp.IsZero() {
					a.Portfolio.UpdatedAt = e.Timestamp
				}
			}
		}
	}
}

// Recompute folds each portfolio whose transactions changed through the lot
// engine, and keeps the positions of the symbols the batch touched.
func (b *Batch) Recompute() {
	log := b.log
	for _, id := range b.ids {
		a := b.aggs[id]
		for _, r := range a.LeftOut { // left out as the events applied
			b.leftOut += len(r.Reasons)
			log.Warn("transactions outside the stored range left out of the read models", "portfolio", id, "reasons", r.Reasons)
		}
		if !a.Portfolio.Exists || (a.txVersion == 0 && !a.created) {
			continue
		}
		b.recomputed++
		txs := make([]portfolio.Transaction, 0, len(a.Stored)+len(a.Recorded))
		voided := make(map[string]bool, len(a.Voids))
		for _, v := range a.Voids {
			voided[v.ID] = true
		}
		for i := range a.Stored {
			if !voided[a.Stored[i].ID] {
				txs = append(txs, a.Stored[i])
			}
		}
		for i := range a.Recorded {
			if !voided[a.Recorded[i].Tx.ID] {
				txs = append(txs, a.Recorded[i].Tx)
			}
		}
		portfolio.SortForReplay(txs)
		method := portfolio.LotMethod(a.Portfolio.LotMethod)
		if method != portfolio.FIFO && method != portfolio.AverageCost { // only by editing the table by hand
			b.lotErrors++
			log.Error("stored lot method unknown; positions not recomputed", "portfolio", id, "lotMethod", a.Portfolio.LotMethod)
			continue
		}
		book := lots.New(method, a.Portfolio.BaseCurrency)
		// Stored history may predate the bounds, or (hand-edited) break the lot
		// engine's rules: what cannot be computed is left out, as the analytics
		// consumer leaves it out, rather than stall the stream.
		_, out := book.ApplyStored(txs)
		for _, lo := range out {
			b.leftOut++
			tx := lo.Transaction
			a.leaveOut(portfolio.VersionOfSeq(tx.Seq), "", "", tx, lo.Err)
			log.Warn("stored transaction left out of positions and totals", "portfolio", id, "transaction", tx.ID, "err", lo.Err)
		}
		syms := make([]string, 0, len(a.affected))
		for s := range a.affected {
			syms = append(syms, s)
		}
		slices.Sort(syms)
		for _, s := range syms {
			if pos, ok := book.Position(s); ok {
				a.Positions = append(a.Positions, Position{Symbol: s, Pos: pos, Version: a.affected[s]})
			} else {
				a.Removed = append(a.Removed, s)
			}
		}
		v := a.txVersion
		if v == 0 { // created in this batch, no transactions yet
			for _, i := range b.byID[id] {
				if e := &b.entries[i].ev; e.EventType == portfolio.TypePortfolioCreated && e.Version <= a.Checkpoint {
					v = e.Version
				}
			}
		}
		a.Totals = &Totals{Sum: book.Summary(), Version: v}
	}
}
