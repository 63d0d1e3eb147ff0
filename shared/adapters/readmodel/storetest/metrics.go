package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// MetricsStore is the analytics read models' store: the figures, value series
// and rebalancing plans the analytics job writes and the API reads (per user),
// the scheduled runs' progress, and the closes and valuations the job reads and
// writes through it.
type MetricsStore interface {
	SaveResults(ctx context.Context, results []readmodel.AnalyticsResult) error
	InsertValuations(ctx context.Context, vals []readmodel.Valuation) (int64, error)
	PruneMetrics(ctx context.Context, before calendar.Date) (int64, error)
	PendingPortfolios(ctx context.Context, mode string, day calendar.Date, after string, limit int) ([]readmodel.PortfolioRef, error)
	MarkDone(ctx context.Context, mode string, day calendar.Date, refs []readmodel.PortfolioRef) error
	MarkFailed(ctx context.Context, mode string, day calendar.Date, failures []readmodel.AnalyticsFailure) error
	Failures(ctx context.Context, mode string) ([]readmodel.AnalyticsFailure, error)
	LoadCloses(ctx context.Context, symbols []string, from, to calendar.Date) (*performance.Closes, error)
	BenchmarkCloses(ctx context.Context, symbol string, from, to calendar.Date) (analytics.Benchmark, error)
	LoadRates(ctx context.Context, currencies []string, from, to calendar.Date) (*currency.Rates, error)
	SymbolCurrencies(ctx context.Context, symbols []string) (map[string]string, error)
	LatestMetrics(ctx context.Context, userID, portfolioID string) (readmodel.MetricsView, error)
	Series(ctx context.Context, userID, portfolioID string) (readmodel.SeriesView, error)
	Rebalancing(ctx context.Context, userID, portfolioID string) (readmodel.RebalancingView, error)
}

var _ MetricsStore = (*readmodel.Metrics)(nil)

// MetricsSubject is a metrics store under test with the tables it joins on:
// PutPortfolio writes a portfolios row (as the projection does), Closes and
// Valuations are the stores whose tables LoadCloses reads and InsertValuations
// writes, and MetricDays lists the days of a portfolio's stored metrics rows,
// oldest first.
type MetricsSubject struct {
	Store        MetricsStore
	PutPortfolio func(t *testing.T, ref readmodel.PortfolioRef, archived bool)
	Closes       PriceStore
	Valuations   ValuationStore
	MetricDays   func(t *testing.T, portfolioID string) []calendar.Date
}

// RunMetrics runs the metrics store's suite; newSubject returns empty stores.
func RunMetrics(t *testing.T, newSubject func(t *testing.T) MetricsSubject) {
	run(t, newSubject, []testCase[MetricsSubject]{
		{"NewerVersionWinsAndSeriesExact", testMetricsNewerWins},
		{"ReadsAreTheOwnersOnly", testMetricsOwnership},
		{"RebalancingNewerDayAndVersionWins", testRebalancingNewer},
		{"PruneKeepsMonthEnds", testPruneMetrics},
		{"ClosesLoadSealedAndAsBenchmark", testLoadCloses},
		{"RatesFromPairClosesAndQuoteCurrencies", testLoadRates},
		{"ScheduledRunsPendingDoneFailed", testScheduledRuns},
		{"InsertValuationsGoToTheValuations", testMetricsValuations},
		{"ConcurrentSavesKeepTheNewestVersion", testMetricsRace},
		{"ConcurrentFailuresAllCount", testFailuresRace},
	})
}

func metricsResult(id, user string, version int64, asOf calendar.Date, s *performance.Series) readmodel.AnalyticsResult {
	return readmodel.AnalyticsResult{
		Portfolio: readmodel.PortfolioRef{ID: id, UserID: user, Version: version}, AsOf: asOf, Benchmark: "SPY",
		MarketValue: decimal.NewFromInt(version * 100), Report: analytics.Compute(s, analytics.Options{}), Series: s,
		Rebalancing: []byte(fmt.Sprintf(`{"version":%d}`, version)), ComputedAt: time.Unix(1_700_000_000+version, 0),
	}
}

var seriesStart = calendar.MustNew(2024, time.February, 27)

// oddSeries is 5 days of values that only survive a bit-exact round trip.
func oddSeries() *performance.Series {
	s := &performance.Series{Start: 0.1, CashAccount: true}
	for i := range 5 {
		s.Days = append(s.Days, seriesStart+calendar.Date(i))
		s.Value = append(s.Value, math.Pi*float64(i+1)/3)
		s.Inflow, s.Outflow = append(s.Inflow, 1e-300*float64(i)), append(s.Outflow, math.Nextafter(1, 2))
	}
	return s
}

func sameJSON(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func testMetricsNewerWins(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "m1", UserID: UserA, Version: 5}, false)
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "m2", UserID: UserB, Version: 1}, false)
	if err := m.SaveResults(ctx, nil); err != nil {
		t.Fatal(err)
	}
	series := oddSeries()
	day := series.Days[4]
	r5 := metricsResult("m1", UserA, 5, day, series)
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{r5, metricsResult("m2", UserB, 1, day, series)}); err != nil {
		t.Fatal(err)
	}
	// A late result of an older version changes nothing.
	older := metricsResult("m1", UserA, 4, day, &performance.Series{Days: series.Days[:1], Value: []float64{7}, Inflow: []float64{0}, Outflow: []float64{0}})
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{older}); err != nil {
		t.Fatal(err)
	}
	v, err := m.LatestMetrics(ctx, UserA, "m1")
	if err != nil || v.Version != 5 || v.AsOf != day || !v.MarketValue.Equal(decimal.NewFromInt(500)) || v.Benchmark != "SPY" ||
		!v.ComputedAt.Equal(r5.ComputedAt) || v.PortfolioID != "m1" {
		t.Fatalf("latest %+v %v", v, err)
	}
	got, _ := json.Marshal(v.Report)
	want, _ := json.Marshal(r5.Report)
	if !sameJSON(t, got, want) {
		t.Fatalf("report %s, want %s", got, want)
	}
	sv, err := m.Series(ctx, UserA, "m1")
	if err != nil || sv.Version != 5 || !sv.ComputedAt.Equal(r5.ComputedAt) {
		t.Fatal(sv, err)
	}
	gs := sv.Series
	if len(gs.Days) != 5 || gs.Days[0] != seriesStart || gs.Days[4] != day || gs.Start != series.Start || !gs.CashAccount {
		t.Fatalf("series %+v", gs)
	}
	for i := range series.Value {
		if gs.Value[i] != series.Value[i] || gs.Inflow[i] != series.Inflow[i] || gs.Outflow[i] != series.Outflow[i] {
			t.Errorf("day %d: %v %v %v, want %v %v %v", i, gs.Value[i], gs.Inflow[i], gs.Outflow[i], series.Value[i], series.Inflow[i], series.Outflow[i])
		}
	}
	if r, err := m.Rebalancing(ctx, UserA, "m1"); err != nil || !sameJSON(t, r.Plan, []byte(`{"version":5}`)) || r.Version != 5 || r.AsOf != day {
		t.Errorf("rebalancing %+v %v", r, err)
	}
	// A newer day adds a row; the latest is the newest day. A result without a
	// series or a plan leaves the stored ones.
	next := metricsResult("m1", UserA, 5, day+1, series)
	next.Series, next.Rebalancing = nil, nil
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{next}); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.LatestMetrics(ctx, UserA, "m1"); v.AsOf != day+1 {
		t.Errorf("latest day %s", v.AsOf)
	}
	if sv, _ := m.Series(ctx, UserA, "m1"); sv.Series == nil || len(sv.Series.Days) != 5 {
		t.Errorf("series after a result without one: %+v", sv)
	}
	if r, _ := m.Rebalancing(ctx, UserA, "m1"); r.AsOf != day {
		t.Errorf("plan after a result without one: %+v", r)
	}
	if days := s.MetricDays(t, "m1"); !slices.Equal(days, []calendar.Date{day, day + 1}) {
		t.Errorf("metrics rows of m1 on %v", days)
	}
}

func testMetricsOwnership(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "m1", UserID: UserA, Version: 1}, false)
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "m2", UserID: UserA, Version: 1}, false)
	day := seriesStart + 4
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{metricsResult("m1", UserA, 1, day, oddSeries())}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ user, id string }{{UserB, "m1"}, {"not-a-uuid", "m1"}, {UserA, "nope"}} {
		if _, err := m.LatestMetrics(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("latest %v: %v", c, err)
		}
		if _, err := m.Series(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("series %v: %v", c, err)
		}
		if _, err := m.Rebalancing(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("rebalancing %v: %v", c, err)
		}
	}
	// The caller's portfolio without figures yet.
	if _, err := m.LatestMetrics(ctx, UserA, "m2"); !errors.Is(err, readmodel.ErrNotComputed) {
		t.Errorf("latest of m2: %v", err)
	}
	if _, err := m.Series(ctx, UserA, "m2"); !errors.Is(err, readmodel.ErrNotComputed) {
		t.Errorf("series of m2: %v", err)
	}
	if _, err := m.Rebalancing(ctx, UserA, "m2"); !errors.Is(err, readmodel.ErrNotComputed) {
		t.Errorf("rebalancing of m2: %v", err)
	}
}

func testRebalancingNewer(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "m1", UserID: UserA, Version: 9}, false)
	day := seriesStart + 4
	save := func(asOf calendar.Date, version int64, plan string) {
		t.Helper()
		r := metricsResult("m1", UserA, version, asOf, oddSeries())
		r.Rebalancing = json.RawMessage(plan)
		if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{r}); err != nil {
			t.Fatal(err)
		}
	}
	plan := func() string {
		t.Helper()
		r, err := m.Rebalancing(ctx, UserA, "m1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r.Plan)
		var v map[string]string
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v["p"]
	}
	save(day, 5, `{"p":"day v5"}`)
	save(day-1, 6, `{"p":"earlier day v6"}`) // an older day, whatever its version
	if got := plan(); got != "day v5" {
		t.Fatalf("plan %q after an older day's", got)
	}
	save(day, 4, `{"p":"day v4"}`)
	if got := plan(); got != "day v5" {
		t.Fatalf("plan %q after an older version's", got)
	}
	save(day, 5, `{"p":"day v5 again"}`)
	if got := plan(); got != "day v5 again" {
		t.Fatalf("plan %q: the same day and version replace it", got)
	}
	save(day+1, 1, `{"p":"next day v1"}`)
	if got := plan(); got != "next day v1" {
		t.Fatalf("plan %q: a newer day replaces it", got)
	}
}

// testPruneMetrics: before the cut-off only each month's last row per portfolio
// stays; after it, every day.
func testPruneMetrics(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	series := &performance.Series{Days: []calendar.Date{calendar.MustNew(2024, time.January, 1)}, Value: []float64{1}, Inflow: []float64{0}, Outflow: []float64{0}}
	var rs []readmodel.AnalyticsResult
	first := calendar.MustNew(2024, time.January, 20)
	for d := first; d < first+60; d++ { // 2024-01-20 .. 2024-03-19
		for _, id := range []string{"p1", "p2"} {
			if id == "p2" && d.Time().Day()%2 == 0 {
				continue // p2 has gaps: its month-end row is its last of the month
			}
			rs = append(rs, metricsResult(id, UserA, 1, d, series))
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
	var kept []string
	after := 0
	for _, id := range []string{"p1", "p2"} {
		for _, d := range s.MetricDays(t, id) {
			if d < cut {
				kept = append(kept, id+" "+d.String())
			} else {
				after++
			}
		}
	}
	// March's last rows are after the cut-off, so its earlier days go too.
	want := []string{"p1 2024-01-31", "p1 2024-02-29", "p2 2024-01-31", "p2 2024-02-29"}
	if !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if after != 15+8 {
		t.Errorf("rows from the cut-off on: %d, want 23", after)
	}
	if total := int64(len(rs)); n != total-int64(len(want))-23 {
		t.Errorf("deleted %d of %d", n, total)
	}
	if n, err := m.PruneMetrics(ctx, cut); err != nil || n != 0 {
		t.Errorf("second prune: %d %v", n, err)
	}
}

// testLoadCloses: closes of several symbols over a range, exact.
func testLoadCloses(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	d := calendar.MustNew(2025, time.March, 3)
	rows := []readmodel.DailyClose{
		{Symbol: "AAA", Day: d, Close: dec("10.25"), AsOf: t0, Source: "t"},
		{Symbol: "AAA", Day: d + 1, Close: dec("10.5"), AsOf: t0, Source: "t"},
		{Symbol: "BBB", Day: d + 1, Close: dec("0.001234"), AsOf: t0, Source: "t"},
		{Symbol: "CCC", Day: d, Close: dec("99"), AsOf: t0, Source: "t"},
		{Symbol: "AAA", Day: d + 30, Close: dec("11"), AsOf: t0, Source: "t"},
	}
	if _, err := s.Closes.UpsertDailyCloses(ctx, rows); err != nil {
		t.Fatal(err)
	}
	c, err := m.LoadCloses(ctx, []string{"AAA", "BBB"}, d, d+7)
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
	if c, err := m.LoadCloses(ctx, nil, d, d+7); err != nil || c.Len() != 0 {
		t.Errorf("no symbols: %v", err)
	}
	if c, err := m.LoadCloses(ctx, []string{"AAA"}, d+1, d); err != nil || c.Len() != 0 {
		t.Errorf("an empty range: %v", err)
	}
	b, err := m.BenchmarkCloses(ctx, "AAA", d, d+40)
	if err != nil || b.Symbol != "AAA" || len(b.Days) != 3 || b.Closes[0] != 10.25 || b.Closes[1] != 10.5 || b.Days[2] != d+30 || b.Closes[2] != 11 {
		t.Errorf("benchmark %+v %v", b, err)
	}
	if b, err := m.BenchmarkCloses(ctx, "NONE", d, d+40); err != nil || len(b.Days) != 0 {
		t.Errorf("benchmark without closes %+v %v", b, err)
	}
}

func testScheduledRuns(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	const daily, weekly = "daily", "weekly"
	day := calendar.MustNew(2026, time.March, 2)
	for _, p := range []struct {
		id       string
		user     string
		archived bool
	}{{"p1", UserA, false}, {"p2", UserA, false}, {"p3", UserB, true}, {"p4", UserB, false}} {
		s.PutPortfolio(t, readmodel.PortfolioRef{ID: p.id, UserID: p.user, Version: 1}, p.archived)
	}
	pending := func(mode string, d calendar.Date, after string, limit int) []string {
		t.Helper()
		refs, err := m.PendingPortfolios(ctx, mode, d, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, r := range refs {
			if r.Version < 1 || r.UserID == "" {
				t.Fatalf("ref %+v", r)
			}
			ids = append(ids, r.ID)
		}
		return ids
	}
	// Keyset pages over the portfolios not archived.
	if got := pending(daily, day, "", 2); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("first page %v", got)
	}
	if got := pending(daily, day, "p2", 2); !slices.Equal(got, []string{"p4"}) {
		t.Fatalf("second page %v", got)
	}
	if err := m.MarkDone(ctx, daily, day, []readmodel.PortfolioRef{{ID: "p1", UserID: UserA, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkDone(ctx, daily, day, nil); err != nil {
		t.Fatal(err)
	}
	if got := pending(daily, day, "", 10); !slices.Equal(got, []string{"p2", "p4"}) {
		t.Fatalf("after p1 is done: %v", got)
	}
	// Done is per mode and day, and at a version: a newer version is pending again.
	if got := pending(weekly, day, "", 10); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Fatalf("weekly: %v", got)
	}
	if got := pending(daily, day+1, "", 10); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Fatalf("next day: %v", got)
	}
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "p1", UserID: UserA, Version: 2}, false)
	if got := pending(daily, day, "", 10); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Fatalf("after p1 moved on: %v", got)
	}
	// Failures count their attempts, stay pending, and clear once done.
	long := strings.Repeat("é", 1500) // 3000 bytes
	fail := []readmodel.AnalyticsFailure{{PortfolioID: "p2", Reason: "boom"}, {PortfolioID: "p4", Reason: long}}
	if err := m.MarkFailed(ctx, daily, day, fail); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkFailed(ctx, daily, day+1, fail[:1]); err != nil {
		t.Fatal(err)
	}
	if err := m.MarkFailed(ctx, daily, day, nil); err != nil {
		t.Fatal(err)
	}
	fs, err := m.Failures(ctx, daily)
	if err != nil || len(fs) != 2 {
		t.Fatalf("failures %+v %v", fs, err)
	}
	if f := fs[0]; f.PortfolioID != "p2" || f.Day != day+1 || f.Reason != "boom" || f.Attempts != 2 {
		t.Fatalf("p2's failure %+v", f)
	}
	if f := fs[1]; f.PortfolioID != "p4" || f.Day != day || f.Attempts != 1 || len(f.Reason) > 2000 || !strings.HasPrefix(long, f.Reason) || len(f.Reason) < 1998 {
		t.Fatalf("p4's failure: %d bytes, %d attempts", len(f.Reason), f.Attempts)
	}
	if fs, _ := m.Failures(ctx, weekly); len(fs) != 0 {
		t.Fatalf("weekly failures %+v", fs)
	}
	if got := pending(daily, day, "", 10); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Fatalf("failed portfolios are retried: %v", got)
	}
	if err := m.MarkDone(ctx, daily, day, []readmodel.PortfolioRef{{ID: "p2", UserID: UserA, Version: 1}, {ID: "p4", UserID: UserB, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if fs, _ := m.Failures(ctx, daily); len(fs) != 0 {
		t.Fatalf("failures after done %+v", fs)
	}
	if got := pending(daily, day, "", 10); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("pending at the end: %v", got)
	}
}

func testMetricsValuations(t *testing.T, s MetricsSubject) {
	ctx := t.Context()
	v := readmodel.Valuation{PortfolioID: "p1", UserID: UserA, AsOf: t0, MarketValue: dec("10"), CostBasis: dec("8"), UnrealizedPnL: dec("2")}
	if n, err := s.Store.InsertValuations(ctx, []readmodel.Valuation{v}); err != nil || n != 1 {
		t.Fatalf("insert: %d %v", n, err)
	}
	if n, _ := s.Store.InsertValuations(ctx, []readmodel.Valuation{v}); n != 0 {
		t.Fatalf("insert again: %d", n)
	}
	if h, err := s.Valuations.ValuationHistory(ctx, UserA, "p1", t0, t0.Add(time.Second), 10); err != nil || len(h) != 1 || h[0].MarketValue.String() != "10" {
		t.Fatalf("history %+v %v", h, err)
	}
}

// testMetricsRace: results of several versions saved at once; the newest stays,
// whatever the order they land in.
func testMetricsRace(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	s.PutPortfolio(t, readmodel.PortfolioRef{ID: "m1", UserID: UserA, Version: racers}, false)
	day := seriesStart + 4
	race(racers, func(i int) {
		if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{metricsResult("m1", UserA, int64(i+1), day, oddSeries())}); err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	})
	v, err := m.LatestMetrics(ctx, UserA, "m1")
	if err != nil || v.Version != racers || !v.MarketValue.Equal(decimal.NewFromInt(racers*100)) {
		t.Fatalf("latest %+v %v; want version %d", v, err, racers)
	}
	if sv, _ := m.Series(ctx, UserA, "m1"); sv.Version != racers {
		t.Fatalf("series version %d", sv.Version)
	}
	if r, _ := m.Rebalancing(ctx, UserA, "m1"); r.Version != racers {
		t.Fatalf("plan version %d", r.Version)
	}
}

// testFailuresRace: failures recorded at once all count.
func testFailuresRace(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	day := calendar.MustNew(2026, time.March, 2)
	var errs atomic.Int32
	race(racers, func(i int) {
		if err := m.MarkFailed(ctx, "daily", day, []readmodel.AnalyticsFailure{{PortfolioID: "p1", Reason: fmt.Sprint(i)}}); err != nil {
			errs.Add(1)
			t.Errorf("fail %d: %v", i, err)
		}
	})
	fs, err := m.Failures(ctx, "daily")
	if err != nil || len(fs) != 1 || fs[0].Attempts != racers {
		t.Fatalf("failures %+v %v; want %d attempts", fs, err, racers)
	}
}

// testLoadRates: the rates of the currencies asked for come from their USD
// pairs' closes over the range and the last before it, a pair not asked for
// and the latest quotes are not read (the analytics value a day with its
// closes), a currency without a pair has no rate (never 1); the symbols'
// trading currencies are their latest quotes'.
func testLoadRates(t *testing.T, s MetricsSubject) {
	ctx, m := t.Context(), s.Store
	d := calendar.MustNew(2025, time.March, 3)
	rows := []readmodel.DailyClose{
		{Symbol: "EURUSD=X", Day: d - 10, Close: dec("1.05"), AsOf: t0, Source: "t"},
		{Symbol: "EURUSD=X", Day: d - 3, Close: dec("1.08"), AsOf: t0, Source: "t"},
		{Symbol: "EURUSD=X", Day: d + 1, Close: dec("1.1"), AsOf: t0, Source: "t"},
		{Symbol: "EURUSD=X", Day: d + 9, Close: dec("1.2"), AsOf: t0, Source: "t"},
		{Symbol: "GBPUSD=X", Day: d, Close: dec("1.25"), AsOf: t0, Source: "t"},
		{Symbol: "JPYUSD=X", Day: d, Close: dec("0.0067"), AsOf: t0, Source: "t"},
	}
	if _, err := s.Closes.UpsertDailyCloses(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Closes.UpsertLatestPrices(ctx, []readmodel.LatestPrice{
		{Symbol: "EURUSD=X", Price: dec("1.3"), Currency: "USD", AsOf: t0, Source: "t"},
		{Symbol: "VUSA.L", Price: dec("7012"), Currency: "GBp", AsOf: t0, Source: "t"},
		{Symbol: "SPY", Price: dec("500"), Currency: "USD", AsOf: t0, Source: "t"},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := m.LoadRates(ctx, []string{"EUR", "GBp", "USD", "CHF"}, d, d+7)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from, to string
		day      calendar.Date
		want     string // "" for none
	}{
		{"EUR", "USD", d, "1.08"}, // the last before the range
		{"EUR", "USD", d + 1, "1.1"},
		{"EUR", "USD", d + 20, "1.1"},         // neither the close after the range nor the live quote
		{"GBp", "EUR", d, "0.01157407407408"}, // (1.25 × round12(1/1.08)) / 100,
		{"JPY", "USD", d, ""},                 // not asked for
		{"CHF", "USD", d, ""},                 // no pair
	} {
		got, ok := r.On(c.from, c.to, c.day)
		if (c.want == "") != !ok || (ok && !got.Value.Equal(dec(c.want))) {
			t.Errorf("%s→%s on %s: %s %v, want %q", c.from, c.to, c.day, got.Value, ok, c.want)
		}
	}
	if r, err := m.LoadRates(ctx, []string{"USD"}, d, d+7); err != nil || r.Len() != 0 {
		t.Errorf("USD alone needs no rate: %d %v", r.Len(), err)
	}
	cur, err := m.SymbolCurrencies(ctx, []string{"VUSA.L", "SPY", "NONE"})
	if err != nil || len(cur) != 2 || cur["VUSA.L"] != "GBp" || cur["SPY"] != "USD" {
		t.Errorf("symbol currencies %v %v", cur, err)
	}
	if cur, err := m.SymbolCurrencies(ctx, nil); err != nil || len(cur) != 0 {
		t.Errorf("no symbols: %v %v", cur, err)
	}
}
