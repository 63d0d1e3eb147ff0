package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// Metrics is the in-memory readmodel.Metrics: the metrics rows per portfolio and
// day, the value series and rebalancing plan per portfolio (each replaced only
// by a result of a version at least as new), and the scheduled runs' status per
// portfolio and mode. It reads the portfolios from a PortfolioDirectory and the
// closes from a Prices store, and writes valuations to a Valuations store.
type Metrics struct {
	dir    PortfolioDirectory
	prices *Prices
	vals   *Valuations

	mu          sync.Mutex
	metrics     map[string]map[calendar.Date]metricsRow // portfolio → day → row
	series      map[string]seriesRow
	rebalancing map[string]readmodel.RebalancingView
	status      map[statusKey]*runStatus
}

type metricsRow struct {
	userID          string
	scheduled       bool
	currentDrawdown float64
	view            readmodel.MetricsView // Report kept as JSON in report
	report          []byte
}

type seriesRow struct {
	userID string
	view   readmodel.SeriesView
}

type statusKey struct{ portfolioID, mode string }

type runStatus struct {
	doneDay     calendar.Date
	done        bool
	doneVersion int64
	failedDay   calendar.Date
	reason      *string
	attempts    int
}

// NewMetrics returns an empty store over the portfolios of dir, the closes of
// prices and the valuations of vals.
func NewMetrics(dir PortfolioDirectory, prices *Prices, vals *Valuations) *Metrics {
	return &Metrics{dir: dir, prices: prices, vals: vals, metrics: map[string]map[calendar.Date]metricsRow{},
		series: map[string]seriesRow{}, rebalancing: map[string]readmodel.RebalancingView{}, status: map[statusKey]*runStatus{}}
}

// SaveResults implements readmodel.Metrics.SaveResults.
func (m *Metrics) SaveResults(_ context.Context, results []readmodel.AnalyticsResult) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range results {
		r := &results[i]
		report, err := json.Marshal(r.Report)
		if err != nil {
			return fmt.Errorf("memstore: metrics of %s: %w", r.Portfolio.ID, err)
		}
		id, version, at := r.Portfolio.ID, r.Portfolio.Version, stamp(r.ComputedAt)
		days := m.metrics[id]
		if days == nil {
			days = map[calendar.Date]metricsRow{}
			m.metrics[id] = days
		}
		if old, ok := days[r.AsOf]; !ok || old.view.Version <= version {
			days[r.AsOf] = metricsRow{
				userID:          r.Portfolio.UserID,
				scheduled:       r.Scheduled || (ok && old.scheduled && old.view.Version == version),
				currentDrawdown: r.CurrentDrawdown,
				view: readmodel.MetricsView{PortfolioID: id, AsOf: r.AsOf, Version: version, Benchmark: r.Benchmark,
					MarketValue: numeric(r.MarketValue), ComputedAt: at},
				report: report,
			}
		}
		if s := r.Series; s != nil && len(s.Days) > 0 {
			if old, ok := m.series[id]; !ok || old.view.Version <= version {
				m.series[id] = seriesRow{userID: r.Portfolio.UserID, view: readmodel.SeriesView{PortfolioID: id, Version: version, ComputedAt: at,
					Series: &performance.Series{Days: dayRange(s.Days[0], len(s.Value)), Start: s.Start, Value: slices.Clone(s.Value),
						Inflow: slices.Clone(s.Inflow), Outflow: slices.Clone(s.Outflow), CashAccount: s.CashAccount}}}
			}
		}
		if r.Rebalancing != nil {
			old, ok := m.rebalancing[id]
			if !ok || old.AsOf < r.AsOf || (old.AsOf == r.AsOf && old.Version <= version) {
				m.rebalancing[id] = readmodel.RebalancingView{PortfolioID: id, AsOf: r.AsOf, Version: version, ComputedAt: at,
					Plan: slices.Clone(r.Rebalancing)}
			}
		}
	}
	return nil
}

// WealthMark implements WealthSource: the current drawdown and market value
// of the portfolio's newest metrics row, as readmodel.AlertRules reads them.
func (m *Metrics) WealthMark(portfolioID string) (alerts.WealthMark, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var newest calendar.Date
	var row metricsRow
	found := false
	for day, r := range m.metrics[portfolioID] {
		if !found || day > newest {
			newest, row, found = day, r, true
		}
	}
	if !found {
		return alerts.WealthMark{}, false
	}
	dd := row.currentDrawdown
	if math.IsNaN(dd) || math.IsInf(dd, 0) {
		dd = 0
	}
	return alerts.WealthMark{Drawdown: dd, Value: row.view.MarketValue, AsOf: row.view.ComputedAt}, true
}

// dayRange is n consecutive days from first, as the series is stored.
func dayRange(first calendar.Date, n int) []calendar.Date {
	days := make([]calendar.Date, n)
	for i := range days {
		days[i] = first + calendar.Date(i)
	}
	return days
}

// InsertValuations implements readmodel.Metrics.InsertValuations.
func (m *Metrics) InsertValuations(ctx context.Context, vals []readmodel.Valuation) (int64, error) {
	return m.vals.InsertValuations(ctx, vals)
}

// PruneMetrics implements readmodel.Metrics.PruneMetrics.
func (m *Metrics) PruneMetrics(_ context.Context, before calendar.Date) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, days := range m.metrics {
		last := map[[2]int]calendar.Date{} // (year, month) → the portfolio's last day
		for d := range days {
			t := d.Time()
			k := [2]int{t.Year(), int(t.Month())}
			if cur, ok := last[k]; !ok || d > cur {
				last[k] = d
			}
		}
		for d := range days {
			t := d.Time()
			if d < before && last[[2]int{t.Year(), int(t.Month())}] != d {
				delete(days, d)
				n++
			}
		}
	}
	return n, nil
}

// MetricDays returns the days of portfolioID's metrics rows, oldest first (what
// the table holds, for tests).
func (m *Metrics) MetricDays(portfolioID string) []calendar.Date {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []calendar.Date
	for d := range m.metrics[portfolioID] {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// PendingPortfolios implements readmodel.Metrics.PendingPortfolios.
func (m *Metrics) PendingPortfolios(_ context.Context, mode string, day calendar.Date, after string, limit int) ([]readmodel.PortfolioRef, error) {
	refs := m.dir.ActivePortfolios()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []readmodel.PortfolioRef
	for _, p := range refs {
		if len(out) >= limit {
			break
		}
		if p.ID <= after {
			continue
		}
		if s := m.status[statusKey{p.ID, mode}]; s == nil || !s.done || s.doneDay != day || s.doneVersion < p.Version {
			out = append(out, p)
		}
	}
	return out, nil
}

// MarkDone implements readmodel.Metrics.MarkDone.
func (m *Metrics) MarkDone(_ context.Context, mode string, day calendar.Date, refs []readmodel.PortfolioRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range refs {
		m.status[statusKey{r.ID, mode}] = &runStatus{done: true, doneDay: day, doneVersion: r.Version}
	}
	return nil
}

// MarkFailed implements readmodel.Metrics.MarkFailed.
func (m *Metrics) MarkFailed(_ context.Context, mode string, day calendar.Date, failures []readmodel.AnalyticsFailure) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range failures {
		k := statusKey{f.PortfolioID, mode}
		s := m.status[k]
		if s == nil {
			s = &runStatus{}
			m.status[k] = s
		}
		reason := f.Reason
		if len(reason) > 2000 {
			reason = strings.ToValidUTF8(reason[:2000], "")
		}
		s.failedDay, s.reason = day, &reason
		s.attempts++
	}
	return nil
}

// Failures implements readmodel.Metrics.Failures.
func (m *Metrics) Failures(_ context.Context, mode string) ([]readmodel.AnalyticsFailure, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []readmodel.AnalyticsFailure
	for k, s := range m.status {
		if k.mode == mode && s.reason != nil {
			out = append(out, readmodel.AnalyticsFailure{PortfolioID: k.portfolioID, Day: s.failedDay, Reason: *s.reason, Attempts: s.attempts})
		}
	}
	slices.SortFunc(out, func(a, b readmodel.AnalyticsFailure) int { return strings.Compare(a.PortfolioID, b.PortfolioID) })
	return out, nil
}

// LoadCloses implements readmodel.Metrics.LoadCloses.
func (m *Metrics) LoadCloses(_ context.Context, symbols []string, from, to calendar.Date) (*performance.Closes, error) {
	c := performance.NewCloses()
	if len(symbols) > 0 && from <= to {
		for _, dc := range m.prices.closesOf(symbols, from, to) {
			if err := c.Add(dc.Symbol, dc.Day, dc.Close); err != nil {
				return nil, fmt.Errorf("memstore: load closes: %w", err)
			}
		}
	}
	if err := c.Seal(); err != nil {
		return nil, fmt.Errorf("memstore: load closes: %w", err)
	}
	return c, nil
}

// LoadRates implements readmodel.Metrics.LoadRates: the closes of the
// currencies' USD pairs over from..to and the last before from; a close that
// is no rate (not positive) is skipped, as readmodel.LoadRates skips it.
func (m *Metrics) LoadRates(_ context.Context, currencies []string, from, to calendar.Date) (*currency.Rates, error) {
	rates := currency.NewRates()
	for _, sym := range readmodel.PairSymbols(currencies) {
		pair, _ := market.ParseFXPair(sym)
		var before *readmodel.DailyClose
		for _, dc := range m.prices.closesOf([]string{sym}, portfolio.MinTradeDate, to) {
			if dc.Day < from {
				before = &dc
				continue
			}
			_ = rates.Add(dc.Day, pair.Base, pair.Quote, dc.Close) // as readmodel: a price that is no rate prices nothing
		}
		if before != nil {
			_ = rates.Add(before.Day, pair.Base, pair.Quote, before.Close)
		}
	}
	return rates, nil
}

// SymbolCurrencies implements readmodel.Metrics.SymbolCurrencies.
func (m *Metrics) SymbolCurrencies(ctx context.Context, symbols []string) (map[string]string, error) {
	latest, err := m.prices.LatestPrices(ctx, symbols)
	out := make(map[string]string, len(latest))
	for sym, lp := range latest {
		out[sym] = lp.Currency
	}
	return out, err
}

// BenchmarkCloses implements readmodel.Metrics.BenchmarkCloses.
func (m *Metrics) BenchmarkCloses(_ context.Context, symbol string, from, to calendar.Date) (analytics.Benchmark, error) {
	b := analytics.Benchmark{Symbol: symbol}
	for _, dc := range m.prices.closesOf([]string{symbol}, from, to) {
		px, _ := dc.Close.Float64()
		b.Days, b.Closes = append(b.Days, dc.Day), append(b.Closes, px)
	}
	return b, nil
}

// ownedBy reports whether portfolioID is userID's; the API reads answer
// ErrNotFound otherwise.
func (m *Metrics) ownedBy(userID, portfolioID string) bool {
	return userID != "" && m.dir.PortfolioOwner(portfolioID) == userID
}

// LatestMetrics implements readmodel.Metrics.LatestMetrics.
func (m *Metrics) LatestMetrics(_ context.Context, userID, portfolioID string) (readmodel.MetricsView, error) {
	v := readmodel.MetricsView{PortfolioID: portfolioID}
	if !m.ownedBy(userID, portfolioID) {
		return v, portfolio.ErrNotFound
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var row *metricsRow
	for _, r := range m.metrics[portfolioID] {
		if row == nil || r.view.AsOf > row.view.AsOf {
			row = &r
		}
	}
	if row == nil {
		return v, readmodel.ErrNotComputed
	}
	v = row.view
	if err := json.Unmarshal(row.report, &v.Report); err != nil {
		return v, fmt.Errorf("memstore: latest metrics of %s: %w", portfolioID, err)
	}
	return v, nil
}

// Series implements readmodel.Metrics.Series.
func (m *Metrics) Series(_ context.Context, userID, portfolioID string) (readmodel.SeriesView, error) {
	if !m.ownedBy(userID, portfolioID) {
		return readmodel.SeriesView{PortfolioID: portfolioID}, portfolio.ErrNotFound
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	row, ok := m.series[portfolioID]
	if !ok {
		return readmodel.SeriesView{PortfolioID: portfolioID}, readmodel.ErrNotComputed
	}
	v, s := row.view, row.view.Series
	v.Series = &performance.Series{Days: slices.Clone(s.Days), Start: s.Start, Value: slices.Clone(s.Value),
		Inflow: slices.Clone(s.Inflow), Outflow: slices.Clone(s.Outflow), CashAccount: s.CashAccount}
	return v, nil
}

// Rebalancing implements readmodel.Metrics.Rebalancing.
func (m *Metrics) Rebalancing(_ context.Context, userID, portfolioID string) (readmodel.RebalancingView, error) {
	if !m.ownedBy(userID, portfolioID) {
		return readmodel.RebalancingView{PortfolioID: portfolioID}, portfolio.ErrNotFound
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.rebalancing[portfolioID]
	if !ok {
		return readmodel.RebalancingView{PortfolioID: portfolioID}, readmodel.ErrNotComputed
	}
	v.Plan = slices.Clone(v.Plan)
	return v, nil
}

// IsDataError implements analyticsjob.Results: whether err is the store
// refusing a result for its data, which a retry meets again. The only such
// refusal here is a report JSON cannot encode (PostgreSQL's jsonb column
// cannot take it either); the memory store has no outage.
func (m *Metrics) IsDataError(err error) bool {
	var value *json.UnsupportedValueError
	var typ *json.UnsupportedTypeError
	var marshaler *json.MarshalerError
	return errors.As(err, &value) || errors.As(err, &typ) || errors.As(err, &marshaler)
}
