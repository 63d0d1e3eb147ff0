// Package eventstore is the port through which the application layer loads and
// appends portfolio events, with its in-memory adapter. The DynamoDB adapter lives
// in eventstore/dynamostore; eventstore/storetest is the one contract suite both
// must pass.
//
// Semantics every adapter honours:
//   - Append writes versions expectedVersion+1 ... atomically: all or nothing.
//   - Two appends at the same expected version: exactly one succeeds, the other
//     returns an error wrapping portfolio.ErrConcurrencyConflict and writes nothing.
//   - A snapshot passed to Append is the state after its last event. It is stored
//     with that event, and Load returns the newest snapshot plus only the events
//     after it.
//   - Corrupt or unknown stored items fail Load with portfolio.ErrCorruptEvent,
//     naming the aggregate and version; nothing panics.
package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// MaxEventsPerAppend is DynamoDB's TransactWriteItems limit, and so the most
// events one command may write.
const MaxEventsPerAppend = 100

// ErrTooManyEvents is returned for an append of more than MaxEventsPerAppend events.
var ErrTooManyEvents = errors.New("too many events in one append")

// Stream is what Load returns.
type Stream struct {
	// Snapshot is the encoded state at SnapshotVersion, or nil when the aggregate
	// has none yet.
	Snapshot        []byte
	SnapshotVersion int64
	// Events are the events after SnapshotVersion, ascending.
	Events []portfolio.Event
}

// Version is the aggregate's current version (0 when it does not exist).
func (s Stream) Version() int64 {
	if n := len(s.Events); n > 0 {
		return s.Events[n-1].Version
	}
	return s.SnapshotVersion
}

// LoadOptions tunes a load.
type LoadOptions struct {
	// Consistent asks for a strongly consistent read. The first attempt of a
	// command reads eventually consistently (half the cost); the conditional write
	// catches a stale read, and the retry after a conflict reads consistently.
	Consistent bool
}

// Store is the port.
type Store interface {
	// Load returns the newest snapshot and the events after it.
	Load(ctx context.Context, aggregateID string, opts LoadOptions) (Stream, error)
	// Events returns the events with from ≤ version ≤ to (to = 0: to the end),
	// ascending, for a full-history fold and for the audit trail.
	Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error)
	// Append stores events with versions expectedVersion+1, +2, ... atomically, and
	// snapshot (if not nil) as the state after the last of them.
	Append(ctx context.Context, aggregateID string, expectedVersion int64, events []portfolio.Event, snapshot []byte) error
}

// CheckAppend validates an append's arguments the same way in every adapter.
func CheckAppend(aggregateID string, expectedVersion int64, events []portfolio.Event) error {
	if aggregateID == "" {
		return fmt.Errorf("append: empty aggregate ID")
	}
	if len(events) == 0 {
		return fmt.Errorf("append to %s: no events", aggregateID)
	}
	if len(events) > MaxEventsPerAppend {
		return fmt.Errorf("append to %s: %d events: %w (at most %d)", aggregateID, len(events), ErrTooManyEvents, MaxEventsPerAppend)
	}
	if expectedVersion < 0 {
		return fmt.Errorf("append to %s: negative expected version %d", aggregateID, expectedVersion)
	}
	for i := range events {
		e := &events[i]
		if e.AggregateID != aggregateID {
			return fmt.Errorf("append to %s: event %d belongs to %s", aggregateID, i, e.AggregateID)
		}
		if want := expectedVersion + int64(i) + 1; e.Version != want {
			return fmt.Errorf("append to %s: event %d has version %d, want %d", aggregateID, i, e.Version, want)
		}
		if err := e.CheckEnvelope(); err != nil {
			return fmt.Errorf("append to %s: %w", aggregateID, err)
		}
	}
	return nil
}

// Conflict builds the error for a lost race.
func Conflict(aggregateID string, expectedVersion int64) error {
	return fmt.Errorf("append to %s after version %d: %w", aggregateID, expectedVersion, portfolio.ErrConcurrencyConflict)
}
