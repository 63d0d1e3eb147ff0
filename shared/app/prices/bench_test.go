package prices_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// benchTraceparent is the publisher's span of every benchmark tick.
const benchTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// tracedRec is rec carrying benchTraceparent.
func tracedRec(b *testing.B, sym, price string, at time.Time) prices.Record {
	q := market.Quote{Symbol: sym, Price: decimal.RequireFromString(price), Volume: decimal.NewFromInt(10), Timestamp: at,
		Source: "simulated", PreviousClose: decimal.RequireFromString("100")}
	ev := pricing.FromQuote(q)
	ev.Traceparent = benchTraceparent
	data, err := pricing.Encode(ev)
	if err != nil {
		b.Fatal(err)
	}
	return raw(sym, data)
}

type discard struct{}

func (discard) Notify(context.Context, []string, any) error { return nil }

const benchSymbols, benchTicks = 500, 10000

// benchBatch is 10,000 ticks over 500 symbols (20 each), every tick later than
// any of the previous batch (base moves on per iteration) so every write applies.
// Each carries the traceparent of its publisher's (sampled) span, as the
// ingest function's do: traced (PT_BENCH_TRACING=1), each gets its span.
func benchBatch(b *testing.B, base time.Time) []prices.Record {
	recs := make([]prices.Record, 0, benchTicks)
	for i := range benchTicks {
		sym := fmt.Sprintf("S%03d", i%benchSymbols)
		recs = append(recs, tracedRec(b, sym, fmt.Sprintf("%d.%02d", 100+i%37, i%100), base.Add(time.Duration(i)*time.Millisecond)))
		recs[len(recs)-1].ArrivedAt = time.Now() // the TickToPush samples are taken, as in the function
	}
	return recs
}

// BenchmarkHandle10kTicks500Symbols: the whole handler against DynamoDB Local and
// PostgreSQL, with 100 portfolios of 10 positions each holding the symbols, at two
// DynamoDB put concurrencies.
func BenchmarkHandle10kTicks500Symbols(b *testing.B) {
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("puts=%d", conc), func(b *testing.B) { benchHandle(b, conc) })
	}
}

func benchHandle(b *testing.B, concurrency int) {
	e := newEnv(b)
	for p := range 100 {
		pos := map[string]string{}
		for k := range 10 {
			pos[fmt.Sprintf("S%03d", (p*5+k*50)%benchSymbols)] = "3"
		}
		holdings(b, e.pool, fmt.Sprintf("p%03d", p), u1, pos)
	}
	// The metrics as the function writes them (to stdout there): the batch's
	// line with its latency samples and the pool's gauges.
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Notifier: discard{},
		Alerts: alertStore(b, u1), Concurrency: concurrency, Metrics: io.Discard, Gauges: readmodel.PoolGauges(e.pool)})
	base := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var dyn, rm, dec, push, cpu time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		batch := benchBatch(b, base.Add(time.Duration(i)*time.Minute))
		i++
		b.StartTimer()
		c0 := cpuTime()
		ctx, end := testenv.Invocation(b.Context(), "prices")
		resp, st, err := c.Process(ctx, batch)
		end()
		cpu += cpuTime() - c0
		if err != nil || len(resp) != 0 || st.LatestRows != benchSymbols {
			b.Fatalf("failures %d, stats %+v, %v", len(resp), st, err)
		}
		dyn, rm, dec, push = dyn+st.Dynamo, rm+st.ReadModel, dec+st.Decode, push+st.Valuate+st.Push
	}
	n := float64(b.N) * float64(time.Millisecond)
	b.ReportMetric(float64(dec)/n, "decode-ms/op")
	b.ReportMetric(float64(dyn)/n, "dynamo-ms/op")
	b.ReportMetric(float64(rm)/n, "readmodel-ms/op")
	b.ReportMetric(float64(push)/n, "valuation-ms/op")
	b.ReportMetric(float64(cpu)/n, "cpu-ms/op")
}

// BenchmarkReadModelWrites500: the two set-based upserts alone (500 latest prices,
// 500 daily closes) against PostgreSQL.
func BenchmarkReadModelWrites500(b *testing.B) {
	e := newEnv(b)
	base := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	day := calendar.MustNew(2026, 3, 2)
	i := 0
	for b.Loop() {
		at := base.Add(time.Duration(i) * time.Second)
		i++
		lp := make([]readmodel.LatestPrice, benchSymbols)
		dc := make([]readmodel.DailyClose, benchSymbols)
		for k := range benchSymbols {
			sym := fmt.Sprintf("S%03d", k)
			px := decimal.New(int64(10000+k), -2)
			lp[k] = readmodel.LatestPrice{Symbol: sym, Price: px, Currency: "USD", AsOf: at, Source: "simulated"}
			dc[k] = readmodel.DailyClose{Symbol: sym, Day: day, Close: px, AsOf: at, Source: "simulated"}
		}
		if n, err := readmodel.UpsertLatestPrices(b.Context(), e.pool, lp); err != nil || n != benchSymbols {
			b.Fatal(n, err)
		}
		if n, err := readmodel.UpsertDailyCloses(b.Context(), e.pool, dc); err != nil || n != benchSymbols {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkDecode10k: decoding the batch's 10,000 records alone (no I/O).
func BenchmarkDecode10k(b *testing.B) {
	batch := benchBatch(b, time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range batch {
			if _, err := pricing.Decode(r.Data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
