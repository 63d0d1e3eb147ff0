// Package rows decides what a batch of portfolio events changes in the read
// models, in plain Go: which events apply, are duplicates, wait for a gap, or are
// quarantined (docs/architecture.md §4 and "Self-healing consumers"); and, for
// each aggregate, its new checkpoint, its portfolio row (details, archive,
// analytics settings), the transactions recorded and voided, its targets, and the
// positions and totals the lot engine recomputes. It reads nothing but what it is
// given: the caller loads each aggregate's stored state into a Batch, lets it
// Fill from the event store (EventReader) what the stream did not deliver, calls
// Decide and Recompute, and writes what the Batch then holds
// (shared/adapters/readmodel writes it to PostgreSQL, set-based, in one
// transaction).
package rows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
	"github.com/shopspring/decimal"
)

// This file is what an event changes: the rows (Aggregate and the row types)
// and apply, one case per event type. The rest of the package is the batch
// around it (batch.go, decide.go, fill.go).

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

// Totals is a portfolio_totals row and, from Sum.Balances, the portfolio's
// cash_balances rows (which replace the older set whole).
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

// ErrUnhandledType is wrapped by apply's error for an event type of
// portfolio.EventTypes that no case of apply handles: such an event is
// quarantined, and the test that sends every sample through the projection fails.
var ErrUnhandledType = errors.New("event type not handled by the projection")

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
