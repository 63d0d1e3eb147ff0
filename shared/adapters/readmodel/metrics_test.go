package readmodel_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// The store's behaviour is the contract suite's (TestMetricsContract); this is
// what only PostgreSQL has: Row Level Security lets the API role see its own
// rows of every analytics table, and none of the runs' status.
func TestMetricsTablesRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('m1', $1, 'p', 'USD', 'FIFO', now(), now(), 1), ('m2', $2, 'p', 'USD', 'FIFO', now(), now(), 1)`, rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	day := calendar.MustNew(2024, time.February, 27)
	s := &performance.Series{Days: []calendar.Date{day}, Value: []float64{1}, Inflow: []float64{0}, Outflow: []float64{0}}
	m := readmodel.NewMetrics(pool)
	var rs []readmodel.AnalyticsResult
	for _, p := range []readmodel.PortfolioRef{{ID: "m1", UserID: rmtest.UserA, Version: 1}, {ID: "m2", UserID: rmtest.UserB, Version: 1}} {
		rs = append(rs, readmodel.AnalyticsResult{Portfolio: p, AsOf: day, Benchmark: "SPY", MarketValue: decimal.NewFromInt(100),
			Report: analytics.Compute(s, analytics.Options{}), Series: s, Rebalancing: []byte(`{}`), ComputedAt: time.Unix(1_700_000_000, 0)})
	}
	if err := m.SaveResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkDone(ctx, "daily", day, []readmodel.PortfolioRef{rs[1].Portfolio}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'a@example.com'), ($2, 'b@example.com')`, rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	asRole(t, pool, "authenticated", rmtest.UserB, func(tx pgx.Tx) {
		for _, table := range []string{"portfolio_metrics", "portfolio_series", "portfolio_rebalancing"} {
			n, err := count(t, tx, "select count(*) from "+table)
			if err != nil || n != 1 {
				t.Errorf("%s: B sees %d rows (err %v), want its 1", table, n, err)
			}
		}
		if n, err := count(t, tx, "select count(*) from analytics_status"); err == nil && n != 0 {
			t.Errorf("analytics_status visible: %d", n)
		}
	})
}
