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

// A bar becomes a close stamped at its session's end (16:00 New York, in
// winter and in summer time); one of another symbol, outside the range or not
// valid is refused, one whose session is still open left out.
func TestClosesFromBars(t *testing.T) {
	px := decimal.RequireFromString("10")
	bar := func(sym, day string) DailyBar {
		d, err := calendar.Parse(day)
		if err != nil {
			t.Fatal(err)
		}
		return DailyBar{Symbol: sym, Date: d, Open: px, High: px, Low: px, Close: px, Source: "test"}
	}
	from, to := calendar.MustNew(2026, 1, 1), calendar.MustNew(2026, 7, 31)
	now := time.Date(2026, 7, 1, 19, 59, 0, 0, time.UTC) // 15:59 in New York
	bad := bar("AAPL", "2026-01-05")
	bad.Close = decimal.Zero
	closes, invalid, open := ClosesFromBars("AAPL", from, to, []DailyBar{bar("AAPL", "2026-01-02"), bar("AAPL", "2026-06-30"),
		bar("AAPL", "2026-07-01"), bar("MSFT", "2026-01-02"), bar("AAPL", "2025-12-31"), bad}, now)
	if invalid != 3 || open != 1 || len(closes) != 2 {
		t.Fatalf("closes %v invalid %d open %d", closes, invalid, open)
	}
	if want := time.Date(2026, 1, 2, 21, 0, 0, 0, time.UTC); !closes[0].AsOf.Equal(want) {
		t.Errorf("winter close at %s, want %s", closes[0].AsOf, want)
	}
	if want := time.Date(2026, 6, 30, 20, 0, 0, 0, time.UTC); !closes[1].AsOf.Equal(want) || closes[1].Source != "test" {
		t.Errorf("summer close %+v, want at %s", closes[1], want)
	}
	// A range reaching past today (a Wednesday, mid-session): today's and the
	// following days' sessions are open; at 16:00 sharp today's has closed.
	week := []DailyBar{bar("AAPL", "2026-06-29"), bar("AAPL", "2026-06-30"), bar("AAPL", "2026-07-01"), bar("AAPL", "2026-07-02"), bar("AAPL", "2026-07-06")}
	if closes, invalid, open := ClosesFromBars("AAPL", from, to, week, now); len(closes) != 2 || invalid != 0 || open != 3 {
		t.Errorf("mid-session: closes %v invalid %d open %d, want Monday and Tuesday stored and 3 open", closes, invalid, open)
	}
	closeTime := time.Date(2026, 7, 1, 20, 0, 0, 0, time.UTC)
	if closes, _, open := ClosesFromBars("AAPL", from, to, week, closeTime); len(closes) != 3 || open != 2 || !closes[2].AsOf.Equal(closeTime) {
		t.Errorf("at the close: closes %v open %d, want today's stored at %s", closes, open, closeTime)
	}
}
