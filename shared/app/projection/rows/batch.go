package rows

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/shopspring/decimal"
)

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

// Aggregate is one aggregate: its stored state, then what the batch changes.
type Aggregate struct {
	ID string
	// Loaded by the caller.
	Checkpoint     int64
	CheckpointTime time.Time
	Portfolio      Portfolio               // Portfolio.Exists is false for non-portfolios and before creation
	Stored         []portfolio.Transaction // active transactions before the batch (loaded when NeedsTransactions)
	StoredLoaded   bool

	// Decided.
	Advanced         bool // the checkpoint moved in this batch: write Checkpoint and LeftOut
	PortfolioChanged bool // write Portfolio, Recorded, Voids, Targets, Positions, Removed and Totals
	Recorded         []RecordedTx
	Voids            []Void
	// Targets, when set, replace the portfolio's targets (TargetsVersion is the
	// event's).
	Targets        *portfolio.TargetAllocationSet
	TargetsVersion int64
	Positions      []Position // recomputed: the symbols the batch touched that the book still holds
	Removed        []string   // affected symbols the book no longer has
	Totals         *Totals
	// LeftOut are the transactions left out of the read models, by the version
	// of the event that recorded them.
	LeftOut map[int64]*LeftOut

	limit     int64            // the highest version this transaction may apply (0: any)
	affected  map[string]int64 // symbol → version of the last event touching it
	txVersion int64            // version of the last event changing the transactions
	created   bool             // PortfolioCreated applied in this batch
}

// Portfolio is a portfolios row.
type Portfolio struct {
	Exists       bool
	UserID       string
	Name         string
	Description  string
	BaseCurrency string
	LotMethod    string
	Archived     bool
	ArchivedAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64
	// The analytics settings (migration 0008); the domain's defaults until an
	// AnalyticsSettingsChanged.
	Benchmark     string
	WholeShares   bool
	MinTradeValue decimal.Decimal
}

// RecordedTx is a transactions row to insert.
type RecordedTx struct {
	Tx         portfolio.Transaction
	RecordedAt time.Time
}

// Void marks a transactions row voided.
type Void struct {
	ID       string
	Reason   string
	VoidedAt time.Time
	Version  int64
}

// Position is a positions row.
type Position struct {
	Symbol  string
	Pos     lots.Position
	Version int64
}

// Totals is a portfolio_totals row.
type Totals struct {
	Sum     lots.Summary
	Version int64
}

// LeftOut is one projection_failures row of kind left_out.
type LeftOut struct {
	EventType, EventID string
	Reasons            []string
}

// leaveOut records that tx, recorded at version (by an event of eventType, when
// known), is left out of the read models.
func (a *Aggregate) leaveOut(version int64, eventType, eventID string, tx *portfolio.Transaction, err error) {
	if a.LeftOut == nil {
		a.LeftOut = make(map[int64]*LeftOut)
	}
	r := a.LeftOut[version]
	if r == nil {
		r = &LeftOut{}
		a.LeftOut[version] = r
	}
	if eventType != "" {
		r.EventType, r.EventID = eventType, eventID
	}
	r.Reasons = append(r.Reasons, fmt.Sprintf("transaction %s (%s %s on %s) left out: %v", tx.ID, tx.Type, tx.Symbol, tx.Date, err))
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
	b.recomputed, b.lotErrors, b.leftOut = 0, 0, 0
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
		Portfolios: b.recomputed, LotErrors: b.lotErrors, LeftOut: b.leftOut}
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
