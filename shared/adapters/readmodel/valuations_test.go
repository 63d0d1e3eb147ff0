package readmodel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
)

func TestValuationsInsertHistoryPrune(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	d := decimal.RequireFromString
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	val := func(p, user string, at time.Time, mv, cb string, unpriced ...string) readmodel.Valuation {
		return readmodel.Valuation{PortfolioID: p, UserID: user, AsOf: at, MarketValue: d(mv), CostBasis: d(cb),
			UnrealizedPnL: d(mv).Sub(d(cb)), Unpriced: unpriced}
	}
	batch := []readmodel.Valuation{
		val("p1", rmtest.UserA, t0, "1000.25", "900"),
		val("p2", rmtest.UserB, t0, "50", "60", "XYZ", "A,B"),
	}
	if n, err := readmodel.InsertValuations(ctx, pool, batch); err != nil || n != 2 {
		t.Fatalf("insert: %d, %v", n, err)
	}
	// The retried batch (same as_of) inserts nothing, even with other figures.
	retry := slices.Clone(batch)
	retry[0].MarketValue = d("1")
	if n, err := readmodel.InsertValuations(ctx, pool, retry); err != nil || n != 0 {
		t.Fatalf("re-insert: %d, %v", n, err)
	}
	if n, err := readmodel.InsertValuations(ctx, pool, []readmodel.Valuation{val("p1", rmtest.UserA, t0.Add(time.Minute), "990", "900")}); err != nil || n != 1 {
		t.Fatalf("newer: %d, %v", n, err)
	}

	hist, err := readmodel.ValuationHistory(ctx, pool, rmtest.UserA, "p1", t0, t0.Add(time.Hour), 100)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %+v, %v", hist, err)
	}
	if h := hist[0]; !h.AsOf.Equal(t0) || h.MarketValue.String() != "1000.25" || h.CostBasis.String() != "900" || h.UnrealizedPnL.String() != "100.25" || h.Unpriced != nil {
		t.Fatalf("first row %+v", h)
	}
	if h := hist[1]; !h.AsOf.Equal(t0.Add(time.Minute)) || h.UnrealizedPnL.String() != "90" {
		t.Fatalf("second row %+v", h)
	}
	if h, _ := readmodel.ValuationHistory(ctx, pool, rmtest.UserA, "p1", t0, t0.Add(time.Hour), 1); len(h) != 1 || !h[0].AsOf.Equal(t0) {
		t.Fatalf("limit 1: %+v", h)
	}
	if h, err := readmodel.ValuationHistory(ctx, pool, rmtest.UserB, "p2", t0, t0.Add(time.Hour), 10); err != nil || len(h) != 1 ||
		!slices.Equal(h[0].Unpriced, []string{"XYZ", "A,B"}) || h[0].UnrealizedPnL.String() != "-10" {
		t.Fatalf("p2: %+v, %v", h, err)
	}
	if h, err := readmodel.ValuationHistory(ctx, pool, rmtest.UserB, "p1", t0, t0.Add(time.Hour), 10); err != nil || len(h) != 0 {
		t.Fatalf("B reads A's portfolio: %+v, %v", h, err)
	}

	// Row Level Security: the API role sees its own rows only.
	if _, err := pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'a@example.com'), ($2, 'b@example.com')`, rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	asRole(t, pool, "authenticated", rmtest.UserB, func(tx pgx.Tx) {
		if n, err := count(t, tx, "select count(*) from valuations"); err != nil || n != 1 {
			t.Errorf("B sees %d valuations (%v), want its 1", n, err)
		}
		if _, err := count(t, tx, "with d as (delete from valuations returning 1) select count(*) from d"); err == nil {
			t.Error("authenticated may delete valuations")
		}
	})
	asRole(t, pool, "anon", "", func(tx pgx.Tx) {
		if _, err := count(t, tx, "select count(*) from valuations"); err == nil {
			t.Error("anon may read valuations")
		}
	})

	// Pruning one day keeps each portfolio's last row of that UTC day, and
	// touches nothing outside the window.
	day := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	var old []readmodel.Valuation
	for i := range 5 {
		old = append(old, val("p1", rmtest.UserA, day.Add(14*time.Hour+time.Duration(i)*time.Minute), "100", "90"))
	}
	old = append(old, val("p1", rmtest.UserA, day.Add(24*time.Hour+time.Minute), "100", "90")) // the next day
	old = append(old, val("p2", rmtest.UserB, day.Add(15*time.Hour), "100", "90"))
	old = append(old, val("p2", rmtest.UserB, day.Add(-time.Hour), "100", "90")) // the day before
	if _, err := readmodel.InsertValuations(ctx, pool, old); err != nil {
		t.Fatal(err)
	}
	// A bounded call deletes no more than its limit; the next one finishes.
	n, err := readmodel.PruneValuations(ctx, pool, day, day.Add(24*time.Hour), 3)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want 3", n, err)
	}
	if n, err = readmodel.PruneValuations(ctx, pool, day, day.Add(24*time.Hour), 0); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1 more", n, err)
	}
	left, _ := readmodel.ValuationHistory(ctx, pool, rmtest.UserA, "p1", day.Add(-48*time.Hour), day.Add(48*time.Hour), 100)
	if len(left) != 2 || !left[0].AsOf.Equal(day.Add(14*time.Hour+4*time.Minute)) || !left[1].AsOf.Equal(day.Add(24*time.Hour+time.Minute)) {
		t.Fatalf("p1 after prune: %+v", left)
	}
	if left, _ := readmodel.ValuationHistory(ctx, pool, rmtest.UserB, "p2", day.Add(-48*time.Hour), day.Add(48*time.Hour), 100); len(left) != 2 {
		t.Fatalf("p2 after prune: %+v", left)
	}
	if n, _ := readmodel.PruneValuations(ctx, pool, day, day.Add(24*time.Hour), 0); n != 0 {
		t.Fatalf("second prune deleted %d", n)
	}
}
