package storetest

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// WatcherStore is the store of the symbols each WebSocket connection watches.
type WatcherStore interface {
	Watch(ctx context.Context, connectionID, userID string, symbols []string, until time.Time) error
	Unwatch(ctx context.Context, connectionID, userID string, symbols []string) error
	WatchersOf(ctx context.Context, symbols []string, now time.Time) ([]string, error)
	PruneWatchers(ctx context.Context, now time.Time, limit int) (int64, error)
}

var _ WatcherStore = (*readmodel.Watchers)(nil)

// RunWatchers runs the watcher store's suite; newStore returns an empty store.
func RunWatchers(t *testing.T, newStore func(t *testing.T) WatcherStore) {
	run(t, newStore, []testCase[WatcherStore]{
		{"WatchUnwatchExpire", testWatchers},
		{"PruneRaceDeletesEachOnce", testWatchersPruneRace},
	})
}

// testWatchers: a watch names its user while it lasts, unwatching one symbol or
// all of a connection's removes exactly those, and pruning takes only the
// expired.
func testWatchers(t *testing.T, s WatcherStore) {
	ctx := t.Context()
	now := t0
	later, earlier := now.Add(time.Hour), now.Add(-time.Minute)
	for _, w := range []struct {
		conn, user string
		symbols    []string
		until      time.Time
	}{
		{"c1", UserA, []string{"TSLA", "NVDA"}, later},
		{"c2", UserA, []string{"TSLA"}, later},
		{"c3", UserB, []string{"NVDA"}, later},
		{"c4", UserB, []string{"TSLA"}, earlier}, // closed a minute ago
		{"c5", UserB, nil, later},                // nothing to watch
	} {
		if err := s.Watch(ctx, w.conn, w.user, w.symbols, w.until); err != nil {
			t.Fatal(err)
		}
	}
	watchers := func(symbols ...string) []string {
		t.Helper()
		got, err := s.WatchersOf(ctx, symbols, now)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	if got := watchers("TSLA"); !slices.Equal(got, []string{UserA}) {
		t.Fatalf("TSLA watchers %v, want A only (B's watch expired)", got)
	}
	if got := watchers("TSLA", "NVDA", "AAPL"); !slices.Equal(got, []string{UserA, UserB}) {
		t.Fatalf("watchers %v, want A and B once each", got)
	}
	if got := watchers(); len(got) != 0 {
		t.Fatalf("watchers of no symbols: %v", got)
	}
	if err := s.Unwatch(ctx, "c1", UserA, []string{"NVDA"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unwatch(ctx, "c3", UserB, nil); err != nil {
		t.Fatal(err)
	}
	if got := watchers("NVDA"); len(got) != 0 {
		t.Fatalf("NVDA watchers after unwatching %v", got)
	}
	if got := watchers("TSLA"); !slices.Equal(got, []string{UserA}) {
		t.Fatalf("TSLA watchers %v: c1 and c2 still watch it", got)
	}
	// Watching again moves the expiry.
	if err := s.Watch(ctx, "c4", UserB, []string{"TSLA"}, later); err != nil {
		t.Fatal(err)
	}
	if got := watchers("TSLA"); !slices.Equal(got, []string{UserA, UserB}) {
		t.Fatalf("TSLA watchers after c4 watched again: %v", got)
	}
	// A watch lasts until its expiry, exclusive.
	if got, _ := s.WatchersOf(ctx, []string{"TSLA"}, later); len(got) != 0 {
		t.Fatalf("watchers at the expiry: %v", got)
	}
	if n, err := s.PruneWatchers(ctx, now, 10); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) before anything expired", n, err)
	}
	if n, err := s.PruneWatchers(ctx, later.Add(time.Second), 2); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the limit of 2", n, err)
	}
	if n, err := s.PruneWatchers(ctx, later.Add(time.Second), 10); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want the last 1", n, err)
	}
}

// testWatchersPruneRace: pruners at once delete each expired watch once between
// them.
func testWatchersPruneRace(t *testing.T, s WatcherStore) {
	ctx := t.Context()
	symbols := []string{"A", "B", "C", "D", "E", "F"}
	if err := s.Watch(ctx, "old", UserA, symbols, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(ctx, "new", UserB, symbols, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var deleted atomic.Int64
	race(racers, func(i int) {
		n, err := s.PruneWatchers(ctx, t0.Add(time.Minute), 100)
		if err != nil {
			t.Errorf("pruner %d: %v", i, err)
		}
		deleted.Add(n)
	})
	if deleted.Load() != int64(len(symbols)) {
		t.Fatalf("%d watches deleted, want %d", deleted.Load(), len(symbols))
	}
	if got, _ := s.WatchersOf(ctx, symbols, t0.Add(time.Minute)); !slices.Equal(got, []string{UserB}) {
		t.Fatalf("watchers %v, want B's", got)
	}
}
