package readmodel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Projector benchmark workload: benchPortfolios portfolios, each created with
// benchHistory transactions already projected (untimed); every batch carries
// benchPerPortfolio new transactions (buys, sells, dividends) for each of
// benchBatch/benchPerPortfolio portfolios, round robin, so each batch recomputes
// that many portfolios of a few hundred transactions each.
const (
	benchPortfolios   = 100
	benchHistory      = 200
	benchBatch        = 100
	benchPerPortfolio = 10
)

var benchSymbols = []string{"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "VTI", "VOO", "BND",
	"JPM", "V", "MA", "KO", "PEP", "XOM", "CVX", "PFE", "MRK", "JNJ"}

type feed struct {
	b    *testing.B
	r    *rand.Rand
	hs   []*rmtest.History
	next int
}

func newFeed(b *testing.B) (*feed, []portfolio.Event) {
	f := &feed{b: b, r: rand.New(rand.NewPCG(11, 13))}
	var seed []portfolio.Event
	for i := range benchPortfolios {
		user := rmtest.UserA
		if i%2 == 1 {
			user = rmtest.UserB
		}
		h := rmtest.NewHistory(b, fmt.Sprintf("bench-%03d", i), user, []portfolio.LotMethod{portfolio.FIFO, portfolio.AverageCost}[i%2])
		h.Random(f.r, benchHistory, benchSymbols, rmtest.D("2020-01-01"))
		seed = append(seed, h.Events...)
		f.hs = append(f.hs, h)
	}
	return f, seed
}

// batch returns the next benchBatch events.
func (f *feed) batch() []portfolio.Event {
	out := make([]portfolio.Event, 0, benchBatch)
	for len(out) < benchBatch {
		h := f.hs[f.next%len(f.hs)]
		f.next++
		start := len(h.Events)
		h.Random(f.r, benchPerPortfolio, benchSymbols, 0)
		out = append(out, h.Events[start:]...)
	}
	return out
}

func benchProjector(b *testing.B, rowAtATime bool) {
	ctx := context.Background()
	pool, _ := rmtest.DB(b)
	proj := rmtest.NewProjector(pool)
	f, seed := newFeed(b)
	for start := 0; start < len(seed); start += 1000 {
		if _, err := proj.ApplyBatch(ctx, seed[start:min(start+1000, len(seed))]); err != nil {
			b.Fatal(err)
		}
	}
	// Prepared outside the timed loop (deciding the commands is not projection).
	batches := make([][]portfolio.Event, 0, 64)
	for range 64 {
		batches = append(batches, f.batch())
	}
	b.ReportAllocs()
	n := 0
	var cpu time.Duration
	for b.Loop() {
		if n == len(batches) {
			b.StopTimer()
			batches = append(batches, f.batch())
			b.StartTimer()
		}
		events := batches[n]
		n++
		if rowAtATime {
			for i := range events {
				r, err := proj.ApplyBatch(ctx, events[i:i+1])
				if err != nil || len(r.Failures) > 0 {
					b.Fatal(err, r.Failures)
				}
			}
			continue
		}
		c0 := processCPU()
		ctx, end := testenv.Invocation(ctx, "projector")
		r, err := proj.ApplyBatch(ctx, events)
		end()
		cpu += processCPU() - c0
		if err != nil || len(r.Failures) > 0 {
			b.Fatal(err, r.Failures)
		}
	}
	b.ReportMetric(float64(n*benchBatch)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// processCPU is this process's CPU time, every thread (the projector's share
// of a batch, without PostgreSQL's).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProjectorBatch100 is the stream's batch of 100 events: one database
// transaction, set-based writes, one recompute per affected portfolio.
//
//	go test -run '^$' -bench Projector -benchmem -cpu 1 ./shared/adapters/readmodel/
func BenchmarkProjectorBatch100(b *testing.B) { benchProjector(b, false) }

// BenchmarkProjectorRowAtATime is the naive baseline over the same events: one
// transaction per event, hence one recompute per event.
func BenchmarkProjectorRowAtATime(b *testing.B) { benchProjector(b, true) }

// BenchmarkPositionsQuery reads a 50-holding portfolio, valued at the latest
// prices, and reports the latency distribution of the query: as the owner (the
// internal functions' pool) and as the caller (the api function's CallerDB:
// its own login, the claims and the role in the same round trip, under RLS).
func BenchmarkPositionsQuery(b *testing.B) {
	ctx := context.Background()
	pool, dsn := rmtest.DB(b)
	proj := rmtest.NewProjector(pool)
	symbols := make([]string, 50)
	for i := range symbols {
		symbols[i] = fmt.Sprintf("S%02d", i)
	}
	h := rmtest.NewHistory(b, "bench-50", rmtest.UserA, portfolio.FIFO)
	for _, s := range symbols {
		h.Tx(rmtest.Buy("2020-01-02", s, "100", "50", "1"))
	}
	h.Random(rand.New(rand.NewPCG(5, 5)), 450, symbols, rmtest.D("2020-01-03"))
	if failed, err := proj.Apply(ctx, h.Events); err != nil || len(failed) > 0 {
		b.Fatal(failed, err)
	}
	for i, s := range symbols {
		if _, err := pool.Exec(ctx, "insert into latest_prices values ($1, $2, 'USD', now(), 'bench')", s, fmt.Sprintf("%d.%02d", 40+i, i)); err != nil {
			b.Fatal(err)
		}
	}
	callerDB, _ := readmodeltest.API(b, dsn)
	for _, c := range []struct {
		name string
		db   readmodel.MetricsDB
	}{{"owner", pool}, {"caller", callerDB}} {
		b.Run(c.name, func(b *testing.B) {
			q := readmodel.NewQueries(c.db)
			var durations []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				v, err := q.Positions(ctx, rmtest.UserA, "bench-50")
				durations = append(durations, time.Since(start))
				if err != nil || len(v.Positions) != 50 || len(v.Totals.Unpriced) != 0 {
					b.Fatal(err, len(v.Positions))
				}
			}
			slices.Sort(durations)
			pct := func(p float64) float64 {
				return float64(durations[min(len(durations)-1, int(p*float64(len(durations))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
