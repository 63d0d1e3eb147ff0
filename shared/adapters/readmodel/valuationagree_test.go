package readmodel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
)

// The live valuation (the prices consumer's, in Go from its holdings cache,
// and its SQL oracle) and the API's positions view (ValuePositions) value the
// same holdings at the same prices alike: a price in another currency than a
// position's trades (CSPX.L, a dollar line quoted in pence; a row from before
// positions had a currency, which counts as the base, quoted in dollars) leaves
// it unpriced in all three; a price in a unit of the trading currency (GBp for
// GBP, GBX for GBp) is converted exactly. The figures, with currency.Rates'
// 12-place inverse and cross rates (EURUSD=X 1.10, GBPUSD=X 1.25):
//
//	USD→EUR = round(1 / 1.10, 12) = 0.909090909091; GBP→EUR = round(1.25 × 0.909090909091, 12) = 1.136363636364
//	fe (EUR): VUSA.L 100 × 7000 GBp = 700 GBP × 1.136363636364 = 7954.545454548 (traded in GBP)
//	          IWDA.L 20 × 6500 GBX = 1300 GBP × 1.136363636364 = 1477.2727272732 (traded in GBp)
//	          AAPL 10 × 200 USD × 0.909090909091 = 1818.181818182; SAP.DE 5 × 120 EUR = 600 (no currency recorded)
//	          value 11850.0000000032; unpriced CSPX.L (USD, quoted GBp), OLD (no currency: EUR, quoted USD)
//	fg (GBP): VOD.L 1000 × 75 GBp = 750; BP.L 200 × 480 GBp = 960 (traded in GBP); AAPL 2 × 200 × 0.8 = 320: 2030
//	fu (USD): MSFT 3 × 400 = 1200; VUSA.L recorded before currencies (USD), quoted in GBp: unpriced
func TestLiveValuationAgreesWithPositionsView(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	now := time.Now().UTC().Truncate(time.Second) // the API reads today's rates
	for _, pf := range []struct{ id, base string }{{"fe", "EUR"}, {"fg", "GBP"}, {"fu", "USD"}} {
		if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ($1, $2::uuid, 'p', $3, 'fifo', now(), now(), 1)`, pf.id, rmtest.UserA, pf.base); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct{ pf, sym, qty, cost, cur, local, localCost string }{
		{"fe", "CSPX.L", "10", "4000", "USD", "USD", "5000"},
		{"fe", "VUSA.L", "100", "7500", "GBP", "GBP", "6500"},
		{"fe", "IWDA.L", "20", "1500", "GBp", "GBP", "1300"},
		{"fe", "AAPL", "10", "1700", "USD", "USD", "1900"},
		{"fe", "OLD", "4", "180", "", "", "180"},
		{"fe", "SAP.DE", "5", "550", "", "", "550"},
		{"fg", "VOD.L", "1000", "700", "GBp", "GBP", "700"},
		{"fg", "BP.L", "200", "900", "GBP", "GBP", "900"},
		{"fg", "AAPL", "2", "300", "USD", "USD", "380"},
		{"fu", "MSFT", "3", "1000", "USD", "USD", "1000"},
		{"fu", "VUSA.L", "2", "150", "", "", "150"},
	} {
		if _, err := pool.Exec(ctx, `insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees, taxes, dividends, version,
  currency, local_currency, local_cost_basis)
values ($1, $2, $3::uuid, $4::numeric, $5::numeric, 0, 0, 0, 0, 0, 1, $6, $7, $8::numeric)`, p.pf, p.sym, rmtest.UserA, p.qty, p.cost, p.cur, p.local, p.localCost); err != nil {
			t.Fatal(err)
		}
	}
	var lps []readmodel.LatestPrice
	var symbols []string
	for _, q := range []struct{ sym, price, cur string }{
		{"CSPX.L", "550", "GBp"}, {"VUSA.L", "7000", "GBp"}, {"IWDA.L", "6500", "GBX"}, {"AAPL", "200", "USD"},
		{"OLD", "50", "USD"}, {"SAP.DE", "120", "EUR"}, {"VOD.L", "75", "GBp"}, {"BP.L", "480", "GBp"}, {"MSFT", "400", "USD"},
		{"EURUSD=X", "1.10", "USD"}, {"GBPUSD=X", "1.25", "USD"},
	} {
		lps = append(lps, readmodel.LatestPrice{Symbol: q.sym, Price: decimal.RequireFromString(q.price), Currency: q.cur, AsOf: now, Source: "simulated"})
		symbols = append(symbols, q.sym)
	}
	if _, err := readmodel.UpsertLatestPrices(ctx, pool, lps); err != nil {
		t.Fatal(err)
	}

	want := map[string]struct {
		value    string
		unpriced []string
	}{
		"fe": {"11850.0000000032", []string{"CSPX.L", "OLD"}},
		"fg": {"2030", nil},
		"fu": {"1200", []string{"VUSA.L"}},
	}
	inSQL, err := readmodel.ValuationsHolding(ctx, pool, symbols)
	if err != nil {
		t.Fatal(err)
	}
	inGo, err := readmodel.NewPricesConsumerStore(pool).ValuationsHolding(ctx, symbols)
	if err != nil {
		t.Fatal(err)
	}
	if len(inSQL) != len(want) || len(inGo) != len(want) {
		t.Fatalf("%d valuations in SQL, %d in Go, want %d", len(inSQL), len(inGo), len(want))
	}
	q := readmodel.NewQueries(pool)
	for i := range inSQL {
		id := inSQL[i].PortfolioID
		view, err := q.Positions(ctx, rmtest.UserA, id)
		if err != nil {
			t.Fatal(err)
		}
		api := view.Totals
		unpriced := slices.Sorted(slices.Values(api.Unpriced))
		effect := decimal.Zero
		for _, p := range view.Positions {
			if p.CurrencyEffect != nil {
				effect = effect.Add(*p.CurrencyEffect)
			}
			if slices.Contains(unpriced, p.Symbol) && (len(p.Warnings) != 1 || p.Warnings[0].Code != readmodel.WarningPriceCurrency) {
				t.Errorf("%s %s: warnings %+v, want %s", id, p.Symbol, p.Warnings, readmodel.WarningPriceCurrency)
			}
		}
		w := want[id]
		if !api.MarketValue.Equal(decimal.RequireFromString(w.value)) || !slices.Equal(unpriced, w.unpriced) {
			t.Errorf("%s positions view: value %s, unpriced %v, want %s and %v", id, api.MarketValue, unpriced, w.value, w.unpriced)
		}
		for name, live := range map[string]readmodel.PortfolioValuation{"sql": inSQL[i], "go": inGo[i]} {
			if live.PortfolioID != id || !live.MarketValue.Equal(api.MarketValue) || !live.UnrealizedPnL.Equal(api.UnrealizedPnL) ||
				!slices.Equal(live.Unpriced, unpriced) || !live.CurrencyEffect.Equal(effect) {
				t.Errorf("%s live (%s): %+v\nwant the positions view's value %s, unrealized %s, currency effect %s, unpriced %v",
					id, name, live, api.MarketValue, api.UnrealizedPnL, effect, unpriced)
			}
		}
	}
}
