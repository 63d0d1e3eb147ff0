package readmodel_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

func TestPricesNewerWinsAndValuations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, err := readmodel.Open(ctx, testenv.Postgres(t), readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	d := decimal.RequireFromString
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	lp := func(sym, px string, at time.Time) readmodel.LatestPrice {
		return readmodel.LatestPrice{Symbol: sym, Price: d(px), Currency: "USD", AsOf: at, Source: "simulated"}
	}
	// Two prices of AAPL in one call: the newest is kept.
	if n, err := readmodel.UpsertLatestPrices(ctx, pool, []readmodel.LatestPrice{lp("AAPL", "101", t0.Add(time.Second)), lp("AAPL", "100", t0), lp("MSFT", "400", t0)}); err != nil || n != 2 {
		t.Fatalf("n %d err %v", n, err)
	}
	// Late and duplicate ticks change nothing; a newer one does.
	if n, err := readmodel.UpsertLatestPrices(ctx, pool, []readmodel.LatestPrice{lp("AAPL", "99", t0), lp("MSFT", "401", t0), lp("NVDA", "900", t0)}); err != nil || n != 1 {
		t.Fatalf("late/duplicate: n %d err %v", n, err)
	}
	if got, ok, err := readmodel.LatestPriceOf(ctx, pool, "AAPL"); err != nil || !ok || got.Price.String() != "101" || !got.AsOf.Equal(t0.Add(time.Second)) {
		t.Fatalf("AAPL %+v %v %v", got, ok, err)
	}
	if got, _, _ := readmodel.LatestPriceOf(ctx, pool, "MSFT"); got.Price.String() != "400" {
		t.Fatalf("MSFT overwritten by a duplicate: %+v", got)
	}

	day := calendar.MustNew(2026, 3, 2)
	dc := func(px string, at time.Time) readmodel.DailyClose {
		return readmodel.DailyClose{Symbol: "AAPL", Day: day, Close: d(px), AsOf: at, Source: "simulated"}
	}
	if _, err := readmodel.UpsertDailyCloses(ctx, pool, []readmodel.DailyClose{dc("100", t0), dc("102", t0.Add(time.Hour)), dc("101", t0.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if n, err := readmodel.UpsertDailyCloses(ctx, pool, []readmodel.DailyClose{dc("90", t0.Add(30*time.Minute))}); err != nil || n != 0 {
		t.Fatalf("late close: n %d err %v", n, err)
	}
	closes, err := readmodel.DailyCloses(ctx, pool, "AAPL", day, day)
	if err != nil || len(closes) != 1 || closes[0].Close.String() != "102" || !closes[0].AsOf.Equal(t0.Add(time.Hour)) {
		t.Fatalf("closes %+v err %v", closes, err)
	}

	// Portfolios: p1 (USD) holds AAPL and MSFT, p2 (USD) holds AAPL and an unpriced
	// XYZ, p3 holds only MSFT, p4 is archived, p5 closed its AAPL position.
	const u1, u2 = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
	_, err = pool.Exec(ctx, `
insert into portfolios (id, user_id, name, base_currency, lot_method, archived, created_at, updated_at, version) values
 ('p1', '`+u1+`', 'a', 'USD', 'fifo', false, now(), now(), 1),
 ('p2', '`+u2+`', 'b', 'USD', 'fifo', false, now(), now(), 1),
 ('p3', '`+u2+`', 'c', 'USD', 'fifo', false, now(), now(), 1),
 ('p4', '`+u1+`', 'd', 'USD', 'fifo', true, now(), now(), 1),
 ('p5', '`+u1+`', 'e', 'USD', 'fifo', false, now(), now(), 1);
insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees, taxes, dividends, version) values
 ('p1', 'AAPL', '`+u1+`', 10, 900, 0, 0, 0, 0, 0, 1),
 ('p1', 'MSFT', '`+u1+`', 2.5, 1100.5, 0, 0, 0, 0, 0, 1),
 ('p2', 'AAPL', '`+u2+`', 1, 95, 0, 0, 0, 0, 0, 1),
 ('p2', 'XYZ', '`+u2+`', 3, 30, 0, 0, 0, 0, 0, 1),
 ('p3', 'MSFT', '`+u2+`', 1, 0, 0, 0, 0, 0, 0, 1),
 ('p4', 'AAPL', '`+u1+`', 1, 0, 0, 0, 0, 0, 0, 1),
 ('p5', 'AAPL', '`+u1+`', 0, 0, 0, 0, 0, 0, 0, 1)`)
	if err != nil {
		t.Fatal(err)
	}
	// The watch list: the open positions of the portfolios not archived (p4's
	// AAPL alone would not count, p5's closed one does not), and their
	// benchmark (the default).
	watched, err := readmodel.WatchList(ctx, pool, t0, "USD")
	if err != nil || fmt.Sprint(watched) != "[{AAPL [held]} {MSFT [held]} {SPY [benchmark]} {XYZ [held]}]" {
		t.Fatalf("watch list %v err %v", watched, err)
	}
	vals, err := readmodel.ValuationsHolding(ctx, pool, []string{"AAPL"})
	if err != nil || len(vals) != 2 {
		t.Fatalf("vals %+v err %v", vals, err)
	}
	if v := vals[0]; v.PortfolioID != "p1" || v.UserID != u1 || v.MarketValue.String() != "2010" || !v.AsOf.Equal(t0.Add(time.Second)) || v.Unpriced != nil ||
		v.CostBasis.String() != "2000.5" || v.UnrealizedPnL.String() != "9.5" || v.NewestSymbol != "AAPL" || v.Currency != "USD" || v.Version != 1 {
		t.Fatalf("p1 %+v", v) // 10 × 101 + 2.5 × 400; cost 900 + 1100.5
	}
	// XYZ has no price: neither its value nor its cost is counted.
	if v := vals[1]; v.PortfolioID != "p2" || v.MarketValue.String() != "101" || !slices.Equal(v.Unpriced, []string{"XYZ"}) ||
		v.CostBasis.String() != "95" || v.UnrealizedPnL.String() != "6" {
		t.Fatalf("p2 %+v", v)
	}
	if vals, err := readmodel.ValuationsHolding(ctx, pool, nil); err != nil || vals != nil {
		t.Fatal("no symbols, no query")
	}
}
