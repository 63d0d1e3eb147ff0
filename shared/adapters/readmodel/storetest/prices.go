package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// PriceStore is the store of the latest price per symbol and the daily closes.
type PriceStore interface {
	UpsertLatestPrices(ctx context.Context, prices []readmodel.LatestPrice) (int64, error)
	UpsertDailyCloses(ctx context.Context, closes []readmodel.DailyClose) (int64, error)
	DailyCloses(ctx context.Context, symbol string, from, to calendar.Date) ([]readmodel.DailyClose, error)
	LatestPriceOf(ctx context.Context, symbol string) (readmodel.LatestPrice, bool, error)
	LatestPrices(ctx context.Context, symbols []string) (map[string]readmodel.LatestPrice, error)
}

var _ PriceStore = (*readmodel.Prices)(nil)

// RunPrices runs the price store's suite; newStore returns an empty store.
func RunPrices(t *testing.T, newStore func(t *testing.T) PriceStore) {
	run(t, newStore, []testCase[PriceStore]{
		{"LatestPricesNewerWins", testLatestNewerWins},
		{"DailyClosesUpsertNewerWins", testClosesUpsert},
		{"SameTickRaceWritesOnce", testPriceRace},
	})
}

func latest(sym, px string, at time.Time) readmodel.LatestPrice {
	return readmodel.LatestPrice{Symbol: sym, Price: dec(px), Currency: "USD", AsOf: at, Source: "simulated"}
}

func testLatestNewerWins(t *testing.T, s PriceStore) {
	ctx := t.Context()
	if n, err := s.UpsertLatestPrices(ctx, nil); err != nil || n != 0 {
		t.Fatalf("no prices: %d %v", n, err)
	}
	// Two prices of AAPL in one call: the newest is kept.
	if n, err := s.UpsertLatestPrices(ctx, []readmodel.LatestPrice{latest("AAPL", "101", t0.Add(time.Second)), latest("AAPL", "100", t0), latest("MSFT", "400", t0)}); err != nil || n != 2 {
		t.Fatalf("n %d err %v", n, err)
	}
	// Late and duplicate ticks change nothing; a new symbol is written.
	if n, err := s.UpsertLatestPrices(ctx, []readmodel.LatestPrice{latest("AAPL", "99", t0), latest("MSFT", "401", t0), latest("NVDA", "900.125", t0)}); err != nil || n != 1 {
		t.Fatalf("late/duplicate: n %d err %v", n, err)
	}
	got, ok, err := s.LatestPriceOf(ctx, "AAPL")
	if err != nil || !ok || got.Price.String() != "101" || !got.AsOf.Equal(t0.Add(time.Second)) || got.Currency != "USD" || got.Source != "simulated" || got.Symbol != "AAPL" {
		t.Fatalf("AAPL %+v %v %v", got, ok, err)
	}
	if got, _, _ := s.LatestPriceOf(ctx, "MSFT"); got.Price.String() != "400" {
		t.Fatalf("MSFT overwritten by a duplicate: %+v", got)
	}
	if _, ok, err := s.LatestPriceOf(ctx, "NONE"); ok || err != nil {
		t.Fatalf("a symbol without a price: %v %v", ok, err)
	}
	// A newer one replaces it.
	if n, err := s.UpsertLatestPrices(ctx, []readmodel.LatestPrice{latest("MSFT", "402.5", t0.Add(time.Minute))}); err != nil || n != 1 {
		t.Fatalf("newer: n %d err %v", n, err)
	}
	m, err := s.LatestPrices(ctx, []string{"AAPL", "MSFT", "NVDA", "NONE"})
	if err != nil || len(m) != 3 {
		t.Fatalf("latest prices %+v %v", m, err)
	}
	for sym, want := range map[string]string{"AAPL": "101", "MSFT": "402.5", "NVDA": "900.125"} {
		if p := m[sym]; p.Symbol != sym || p.Price.String() != want || p.AsOf.Location() != time.UTC {
			t.Errorf("%s: %+v, want %s in UTC", sym, p, want)
		}
	}
	if m, err := s.LatestPrices(ctx, nil); err != nil || len(m) != 0 {
		t.Fatalf("no symbols: %+v %v", m, err)
	}
}

func testClosesUpsert(t *testing.T, s PriceStore) {
	ctx := t.Context()
	day := calendar.MustNew(2026, 3, 2)
	dc := func(sym string, d calendar.Date, px string, at time.Time) readmodel.DailyClose {
		return readmodel.DailyClose{Symbol: sym, Day: d, Close: dec(px), AsOf: at, Source: "simulated"}
	}
	if n, err := s.UpsertDailyCloses(ctx, []readmodel.DailyClose{dc("AAPL", day, "100", t0), dc("AAPL", day, "102", t0.Add(time.Hour)), dc("AAPL", day, "101", t0.Add(time.Minute)),
		dc("AAPL", day-1, "98", t0.Add(-24*time.Hour)), dc("MSFT", day, "400", t0)}); err != nil || n != 3 {
		t.Fatalf("upsert: %d %v", n, err)
	}
	if n, err := s.UpsertDailyCloses(ctx, []readmodel.DailyClose{dc("AAPL", day, "90", t0.Add(30*time.Minute))}); err != nil || n != 0 {
		t.Fatalf("late close: n %d err %v", n, err)
	}
	if n, err := s.UpsertDailyCloses(ctx, []readmodel.DailyClose{dc("AAPL", day-1, "97.5", t0)}); err != nil || n != 1 {
		t.Fatalf("a later close of a day: n %d err %v", n, err)
	}
	closes, err := s.DailyCloses(ctx, "AAPL", day-5, day)
	if err != nil || len(closes) != 2 {
		t.Fatalf("closes %+v err %v", closes, err)
	}
	if c := closes[0]; c.Day != day-1 || c.Close.String() != "97.5" || !c.AsOf.Equal(t0) || c.Symbol != "AAPL" || c.Source != "simulated" {
		t.Fatalf("first close %+v", c)
	}
	if c := closes[1]; c.Day != day || c.Close.String() != "102" || !c.AsOf.Equal(t0.Add(time.Hour)) {
		t.Fatalf("second close %+v", c)
	}
	if closes, err := s.DailyCloses(ctx, "AAPL", day, day); err != nil || len(closes) != 1 || closes[0].Day != day {
		t.Fatalf("one day: %+v %v", closes, err)
	}
	if closes, err := s.DailyCloses(ctx, "NONE", day-5, day); err != nil || len(closes) != 0 {
		t.Fatalf("no closes: %+v %v", closes, err)
	}
}

// testPriceRace: writers of the same tick at once; exactly one writes it.
func testPriceRace(t *testing.T, s PriceStore) {
	ctx := t.Context()
	var latestRows, closeRows atomic.Int64
	race(racers, func(i int) {
		n, err := s.UpsertLatestPrices(ctx, []readmodel.LatestPrice{latest("AAPL", "101", t0)})
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		latestRows.Add(n)
		n, err = s.UpsertDailyCloses(ctx, []readmodel.DailyClose{{Symbol: "AAPL", Day: calendar.MustNew(2026, 3, 2), Close: dec("101"), AsOf: t0, Source: "s"}})
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		closeRows.Add(n)
	})
	if latestRows.Load() != 1 || closeRows.Load() != 1 {
		t.Fatalf("%d latest prices and %d closes written, want 1 each", latestRows.Load(), closeRows.Load())
	}
	if p, ok, _ := s.LatestPriceOf(ctx, "AAPL"); !ok || p.Price.String() != "101" {
		t.Fatalf("AAPL %+v", p)
	}
}
