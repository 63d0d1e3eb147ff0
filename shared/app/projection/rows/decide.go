package rows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
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

// ErrUnhandledType is wrapped by apply's error for an event type of
// portfolio.EventTypes that no case of apply handles: such an event is
// quarantined, and the test that sends every sample through the projection fails.
var ErrUnhandledType = fmt.Errorf("event type not handled by the projection")

// apply folds one event (the next version) into the aggregate's pending changes.
// An error leaves the state unchanged and fails the event.
func (a *Aggregate) apply(e *portfolio.Event) error {
	if !KnownEventType(e.EventType) {
		return nil // skipped: only the checkpoint moves
	}
	if e.Data == nil {
		return fmt.Errorf("%s without data", e.EventType)
	}
	if _, ok := e.Data.(*portfolio.PortfolioCreated); !ok && !a.Portfolio.Exists {
		return fmt.Errorf("%s before PortfolioCreated", e.EventType)
	}
	switch d := e.Data.(type) {
	case *portfolio.PortfolioCreated:
		if a.Portfolio.Exists {
			return fmt.Errorf("PortfolioCreated for existing portfolio (version %d)", a.Portfolio.Version)
		}
		if !uuid.Valid(e.UserID) {
			return fmt.Errorf("user ID %q is not a UUID", e.UserID)
		}
		if d.LotMethod != portfolio.FIFO && d.LotMethod != portfolio.AverageCost {
			return fmt.Errorf("unknown lot method %q", d.LotMethod)
		}
		def := portfolio.DefaultAnalyticsSettings()
		a.Portfolio = Portfolio{
			Exists: true, UserID: strings.ToLower(e.UserID), Name: d.Name, Description: d.Description,
			BaseCurrency: d.BaseCurrency, LotMethod: string(d.LotMethod), CreatedAt: e.Timestamp,
			Benchmark: def.Benchmark, WholeShares: def.WholeShares, MinTradeValue: def.MinTradeValue,
		}
		a.created = true
	case *portfolio.PortfolioDetailsChanged:
		a.Portfolio.Name, a.Portfolio.Description = d.Name, d.Description
	case *portfolio.PortfolioArchived:
		if !a.Portfolio.Archived {
			ts := e.Timestamp
			a.Portfolio.Archived, a.Portfolio.ArchivedAt = true, &ts
		}
	case *portfolio.TargetAllocationSet:
		a.Targets, a.TargetsVersion = d, e.Version
	case *portfolio.AnalyticsSettingsChanged:
		a.Portfolio.Benchmark, a.Portfolio.WholeShares, a.Portfolio.MinTradeValue = d.Benchmark, d.WholeShares, d.MinTradeValue
	case *portfolio.TransactionRecorded:
		if err := d.CheckStoredRange(); err != nil {
			a.leaveOut(e.Version, e.EventType, e.EventID, &d.Transaction, err)
			return nil
		}
		a.Recorded = append(a.Recorded, RecordedTx{Tx: d.Transaction, RecordedAt: e.Timestamp})
		a.touch(d.Symbol, e.Version)
	case *portfolio.TransactionsImported:
		for i := range d.Transactions {
			if err := d.Transactions[i].CheckStoredRange(); err != nil {
				a.leaveOut(e.Version, e.EventType, e.EventID, &d.Transactions[i], err)
				continue
			}
			a.Recorded = append(a.Recorded, RecordedTx{Tx: d.Transactions[i], RecordedAt: e.Timestamp})
			a.touch(d.Transactions[i].Symbol, e.Version)
		}
	case *portfolio.TransactionVoided:
		a.Voids = append(a.Voids, Void{ID: d.TransactionID, Reason: d.Reason, VoidedAt: e.Timestamp, Version: e.Version})
		a.touch(d.Voided.Symbol, e.Version)
	default:
		return fmt.Errorf("%w: unexpected data %T for %s", ErrUnhandledType, e.Data, e.EventType)
	}
	return nil
}

func (a *Aggregate) touch(symbol string, version int64) {
	a.txVersion = version
	if symbol == "" {
		return
	}
	if a.affected == nil {
		a.affected = make(map[string]int64)
	}
	a.affected[symbol] = version
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
		book := lots.New(method)
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
