package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
	"github.com/shopspring/decimal"
)

// Analytics is the store of the figures the analytics function computes;
// *readmodel.Metrics implements it. Every method filters by the caller.
type Analytics interface {
	LatestMetrics(ctx context.Context, userID, portfolioID string) (readmodel.MetricsView, error)
	Series(ctx context.Context, userID, portfolioID string) (readmodel.SeriesView, error)
	Rebalancing(ctx context.Context, userID, portfolioID string) (readmodel.RebalancingView, error)
	BenchmarkCloses(ctx context.Context, symbol string, from, to calendar.Date) (analytics.Benchmark, error)
	// LoadCloses reads the daily closes of the positions' symbols (their
	// previous close, for the day's change).
	ClosesReader
}

var _ Analytics = (*readmodel.Metrics)(nil)

// History downsampling bounds.
const (
	defaultHistoryPoints = 500
	maxHistoryPoints     = 5000
)

func (s *Server) analyticsStore() (Analytics, error) {
	if s.analytics == nil {
		return nil, newError(http.StatusServiceUnavailable, CodeUnavailable, "analytics are not available", nil)
	}
	return s.analytics, nil
}

// notComputed turns readmodel.ErrNotComputed into a 404 the client can tell from
// an unknown portfolio.
func notComputed(err error) error {
	if errors.Is(err, readmodel.ErrNotComputed) {
		return newError(http.StatusNotFound, CodeNotComputed, "the portfolio's analytics have not been computed yet; they follow its first transaction within seconds", nil)
	}
	return err
}

// dateRange reads ?from and ?to (YYYY-MM-DD, both optional, from ≤ to).
func dateRange(r *http.Request) (from, to *calendar.Date, err error) {
	q := r.URL.Query()
	for name, dst := range map[string]**calendar.Date{"from": &from, "to": &to} {
		if v := q.Get(name); v != "" {
			d, perr := calendar.Parse(v)
			if perr != nil {
				return nil, nil, newError(http.StatusBadRequest, CodeBadRequest, "query parameter "+name+" must be a date YYYY-MM-DD", map[string]string{"parameter": name})
			}
			*dst = &d
		}
	}
	if from != nil && to != nil && *to < *from {
		return nil, nil, newError(http.StatusBadRequest, CodeBadRequest, "query parameter to must not be before from", map[string]string{"parameter": "to"})
	}
	return from, to, nil
}

// validSymbol accepts tickers as exchanges and providers write them (BRK.B,
// ^GSPC, EURUSD=X, XETR:SAP): 1–32 of letters, digits and . - ^ = : _
func validSymbol(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == '^', c == '=', c == ':', c == '_':
		default:
			return false
		}
	}
	return true
}

// PerformanceResponse is GET /portfolios/{id}/performance: the performance part
// of analytics.Report over [from, to] (see shared/domain/analytics for every formula).
type PerformanceResponse struct {
	PortfolioID string `json:"portfolioId"`
	// AsOf is the last day the stored figures cover; Version the aggregate
	// version they reflect.
	AsOf       calendar.Date `json:"asOf"`
	Version    int64         `json:"version"`
	ComputedAt time.Time     `json:"computedAt"`
	// Source is "stored" (the figures the analytics function stored, for the whole
	// history and the default benchmark) or "computed" (for this request's range or
	// benchmark, from the stored value series).
	Source            string                   `json:"source"`
	From              *calendar.Date           `json:"from"`
	To                *calendar.Date           `json:"to"`
	CalendarDays      int                      `json:"calendarDays"`
	TradingDays       int                      `json:"tradingDays"`
	RiskFreeRate      float64                  `json:"riskFreeRate"`
	TotalReturn       analytics.Metric         `json:"totalReturn"`
	TWR               analytics.Return         `json:"twr"`
	MWR               analytics.Return         `json:"mwr"`
	MeanReturn        analytics.Scaled         `json:"meanReturn"`
	Volatility        analytics.Volatility     `json:"volatility"`
	DownsideDeviation analytics.Volatility     `json:"downsideDeviation"`
	Sharpe            analytics.Metric         `json:"sharpe"`
	Sortino           analytics.Metric         `json:"sortino"`
	MaxDrawdown       analytics.Drawdown       `json:"maxDrawdown"`
	Benchmark         analytics.BenchmarkStats `json:"benchmark"`
	Warnings          []string                 `json:"warnings"`
}

// performance serves the stored report when the request asks for what it holds
// (no range, the stored benchmark) and otherwise computes the range on request
// from the stored daily value series: one indexed row, the benchmark's closes over
// the range, and analytics.Compute, about a millisecond for 20 years. Any range is
// then exact and costs nothing to precompute; rebuilding the series from the
// transactions and every holding's closes would cost tens of milliseconds and
// more for long histories, which is why the analytics function stores it.
func (s *Server) performance(w http.ResponseWriter, r *http.Request) error {
	store, err := s.analyticsStore()
	if err != nil {
		return err
	}
	from, to, err := dateRange(r)
	if err != nil {
		return err
	}
	bench := r.URL.Query().Get("benchmark")
	if bench != "" && !validSymbol(bench) {
		return newError(http.StatusBadRequest, CodeBadRequest, "query parameter benchmark must be a ticker symbol of 1 to 32 letters, digits and . - ^ = : _", map[string]string{"parameter": "benchmark"})
	}
	ctx, user, id := r.Context(), userFrom(r.Context()), r.PathValue("id")
	m, err := store.LatestMetrics(ctx, user, id)
	if err != nil {
		return notComputed(err)
	}
	resp := PerformanceResponse{PortfolioID: id, AsOf: m.AsOf, Version: m.Version, ComputedAt: m.ComputedAt, Source: "stored"}
	rep := m.Report
	if from != nil || to != nil || (bench != "" && bench != m.Benchmark) {
		if bench == "" {
			bench = m.Benchmark
		}
		sv, err := store.Series(ctx, user, id)
		if err != nil {
			return notComputed(err)
		}
		days := sv.Series.Days
		rg := &analytics.DateRange{From: days[0], To: days[len(days)-1]}
		if from != nil {
			rg.From = *from
		}
		if to != nil {
			rg.To = *to
		}
		if rg.To < rg.From {
			return newError(http.StatusBadRequest, CodeBadRequest, "the range ends before the portfolio's history starts", map[string]string{"parameter": "to"})
		}
		opts := analytics.Options{Range: rg, RiskFreeRate: m.Report.RiskFreeRate, CorrelationTop: -1}
		bFrom, bTo := max(rg.From, days[0])-10, min(rg.To, days[len(days)-1])
		if bFrom <= bTo {
			b, err := store.BenchmarkCloses(ctx, bench, bFrom, bTo)
			if err != nil {
				return err
			}
			opts.Benchmark = &b
		}
		rep = analytics.Compute(sv.Series, opts)
		if len(opts.Benchmark.Days) == 0 {
			rep.Warnings = append(rep.Warnings, "no closes of the benchmark "+bench+" in the range")
		}
		resp.Version, resp.ComputedAt, resp.Source = sv.Version, sv.ComputedAt, "computed"
		resp.AsOf = days[len(days)-1]
	}
	resp.From, resp.To, resp.CalendarDays, resp.TradingDays, resp.RiskFreeRate = rep.From, rep.To, rep.CalendarDays, rep.TradingDays, rep.RiskFreeRate
	resp.TotalReturn, resp.TWR, resp.MWR, resp.MeanReturn = rep.TotalReturn, rep.TWR, rep.MWR, rep.MeanReturn
	resp.Volatility, resp.DownsideDeviation, resp.Sharpe, resp.Sortino = rep.Volatility, rep.DownsideDeviation, rep.Sharpe, rep.Sortino
	resp.MaxDrawdown, resp.Benchmark, resp.Warnings = rep.MaxDrawdown, rep.Benchmark, rep.Warnings
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	setVersion(w, resp.Version)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// RiskResponse is GET /portfolios/{id}/risk: the risk part of the stored report
// over the whole history up to AsOf.
type RiskResponse struct {
	PortfolioID       string                    `json:"portfolioId"`
	AsOf              calendar.Date             `json:"asOf"`
	Version           int64                     `json:"version"`
	ComputedAt        time.Time                 `json:"computedAt"`
	MarketValue       string                    `json:"marketValue"`
	Volatility        analytics.Volatility      `json:"volatility"`
	DownsideDeviation analytics.Volatility      `json:"downsideDeviation"`
	MaxDrawdown       analytics.Drawdown        `json:"maxDrawdown"`
	ValueAtRisk       analytics.ValueAtRisk     `json:"valueAtRisk"`
	Benchmark         analytics.BenchmarkStats  `json:"benchmark"`
	Diversification   analytics.Diversification `json:"diversification"`
	Correlation       analytics.Correlation     `json:"correlation"`
	Warnings          []string                  `json:"warnings"`
}

func (s *Server) risk(w http.ResponseWriter, r *http.Request) error {
	store, err := s.analyticsStore()
	if err != nil {
		return err
	}
	m, err := store.LatestMetrics(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return notComputed(err)
	}
	rep := m.Report
	resp := RiskResponse{PortfolioID: m.PortfolioID, AsOf: m.AsOf, Version: m.Version, ComputedAt: m.ComputedAt,
		MarketValue: m.MarketValue.String(), Volatility: rep.Volatility, DownsideDeviation: rep.DownsideDeviation,
		MaxDrawdown: rep.MaxDrawdown, ValueAtRisk: rep.ValueAtRisk, Benchmark: rep.Benchmark,
		Diversification: rep.Diversification, Correlation: rep.Correlation, Warnings: rep.Warnings}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	setVersion(w, m.Version)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// RebalancingResponse is GET /portfolios/{id}/rebalancing: the latest plan
// (shared/domain/analytics/rebalance.Plan, decimals as strings), or {"error": ...} when
// the targets cannot be planned (a target without a price).
type RebalancingResponse struct {
	PortfolioID string          `json:"portfolioId"`
	AsOf        calendar.Date   `json:"asOf"`
	Version     int64           `json:"version"`
	ComputedAt  time.Time       `json:"computedAt"`
	Plan        json.RawMessage `json:"plan"`
}

func (s *Server) rebalancing(w http.ResponseWriter, r *http.Request) error {
	store, err := s.analyticsStore()
	if err != nil {
		return err
	}
	v, err := store.Rebalancing(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if errors.Is(err, readmodel.ErrNotComputed) {
		return newError(http.StatusNotFound, CodeNotComputed, "no rebalancing recommendation: set target weights (PUT /portfolios/{id}/targets) first", nil)
	}
	if err != nil {
		return err
	}
	setVersion(w, v.Version)
	writeJSON(w, http.StatusOK, RebalancingResponse{PortfolioID: v.PortfolioID, AsOf: v.AsOf, Version: v.Version, ComputedAt: v.ComputedAt, Plan: v.Plan})
	return nil
}

// HistoryPoint is one point of a chart: the end-of-day value, a decimal string
// like every amount of money the API answers (see seriesAmount).
type HistoryPoint struct {
	Date  calendar.Date `json:"date"`
	Value string        `json:"value"`
	// Return is the time-weighted return from the range's first day to this
	// one (0.1 is +10%; deposits and withdrawals do not move it), which the
	// chart compares with BenchmarkReturn, the benchmark's close in force that
	// day over its close in force on the first point that has one, less 1
	// (with ?benchmark=; absent where no close of the 10 days before is).
	Return          float64  `json:"return"`
	BenchmarkReturn *float64 `json:"benchmarkReturn,omitempty"`
}

// seriesDigits is how many significant digits of a stored series value are
// answered. The analytics function builds the series in float64 (an analytic
// series: package performance), whose relative error is about 1e-15, so a value
// such as 123.45 + 59857.7 is stored as 59981.149999999994. Twelve significant
// digits keep a value below ten billion to the cent and drop the float noise,
// which lies three or more digits further right.
const seriesDigits = 12

// seriesAmount is a stored series value as the decimal it approximates,
// rounded to seriesDigits significant digits, in plain decimal notation. It is
// formatted once, with no decimal in between: a chart has up to 5,000 points.
func seriesAmount(v float64) (string, error) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "", fmt.Errorf("series value %v is not a number", v)
	case v == 0:
		return "0", nil // also -0
	}
	s := strconv.FormatFloat(v, 'g', seriesDigits, 64)
	if !strings.ContainsRune(s, 'e') {
		return s, nil
	}
	// Below 1e-4 or from 1e12 on, %g writes an exponent: spell it out.
	d, err := decimal.NewFromString(s)
	if err != nil {
		return "", fmt.Errorf("series value %v: %w", v, err)
	}
	return d.String(), nil
}

// HistoryResponse is GET /portfolios/{id}/history.
type HistoryResponse struct {
	PortfolioID string        `json:"portfolioId"`
	Version     int64         `json:"version"`
	ComputedAt  time.Time     `json:"computedAt"`
	From        calendar.Date `json:"from"`
	To          calendar.Date `json:"to"`
	// Days is the number of daily values in the range, Points those returned.
	Days   int `json:"days"`
	Points int `json:"points"`
	// Method is "all" (no downsampling needed) or "lttb".
	Method string         `json:"method"`
	Series []HistoryPoint `json:"series"`
	// Benchmark is the symbol of the points' BenchmarkReturn (?benchmark=).
	Benchmark string `json:"benchmark,omitempty"`
}

// history serves the stored daily value series over [from, to], downsampled to
// at most ?points points (default 500) with Largest-Triangle-Three-Buckets:
// unlike min/max buckets it keeps one point per bucket, always the first and last
// day, and picks in each bucket the point that keeps the line's visual shape
// (the largest triangle with its neighbours), so peaks and crashes survive.
func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	store, err := s.analyticsStore()
	if err != nil {
		return err
	}
	from, to, err := dateRange(r)
	if err != nil {
		return err
	}
	points, err := queryInt(r, "points", defaultHistoryPoints, 3, maxHistoryPoints)
	if err != nil {
		return err
	}
	bench := r.URL.Query().Get("benchmark")
	if bench != "" && !validSymbol(bench) {
		return newError(http.StatusBadRequest, CodeBadRequest, "query parameter benchmark must be a ticker symbol of 1 to 32 letters, digits and . - ^ = : _", map[string]string{"parameter": "benchmark"})
	}
	sv, err := store.Series(r.Context(), userFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return notComputed(err)
	}
	days, values := sv.Series.Days, sv.Series.Value
	i0, i1 := 0, len(days)-1
	if from != nil && *from > days[0] {
		i0 = min(int(*from-days[0]), len(days))
	}
	if to != nil && *to < days[i1] {
		i1 = int(*to - days[0])
	}
	resp := HistoryResponse{PortfolioID: sv.PortfolioID, Version: sv.Version, ComputedAt: sv.ComputedAt, Method: "all", Series: []HistoryPoint{}}
	if i0 > i1 {
		resp.From, resp.To = days[0], days[len(days)-1]
		if from != nil {
			resp.From = *from
		}
		if to != nil {
			resp.To = *to
		}
	} else {
		resp.From, resp.To, resp.Days = days[i0], days[i1], i1-i0+1
		idx := LTTB(values[i0:i1+1], int(points))
		if len(idx) < resp.Days {
			resp.Method = "lttb"
		}
		growth := cumulativeTWR(sv.Series, i0, i1)
		resp.Series = make([]HistoryPoint, len(idx))
		for k, j := range idx {
			v, err := seriesAmount(values[i0+j])
			if err != nil {
				return fmt.Errorf("history of %s on %s: %w", sv.PortfolioID, days[i0+j], err)
			}
			resp.Series[k] = HistoryPoint{Date: days[i0+j], Value: v, Return: growth[j] - 1}
		}
		if bench != "" {
			b, err := store.BenchmarkCloses(r.Context(), bench, resp.From-closeLookback, resp.To)
			if err != nil {
				return err
			}
			resp.Benchmark = bench
			benchmarkReturns(resp.Series, b)
		}
	}
	resp.Points = len(resp.Series)
	setVersion(w, sv.Version)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// cumulativeTWR is the time-weighted growth factor from the end of day i0 to
// the end of each day i0..i1 of s: each day's (value + outflow) / (previous
// value + inflow), chained (a day with nothing invested does not move it).
func cumulativeTWR(s *performance.Series, i0, i1 int) []float64 {
	out := make([]float64, i1-i0+1)
	g := 1.0
	out[0] = g
	for i := i0 + 1; i <= i1; i++ {
		if den := s.Value[i-1] + s.Inflow[i]; den > 0 {
			g *= (s.Value[i] + s.Outflow[i]) / den
		}
		out[i-i0] = g
	}
	return out
}

// benchmarkReturns sets each point's BenchmarkReturn: the close of b in force
// that day (carried over up to closeLookback days without one) over the one in
// force on the first point that has one, less 1.
func benchmarkReturns(points []HistoryPoint, b analytics.Benchmark) {
	closeOn := func(day calendar.Date) (float64, bool) {
		i := sort.Search(len(b.Days), func(i int) bool { return b.Days[i] > day }) - 1
		if i < 0 || day-b.Days[i] > closeLookback || b.Closes[i] <= 0 {
			return 0, false
		}
		return b.Closes[i], true
	}
	base, ok := 0.0, false
	for k := range points {
		c, has := closeOn(points[k].Date)
		if !has {
			continue
		}
		if !ok {
			base, ok = c, true
		}
		ret := c/base - 1
		points[k].BenchmarkReturn = &ret
	}
}

// LTTB returns the indexes of at most n points of ys (x = index) chosen by
// Steinarsson's Largest-Triangle-Three-Buckets: the first and last points, and
// for each of n − 2 equal buckets in between, the point forming the largest
// triangle with the point kept in the previous bucket and the mean of the next
// bucket. With n ≥ len(ys) (or n < 3) every index is returned.
func LTTB(ys []float64, n int) []int {
	if n >= len(ys) || n < 3 {
		out := make([]int, len(ys))
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, 0, n)
	out = append(out, 0)
	every := float64(len(ys)-2) / float64(n-2)
	a := 0
	for b := 0; b < n-2; b++ {
		// The next bucket's mean (the last point for the last bucket).
		nStart, nEnd := int(float64(b+1)*every)+1, int(float64(b+2)*every)+1
		nEnd = min(nEnd, len(ys))
		if b == n-3 {
			nStart, nEnd = len(ys)-1, len(ys)
		}
		var mx, my float64
		for i := nStart; i < nEnd; i++ {
			mx += float64(i)
			my += ys[i]
		}
		cnt := float64(nEnd - nStart)
		mx, my = mx/cnt, my/cnt
		start, end := int(float64(b)*every)+1, int(float64(b+1)*every)+1
		ax, ay := float64(a), ys[a]
		best, bestArea := start, -1.0
		for i := start; i < end; i++ {
			area := math.Abs((ax-mx)*(ys[i]-ay) - (ax-float64(i))*(my-ay))
			if area > bestArea {
				best, bestArea = i, area
			}
		}
		out = append(out, best)
		a = best
	}
	return append(out, len(ys)-1)
}
