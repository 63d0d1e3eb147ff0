package rows

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Record is one stream record to project.
type Record struct {
	Event portfolio.Event
	// Undecodable, when set, says why the delivered copy of the event did not
	// decode ("stream: ..."): Event then holds what the record's keys and image
	// still told (AggregateID and Version at least), and the projector reads the
	// version from the event store instead.
	Undecodable string
	// Image is the stream record's NewImage (DynamoDB JSON), kept with a quarantine.
	Image json.RawMessage
	// SequenceNumber is the stream record's, copied into a quarantine.
	SequenceNumber string
}

// Failure is an event the projector did not apply and wants redelivered.
type Failure struct {
	Index       int // into the batch
	AggregateID string
	Version     int64
	EventType   string
	Reason      string
}

// Quarantined is an event the projector skipped for good.
type Quarantined struct {
	Index          int // into the batch; −1 for a version read from the event store
	AggregateID    string
	Version        int64
	EventType      string
	EventID        string
	Reason         string
	Image          json.RawMessage
	SequenceNumber string
}

// BatchResult says what applying a batch did.
type BatchResult struct {
	Failures    []Failure     // ascending by Index
	Quarantined []Quarantined // by aggregate and version
	Applied     int           // events applied (skipped unknown types and events read from the store included)
	Duplicates  int           // events at or below their checkpoint: no-ops
	Skipped     int           // events of unknown types (checkpoint advanced, nothing else)
	Gaps        int           // aggregates whose next event was missing and could not be read
	GapsFilled  int           // aggregates whose missing versions were read from the event store
	FromStore   int           // events read from the event store
	Portfolios  int           // portfolios whose positions and totals were recomputed
	LotErrors   int           // portfolios not recomputed: their stored lot method is unknown
	// LeftOut counts the transactions left out of the read models: outside the
	// stored range, beyond the position bounds, or refused by the lot engine.
	LeftOut int
	// Erased counts the events of erased users (DELETE /me): nothing projected,
	// no checkpoint, no failure.
	Erased int
	// Transactions is the number of database transactions the batch took (more
	// than one when an aggregate caught up in steps or a data error was isolated).
	Transactions int
}

// Failed returns the indexes of the failed events, ascending.
func (r BatchResult) Failed() []int {
	out := make([]int, len(r.Failures))
	for i, f := range r.Failures {
		out[i] = f.Index
	}
	return out
}

// Add sums o into r.
func (r *BatchResult) Add(o BatchResult) {
	r.Failures = append(r.Failures, o.Failures...)
	r.Quarantined = append(r.Quarantined, o.Quarantined...)
	r.Applied += o.Applied
	r.Duplicates += o.Duplicates
	r.Skipped += o.Skipped
	r.Gaps += o.Gaps
	r.GapsFilled += o.GapsFilled
	r.FromStore += o.FromStore
	r.Portfolios += o.Portfolios
	r.LotErrors += o.LotErrors
	r.LeftOut += o.LeftOut
	r.Erased += o.Erased
	r.Transactions += o.Transactions
}

// KnownEventType reports whether this build projects events of type t. Events of
// other types may be passed with only their envelope (Data nil): they advance
// their aggregate's checkpoint and change nothing else.
func KnownEventType(t string) bool { return slices.Contains(portfolio.EventTypes, t) }

// EventReader reads an aggregate's events from the event store: those with
// from ≤ version ≤ to, ascending, decoded as the stream's are (events of unknown
// types envelope-only). On a stored item that does not decode it returns the
// events before it with an error wrapping portfolio.ErrCorruptEvent; any other
// error means the store could not be read. dynamosource.Source implements it.
type EventReader interface {
	Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error)
}

// Batch is the events of one database transaction and what they change. Its
// life: NewBatch, Reset, the caller loads each aggregate's stored state
// (Aggregate), Fill, the caller loads the stored transactions Fill made needed,
// Decide, Recompute; then the caller writes what the aggregates hold.
type Batch struct {
	log  *slog.Logger
	recs []Record
	// entries are the events of this transaction: the records given (rec ≥ 0),
	// then what Fill adds from the event store (rec = −1).
	entries []entry
	// ids are the aggregates of the batch, sorted (locks are taken in this order);
	// byID holds each one's entry indexes in version order.
	ids     []string
	byID    map[string][]int
	input   map[string][]int // each aggregate's record indexes
	invalid []Failure        // records without aggregate or version: failed before loading
	// The round's settings (see readmodel's drive).
	step   map[string]bool       // aggregates applied one version this transaction
	forced map[AggVersion]string // versions to quarantine, with why
	tried  map[string]int64      // in step mode: the version the transaction applies

	// Reset creates them, the caller loads them, Fill and Decide advance them.
	aggs map[string]*Aggregate

	failures               []Failure
	quarantined            []Quarantined
	deferred               []int // records beyond this transaction's catch-up, for the next
	applied, dups, skipped int
	gaps, filled, fetched  int
	recomputed             int
	lotErrors, leftOut     int
	erased                 int
}

// entry is one event of the batch.
type entry struct {
	ev  portfolio.Event
	rec int // index into the records; −1 for an event read from the store
	// undecodable: the stream's copy did not decode (ev holds its keys), and no
	// copy from the store replaced it.
	undecodable string
	// quarantine: skip the version for good, for this reason.
	quarantine string
}

// AggVersion names one version of one aggregate.
type AggVersion struct {
	ID      string
	Version int64
}

// NewBatch returns the batch of the records idx. step and forced are the
// caller's settings for this attempt: the aggregates to apply one version at a
// time, and the versions to quarantine (with why).
func NewBatch(recs []Record, idx []int, log *slog.Logger, step map[string]bool, forced map[AggVersion]string) *Batch {
	b := &Batch{log: log, recs: recs, input: make(map[string][]int), step: step, forced: forced}
	for _, i := range idx {
		e := &recs[i].Event
		if e.AggregateID == "" || e.Version < 1 || !utf8.ValidString(e.AggregateID) || strings.IndexByte(e.AggregateID, 0) >= 0 {
			b.invalid = append(b.invalid, Failure{Index: i, AggregateID: strings.ToValidUTF8(e.AggregateID, "?"), Version: e.Version,
				EventType: e.EventType, Reason: "event without a usable aggregate ID or version"})
			continue
		}
		if _, ok := b.input[e.AggregateID]; !ok {
			b.ids = append(b.ids, e.AggregateID)
		}
		b.input[e.AggregateID] = append(b.input[e.AggregateID], i)
	}
	slices.Sort(b.ids)
	return b
}

// IDs returns the aggregates of the batch, sorted.
func (b *Batch) IDs() []string { return b.ids }

// Aggregate returns the state of the aggregate id (after Reset).
func (b *Batch) Aggregate(id string) *Aggregate { return b.aggs[id] }

// Reset clears what a previous attempt of the transaction computed and lays the
// records out as entries again, with an empty Aggregate for each ID.
func (b *Batch) Reset() {
	b.entries = b.entries[:0]
	b.byID = make(map[string][]int, len(b.ids))
	b.aggs = make(map[string]*Aggregate, len(b.ids))
	for _, id := range b.ids {
		for _, i := range b.input[id] {
			b.byID[id] = append(b.byID[id], len(b.entries))
			b.entries = append(b.entries, entry{ev: b.recs[i].Event, rec: i, undecodable: b.recs[i].Undecodable})
		}
		b.sortEntries(id)
		b.aggs[id] = &Aggregate{ID: id}
	}
	b.tried = make(map[string]int64)
	b.failures = append(b.failures[:0], b.invalid...)
	b.quarantined, b.deferred = b.quarantined[:0], b.deferred[:0]
	b.applied, b.dups, b.skipped, b.gaps, b.filled, b.fetched = 0, 0, 0, 0, 0, 0
	b.recomputed, b.lotErrors, b.leftOut, b.erased = 0, 0, 0, 0
}

// Owners returns the user IDs the aggregate's entries carry (their envelopes'),
// each once.
func (b *Batch) Owners(id string) []string {
	var out []string
	for _, i := range b.byID[id] {
		if u := b.entries[i].ev.UserID; u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// Erase drops the aggregate's entries from this attempt: its owner was erased,
// so nothing of it is projected (not even a checkpoint) and nothing fails. The
// caller calls it after each Reset, as it loads.
func (b *Batch) Erase(id string) {
	b.erased += len(b.byID[id])
	delete(b.byID, id)
}

// sortEntries puts an aggregate's entries in version order. Stable: duplicates of
// one version keep their batch order.
func (b *Batch) sortEntries(id string) {
	slices.SortStableFunc(b.byID[id], func(x, y int) int { return cmp.Compare(b.entries[x].ev.Version, b.entries[y].ev.Version) })
}

// Result says what the batch did (Transactions left to the caller).
func (b *Batch) Result() BatchResult {
	if b.aggs == nil { // nothing loaded: only invalid records
		b.Reset()
	}
	return BatchResult{Failures: slices.Clone(b.failures), Quarantined: slices.Clone(b.quarantined), Applied: b.applied,
		Duplicates: b.dups, Skipped: b.skipped, Gaps: b.gaps, GapsFilled: b.filled, FromStore: b.fetched,
		Portfolios: b.recomputed, LotErrors: b.lotErrors, LeftOut: b.leftOut, Erased: b.erased}
}

// Quarantined returns the events quarantined so far: to send before the
// transaction commits, and to record.
func (b *Batch) Quarantined() []Quarantined { return b.quarantined }

// Deferred returns the records beyond this transaction's catch-up, for the next.
func (b *Batch) Deferred() []int { return b.deferred }

// Tried returns, for the aggregates in step mode, the version this transaction
// applies.
func (b *Batch) Tried() map[string]int64 { return b.tried }

// NeedsTransactions reports whether the aggregate's entries may change its
// transactions (then its stored ones are loaded along with the checkpoints). An
// entry whose stream copy did not decode may be anything.
func (b *Batch) NeedsTransactions(id string) bool {
	for _, i := range b.byID[id] {
		if en := &b.entries[i]; en.undecodable != "" || changesTransactions(en.ev.EventType) {
			return true
		}
	}
	return false
}

func changesTransactions(eventType string) bool {
	return eventType == portfolio.TypeTransactionRecorded || eventType == portfolio.TypeTransactionVoided ||
		eventType == portfolio.TypeTransactionsImported
}
