package market

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// Validate holds every normalised quote and bar to the invariants the stream and
// the read models rely on.
func TestValidate(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	good := Quote{Symbol: "AAPL", Price: d("190.12"), Volume: d("300"), Timestamp: at, Source: "finnhub", PreviousClose: d("189.5")}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Quote){
		"no symbol":           func(q *Quote) { q.Symbol = "" },
		"long symbol":         func(q *Quote) { q.Symbol = strings.Repeat("A", MaxSymbolLen+1) },
		"zero price":          func(q *Quote) { q.Price = decimal.Zero },
		"negative volume":     func(q *Quote) { q.Volume = d("-1") },
		"negative prev close": func(q *Quote) { q.PreviousClose = d("-1") },
		"no timestamp":        func(q *Quote) { q.Timestamp = time.Time{} },
		"not UTC":             func(q *Quote) { q.Timestamp = at.In(NewYork()) },
		"no source":           func(q *Quote) { q.Source = "" },
	} {
		q := good
		mutate(&q)
		if q.Validate() == nil {
			t.Errorf("%s: accepted %+v", name, q)
		}
	}
	bar := DailyBar{Symbol: "AAPL", Date: calendar.MustNew(2026, 3, 2), Open: d("1"), High: d("2"), Low: d("0.5"), Close: d("1.5"),
		Volume: d("10"), Source: "polygon"}
	if err := bar.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*DailyBar){
		"low above high":  func(b *DailyBar) { b.Low = d("3") },
		"zero close":      func(b *DailyBar) { b.Close = decimal.Zero },
		"negative volume": func(b *DailyBar) { b.Volume = d("-1") },
		"no source":       func(b *DailyBar) { b.Source = "" },
		"no symbol":       func(b *DailyBar) { b.Symbol = "" },
	} {
		b := bar
		mutate(&b)
		if b.Validate() == nil {
			t.Errorf("%s: accepted %+v", name, b)
		}
	}
}
