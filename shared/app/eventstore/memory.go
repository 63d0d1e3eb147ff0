package eventstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Memory is the in-memory adapter: the same semantics as DynamoDB, for unit tests
// and the offline CLI. Events are stored as the same Items DynamoDB holds, so a
// load decodes fresh copies, shares no payload with the writer, and fails on a
// corrupt item exactly as the DynamoDB adapter does.
type Memory struct {
	mu      sync.RWMutex
	streams map[string]*memoryStream
}

type memoryStream struct {
	items []memoryItem // index i holds version i+1
}

// memoryItem is an Item plus the snapshot bytes, as DynamoDB would hold them.
type memoryItem struct {
	item     Item
	snapshot []byte
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{streams: make(map[string]*memoryStream)} }

// Append implements Store.
func (m *Memory) Append(ctx context.Context, aggregateID string, expectedVersion int64, events []portfolio.Event, snapshot []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckAppend(aggregateID, expectedVersion, events); err != nil {
		return err
	}
	encoded := make([]memoryItem, len(events))
	for i := range events {
		it, err := EncodeItem(&events[i])
		if err != nil {
			return fmt.Errorf("append to %s: %w", aggregateID, err)
		}
		encoded[i].item = it
	}
	encoded[len(encoded)-1].snapshot = slices.Clone(snapshot)

	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[aggregateID]
	if s == nil {
		s = &memoryStream{}
		m.streams[aggregateID] = s
	}
	// DynamoDB's condition is "this version's item does not exist yet"; with
	// versions written densely that is exactly "expected is the current version".
	if int64(len(s.items)) != expectedVersion {
		return Conflict(aggregateID, expectedVersion)
	}
	s.items = append(s.items, encoded...)
	return nil
}

// Load implements Store.
func (m *Memory) Load(ctx context.Context, aggregateID string, _ LoadOptions) (Stream, error) {
	if err := ctx.Err(); err != nil {
		return Stream{}, err
	}
	m.mu.RLock()
	var items []memoryItem
	if s := m.streams[aggregateID]; s != nil {
		items = s.items[:len(s.items):len(s.items)]
	}
	m.mu.RUnlock()
	start := 0
	var out Stream
	for i := len(items) - 1; i >= 0; i-- {
		if items[i].snapshot != nil {
			out.Snapshot, out.SnapshotVersion = slices.Clone(items[i].snapshot), int64(i+1)
			start = i + 1
			break
		}
	}
	events, err := decodeItems(aggregateID, items[start:], int64(start+1))
	if err != nil {
		return Stream{}, err
	}
	out.Events = events
	return out, nil
}

// Events implements Store.
func (m *Memory) Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	var items []memoryItem
	if s := m.streams[aggregateID]; s != nil {
		items = s.items[:len(s.items):len(s.items)]
	}
	m.mu.RUnlock()
	from = max(from, 1)
	if to <= 0 || to > int64(len(items)) {
		to = int64(len(items))
	}
	if from > to {
		return nil, nil
	}
	return decodeItems(aggregateID, items[from-1:to], from)
}

// Tamper changes one attribute of a stored item (value nil removes it), bypassing
// every check: the contract suite uses it to plant corrupt events.
func (m *Memory) Tamper(_ context.Context, aggregateID string, version int64, attr string, value *string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[aggregateID]
	if s == nil || version < 1 || version > int64(len(s.items)) {
		return fmt.Errorf("tamper %s version %d: no such item", aggregateID, version)
	}
	if attr == AttrSnapshot {
		if value == nil {
			s.items[version-1].snapshot = nil
		} else {
			s.items[version-1].snapshot = []byte(*value)
		}
		return nil
	}
	it := maps.Clone(s.items[version-1].item)
	if value == nil {
		delete(it, attr)
	} else {
		it[attr] = *value
	}
	s.items[version-1].item = it
	return nil
}

func decodeItems(aggregateID string, items []memoryItem, firstVersion int64) ([]portfolio.Event, error) {
	out := make([]portfolio.Event, 0, len(items))
	for i, it := range items {
		version := firstVersion + int64(i)
		e, err := DecodeItem(it.item)
		if err != nil {
			return nil, fmt.Errorf("load %s version %d: %w", aggregateID, version, err)
		}
		if e.AggregateID != aggregateID || e.Version != version {
			return nil, fmt.Errorf("load %s version %d: %w: item claims %s version %d", aggregateID, version, portfolio.ErrCorruptEvent, e.AggregateID, e.Version)
		}
		out = append(out, e)
	}
	return out, nil
}
