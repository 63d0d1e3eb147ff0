package portfolio_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// liftTransactionQuota lets a benchmark decide a history longer than a user may
// record (quota.TransactionsPerPortfolio): what it measures is the speed of the
// fold and of a decision on a long history, not the quota.
func liftTransactionQuota(b *testing.B) {
	limit := quota.TransactionsPerPortfolio.Limit
	quota.TransactionsPerPortfolio.Limit = math.MaxInt
	b.Cleanup(func() { quota.TransactionsPerPortfolio.Limit = limit })
}

// historyEvents decides n in-order transactions over 300 symbols (4 buys of 10 to 1 sell of 5,
// an occasional split) and returns every event, creation included.
func historyEvents(b *testing.B, n int) []portfolio.Event {
	b.Helper()
	syms := make([]string, 300)
	for i := range syms {
		syms[i] = fmt.Sprintf("SYM%03d", i)
	}
	id := 0
	meta := portfolio.Meta{UserID: alice, Now: t0, NewID: func() string { id++; return fmt.Sprintf("tx-%08d", id) }}
	p, err := portfolio.Create("pf-bench", portfolio.CreatePortfolio{Name: "B", BaseCurrency: "USD"}, meta)
	if err != nil {
		b.Fatal(err)
	}
	qty, half, price, fee := decimal.NewFromInt(10), decimal.NewFromInt(5), decimal.RequireFromString("101.25"), decimal.RequireFromString("1.5")
	// About 7 trades a day up to 50,000 transactions (19 years from 2005); a longer
	// history packs more trades into each day, so every date stays within the
	// bounds (portfolio.CheckBounds: a year after the benchmarks' today at most).
	start, perDay := calendar.MustNew(2005, 1, 3), max(7, n/7_000)
	for i := 0; i < n; i++ {
		sym := syms[i%len(syms)]
		tx := portfolio.Transaction{Type: portfolio.Buy, Date: start.AddDays(i / perDay), Symbol: sym, Quantity: qty, Price: price, Fee: fee, Currency: "USD"}
		switch {
		case i%997 == 996:
			tx = portfolio.Transaction{Type: portfolio.Split, Date: start.AddDays(i/perDay + 1), Symbol: sym, Ratio: portfolio.Ratio{New: 2, Old: 1}, Currency: "USD"}
		case (i/len(syms))%5 == 4: // every fifth round sells half of one round's buy
			tx.Type, tx.Quantity, tx.Fee = portfolio.Sell, half, decimal.Zero
		}
		meta.CausationID = fmt.Sprintf("cmd-%d", i)
		if _, err := p.RecordTransaction(tx, meta); err != nil {
			b.Fatalf("event %d: %v", i, err)
		}
	}
	return p.Pending()
}

// BenchmarkFoldOneEventOnto50k: apply one more TransactionRecorded to an aggregate
// already holding 50,000 events (target ≤ 10 µs).
func BenchmarkFoldOneEventOnto50k(b *testing.B) {
	events := historyEvents(b, 50_000)
	p, err := portfolio.Fold(nil, events)
	if err != nil {
		b.Fatal(err)
	}
	next := events[len(events)-1]
	tx := next.Data.(*portfolio.TransactionRecorded).Transaction
	tx.Type, tx.Date = portfolio.Buy, tx.Date.AddDays(1)
	b.ReportAllocs()
	for b.Loop() {
		next.Version = p.Version() + 1
		// The payload is allocated in the loop, as decoding a stored event would.
		pl := &portfolio.TransactionRecorded{Transaction: tx}
		pl.Seq, pl.ID = portfolio.SeqOf(next.Version, 0), "next"
		next.Data = pl
		if err := p.Apply(next); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordOnto50k: decide and fold one BUY (validation, invariant check,
// event construction) on a 50,000-event aggregate.
func BenchmarkRecordOnto50k(b *testing.B) {
	liftTransactionQuota(b)
	p, err := portfolio.Fold(nil, historyEvents(b, 50_000))
	if err != nil {
		b.Fatal(err)
	}
	meta := portfolio.Meta{UserID: alice, Now: t0, CausationID: "bench", NewID: portfolio.NewID}
	tx := portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2025, 6, 2), Symbol: "SYM007", Quantity: decimal.NewFromInt(1), Price: decimal.NewFromInt(100), Currency: "USD"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.RecordTransaction(tx, meta); err != nil {
			b.Fatal(err)
		}
		p.MarkCommitted()
	}
}

// BenchmarkReplay1M folds 1,000,000 events from scratch (target ≥ 2,000,000 events/s).
func BenchmarkReplay1M(b *testing.B) {
	liftTransactionQuota(b)
	events := historyEvents(b, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := portfolio.Fold(nil, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
