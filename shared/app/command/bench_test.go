package command_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/shopspring/decimal"
)

// Benchmarks against DynamoDB Local. Capacity is reported twice per operation:
// DynamoDB Local's own ConsumedCapacity (WCU/op, RCU/op), and the units computed
// from item sizes by DynamoDB's published rules (…-by-rules/op), which is what AWS
// bills: Local skips per-item rounding and the double charge of transactions.

const benchSnapshotEvery = 10

// benchUser has the shape of a Supabase user ID (a UUID), as in production.
const benchUser = "6c0a3f0e-5d1b-4f3e-9a7c-2b8e4d1f0a93"

func dynamoService(b *testing.B) (*command.Service, *dynamostore.Store) {
	b.Helper()
	client := testenv.DynamoDB(b)
	name := testenv.UniqueName(b, "bench")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(context.Background(), client, table, name); err != nil {
		b.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{SnapshotEvery: benchSnapshotEvery})
	svc := command.New(store, command.Options{SnapshotEvery: benchSnapshotEvery, MaxAttempts: 100, BaseBackoff: time.Millisecond})
	return svc, store
}

var benchDay = calendar.MustNew(2020, 1, 1)

func benchBuy(i int, symbols int) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Buy, Date: benchDay.AddDays(i / 20), Symbol: fmt.Sprintf("SYM%02d", i%symbols),
		Quantity: decimal.RequireFromString("3.5"), Price: decimal.RequireFromString("187.42"), Fee: decimal.RequireFromString("1.99"), Currency: "USD"}
}

// portfolioWith creates a portfolio through the service and records n buys over
// the given number of symbols.
func portfolioWith(b *testing.B, svc *command.Service, user string, n, symbols int) string {
	b.Helper()
	ctx := context.Background()
	res, err := svc.Create(ctx, command.Request{UserID: user}, portfolio.CreatePortfolio{Name: "Bench", BaseCurrency: "USD"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := svc.Execute(ctx, command.Request{AggregateID: res.AggregateID, UserID: user}, record(benchBuy(i, symbols))); err != nil {
			b.Fatal(err)
		}
	}
	return res.AggregateID
}

func reportUsage(b *testing.B, store *dynamostore.Store, before dynamostore.Usage, ops int) {
	after := store.Usage()
	b.ReportMetric((after.WriteUnits-before.WriteUnits)/float64(ops), "WCU/op")
	b.ReportMetric((after.ReadUnits-before.ReadUnits)/float64(ops), "RCU/op")
	b.ReportMetric(float64(after.Requests-before.Requests)/float64(ops), "requests/op")
	b.ReportMetric((after.ComputedWriteUnits-before.ComputedWriteUnits)/float64(ops), "WCU-by-rules/op")
	b.ReportMetric((after.ComputedReadUnits-before.ComputedReadUnits)/float64(ops), "RCU-by-rules/op")
	b.ReportMetric(float64(after.LargestItem), "largest-item-B")
}

// BenchmarkCommandOneEvent: record one BUY on a portfolio of 20 holdings (load
// through the snapshot, decide, conditional put; every 10th carries a snapshot).
func BenchmarkCommandOneEvent(b *testing.B) {
	svc, store := dynamoService(b)
	id := portfolioWith(b, svc, benchUser, 40, 20)
	ctx := context.Background()
	before := store.Usage()
	i := 0
	for b.Loop() {
		if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: benchUser}, record(benchBuy(40+i, 20))); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportUsage(b, store, before, i)
}

// BenchmarkCommandTenEvents: record ten BUYs in one command (one
// TransactWriteItems; transactional writes cost two units per KB).
func BenchmarkCommandTenEvents(b *testing.B) {
	svc, store := dynamoService(b)
	id := portfolioWith(b, svc, benchUser, 40, 20)
	ctx := context.Background()
	before := store.Usage()
	i := 0
	for b.Loop() {
		batch := make([]portfolio.Transaction, 10)
		for j := range batch {
			batch[j] = benchBuy(40+i*10+j, 20)
		}
		_, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: benchUser}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
			_, err := p.RecordTransactions(batch, meta)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportUsage(b, store, before, i)
}

// bigAggregate writes a 50,000-event portfolio: 49,990 events in bulk, then the
// last ten through the service, as live commands would leave it.
func bigAggregate(b *testing.B, svc *command.Service, store eventstore.Store) string {
	b.Helper()
	ctx := context.Background()
	const user = "bench-big"
	id := fmt.Sprintf("big-%d", time.Now().UnixNano())
	p, err := portfolio.Create(id, portfolio.CreatePortfolio{Name: "Big", BaseCurrency: "USD"}, portfolio.Meta{UserID: user, Now: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i < 49_990; i++ {
		if _, err := p.RecordTransaction(benchBuy(i, 20), portfolio.Meta{UserID: user, Now: time.Now(), CausationID: fmt.Sprint(i)}); err != nil {
			b.Fatal(err)
		}
	}
	events := p.Pending()
	for start := 0; start < len(events); start += eventstore.MaxEventsPerAppend {
		end := min(start+eventstore.MaxEventsPerAppend, len(events))
		if err := store.Append(ctx, id, int64(start), events[start:end], nil); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: user}, record(benchBuy(49_990+i, 20))); err != nil {
			b.Fatal(err)
		}
	}
	return id
}

// BenchmarkLoad50kEvents: load a 50,000-event portfolio through its snapshot.
// BenchmarkLoad50kEvents/full-history is the path a back-dated trade or a void
// takes: every event, consistently read.
func BenchmarkLoad50kEvents(b *testing.B) {
	svc, store := dynamoService(b)
	id := bigAggregate(b, svc, store)
	ctx := context.Background()
	b.Run("snapshot", func(b *testing.B) {
		before := store.Usage()
		n := 0
		for b.Loop() {
			p, err := svc.Load(ctx, id)
			if err != nil || p.Version() != 50_000 {
				b.Fatalf("version %d, %v", p.Version(), err)
			}
			n++
		}
		reportUsage(b, store, before, n)
	})
	b.Run("full-history", func(b *testing.B) {
		before := store.Usage()
		n := 0
		for b.Loop() {
			p, err := svc.LoadFull(ctx, id)
			if err != nil || p.Version() != 50_000 {
				b.Fatalf("version %d, %v", p.Version(), err)
			}
			n++
		}
		reportUsage(b, store, before, n)
	})
}

// BenchmarkAppendThroughput: commands per second with 8 concurrent clients, all on
// one portfolio (every conflict retried) and spread over 100 portfolios.
func BenchmarkAppendThroughput(b *testing.B) {
	svc, store := dynamoService(b)
	ctx := context.Background()
	run := func(b *testing.B, ids []string) {
		var seq atomic.Int64
		before := store.Usage()
		b.SetParallelism(8) // × GOMAXPROCS goroutines
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(seq.Add(1))
				id := ids[i%len(ids)]
				if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "bench-tp"}, record(benchBuy(i, 20))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(seq.Load())/time.Since(start).Seconds(), "commands/s")
		reportUsage(b, store, before, int(seq.Load()))
	}
	b.Run("one-aggregate", func(b *testing.B) {
		run(b, []string{portfolioWith(b, svc, "bench-tp", 0, 20)})
	})
	b.Run("100-aggregates", func(b *testing.B) {
		ids := make([]string, 100)
		for i := range ids {
			ids[i] = portfolioWith(b, svc, "bench-tp", 0, 20)
		}
		run(b, ids)
	})
}
