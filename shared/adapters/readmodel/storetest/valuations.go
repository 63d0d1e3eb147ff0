package storetest

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// ValuationStore is the store of the portfolios' intraday valuations.
type ValuationStore interface {
	InsertValuations(ctx context.Context, vals []readmodel.Valuation) (int64, error)
	ValuationHistory(ctx context.Context, userID, portfolioID string, from, to time.Time, limit int) ([]readmodel.Valuation, error)
	PruneValuations(ctx context.Context, from, before time.Time, limit int) (int64, error)
}

var _ ValuationStore = (*readmodel.Valuations)(nil)

// RunValuations runs the valuation store's suite; newStore returns an empty store.
func RunValuations(t *testing.T, newStore func(t *testing.T) ValuationStore) {
	run(t, newStore, []testCase[ValuationStore]{
		{"InsertOnceAndHistoryPerUser", testValuationsHistory},
		{"PruneThinsToLastOfDay", testValuationsPrune},
		{"SameValuationRaceInsertsOnce", testValuationsRace},
	})
}

func valuation(p, user string, at time.Time, mv, cb string, unpriced ...string) readmodel.Valuation {
	return readmodel.Valuation{PortfolioID: p, UserID: user, AsOf: at, MarketValue: dec(mv), CostBasis: dec(cb),
		UnrealizedPnL: dec(mv).Sub(dec(cb)), Unpriced: unpriced}
}

func testValuationsHistory(t *testing.T, s ValuationStore) {
	ctx := t.Context()
	if n, err := s.InsertValuations(ctx, nil); err != nil || n != 0 {
		t.Fatalf("none: %d %v", n, err)
	}
	batch := []readmodel.Valuation{
		valuation("p1", UserA, t0, "1000.25", "900"),
		valuation("p2", UserB, t0, "50", "60", "XYZ", "A,B"),
	}
	if n, err := s.InsertValuations(ctx, batch); err != nil || n != 2 {
		t.Fatalf("insert: %d, %v", n, err)
	}
	// The retried batch (same as_of) inserts nothing, even with other figures.
	retry := slices.Clone(batch)
	retry[0].MarketValue = dec("1")
	if n, err := s.InsertValuations(ctx, retry); err != nil || n != 0 {
		t.Fatalf("re-insert: %d, %v", n, err)
	}
	if n, err := s.InsertValuations(ctx, []readmodel.Valuation{valuation("p1", UserA, t0.Add(time.Minute), "990", "900")}); err != nil || n != 1 {
		t.Fatalf("newer: %d, %v", n, err)
	}
	hist, err := s.ValuationHistory(ctx, UserA, "p1", t0, t0.Add(time.Hour), 100)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %+v, %v", hist, err)
	}
	if h := hist[0]; !h.AsOf.Equal(t0) || h.MarketValue.String() != "1000.25" || h.CostBasis.String() != "900" || h.UnrealizedPnL.String() != "100.25" ||
		h.Unpriced != nil || h.PortfolioID != "p1" || h.UserID != UserA {
		t.Fatalf("first row %+v", h)
	}
	if h := hist[1]; !h.AsOf.Equal(t0.Add(time.Minute)) || h.UnrealizedPnL.String() != "90" {
		t.Fatalf("second row %+v", h)
	}
	if h, _ := s.ValuationHistory(ctx, UserA, "p1", t0, t0.Add(time.Hour), 1); len(h) != 1 || !h[0].AsOf.Equal(t0) {
		t.Fatalf("limit 1: %+v", h)
	}
	// from is inclusive, to exclusive.
	if h, _ := s.ValuationHistory(ctx, UserA, "p1", t0.Add(time.Microsecond), t0.Add(time.Minute), 10); len(h) != 0 {
		t.Fatalf("window without rows: %+v", h)
	}
	if h, err := s.ValuationHistory(ctx, UserB, "p2", t0, t0.Add(time.Hour), 10); err != nil || len(h) != 1 ||
		!slices.Equal(h[0].Unpriced, []string{"XYZ", "A,B"}) || h[0].UnrealizedPnL.String() != "-10" {
		t.Fatalf("p2: %+v, %v", h, err)
	}
	if h, err := s.ValuationHistory(ctx, UserB, "p1", t0, t0.Add(time.Hour), 10); err != nil || len(h) != 0 {
		t.Fatalf("B reads A's portfolio: %+v, %v", h, err)
	}
}

func testValuationsPrune(t *testing.T, s ValuationStore) {
	ctx := t.Context()
	// Pruning one day keeps each portfolio's last row of that UTC day, and
	// touches nothing outside the window.
	day := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	var old []readmodel.Valuation
	for i := range 5 {
		old = append(old, valuation("p1", UserA, day.Add(14*time.Hour+time.Duration(i)*time.Minute), "100", "90"))
	}
	old = append(old, valuation("p1", UserA, day.Add(24*time.Hour+time.Minute), "100", "90")) // the next day
	old = append(old, valuation("p2", UserB, day.Add(15*time.Hour), "100", "90"))
	old = append(old, valuation("p2", UserB, day.Add(-time.Hour), "100", "90")) // the day before
	if _, err := s.InsertValuations(ctx, old); err != nil {
		t.Fatal(err)
	}
	// A bounded call deletes no more than its limit; the next one finishes.
	n, err := s.PruneValuations(ctx, day, day.Add(24*time.Hour), 3)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want 3", n, err)
	}
	if n, err = s.PruneValuations(ctx, day, day.Add(24*time.Hour), 0); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1 more", n, err)
	}
	left, _ := s.ValuationHistory(ctx, UserA, "p1", day.Add(-48*time.Hour), day.Add(48*time.Hour), 100)
	if len(left) != 2 || !left[0].AsOf.Equal(day.Add(14*time.Hour+4*time.Minute)) || !left[1].AsOf.Equal(day.Add(24*time.Hour+time.Minute)) {
		t.Fatalf("p1 after prune: %+v", left)
	}
	if left, _ := s.ValuationHistory(ctx, UserB, "p2", day.Add(-48*time.Hour), day.Add(48*time.Hour), 100); len(left) != 2 {
		t.Fatalf("p2 after prune: %+v", left)
	}
	if n, _ := s.PruneValuations(ctx, day, day.Add(24*time.Hour), 0); n != 0 {
		t.Fatalf("second prune deleted %d", n)
	}
}

// testValuationsRace: the same batch inserted by several at once is inserted once.
func testValuationsRace(t *testing.T, s ValuationStore) {
	ctx := t.Context()
	var rows atomic.Int64
	race(racers, func(i int) {
		n, err := s.InsertValuations(ctx, []readmodel.Valuation{valuation("p1", UserA, t0, "100", "90"), valuation("p2", UserB, t0, "5", "4")})
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		rows.Add(n)
	})
	if rows.Load() != 2 {
		t.Fatalf("%d rows inserted, want 2", rows.Load())
	}
	if h, _ := s.ValuationHistory(ctx, UserA, "p1", t0, t0.Add(time.Second), 10); len(h) != 1 {
		t.Fatalf("history %+v", h)
	}
}
