package prices_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// recIn is a tick of sym quoted in cur.
func recIn(t testing.TB, sym, price, cur string, at time.Time) prices.Record {
	t.Helper()
	q := market.Quote{Symbol: sym, Price: decimal.RequireFromString(price), Volume: decimal.NewFromInt(10), Timestamp: at,
		Source: "simulated", Currency: cur}
	b, err := pricing.Encode(pricing.FromQuote(q))
	if err != nil {
		t.Fatal(err)
	}
	return raw(sym, b)
}

// position inserts an open position as the projector keeps it: cost basis in
// the base, the local figures in the currency it settles in.
func position(t testing.TB, pool *pgxpool.Pool, portfolio, user, symbol, qty, cost, cur, localCur, localCost string) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees,
  taxes, dividends, version, currency, local_currency, local_cost_basis)
values ($1, $2, $3::uuid, $4::numeric, $5::numeric, 0, 0, 0, 0, 0, 1, $6, $7, $8::numeric)`, portfolio, symbol, user, qty, cost, cur, localCur, localCost); err != nil {
		t.Fatal(err)
	}
}

// TestEURPortfolioValuedAtLiveRates: a EUR portfolio holding US shares (USD), a
// London ETF quoted in pence (GBp) and a Swiss share (CHF) is valued in euros at
// the latest quotes of the USD pairs, against DynamoDB Local and PostgreSQL; a
// tick of a pair alone revalues it (and not a USD portfolio beside it); a
// position whose rate is missing is unpriced, named, never valued at 1, until
// its pair ticks. The arithmetic, with currency.Rates' 12-place inverse and
// cross rates:
//
//	USD→EUR = round(1 / 1.10, 12)                 = 0.909090909091
//	GBP→EUR = round(1.25 × 0.909090909091, 12)    = 1.136363636364, GBp→EUR one hundredth of it
//	AAPL    10 × 200 USD × 0.909090909091         = 1818.181818182
//	VUSA.L  100 × 7000 GBp × 0.01136363636364     = 7954.545454548
//	value 9772.72727273, cost 1700 + 7500 = 9200, unrealized 572.72727273
//	currency effect (local cost × today's rate − cost basis):
//	  1900 USD × 0.909090909091 − 1700 = 27.2727272729; 6500 GBP × 1.136363636364 − 7500 = −113.636363634
//	  together −86.3636363611
//
// GBPUSD=X ticks 1.30: GBP→EUR = round(1.30 × 0.909090909091, 12) = 1.181818181818, VUSA.L
// 700000 × 0.01181818181818 = 8272.727272726, value 10090.909090908, unrealized 890.909090908, currency
// effect 27.2727272729 + (6500 × 1.181818181818 − 7500 = 181.818181817) = 209.0909090899.
//
// CHFUSD=X ticks 1.12: CHF→EUR = round(1.12 × 0.909090909091, 12) = 1.018181818182, NESN.SW 5 × 100 ×
// 1.018181818182 = 509.090909091, value 10599.999999999, cost 9650, unrealized 949.999999999, currency
// effect 209.0909090899 + (430 × 1.018181818182 − 450 = −12.18181818174) = 196.90909090816.
//
// The push's price effect is the rest of the unrealized P&L (572.72727273 − (−86.3636363611) =
// 659.0909090911 first).
func TestEURPortfolioValuedAtLiveRates(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('pe', $1::uuid, 'eur', 'EUR', 'fifo', now(), now(), 1)`, u1); err != nil {
		t.Fatal(err)
	}
	position(t, e.pool, "pe", u1, "AAPL", "10", "1700", "USD", "USD", "1900")
	position(t, e.pool, "pe", u1, "VUSA.L", "100", "7500", "GBp", "GBP", "6500")
	position(t, e.pool, "pe", u1, "NESN.SW", "5", "450", "CHF", "CHF", "430")
	holdings(t, e.pool, "pu", u2, map[string]string{"MSFT": "1"})
	// po's VUSA.L row predates positions' currencies ("": the base, USD), and
	// the quote says pence: another listing than its trades', so it is
	// unpriced, as the positions view has it (price_currency_mismatch), not
	// valued at the pound's rate; with nothing priced, po has no value to push.
	holdings(t, e.pool, "po", u2, map[string]string{"VUSA.L": "2"})
	// pc bought CSPX.L, a dollar line on the LSE, at 500 USD with a rate of 0.8:
	// its ticks carry no currency and are stamped with the listing's guess,
	// GBp; 10 × 550 GBp at the pound's rate would be 68.18 EUR for what cost
	// 4,000: unpriced instead, named beside its priced AAPL (1 × 200 ×
	// 0.909090909091 = 181.8181818182).
	if _, err := e.pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('pc', $1::uuid, 'eur', 'EUR', 'fifo', now(), now(), 1)`, u2); err != nil {
		t.Fatal(err)
	}
	position(t, e.pool, "pc", u2, "CSPX.L", "10", "4000", "USD", "USD", "5000")
	position(t, e.pool, "pc", u2, "AAPL", "1", "170", "USD", "USD", "190")
	notifier := &pricing.MemoryNotifier{}
	events := &eventLog{}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Notifier: notifier, Valuations: events.add})

	batch := func(recs ...prices.Record) map[string]pricing.ValuationMessage {
		t.Helper()
		before := len(notifier.Deliveries())
		if resp, err := handle(ctx, c, recs); len(resp) != 0 || err != nil {
			t.Fatalf("failures %v, %v", resp, err)
		}
		out := map[string]pricing.ValuationMessage{}
		for _, d := range notifier.Deliveries()[before:] {
			if m, ok := d.Message.(pricing.ValuationMessage); ok {
				out[m.PortfolioID] = m
			}
		}
		return out
	}
	check := func(what string, m pricing.ValuationMessage, mv, cb, pnl, ce string, unpriced ...string) {
		t.Helper()
		d := decimal.RequireFromString
		if m.Currency != "EUR" || !d(m.MarketValue).Equal(d(mv)) || !d(m.CostBasis).Equal(d(cb)) || !d(m.UnrealizedPnL).Equal(d(pnl)) ||
			!d(m.CurrencyEffect).Equal(d(ce)) || !d(m.PriceEffect).Equal(d(pnl).Sub(d(ce))) || !slices.Equal(m.Unpriced, unpriced) {
			t.Fatalf("%s: %+v\nwant EUR value %s, cost %s, unrealized %s, currency effect %s, unpriced %v", what, m, mv, cb, pnl, ce, unpriced)
		}
	}

	t1 := t0
	got := batch(recIn(t, "EURUSD=X", "1.10", "USD", t1), recIn(t, "GBPUSD=X", "1.25", "USD", t1),
		recIn(t, "AAPL", "200", "USD", t1), recIn(t, "VUSA.L", "7000", "GBp", t1), recIn(t, "NESN.SW", "100", "CHF", t1),
		recIn(t, "MSFT", "400", "", t1), recIn(t, "CSPX.L", "550", "", t1))
	check("first batch", got["pe"], "9772.72727273", "9200", "572.72727273", "-86.3636363611", "NESN.SW")
	if m := got["pu"]; m.MarketValue != "400" || m.Currency != "USD" || m.CurrencyEffect != "" {
		t.Fatalf("USD portfolio: %+v", m)
	}
	if m, ok := got["po"]; ok {
		t.Fatalf("USD portfolio holding VUSA.L recorded in the base, quoted in pence: %+v, want unpriced, nothing pushed", m)
	}
	if m := got["pc"]; m.MarketValue != "181.8181818182" || m.Currency != "EUR" || !slices.Equal(m.Unpriced, []string{"CSPX.L"}) {
		t.Fatalf("EUR portfolio holding CSPX.L traded in dollars, quoted in pence: %+v, want AAPL's 181.8181818182, CSPX.L unpriced", m)
	}
	if lp := latestPG(t, e.pool, "CSPX.L"); lp.Currency != "GBp" {
		t.Fatalf("latest_prices CSPX.L: %+v, want the listing's guess GBp", lp)
	}
	if lp := latestPG(t, e.pool, "VUSA.L"); lp.Currency != "GBp" || lp.Price.String() != "7000" {
		t.Fatalf("latest_prices VUSA.L: %+v, want 7000 GBp (the quote's currency)", lp)
	}
	if lp := latestPG(t, e.pool, "MSFT"); lp.Currency != "USD" {
		t.Fatalf("latest_prices MSFT: %+v, want the stream's default USD", lp)
	}

	// The pound moves: the EUR portfolio is revalued at the tick's time, caused by
	// it; the USD one is not touched.
	t2 := t1.Add(time.Minute)
	pair := recIn(t, "GBPUSD=X", "1.30", "USD", t2)
	got = batch(pair)
	check("after GBPUSD=X 1.30", got["pe"], "10090.909090908", "9200", "890.909090908", "209.0909090899", "NESN.SW")
	if _, ok := got["pu"]; ok || len(got) != 1 {
		t.Fatalf("a pound tick revalued %v", got)
	}
	tick, err := pricing.Decode(pair.Data)
	if err != nil {
		t.Fatal(err)
	}
	if evs := events.all(); got["pe"].AsOf != t2.Format(time.RFC3339Nano) || evs[len(evs)-1].CausationID != tick.EventID {
		t.Fatalf("as of %s caused by %s, want the pair's tick at %s, %s", got["pe"].AsOf, evs[len(evs)-1].CausationID, t2, tick.EventID)
	}
	hist, err := readmodel.ValuationHistory(ctx, e.pool, u1, "pe", t0, t2.Add(time.Second), 10)
	if err != nil || len(hist) != 2 || !hist[1].MarketValue.Equal(decimal.RequireFromString("10090.909090908")) || !hist[1].AsOf.Equal(t2) {
		t.Fatalf("valuations of pe: %+v, %v", hist, err)
	}

	// The missing rate arrives: NESN.SW is priced.
	t3 := t2.Add(time.Minute)
	got = batch(recIn(t, "CHFUSD=X", "1.12", "USD", t3))
	check("after CHFUSD=X 1.12", got["pe"], "10599.999999999", "9650", "949.999999999", "196.90909090816")

	// A warm consumer sees a new holder of dollars: a second EUR portfolio buys
	// AAPL, and the next EURUSD=X tick revalues both (1.25: USD→EUR =
	// 0.8, AAPL 10 × 200 × 0.8 = 1600 in each), and pc (its AAPL; CSPX.L still
	// unpriced).
	if _, err := e.pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('pf', $1::uuid, 'eur', 'EUR', 'fifo', now(), now(), 1)`, u2); err != nil {
		t.Fatal(err)
	}
	position(t, e.pool, "pf", u2, "AAPL", "10", "1800", "USD", "USD", "1900")
	got = batch(recIn(t, "EURUSD=X", "1.25", "USD", t3.Add(time.Minute)))
	if len(got) != 3 || got["pf"].MarketValue != "1600" || got["pf"].CurrencyEffect != "-280" || !slices.Equal(got["pc"].Unpriced, []string{"CSPX.L"}) {
		t.Fatalf("after EURUSD=X 1.25: %+v, want pe, pf and pc, pf valued 1600 with a currency effect of 1900 × 0.8 − 1800 = −280, pc unpriced", got)
	}
}
