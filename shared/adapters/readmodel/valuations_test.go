package readmodel_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
)

// The store's behaviour is the contract suite's (TestValuationsContract); this is
// what only PostgreSQL has: Row Level Security lets the API role read its own
// valuations only, delete none, and the anonymous role read none.
func TestValuationsRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	d := decimal.RequireFromString
	if n, err := readmodel.InsertValuations(ctx, pool, []readmodel.Valuation{
		{PortfolioID: "p1", UserID: rmtest.UserA, AsOf: t0, MarketValue: d("1000.25"), CostBasis: d("900"), UnrealizedPnL: d("100.25")},
		{PortfolioID: "p2", UserID: rmtest.UserB, AsOf: t0, MarketValue: d("50"), CostBasis: d("60"), UnrealizedPnL: d("-10"), Unpriced: []string{"XYZ"}},
	}); err != nil || n != 2 {
		t.Fatalf("insert: %d, %v", n, err)
	}
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
}
