package memstore

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Watchers is the in-memory readmodel.Watchers: per (symbol, connection) the
// connection's user and when the watch expires.
type Watchers struct {
	mu      sync.Mutex
	watches map[watchKey]watch
}

type watchKey struct{ symbol, connectionID string }

type watch struct {
	userID  string
	expires time.Time
}

// NewWatchers returns an empty store.
func NewWatchers() *Watchers { return &Watchers{watches: map[watchKey]watch{}} }

// Watch implements readmodel.Watchers.Watch.
func (w *Watchers) Watch(_ context.Context, connectionID, userID string, symbols []string, until time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range symbols {
		w.watches[watchKey{s, connectionID}] = watch{userID: userID, expires: stamp(until)}
	}
	return nil
}

// Unwatch implements readmodel.Watchers.Unwatch (none: all of the connection's).
func (w *Watchers) Unwatch(_ context.Context, connectionID, _ string, symbols []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.watches {
		if k.connectionID == connectionID && (len(symbols) == 0 || slices.Contains(symbols, k.symbol)) {
			delete(w.watches, k)
		}
	}
	return nil
}

// WatchersOf implements readmodel.Watchers.WatchersOf.
func (w *Watchers) WatchersOf(_ context.Context, symbols []string, now time.Time) ([]string, error) {
	if len(symbols) == 0 {
		return nil, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	users := []string{}
	for k, v := range w.watches {
		if v.expires.After(now) && slices.Contains(symbols, k.symbol) && !slices.Contains(users, v.userID) {
			users = append(users, v.userID)
		}
	}
	return users, nil
}

// PruneWatchers implements readmodel.Watchers.PruneWatchers.
func (w *Watchers) PruneWatchers(_ context.Context, now time.Time, limit int) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for k, v := range w.watches {
		if n >= int64(limit) {
			break
		}
		if !v.expires.After(now) {
			delete(w.watches, k)
			n++
		}
	}
	return n, nil
}

// WatchedSymbols returns the symbols of the watches that have not expired by
// now, sorted, each once (the watch list's "watched").
func (w *Watchers) WatchedSymbols(_ context.Context, now time.Time) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k, v := range w.watches {
		if v.expires.After(now) {
			out = append(out, k.symbol)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
