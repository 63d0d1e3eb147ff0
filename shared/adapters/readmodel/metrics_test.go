package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"math"
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

func metricsResult(id, user string, version int64, asOf calendar.Date, s *performance.Series) readmodel.AnalyticsResult {
	return readmodel.AnalyticsResult{
		Portfolio: readmodel.PortfolioRef{ID: id, UserID: user, Version: version}, AsOf: asOf, Benchmark: "SPY",
		MarketValue: decimal.NewFromInt(version * 100), Report: analytics.Compute(s, analytics.Options{}), Series: s,
		Rebalancing: []byte(fmt.Sprintf(`{"version":%d}`, version)), ComputedAt: time.Unix(1_700_000_000+version, 0),
	}
}

// TestMetricsStoreKeepsNewerVersionsAndExactSeries: a late result of an older
// version changes nothing, the value series comes back bit for bit, and the reads
// filter by the caller (in the query, and by RLS for the API roles).
func TestMetricsStoreKeepsNewerVersionsAndExactSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('m1', $1, 'p', 'USD', 'FIFO', now(), now(), 5), ('m2', $2, 'p', 'USD', 'FIFO', now(), now(), 1)`, rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	d0 := calendar.MustNew(2024, time.February, 27)
	s := &performance.Series{Start: 0.1, CashAccount: true}
	for i := range 5 {
		s.Days = append(s.Days, d0+calendar.Date(i))
		s.Value = append(s.Value, math.Pi*float64(i+1)/3)
		s.Inflow, s.Outflow = append(s.Inflow, 1e-300*float64(i)), append(s.Outflow, math.Nextafter(1, 2))
	}
	m := readmodel.NewMetrics(pool)
	day := s.Days[4]
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{metricsResult("m1", rmtest.UserA, 5, day, s), metricsResult("m2", rmtest.UserB, 1, day, s)}); err != nil {
		t.Fatal(err)
	}
	older := metricsResult("m1", rmtest.UserA, 4, day, &performance.Series{Days: s.Days[:1], Value: []float64{7}, Inflow: []float64{0}, Outflow: []float64{0}})
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{older}); err != nil {
		t.Fatal(err)
	}
	v, err := m.LatestMetrics(ctx, rmtest.UserA, "m1")
	if err != nil || v.Version != 5 || v.AsOf != day || !v.MarketValue.Equal(decimal.NewFromInt(500)) {
		t.Fatalf("latest %+v %v", v, err)
	}
	sv, err := m.Series(ctx, rmtest.UserA, "m1")
	if err != nil || sv.Version != 5 {
		t.Fatal(sv, err)
	}
	got := sv.Series
	if len(got.Days) != 5 || got.Days[0] != d0 || got.Days[4] != day || got.Start != s.Start || !got.CashAccount {
		t.Fatalf("series %+v", got)
	}
	for i := range s.Value {
		if got.Value[i] != s.Value[i] || got.Inflow[i] != s.Inflow[i] || got.Outflow[i] != s.Outflow[i] {
			t.Errorf("day %d: %v %v %v, want %v %v %v", i, got.Value[i], got.Inflow[i], got.Outflow[i], s.Value[i], s.Inflow[i], s.Outflow[i])
		}
	}
	if r, err := m.Rebalancing(ctx, rmtest.UserA, "m1"); err != nil || string(r.Plan) != `{"version": 5}` {
		t.Errorf("rebalancing %s %v", r.Plan, err)
	}
	// A newer day adds a row; the latest is the newest day.
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{metricsResult("m1", rmtest.UserA, 5, day+1, s)}); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.LatestMetrics(ctx, rmtest.UserA, "m1"); v.AsOf != day+1 {
		t.Errorf("latest day %s", v.AsOf)
	}
	for _, c := range []struct{ user, id string }{{rmtest.UserB, "m1"}, {"not-a-uuid", "m1"}, {rmtest.UserA, "nope"}} {
		if _, err := m.LatestMetrics(ctx, c.user, c.id); !errors.Is(err, readmodel.ErrNotFound) {
			t.Errorf("%v: %v", c, err)
		}
		if _, err := m.Series(ctx, c.user, c.id); !errors.Is(err, readmodel.ErrNotFound) {
			t.Errorf("series %v: %v", c, err)
		}
	}
	// RLS: the API role sees its own rows of every analytics table only.
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

// TestLoadClosesIsOneSealedStore: closes of several symbols over a range, exact.
func TestLoadClosesIsOneSealedStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	d := calendar.MustNew(2025, time.March, 3)
	rows := []readmodel.DailyClose{
		{Symbol: "AAA", Day: d, Close: decimal.RequireFromString("10.25"), AsOf: time.Now(), Source: "t"},
		{Symbol: "AAA", Day: d + 1, Close: decimal.RequireFromString("10.5"), AsOf: time.Now(), Source: "t"},
		{Symbol: "BBB", Day: d + 1, Close: decimal.RequireFromString("0.001234"), AsOf: time.Now(), Source: "t"},
		{Symbol: "CCC", Day: d, Close: decimal.RequireFromString("99"), AsOf: time.Now(), Source: "t"},
		{Symbol: "AAA", Day: d + 30, Close: decimal.RequireFromString("11"), AsOf: time.Now(), Source: "t"},
	}
	if _, err := readmodel.UpsertDailyCloses(ctx, pool, rows); err != nil {
		t.Fatal(err)
	}
	c, err := readmodel.NewMetrics(pool).LoadCloses(ctx, []string{"AAA", "BBB"}, d, d+7)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 3 {
		t.Fatalf("%d closes", c.Len())
	}
	if p, on, ok := c.On("AAA", d+5); !ok || on != d+1 || p.String() != "10.5" {
		t.Errorf("AAA %s %s %v", p, on, ok)
	}
	if p, _, ok := c.On("BBB", d+1); !ok || p.String() != "0.001234" {
		t.Errorf("BBB %s", p)
	}
	if _, _, ok := c.On("CCC", d); ok {
		t.Error("CCC was not asked for")
	}
	b, err := readmodel.NewMetrics(pool).BenchmarkCloses(ctx, "AAA", d, d+40)
	if err != nil || len(b.Days) != 3 || b.Closes[0] != 10.25 || b.Days[2] != d+30 {
		t.Errorf("benchmark %+v %v", b, err)
	}
}

// TestPruneMetricsKeepsMonthEnds: before the cut-off only each month's last row
// per portfolio stays; after it, every day.
func TestPruneMetricsKeepsMonthEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	m := readmodel.NewMetrics(pool)
	s := &performance.Series{Days: []calendar.Date{calendar.MustNew(2024, time.January, 1)}, Value: []float64{1}, Inflow: []float64{0}, Outflow: []float64{0}}
	var rs []readmodel.AnalyticsResult
	first := calendar.MustNew(2024, time.January, 20)
	for d := first; d < first+60; d++ { // 2024-01-20 .. 2024-03-19
		for _, id := range []string{"p1", "p2"} {
			if id == "p2" && d.Time().Day()%2 == 0 {
				continue // p2 has gaps: its month-end row is its last of the month
			}
			rs = append(rs, metricsResult(id, rmtest.UserA, 1, d, s))
		}
	}
	if err := m.SaveResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	cut := calendar.MustNew(2024, time.March, 5)
	n, err := m.PruneMetrics(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `select portfolio_id || ' ' || as_of::text from portfolio_metrics where as_of < $1::date order by 1`, cut.String())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	// March's last rows are after the cut-off, so its earlier days go too.
	want := []string{"p1 2024-01-31", "p1 2024-02-29", "p2 2024-01-31", "p2 2024-02-29"}
	if fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	var after int
	if err := pool.QueryRow(ctx, `select count(*) from portfolio_metrics where as_of >= $1::date`, cut.String()).Scan(&after); err != nil || after != 15+8 {
		t.Errorf("rows from the cut-off on: %d (%v), want 23", after, err)
	}
	if total := int64(len(rs)); n != total-int64(len(want))-23 {
		t.Errorf("deleted %d of %d", n, total)
	}
}
