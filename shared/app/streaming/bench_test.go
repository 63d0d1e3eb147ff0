package streaming_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/app/streaming"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// benchTrades are 1,000 trades over 50 symbols, as an interval of a busy
// session might bring.
func benchTrades() []market.Quote {
	trades := make([]market.Quote, 1000)
	for i := range trades {
		trades[i] = market.Quote{Symbol: fmt.Sprintf("SYM%02d", i%50), Price: decimal.New(int64(10000+i), -2),
			Volume: decimal.NewFromInt(int64(1 + i%7)), Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Source: "finnhub"}
	}
	return trades
}

// BenchmarkCoalescerAdd: one trade folded in (the stream's goroutine, per
// trade).
func BenchmarkCoalescerAdd(b *testing.B) {
	trades := benchTrades()
	c := streaming.NewCoalescer()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = c.Add(trades[i%len(trades)])
		if i%len(trades) == len(trades)-1 {
			c.Drain()
		}
	}
}

// BenchmarkCoalescerInterval: one interval of 1,000 trades over 50 symbols
// folded, drained and encoded as the 50 records of its PutRecords call.
func BenchmarkCoalescerInterval(b *testing.B) {
	trades := benchTrades()
	c := streaming.NewCoalescer()
	b.ReportAllocs()
	for b.Loop() {
		for _, q := range trades {
			_ = c.Add(q)
		}
		quotes, _ := c.Drain()
		for _, q := range quotes {
			if _, err := pricing.Encode(pricing.FromQuote(q)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
