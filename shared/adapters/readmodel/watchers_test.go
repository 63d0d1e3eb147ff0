package readmodel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
)

// Symbol watchers: a watch names its user while it lasts, unwatching one symbol
// or all of a connection's removes exactly those, and pruning takes only the
// expired.
func TestSymbolWatchers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Minute)
	for _, w := range []struct {
		conn, user string
		symbols    []string
		until      time.Time
	}{
		{"c1", rmtest.UserA, []string{"TSLA", "NVDA"}, later},
		{"c2", rmtest.UserA, []string{"TSLA"}, later},
		{"c3", rmtest.UserB, []string{"NVDA"}, later},
		{"c4", rmtest.UserB, []string{"TSLA"}, earlier}, // closed an hour ago
	} {
		if err := readmodel.WatchSymbols(ctx, pool, w.conn, w.user, w.symbols, w.until); err != nil {
			t.Fatal(err)
		}
	}
	watchers := func(symbols ...string) []string {
		t.Helper()
		got, err := readmodel.WatchersOf(ctx, pool, symbols, now)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	if got := watchers("TSLA"); !slices.Equal(got, []string{rmtest.UserA}) {
		t.Fatalf("TSLA watchers %v, want A only (B's watch expired)", got)
	}
	if got := watchers("TSLA", "NVDA", "AAPL"); !slices.Equal(got, []string{rmtest.UserA, rmtest.UserB}) {
		t.Fatalf("watchers %v, want A and B once each", got)
	}
	if err := readmodel.UnwatchSymbols(ctx, pool, "c1", []string{"NVDA"}); err != nil {
		t.Fatal(err)
	}
	if err := readmodel.UnwatchSymbols(ctx, pool, "c3", nil); err != nil {
		t.Fatal(err)
	}
	if got := watchers("NVDA"); len(got) != 0 {
		t.Fatalf("NVDA watchers after unwatching %v", got)
	}
	if got := watchers("TSLA"); !slices.Equal(got, []string{rmtest.UserA}) {
		t.Fatalf("TSLA watchers %v: c1 and c2 still watch it", got)
	}
	// Watching again moves the expiry.
	if err := readmodel.WatchSymbols(ctx, pool, "c4", rmtest.UserB, []string{"TSLA"}, later); err != nil {
		t.Fatal(err)
	}
	if got := watchers("TSLA"); !slices.Equal(got, []string{rmtest.UserA, rmtest.UserB}) {
		t.Fatalf("TSLA watchers after c4 watched again: %v", got)
	}
	if n, err := readmodel.PruneWatchers(ctx, pool, later.Add(time.Second), 2); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the limit of 2", n, err)
	}
	if n, err := readmodel.PruneWatchers(ctx, pool, later.Add(time.Second), 10); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want the last 1", n, err)
	}
}
