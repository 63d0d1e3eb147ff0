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
	"context"
	"encoding/json"
	"slices"

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
