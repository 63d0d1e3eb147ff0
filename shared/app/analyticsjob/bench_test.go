package analyticsjob_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// The benchmarks' market: a universe of symbols with seeded random-walk closes on
// weekdays (plus SPY), ending on benchEnd.
var benchEnd = calendar.MustNew(2025, time.June, 30)

func benchSymbol(i int) string { return "S" + strconv.Itoa(i) }

func benchCloses(symbols, years int) *performance.Closes {
	rng := rand.New(rand.NewPCG(11, uint64(symbols)))
	c := performance.NewCloses()
	from := benchEnd - calendar.Date(365*years+years/4+10)
	cents := make([]int64, symbols+1)
	for i := range cents {
		cents[i] = 2000 + rng.Int64N(50000)
	}
	for d := from; d <= benchEnd; d++ {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for i := range cents {
			step := cents[i] / 80
			cents[i] = max(100, cents[i]+rng.Int64N(2*step+1)-step+step/40)
			sym := benchSymbol(i)
			if i == symbols {
				sym = "SPY"
			}
			if err := c.Add(sym, d, decimal.New(cents[i], -2)); err != nil {
				panic(err)
			}
		}
	}
	if err := c.Seal(); err != nil {
		panic(err)
	}
	return c
}

// benchHistory is a portfolio's history over years up to benchEnd: a deposit,
// buys of each of its holdings spread over the first year, then a monthly deposit
// and buy and a sell every quarter, and a 2:1 split of one holding; with targets
// over its holdings (so the rebalancing plan is part of the cost).
func benchHistory(rng *rand.Rand, c *performance.Closes, syms []string, years int) []portfolio.Transaction {
	start := benchEnd - calendar.Date(365*years)
	weekday := func(d calendar.Date) calendar.Date {
		for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			d++
		}
		return d
	}
	price := func(sym string, d calendar.Date) decimal.Decimal {
		p, _, ok := c.On(sym, d)
		if !ok {
			panic("no close")
		}
		return p
	}
	var txs []portfolio.Transaction
	add := func(tx portfolio.Transaction) {
		tx.Currency = "USD"
		txs = append(txs, tx)
	}
	d0 := weekday(start)
	add(portfolio.Transaction{Type: portfolio.Deposit, Date: d0, Amount: decimal.NewFromInt(int64(len(syms)) * 20000)})
	held := map[string]int64{}
	for i, s := range syms {
		d := weekday(d0 + calendar.Date(i*300/len(syms)))
		q := 10 + rng.Int64N(40)
		held[s] += q
		add(portfolio.Transaction{Type: portfolio.Buy, Date: d, Symbol: s, Quantity: decimal.NewFromInt(q), Price: price(s, d), Fee: decimal.New(100, -2)})
	}
	for m := 12; m < years*12; m++ {
		d := weekday(d0 + calendar.Date(m*365/12))
		add(portfolio.Transaction{Type: portfolio.Deposit, Date: d, Amount: decimal.NewFromInt(1000)})
		s := syms[rng.IntN(len(syms))]
		held[s]++
		add(portfolio.Transaction{Type: portfolio.Buy, Date: d, Symbol: s, Quantity: decimal.NewFromInt(1), Price: price(s, d), Fee: decimal.New(100, -2)})
		if m%3 == 0 {
			s := syms[rng.IntN(len(syms))]
			if held[s] > 1 {
				held[s]--
				sd := weekday(d + 3)
				add(portfolio.Transaction{Type: portfolio.Sell, Date: sd, Symbol: s, Quantity: decimal.NewFromInt(1), Price: price(s, sd), Fee: decimal.New(100, -2)})
			}
		}
	}
	return txs
}

// benchWorld holds n portfolios in an in-memory event store.
type benchWorld struct {
	cmds   *command.Service
	closes *performance.Closes
	refs   []analyticsjob.PortfolioRef
}

func newBenchWorld(b *testing.B, portfolios, holdings, universe, years int) *benchWorld {
	b.Helper()
	w := &benchWorld{closes: benchCloses(universe, years)}
	w.cmds = command.New(eventstore.NewMemory(), command.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	rng := rand.New(rand.NewPCG(5, uint64(portfolios)))
	ctx := context.Background()
	const user = "0a0a0a0a-0000-4000-8000-00000000000a"
	for i := range portfolios {
		syms := make([]string, 0, holdings)
		for _, k := range rng.Perm(universe)[:holdings] {
			syms = append(syms, benchSymbol(k))
		}
		txs := benchHistory(rng, w.closes, syms, years)
		res, err := w.cmds.Create(ctx, command.Request{UserID: user, CommandID: "bench-" + strconv.Itoa(i)}, portfolio.CreatePortfolio{Name: "b", BaseCurrency: "USD"})
		if err != nil {
			b.Fatal(err)
		}
		id := res.AggregateID
		for chunk := range slices.Chunk(txs, portfolio.MaxImport) {
			if _, err := w.cmds.Execute(ctx, command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
				_, err := p.ImportTransactions(chunk, meta)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
		split := syms[0]
		if _, err := w.cmds.Execute(ctx, command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
			_, err := p.RecordTransaction(portfolio.Transaction{Type: portfolio.Split, Date: benchEnd - 400, Symbol: split, Ratio: portfolio.Ratio{New: 2, Old: 1}, Currency: "USD"}, meta)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		targets := portfolio.TargetAllocation{DriftBand: decimal.RequireFromString("0.02")}
		w8 := decimal.NewFromInt(1).Div(decimal.NewFromInt(int64(holdings))).Truncate(6)
		rest := decimal.NewFromInt(1)
		for k, s := range syms {
			wk := w8
			if k == len(syms)-1 {
				wk = rest
			}
			rest = rest.Sub(wk)
			targets.Targets = append(targets.Targets, portfolio.Target{Symbol: s, Weight: wk})
		}
		r, err := w.cmds.Execute(ctx, command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
			return p.SetTargets(targets, meta)
		})
		if err != nil {
			b.Fatal(err)
		}
		w.refs = append(w.refs, analyticsjob.PortfolioRef{ID: id, UserID: user, Version: r.Version})
	}
	slices.SortFunc(w.refs, func(x, y analyticsjob.PortfolioRef) int { return cmp.Compare(x.ID, y.ID) })
	return w
}

// memStore is analyticsjob.Store over the benchmark's data: closes already in memory,
// results JSON-encoded (the part of SaveResults done in our process) and dropped.
type memStore struct {
	w     *benchWorld
	mu    sync.Mutex
	done  map[string]bool
	bytes int
}

func (m *memStore) LoadCloses(context.Context, []string, calendar.Date, calendar.Date) (*performance.Closes, error) {
	return m.w.closes, nil
}

func (m *memStore) LoadRates(context.Context, []string, calendar.Date, calendar.Date) (*currency.Rates, error) {
	return currency.NewRates(), nil
}

func (m *memStore) SymbolCurrencies(context.Context, []string) (map[string]string, error) {
	return map[string]string{}, nil
}

func (m *memStore) SaveResults(_ context.Context, rs []analyticsjob.Result) error {
	n := 0
	for i := range rs {
		b, err := json.Marshal(rs[i].Report)
		if err != nil {
			return err
		}
		n += len(b) + len(rs[i].Rebalancing) + 24*len(rs[i].Series.Days)
	}
	m.mu.Lock()
	m.bytes += n
	m.mu.Unlock()
	return nil
}

func (m *memStore) PendingPortfolios(_ context.Context, _ string, _ calendar.Date, after string, limit int) ([]analyticsjob.PortfolioRef, error) {
	i, _ := slices.BinarySearchFunc(m.w.refs, after, func(r analyticsjob.PortfolioRef, id string) int { return cmp.Compare(r.ID, id) })
	var out []analyticsjob.PortfolioRef
	for ; i < len(m.w.refs) && len(out) < limit; i++ {
		if r := m.w.refs[i]; r.ID > after && !m.done[r.ID] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memStore) MarkDone(_ context.Context, _ string, _ calendar.Date, refs []analyticsjob.PortfolioRef) error {
	for _, r := range refs {
		m.done[r.ID] = true
	}
	return nil
}

func (m *memStore) MarkFailed(context.Context, string, calendar.Date, []analyticsjob.Failure) error {
	return nil
}

func (m *memStore) InsertValuations(_ context.Context, vals []portfolio.Valuation) (int64, error) {
	return int64(len(vals)), nil
}

func (m *memStore) PruneMetrics(context.Context, calendar.Date) (int64, error) { return 0, nil }

func (m *memStore) IsDataError(error) bool { return false }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyze300Holdings20Years: all metrics of one portfolio with 300
// holdings and 20 years of daily history, from the loaded aggregate and the
// closes: the value series (performance.Build over ~1,000 transactions), exact
// positions and market value, holdings' closes for the correlation matrix, the
// benchmark and analytics.Compute ("metrics"); "metrics+rebalancing" adds the
// rebalancing plan over the 300 targets. Target ≤ 20 ms on one core for the
// metrics.
func BenchmarkAnalyze300Holdings20Years(b *testing.B) {
	w := newBenchWorld(b, 1, 300, 300, 20)
	p, err := w.cmds.LoadFull(context.Background(), w.refs[0].ID)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	a, err := analyticsjob.Analyze(p, analyticsjob.Market{Closes: w.closes}, benchEnd, analyticsjob.Settings{RiskFreeRate: 0.03}, now)
	if err != nil || !a.Result.Report.Volatility.Annualized.OK || !a.Result.Report.Benchmark.Beta.OK || a.Result.Report.Diversification.Holdings != 300 ||
		len(a.Result.Series.Days) < 7300 || len(a.Result.Report.Correlation.Symbols) != 10 {
		b.Fatalf("incomplete analysis (%v): %+v", err, a.Result.Report)
	}
	var plan struct{ Trades []any }
	if err := json.Unmarshal(a.Result.Rebalancing, &plan); err != nil || len(plan.Trades) == 0 {
		b.Fatalf("plan %s", a.Result.Rebalancing)
	}
	for _, c := range []struct {
		name string
		set  analyticsjob.Settings
	}{{"metrics", analyticsjob.Settings{RiskFreeRate: 0.03, NoRebalancing: true}}, {"metrics+rebalancing", analyticsjob.Settings{RiskFreeRate: 0.03}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuNow()
			for b.Loop() {
				if _, err := analyticsjob.Analyze(p, analyticsjob.Market{Closes: w.closes}, benchEnd, c.set, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuNow()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// benchDailyRun measures one daily scheduled run over n portfolios of 20
// holdings with 5 years of history (a universe of 500 symbols): keyset pages of
// 200, Concurrency workers, every portfolio loaded from the in-memory event store
// (folding its events), analysed and its report JSON-encoded. Excluded: DynamoDB
// and Postgres round trips (reading events, closes, writing rows).
func benchDailyRun(b *testing.B, n, concurrency int, latency time.Duration) {
	w := worlds.get(b, n)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var perPortfolio time.Duration
	b.ReportAllocs()
	start := cpuNow()
	for b.Loop() {
		st := &memStore{w: w, done: map[string]bool{}}
		var loader analyticsjob.Loader = w.cmds
		if latency > 0 {
			loader = slowLoader{w.cmds, latency}
		}
		j := analyticsjob.New(loader, st, analyticsjob.Options{Concurrency: concurrency, PageSize: 200, Logger: quiet, Metrics: io.Discard,
			Now: func() time.Time { return benchEnd.Time().Add(21 * time.Hour) }})
		t0 := cpuNow()
		sum, err := j.RunScheduled(context.Background(), analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily})
		if err != nil || sum.Computed != n || sum.Failed != 0 {
			b.Fatalf("%+v %v", sum, err)
		}
		perPortfolio = (cpuNow() - t0) / time.Duration(n)
	}
	cpu := float64((cpuNow() - start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(cpu/1e9, "cpu-s/run")
	b.ReportMetric(float64(perPortfolio.Microseconds()), "cpu-µs/portfolio")
	b.ReportMetric(cpu/1e9*10_000/float64(n), "cpu-s/10k-portfolios")
}

// slowLoader adds a DynamoDB-like round trip to every load, to measure what the
// bounded fan-out hides.
type slowLoader struct {
	next    analyticsjob.Loader
	latency time.Duration
}

func (l slowLoader) LoadFull(ctx context.Context, id string) (*portfolio.Portfolio, error) {
	time.Sleep(l.latency)
	return l.next.LoadFull(ctx, id)
}

// worlds caches the generated portfolios per size across sub-benchmarks.
var worlds = &worldCache{m: map[int]*benchWorld{}}

type worldCache struct {
	mu sync.Mutex
	m  map[int]*benchWorld
}

func (c *worldCache) get(b *testing.B, n int) *benchWorld {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.m[n]; w != nil {
		return w
	}
	w := newBenchWorld(b, n, 20, 500, 5)
	c.m[n] = w
	return w
}

func BenchmarkDailyRun(b *testing.B) {
	for _, c := range []struct {
		n, conc int
		latency time.Duration
	}{{1000, 1, 0}, {1000, 8, 0}, {1000, 1, 5 * time.Millisecond}, {1000, 8, 5 * time.Millisecond}, {1000, 32, 5 * time.Millisecond}, {10_000, 8, 0}} {
		b.Run(fmt.Sprintf("portfolios=%d/concurrency=%d/load-latency=%s", c.n, c.conc, c.latency), func(b *testing.B) { benchDailyRun(b, c.n, c.conc, c.latency) })
	}
}
