package wsconn_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn/wsconntest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPutGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := now
	store := wsconntest.Store(t, wsconn.Options{Now: func() time.Time { return clock }})

	c, err := store.Put(ctx, "c1=", "user-a")
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(now.Add(2*time.Hour)) || !c.ConnectedAt.Equal(now) {
		t.Fatalf("put %+v", c)
	}
	got, err := store.Get(ctx, "c1=")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1=" || got.UserID != "user-a" || !got.ExpiresAt.Equal(now.Add(2*time.Hour)) || !got.ConnectedAt.Equal(now) ||
		got.Portfolios != nil || got.Symbols != nil {
		t.Fatalf("get %+v", got)
	}
	// Past expiresAt it is gone, whether or not TTL has removed it.
	clock = now.Add(2 * time.Hour)
	if _, err := store.Get(ctx, "c1="); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("expired: %v", err)
	}
	clock = now
	if err := store.Delete(ctx, "c1="); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "c1="); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := store.Delete(ctx, "c1="); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	for _, c := range [][2]string{{"", "u"}, {"c", ""}, {"c 1", "u"}, {"c\x00", "u"}} {
		if _, err := store.Put(ctx, c[0], c[1]); !errors.Is(err, wsconn.ErrInvalid) {
			t.Errorf("Put(%q, %q): %v", c[0], c[1], err)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := wsconntest.Store(t, wsconn.Options{})
	if _, err := store.Put(ctx, "c1", "user-a"); err != nil {
		t.Fatal(err)
	}
	c, err := store.Subscribe(ctx, "c1", []string{"p1"}, []string{"MSFT", "AAPL", "MSFT"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Portfolios, []string{"p1"}) || !slices.Equal(c.Symbols, []string{"AAPL", "MSFT"}) {
		t.Fatalf("after subscribe %+v", c)
	}
	c, err = store.Subscribe(ctx, "c1", []string{"p2", "p1"}, []string{"VTI"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Portfolios, []string{"p1", "p2"}) || !slices.Equal(c.Symbols, []string{"AAPL", "MSFT", "VTI"}) ||
		!c.SubscribedToPortfolio("p2") || c.SubscribedToPortfolio("p3") || !c.SubscribedToSymbol("VTI") || c.SubscribedToSymbol("vti") {
		t.Fatalf("after second subscribe %+v", c)
	}
	c, err = store.Unsubscribe(ctx, "c1", []string{"p1", "nope"}, []string{"AAPL", "MSFT", "VTI"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Portfolios, []string{"p2"}) || c.Symbols != nil {
		t.Fatalf("after unsubscribe %+v", c)
	}
	// Unsubscribing from an empty set is a no-op, not an error.
	if c, err = store.Unsubscribe(ctx, "c1", nil, []string{"AAPL"}); err != nil || c.Symbols != nil {
		t.Fatalf("unsubscribe from nothing: %+v %v", c, err)
	}
	got, err := store.Get(ctx, "c1")
	if err != nil || !slices.Equal(got.Portfolios, []string{"p2"}) || got.Symbols != nil {
		t.Fatalf("stored %+v %v", got, err)
	}

	// A connection that is gone is never resurrected by an update.
	if _, err := store.Subscribe(ctx, "gone", []string{"p1"}, nil); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("subscribe unknown: %v", err)
	}
	if _, err := store.Get(ctx, "gone"); !errors.Is(err, wsconn.ErrNotFound) {
		t.Fatalf("unknown connection was created: %v", err)
	}
	// Malformed entries.
	for _, bad := range [][]string{{""}, {"a b"}, {string(make([]byte, 33))}} {
		if _, err := store.Subscribe(ctx, "c1", nil, bad); !errors.Is(err, wsconn.ErrInvalid) {
			t.Errorf("symbols %q: %v", bad, err)
		}
	}
}

func TestSubscriptionBounds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := wsconntest.Store(t, wsconn.Options{})
	if _, err := store.Put(ctx, "c1", "user-a"); err != nil {
		t.Fatal(err)
	}
	syms := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("S%03d", from+i)
		}
		return out
	}
	var le *wsconn.LimitError
	if _, err := store.Subscribe(ctx, "c1", nil, syms(0, wsconn.MaxSymbols+1)); !errors.As(err, &le) || le.Kind != "symbols" {
		t.Fatalf("201 symbols at once: %v", err)
	}
	if _, err := store.Subscribe(ctx, "c1", nil, syms(0, 150)); err != nil {
		t.Fatal(err)
	}
	// 150 + 60 with 10 overlapping = 200: allowed (the bound counts distinct symbols).
	c, err := store.Subscribe(ctx, "c1", nil, syms(140, 60))
	if err != nil || len(c.Symbols) != wsconn.MaxSymbols {
		t.Fatalf("to the bound: %d %v", len(c.Symbols), err)
	}
	if _, err := store.Subscribe(ctx, "c1", nil, syms(200, 1)); !errors.As(err, &le) || le.Would != 201 {
		t.Fatalf("past the bound: %v", err)
	}
	// Already subscribed ones still succeed at the bound.
	if _, err := store.Subscribe(ctx, "c1", nil, syms(0, 5)); err != nil {
		t.Fatalf("re-subscribe at the bound: %v", err)
	}
	pids := make([]string, wsconn.MaxPortfolios+1)
	for i := range pids {
		pids[i] = fmt.Sprintf("p%d", i)
	}
	if _, err := store.Subscribe(ctx, "c1", pids, nil); !errors.As(err, &le) || le.Kind != "portfolios" {
		t.Fatalf("51 portfolios: %v", err)
	}

	// Concurrent subscribers on one connection cannot overshoot the bound together.
	if _, err := store.Put(ctx, "c2", "user-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Subscribe(ctx, "c2", pids[:40], nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = store.Subscribe(ctx, "c2", []string{fmt.Sprintf("x%d-1", i), fmt.Sprintf("x%d-2", i), fmt.Sprintf("x%d-3", i), fmt.Sprintf("x%d-4", i)}, nil)
		})
	}
	wg.Wait()
	c, err = store.Get(ctx, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Portfolios) > wsconn.MaxPortfolios {
		t.Fatalf("concurrent subscribes overshot: %d portfolios (%v)", len(c.Portfolios), errs)
	}
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if want := 40 + 4*ok; len(c.Portfolios) != want {
		t.Fatalf("%d portfolios, want %d from %d successes (%v)", len(c.Portfolios), want, ok, errs)
	}
}

func TestByUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := time.Now()
	store := wsconntest.Store(t, wsconn.Options{Now: func() time.Time { return clock }})
	for _, c := range [][2]string{{"a1", "user-a"}, {"a2", "user-a"}, {"b1", "user-b"}} {
		if _, err := store.Put(ctx, c[0], c[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Subscribe(ctx, "a2", []string{"pa"}, []string{"AAPL"}); err != nil {
		t.Fatal(err)
	}
	ids, err := store.ConnectionIDsByUser(ctx, "user-a")
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []string{"a1", "a2"}) {
		t.Fatalf("ids of a: %v %v", ids, err)
	}
	conns, err := store.ConnectionsByUser(ctx, "user-a")
	if err != nil || len(conns) != 2 || conns[0].ID != "a1" || !conns[1].SubscribedToPortfolio("pa") || !conns[1].SubscribedToSymbol("AAPL") {
		t.Fatalf("connections of a: %+v %v", conns, err)
	}
	if ids, err := store.ConnectionIDsByUser(ctx, "nobody"); err != nil || len(ids) != 0 {
		t.Fatalf("nobody: %v %v", ids, err)
	}
	// Expired connections are left out of the full read.
	clock = clock.Add(3 * time.Hour)
	if conns, err := store.ConnectionsByUser(ctx, "user-a"); err != nil || len(conns) != 0 {
		t.Fatalf("expired: %+v %v", conns, err)
	}
}
