package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// The stored series: 400 days from 2024-01-01, starting at 1000 and growing
// 0.1% a day, no flows, so any range's TWR is 1.001^days − 1.
var seriesFrom = calendar.MustNew(2024, time.January, 1)

const seriesDays = 400

func growthSeries(days int) *performance.Series {
	s := &performance.Series{Start: 1000, CashAccount: true}
	v := 1000.0
	for i := range days {
		v *= 1.001
		s.Days = append(s.Days, seriesFrom+calendar.Date(i))
		s.Value = append(s.Value, v)
		s.Inflow, s.Outflow = append(s.Inflow, 0), append(s.Outflow, 0)
	}
	return s
}

func newAnalyticsAPI(t *testing.T) (*api, string) {
	return newAnalyticsAPIWith(t, growthSeries(seriesDays))
}

// newAnalyticsAPIWith serves the analytics routes over the in-memory stores:
// user A's portfolios pf-1 and pf-2 (not computed yet), projected from the
// events that create them, pf-1's figures over the value series s, and SPY's
// closes over its days.
func newAnalyticsAPIWith(t *testing.T, s *performance.Series) (*api, string) {
	t.Helper()
	reads, closes := memquery.New(), memstore.NewPrices()
	for _, id := range []string{"pf-1", "pf-2"} {
		if err := reads.Apply(t.Context(), rmtest.NewHistory(t, id, alertUserA, portfolio.FIFO).Events); err != nil {
			t.Fatal(err)
		}
	}
	m := memstore.NewMetrics(reads, closes, memstore.NewValuations())
	seedAnalytics(t, closes, m, s)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return &api{t: t, handler: httplambda.Handler(httpapi.New(httpapi.Config{Analytics: m, Queries: reads, Logger: quiet}))}, "pf-1"
}

// newPostgresAnalyticsAPI is newAnalyticsAPIWith over PostgreSQL with a value
// series of days days, for the benchmarks (they measure the PostgreSQL paths).
func newPostgresAnalyticsAPI(t testing.TB, days int) (*api, string) {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{ApplicationName: "api-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// Two portfolios of user A (one not computed yet) as the projector writes them.
	for _, id := range []string{"pf-1", "pf-2"} {
		if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ($1, $2, 'p', 'USD', 'FIFO', now(), now(), 3)`, id, alertUserA); err != nil {
			t.Fatal(err)
		}
	}
	seedAnalytics(t, readmodel.NewPrices(pool), readmodel.NewMetrics(pool), growthSeries(days))
	// The API reads as the api function does: its own login, each statement as the caller.
	callerDB, _ := readmodeltest.API(t, dsn)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return &api{t: t, handler: httplambda.Handler(httpapi.New(httpapi.Config{Analytics: readmodel.NewMetrics(callerDB), Queries: readmodel.NewQueries(callerDB), Logger: quiet}))}, "pf-1"
}

// seedAnalytics stores SPY's closes over the days of s and pf-1's figures over
// s, as the analytics job saves them (version 3).
func seedAnalytics(t testing.TB, closes interface {
	UpsertDailyCloses(ctx context.Context, closes []readmodel.DailyClose) (int64, error)
}, m interface {
	SaveResults(ctx context.Context, results []readmodel.AnalyticsResult) error
}, s *performance.Series) {
	t.Helper()
	ctx := context.Background()
	// SPY closes on weekdays, up 0.05% a day.
	var rows []readmodel.DailyClose
	px := 400.0
	for d := seriesFrom - 10; d < seriesFrom+calendar.Date(len(s.Days)); d++ {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		px *= 1.0005
		rows = append(rows, readmodel.DailyClose{Symbol: "SPY", Day: d, Close: decimal.NewFromFloat(px).Round(4), AsOf: d.Time(), Source: "test"})
	}
	if _, err := closes.UpsertDailyCloses(ctx, rows); err != nil {
		t.Fatal(err)
	}
	hold := []analytics.Holding{{Symbol: "AAA", Value: 700}, {Symbol: "BBB", Value: 300}}
	rep := analytics.Compute(s, analytics.Options{RiskFreeRate: 0.02, Holdings: hold})
	plan := json.RawMessage(`{"trades":[{"symbol":"AAA","side":"SELL","quantity":"1"}],"allInBand":true}`)
	res := readmodel.AnalyticsResult{Portfolio: readmodel.PortfolioRef{ID: "pf-1", UserID: alertUserA, Version: 3}, AsOf: s.Days[len(s.Days)-1],
		Benchmark: "SPY", MarketValue: decimal.RequireFromString("1491.55"), Report: rep, Series: s, Rebalancing: plan, ComputedAt: time.Now()}
	if err := m.SaveResults(ctx, []readmodel.AnalyticsResult{res}); err != nil {
		t.Fatal(err)
	}
}

func metricValue(t *testing.T, v any, path ...string) float64 {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v at %s is not an object", v, p)
		}
		v = m[p]
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v at %v is not a number", v, path)
	}
	return f
}

func TestPerformanceRoute(t *testing.T) {
	t.Parallel()
	a, id := newAnalyticsAPI(t)
	stored := a.do(alertUserA, "GET", "/portfolios/"+id+"/performance", "").expect(t, 200, "stored")
	if stored.body["source"] != "stored" || stored.body["asOf"] != "2025-02-03" || stored.body["from"] != "2024-01-01" {
		t.Fatalf("stored %s", stored.raw)
	}
	if got, want := metricValue(t, stored.body, "twr", "period", "value"), math.Pow(1.001, seriesDays)-1; math.Abs(got-want) > 1e-12 {
		t.Errorf("stored TWR %v, want %v", got, want)
	}

	// A custom range: 2024-03-01..2024-03-31 is 31 days of 0.1%.
	r := a.do(alertUserA, "GET", "/portfolios/"+id+"/performance?from=2024-03-01&to=2024-03-31", "").expect(t, 200, "range")
	if r.body["source"] != "computed" || r.body["from"] != "2024-03-01" || r.body["to"] != "2024-03-31" || r.body["calendarDays"] != 31.0 {
		t.Fatalf("range %s", r.raw)
	}
	if got, want := metricValue(t, r.body, "twr", "period", "value"), math.Pow(1.001, 31)-1; math.Abs(got-want) > 1e-12 {
		t.Errorf("range TWR %v, want %v", got, want)
	}
	// Shorter than a year: not annualised, with the reason.
	if tw := r.body["twr"].(map[string]any)["annualized"].(map[string]any); tw["value"] != nil || tw["reason"] == "" {
		t.Errorf("annualized %v", tw)
	}
	// The benchmark is compared over the range: SPY rose 0.05% per trading day.
	bm := r.body["benchmark"].(map[string]any)
	if bm["symbol"] != "SPY" || bm["observations"].(float64) < 20 {
		t.Fatalf("benchmark %v", bm)
	}
	if got, want := metricValue(t, bm, "return", "value"), math.Pow(1.0005, bm["observations"].(float64))-1; math.Abs(got-want) > 1e-6 {
		t.Errorf("benchmark return %v, want %v", got, want)
	}
	// Another benchmark without closes: computed, no beta, a warning.
	o := a.do(alertUserA, "GET", "/portfolios/"+id+"/performance?benchmark=QQQ", "").expect(t, 200, "other benchmark")
	if o.body["source"] != "computed" || o.body["benchmark"].(map[string]any)["beta"].(map[string]any)["value"] != nil || len(o.body["warnings"].([]any)) == 0 {
		t.Errorf("QQQ %s", o.raw)
	}

	for _, q := range []string{"?from=2024-13-01", "?to=yesterday", "?from=2024-03-02&to=2024-03-01", "?benchmark=S%20P", "?benchmark=%3Cscript%3E", "?to=2023-01-01"} {
		res := a.do(alertUserA, "GET", "/portfolios/"+id+"/performance"+q, "")
		if res.status != 400 || res.errorCode() != "bad_request" {
			t.Errorf("%s: %d %s", q, res.status, res.raw)
		}
	}
	if res := a.do(alertUserB, "GET", "/portfolios/"+id+"/performance", ""); res.status != 404 || res.errorCode() != "not_found" {
		t.Errorf("B: %d %s", res.status, res.raw)
	}
	if res := a.do(alertUserA, "GET", "/portfolios/pf-2/performance", ""); res.status != 404 || res.errorCode() != "not_computed" {
		t.Errorf("not computed: %d %s", res.status, res.raw)
	}
}

func TestRiskRebalancingAndHistoryRoutes(t *testing.T) {
	t.Parallel()
	a, id := newAnalyticsAPI(t)
	risk := a.do(alertUserA, "GET", "/portfolios/"+id+"/risk", "").expect(t, 200, "risk")
	if got := metricValue(t, risk.body, "diversification", "hhi", "value"); math.Abs(got-(0.49+0.09)) > 1e-12 {
		t.Errorf("HHI %v", got)
	}
	if risk.body["marketValue"] != "1491.55" || risk.headers["Etag"]+risk.headers["ETag"] != `"3"` {
		t.Errorf("risk %s %v", risk.raw, risk.headers)
	}
	reb := a.do(alertUserA, "GET", "/portfolios/"+id+"/rebalancing", "").expect(t, 200, "rebalancing")
	if trades := reb.body["plan"].(map[string]any)["trades"].([]any); len(trades) != 1 {
		t.Errorf("plan %s", reb.raw)
	}
	if res := a.do(alertUserA, "GET", "/portfolios/pf-2/rebalancing", ""); res.status != 404 || res.errorCode() != "not_computed" {
		t.Errorf("no plan: %d %s", res.status, res.raw)
	}

	h := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?points=50", "").expect(t, 200, "history")
	series := h.body["series"].([]any)
	if len(series) != 50 || h.body["points"] != 50.0 || h.body["days"] != float64(seriesDays) || h.body["method"] != "lttb" {
		t.Fatalf("history %v points, %s", len(series), h.raw[:200])
	}
	first, last := series[0].(map[string]any), series[49].(map[string]any)
	if first["date"] != "2024-01-01" || last["date"] != "2025-02-03" || first["value"] != "1001" {
		t.Errorf("first %v last %v", first, last)
	}
	all := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?from=2024-02-01&to=2024-02-10", "").expect(t, 200, "short range")
	if s := all.body["series"].([]any); len(s) != 10 || all.body["method"] != "all" || s[0].(map[string]any)["date"] != "2024-02-01" {
		t.Errorf("short range %s", all.raw)
	}
	none := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?from=2030-01-01", "").expect(t, 200, "empty range")
	if s := none.body["series"].([]any); len(s) != 0 {
		t.Errorf("empty range %s", none.raw)
	}
	for _, q := range []string{"?points=2", "?points=x", "?points=5001", "?from=2024-02-30"} {
		if res := a.do(alertUserA, "GET", "/portfolios/"+id+"/history"+q, ""); res.status != 400 {
			t.Errorf("%s: %d %s", q, res.status, res.raw)
		}
	}
}

// TestHistoryValuesAreExactDecimalStrings: the stored series is float64, and a
// value of 123.45 + 59857.7 is stored as 59981.149999999994; the API answers
// the amount as the decimal string "59981.15", as it answers every amount.
func TestHistoryValuesAreExactDecimalStrings(t *testing.T) {
	t.Parallel()
	small, large := 123.45, 59857.7 // variables: Go's constant arithmetic would be exact
	s := &performance.Series{Start: 0, CashAccount: true}
	for i, v := range []float64{small + large, 0.1 + 0.2, 1e-7, 0, 1234567890.12 + 0.01, 1.5e12 + 0.25, -small} {
		s.Days = append(s.Days, seriesFrom+calendar.Date(i))
		s.Value = append(s.Value, v)
		s.Inflow, s.Outflow = append(s.Inflow, 0), append(s.Outflow, 0)
	}
	if s.Value[0] != 59981.149999999994 {
		t.Fatalf("the float sum is %v: the test no longer shows float noise", s.Value[0])
	}
	a, id := newAnalyticsAPIWith(t, s)
	h := a.do(alertUserA, "GET", "/portfolios/"+id+"/history", "").expect(t, 200, "history")
	var got []string
	for _, p := range h.body["series"].([]any) {
		v, ok := p.(map[string]any)["value"].(string)
		if !ok {
			t.Fatalf("a value is not a decimal string: %s", h.raw)
		}
		got = append(got, v)
	}
	if want := []string{"59981.15", "0.3", "0.0000001", "0", "1234567890.13", "1500000000000", "-123.45"}; !slices.Equal(got, want) {
		t.Fatalf("series values %q, want %q", got, want)
	}
}

func TestAnalyticsRoutesWithoutStore(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := &api{t: t, handler: httplambda.Handler(httpapi.New(httpapi.Config{Logger: quiet}))}
	for _, p := range []string{"performance", "risk", "rebalancing", "history"} {
		if res := a.do(alertUserA, "GET", "/portfolios/x/"+p, ""); res.status != 503 || res.errorCode() != "unavailable" {
			t.Errorf("%s: %d %s", p, res.status, res.raw)
		}
	}
}

// BenchmarkPerformanceCustomRange: GET /performance for a 10-year range of a
// 20-year stored series against SPY, through the Lambda adapter and real
// Postgres: one series row, ~2,600 benchmark closes, analytics.Compute.
// Target ≤ 20 ms.
func BenchmarkPerformanceCustomRange(b *testing.B) {
	a, id := newPostgresAnalyticsAPI(b, 7305)
	path := "/portfolios/" + id + "/performance?from=2030-01-01&to=2039-12-31&benchmark=SPY"
	if r := a.do(alertUserA, "GET", path, ""); r.status != 200 || r.body["source"] != "computed" || r.body["benchmark"].(map[string]any)["observations"].(float64) < 2000 {
		b.Fatalf("%d %.300s", r.status, r.raw)
	}
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if r := a.do(alertUserA, "GET", path, ""); r.status != 200 {
			b.Fatal(r.raw)
		}
	}
	b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "api-cpu-ns/op")
}

// processCPU is this process's CPU time: the API's share of a request, without
// Postgres's (ns/op is wall time, Postgres and a shared machine included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHistory: GET /history of the 20-year series, 500 points (LTTB).
func BenchmarkHistory(b *testing.B) {
	a, id := newPostgresAnalyticsAPI(b, 7305)
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if r := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?points=500", ""); r.status != 200 || r.body["points"] != 500.0 {
			b.Fatal(r.raw)
		}
	}
	b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N), "api-cpu-ns/op")
}

func TestLTTBKeepsExtremesAndEnds(t *testing.T) {
	ys := make([]float64, 1000)
	for i := range ys {
		ys[i] = float64(i % 7)
	}
	ys[503], ys[777] = 500, -300
	idx := httpapi.LTTB(ys, 40)
	if len(idx) != 40 || idx[0] != 0 || idx[39] != 999 {
		t.Fatalf("indexes %v", idx)
	}
	has := func(k int) bool {
		for _, i := range idx {
			if i == k {
				return true
			}
		}
		return false
	}
	if !has(503) || !has(777) {
		t.Errorf("the spike and the crash were dropped: %v", idx)
	}
	for i := 1; i < len(idx); i++ {
		if idx[i] <= idx[i-1] {
			t.Fatalf("not increasing: %v", idx)
		}
	}
	if got := httpapi.LTTB(ys[:10], 40); len(got) != 10 {
		t.Errorf("short input: %v", got)
	}
}

// TestHistoryReturnsAndBenchmark: each point carries the time-weighted return
// from the range's first day (a deposit does not move it, though it doubles
// the value), and with ?benchmark= the benchmark's return over the same days
// (its close in force, carried over the weekend).
func TestHistoryReturnsAndBenchmark(t *testing.T) {
	t.Parallel()
	s := &performance.Series{Start: 1000, CashAccount: true}
	v := 1000.0
	for i := range 10 {
		in := 0.0
		if i == 5 {
			in = v // a deposit doubles what is invested
		}
		v = (v + in) * 1.01
		s.Days = append(s.Days, seriesFrom+calendar.Date(i))
		s.Value = append(s.Value, v)
		s.Inflow, s.Outflow = append(s.Inflow, in), append(s.Outflow, 0)
	}
	a, id := newAnalyticsAPIWith(t, s)
	h := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?benchmark=SPY", "").expect(t, 200, "history")
	var body httpapi.HistoryResponse
	if err := json.Unmarshal([]byte(h.raw), &body); err != nil {
		t.Fatal(err)
	}
	if body.Benchmark != "SPY" || len(body.Series) != 10 {
		t.Fatalf("history %s", h.raw)
	}
	// 2024-01-01 is a Monday: Saturday 6 and Sunday 7 take Friday 5's close,
	// four weekdays up 0.05% each.
	spy := []float64{0, 1, 2, 3, 4, 4, 4, 5, 6, 7}
	for k, p := range body.Series {
		if want := math.Pow(1.01, float64(k)) - 1; math.Abs(p.Return-want) > 1e-12 {
			t.Errorf("%s: return %v, want %v", p.Date, p.Return, want)
		}
		if want := math.Pow(1.0005, spy[k]) - 1; p.BenchmarkReturn == nil || math.Abs(*p.BenchmarkReturn-want) > 1e-5 {
			t.Errorf("%s: benchmark return %v, want %v", p.Date, p.BenchmarkReturn, want)
		}
	}
	none := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?benchmark=NOPE", "").expect(t, 200, "unknown benchmark")
	var unknown httpapi.HistoryResponse
	if err := json.Unmarshal([]byte(none.raw), &unknown); err != nil || unknown.Series[0].BenchmarkReturn != nil || unknown.Benchmark != "NOPE" {
		t.Errorf("a benchmark without closes: %s", none.raw)
	}
	if res := a.do(alertUserA, "GET", "/portfolios/"+id+"/history?benchmark=bad%20symbol", ""); res.status != 400 {
		t.Errorf("a bad benchmark: %d %s", res.status, res.raw)
	}
}
