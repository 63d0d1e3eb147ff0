package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// tickOffset stamps the generator's ticks an hour ahead of the clock: newer
// than any tick the simulated feed puts on the stream, so a valuation's asOf
// (the newest price it used) names the tick that caused it, as in
// localstack/e2e's latency benchmark.
const tickOffset = time.Hour

// maxPutRecords is Kinesis's limit of records in one PutRecords.
const maxPutRecords = 500

// stamper hands out unique, increasing tick timestamps, whole milliseconds,
// across every run of the process.
type stamper struct {
	mu   sync.Mutex
	last time.Time
}

func (s *stamper) next(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now.Add(tickOffset).UTC().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	s.last = t
	return t
}

// tickBook matches the valuations pushed to the users with the ticks that
// caused them. Safe for concurrent use.
type tickBook struct {
	mu sync.Mutex
	// sent maps a tick's stamp (Unix ns) to when its put started.
	sent map[int64]time.Time
	// seen holds the (portfolio, stamp) pairs already measured: a later
	// valuation with the same asOf (the next minute's simulated tick of another
	// symbol, a retried batch) is not a new delivery.
	seen      map[string]bool
	latencies []time.Duration
	// foreign counts valuations whose asOf is no tick of this run's.
	foreign   int
	lastMatch time.Time
	published int
	putErrors int
}

func newTickBook() *tickBook {
	return &tickBook{sent: map[int64]time.Time{}, seen: map[string]bool{}}
}

func (b *tickBook) put(stamps []time.Time, at time.Time, failed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range stamps {
		b.sent[s.UnixNano()] = at
	}
	b.published += len(stamps)
	b.putErrors += failed
}

// valuation records a valuation of portfolioID as of asOf, received at.
func (b *tickBook) valuation(portfolioID, asOf string, at time.Time) {
	t, err := time.Parse(time.RFC3339Nano, asOf)
	b.mu.Lock()
	defer b.mu.Unlock()
	sent, ok := b.sent[t.UnixNano()]
	if err != nil || !ok {
		b.foreign++
		return
	}
	key := portfolioID + "|" + asOf
	if b.seen[key] {
		return
	}
	b.seen[key] = true
	b.latencies = append(b.latencies, at.Sub(sent))
	b.lastMatch = at
}

func (b *tickBook) snapshot() (published, putErrors, foreign int, lat []time.Duration, lastMatch time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.published, b.putErrors, b.foreign, append([]time.Duration(nil), b.latencies...), b.lastMatch
}

// tickSource walks each symbol's price in cents (a random walk from 100.00,
// never under 10.00), seeded so that runs are comparable.
type tickSource struct {
	symbols []string
	cents   []int64
	rnd     *rand.Rand
}

func newTickSource(symbols []string, seed uint64) *tickSource {
	s := &tickSource{symbols: symbols, cents: make([]int64, len(symbols)), rnd: rand.New(rand.NewPCG(seed, 1))}
	for i := range s.cents {
		s.cents[i] = 10_000
	}
	return s
}

// next returns the symbol and price of tick j (symbols in turn).
func (s *tickSource) next(j int) (string, decimal.Decimal) {
	i := j % len(s.symbols)
	s.cents[i] = max(1_000, s.cents[i]+s.rnd.Int64N(101)-50)
	return s.symbols[i], decimal.New(s.cents[i], -2)
}

// publish puts ticksPerSecond ticks a second on the stream from start for
// sc.Duration, as the ingest function does (MarketDataUpdated, partitioned by
// symbol). Ticks that fall due together go in one PutRecords, so a rate above
// what one put per tick allows is still kept; a failed put is counted and not
// retried. It stops at the end of the run: ticks the stream did not take by
// then are not put (the report's published falls short of offered).
func (g *generator) publish(ctx context.Context, sc scenario, start time.Time, book *tickBook, putRec *recorder) error {
	end := start.Add(sc.Duration)
	total := int(int64(sc.TicksPerSecond) * int64(sc.Duration) / int64(time.Second))
	if total == 0 {
		return nil
	}
	src := newTickSource(sc.Symbols, uint64(sc.Users))
	pace := newPacer(start, sc.Duration, total, 0, 1)
	for j := 0; j < total; {
		if !pace.wait(ctx, j) || !time.Now().Before(end) {
			return nil
		}
		n := min(ticksDue(time.Since(start), sc.TicksPerSecond, total)-j, maxPutRecords)
		n = max(n, 1)
		recs := make([]types.PutRecordsRequestEntry, n)
		stamps := make([]time.Time, n)
		for i := range n {
			sym, price := src.next(j + i)
			stamps[i] = g.stamps.next(time.Now())
			data, err := tickEvent(sym, price, stamps[i])
			if err != nil {
				return fmt.Errorf("encode a tick: %w", err)
			}
			recs[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(sym)}
		}
		t0 := time.Now()
		out, err := g.c.kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(g.c.ep.Stream), Records: recs})
		took := time.Since(t0)
		switch {
		case err != nil:
			putRec.add(routePutRecords, 0, took)
			book.put(nil, t0, n)
		default:
			putRec.add(routePutRecords, 200, took)
			var ok []time.Time
			for i, r := range out.Records {
				if r.ErrorCode == nil && i < n {
					ok = append(ok, stamps[i])
				}
			}
			book.put(ok, t0, n-len(ok))
		}
		j += n
	}
	return nil
}

// routePutRecords labels the Kinesis puts.
const routePutRecords = "Kinesis PutRecords"

// tickEvent is the stream record of one tick.
func tickEvent(sym string, price decimal.Decimal, at time.Time) ([]byte, error) {
	ev := pricing.FromQuote(marketdata.Quote{Symbol: sym, Price: price, Volume: decimal.NewFromInt(100),
		Timestamp: at, Exchange: "XNAS", Source: marketdata.SourceSimulated})
	ev.EventID = fmt.Sprintf("load-%s-%d", sym, at.UnixNano())
	return pricing.Encode(ev)
}
