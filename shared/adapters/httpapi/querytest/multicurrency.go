package querytest

import (
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// testMultiCurrency: a EUR portfolio holding AAPL (USD) and VUSA.L (GBp), with
// cash in three currencies, is projected as the lot engine computes it in the
// base and the local currencies, with its transactions' rates; it is valued at
// prices in the trading currencies times the live rates (a pair's latest quote,
// else its last daily close; the inverse and the cross through USD derived);
// a position or a balance whose currency has no rate is unpriced and warned
// about, never valued at 1.
func testMultiCurrency(t *testing.T, f Fixture) {
	ctx := t.Context()
	h := rmtest.MultiCurrency(t, "pm", rmtest.UserA, portfolio.FIFO)
	// A second EUR portfolio holds a Tokyo listing: there is no JPY rate at all.
	jp := rmtest.NewHistoryIn(t, "pj", rmtest.UserA, portfolio.FIFO, "EUR")
	jp.Tx(rmtest.In(rmtest.Cash(portfolio.Deposit, "2024-01-02", "", "1000", "", ""), "EUR", ""))
	jp.Tx(rmtest.In(rmtest.Buy("2024-01-04", "7203.T", "100", "2500", ""), "JPY", "0.0063"))
	applyInBatches(t, f, slices.Concat(h.Events, jp.Events), 4)

	at := time.Date(2024, 7, 1, 20, 0, 0, 0, time.UTC)
	if err := f.SetLatestPrices(ctx, []readmodel.LatestPrice{
		{Symbol: "AAPL", Price: rmtest.Dec("190"), Currency: "USD", AsOf: at, Source: "test"},
		{Symbol: "VUSA.L", Price: rmtest.Dec("7600"), Currency: "GBp", AsOf: at, Source: "test"},
		{Symbol: "7203.T", Price: rmtest.Dec("2700"), Currency: "JPY", AsOf: at, Source: "test"},
		{Symbol: "EURUSD=X", Price: rmtest.Dec("1.08"), Currency: "USD", AsOf: at, Source: "test"},
	}); err != nil {
		t.Fatal(err)
	}
	// GBP has only daily closes: the last one on or before today is in force;
	// EUR's close is older than its live quote, which wins.
	if err := f.SetDailyCloses(ctx, []readmodel.DailyClose{
		{Symbol: "GBPUSD=X", Day: rmtest.D("2024-06-27"), Close: rmtest.Dec("1.26"), AsOf: at.Add(-96 * time.Hour), Source: "test"},
		{Symbol: "GBPUSD=X", Day: rmtest.D("2024-06-28"), Close: rmtest.Dec("1.27"), AsOf: at.Add(-72 * time.Hour), Source: "test"},
		{Symbol: "EURUSD=X", Day: rmtest.D("2024-06-28"), Close: rmtest.Dec("1.07"), AsOf: at.Add(-72 * time.Hour), Source: "test"},
	}); err != nil {
		t.Fatal(err)
	}
	// The oracle: the lot engine on the aggregate's transactions, and the
	// rates the fixture was given.
	book := lotEngine(t, h)
	rates := currency.NewRates()
	for _, r := range []struct {
		day      string
		from, to string
		rate     string
	}{{"2024-06-28", "GBP", "USD", "1.27"}, {"2024-06-28", "EUR", "USD", "1.07"}, {"2024-07-01", "EUR", "USD", "1.08"}} {
		if err := rates.Add(rmtest.D(r.day), r.from, r.to, rmtest.Dec(r.rate)); err != nil {
			t.Fatal(err)
		}
	}
	today := calendar.FromTime(time.Now().UTC())
	rateOf := func(from string) decimal.Decimal {
		t.Helper()
		r, ok := rates.On(from, "EUR", today)
		if !ok {
			t.Fatalf("no oracle rate %s→EUR", from)
		}
		return r.Value
	}

	pos, err := f.Portfolios.Positions(ctx, rmtest.UserA, "pm")
	if err != nil {
		t.Fatal(err)
	}
	if pos.BaseCurrency != "EUR" || len(pos.Positions) != 2 {
		t.Fatalf("positions of pm: %+v", pos)
	}
	prices := map[string]decimal.Decimal{"AAPL": rmtest.Dec("190"), "VUSA.L": rmtest.Dec("7600")}
	wantMV, wantUPnL := decimal.Decimal{}, decimal.Decimal{}
	for _, p := range pos.Positions {
		want, _ := book.Position(p.Symbol)
		if !p.Quantity.Equal(want.Quantity) || !p.CostBasis.Equal(want.CostBasis) || !p.RealizedPnL.Equal(want.RealizedPnL) ||
			!p.Fees.Equal(want.Fees) || !p.Taxes.Equal(want.Taxes) || !p.Dividends.Equal(want.Dividends) ||
			p.Currency != want.Currency || p.LocalCurrency != want.Local.Currency ||
			!p.LocalCostBasis.Equal(want.Local.CostBasis) || !p.LocalRealizedPnL.Equal(want.Local.RealizedPnL) ||
			!p.LocalFees.Equal(want.Local.Fees) || !p.LocalTaxes.Equal(want.Local.Taxes) ||
			!p.LocalDividends.Equal(want.Local.Dividends) || p.LocalExcluded != want.Local.Excluded {
			t.Errorf("%s: %+v, the lot engine says %+v", p.Symbol, p, want)
		}
		rate := rateOf(want.Local.Currency)
		val := want.ValueAt(prices[p.Symbol], rate)
		if str(p.MarketPrice) != val.MarketPrice.String() || str(p.MarketValue) != val.MarketValue.String() ||
			str(p.UnrealizedPnL) != val.UnrealizedPnL.String() || str(p.PriceEffect) != val.PriceEffect.String() ||
			str(p.CurrencyEffect) != val.CurrencyEffect.String() || str(p.LocalMarketValue) != val.LocalMarketValue.String() ||
			str(p.LocalUnrealizedPnL) != val.LocalUnrealizedPnL.String() || str(p.FXRate) != rate.String() || len(p.Warnings) != 0 {
			t.Errorf("%s valued %s at %s: %+v, want %+v", p.Symbol, str(p.MarketPrice), str(p.FXRate), p, val)
		}
		if !p.PriceEffect.Add(*p.CurrencyEffect).Equal(*p.UnrealizedPnL) || p.CurrencyEffect.IsZero() {
			t.Errorf("%s: price effect %s + currency effect %s ≠ unrealized %s", p.Symbol, str(p.PriceEffect), str(p.CurrencyEffect), str(p.UnrealizedPnL))
		}
		wantMV, wantUPnL = wantMV.Add(val.MarketValue), wantUPnL.Add(val.UnrealizedPnL)
	}
	// VUSA.L is quoted in pence, valued in pounds: 80 × 7600p = £6,080. Its local
	// income is the £5 buy fee and the £25 distribution; the one paid in dollars
	// is in the base figures only. AAPL's is all in dollars: $2 of trade fees, a
	// $5 dividend with $0.75 withheld.
	for _, p := range pos.Positions {
		if p.Symbol == "VUSA.L" && (p.Currency != "GBp" || p.LocalCurrency != "GBP" || str(p.LocalMarketValue) != "6080" ||
			!p.LocalFees.Equal(rmtest.Dec("5")) || !p.LocalDividends.Equal(rmtest.Dec("25")) || !p.LocalTaxes.IsZero() || p.LocalExcluded != 1) {
			t.Errorf("VUSA.L in %s/%s, local market value %s, fees %s, dividends %s, taxes %s, excluded %d; want GBp/GBP, 6080, 5, 25, 0, 1",
				p.Currency, p.LocalCurrency, str(p.LocalMarketValue), p.LocalFees, p.LocalDividends, p.LocalTaxes, p.LocalExcluded)
		}
		if p.Symbol == "AAPL" && (!p.LocalFees.Equal(rmtest.Dec("2")) || !p.LocalDividends.Equal(rmtest.Dec("5")) || !p.LocalTaxes.Equal(rmtest.Dec("0.75")) || p.LocalExcluded != 0) {
			t.Errorf("AAPL local fees %s, dividends %s, taxes %s, excluded %d; want 2, 5, 0.75, 0", p.LocalFees, p.LocalDividends, p.LocalTaxes, p.LocalExcluded)
		}
	}
	sum := book.Summary()
	tot := pos.Totals
	if !tot.MarketValue.Equal(wantMV) || !tot.UnrealizedPnL.Equal(wantUPnL) || tot.Unpriced != nil || !tot.Cash.Equal(sum.Cash) ||
		!tot.CostBasis.Equal(sum.CostBasis) || !tot.Dividends.Equal(sum.Dividends) || !tot.Deposits.Equal(sum.Deposits) ||
		!tot.Fees.Equal(sum.Fees) || !tot.Taxes.Equal(sum.Taxes) || !tot.Charges.Equal(sum.Charges) || len(tot.Warnings) != 0 {
		t.Errorf("totals %+v, want market value %s, unrealized %s and the lot engine's %+v", tot, wantMV, wantUPnL, sum)
	}
	if len(tot.Balances) != len(sum.Balances) {
		t.Fatalf("balances %+v, the lot engine says %+v", tot.Balances, sum.Balances)
	}
	cash := decimal.Decimal{}
	for i, b := range tot.Balances {
		want := sum.Balances[i]
		rate := rateOf(want.Currency)
		value := want.Amount
		if want.Currency != "EUR" {
			value = value.Mul(rate)
		}
		if b.Currency != want.Currency || !b.Amount.Equal(want.Amount) || str(b.FXRate) != rate.String() || str(b.Value) != value.String() {
			t.Errorf("balance %+v (rate %s, value %s), want %+v at %s = %s", b, str(b.FXRate), str(b.Value), want, rate, value)
		}
		cash = cash.Add(value)
	}
	if got := []string{tot.Balances[0].Currency, tot.Balances[1].Currency, tot.Balances[2].Currency}; !slices.Equal(got, []string{"EUR", "GBP", "USD"}) ||
		str(tot.CashValue) != cash.String() {
		t.Errorf("balances in %v worth %s, want EUR, GBP, USD worth %s", got, str(tot.CashValue), cash)
	}

	// No JPY rate: the Tokyo position is unpriced, and so is its yen cash.
	pj, err := f.Portfolios.Positions(ctx, rmtest.UserA, "pj")
	if err != nil {
		t.Fatal(err)
	}
	if len(pj.Positions) != 1 {
		t.Fatalf("pj positions %+v", pj.Positions)
	}
	toyota := pj.Positions[0]
	if toyota.MarketValue != nil || toyota.MarketPrice != nil || toyota.FXRate != nil || len(toyota.Warnings) != 1 ||
		toyota.Warnings[0].Code != readmodel.WarningNoRate || !slices.Equal(pj.Totals.Unpriced, []string{"7203.T"}) || !pj.Totals.MarketValue.IsZero() {
		t.Errorf("7203.T without a JPY rate: %+v, unpriced %v", toyota, pj.Totals.Unpriced)
	}
	if pj.Totals.CashValue != nil || len(pj.Totals.Warnings) != 1 || pj.Totals.Warnings[0].Code != readmodel.WarningNoRate ||
		len(pj.Totals.Balances) != 2 || pj.Totals.Balances[1].Currency != "JPY" || pj.Totals.Balances[1].Value != nil ||
		str(pj.Totals.Balances[0].Value) != "1000" {
		t.Errorf("pj's cash without a JPY rate: %+v", pj.Totals)
	}

	// Transactions keep their currency, rate and a conversion's incoming side.
	page, err := f.Transactions.Transactions(ctx, rmtest.UserA, "pm", readmodel.TransactionFilter{IncludeVoided: true}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	all, err := h.P.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]portfolio.Transaction{}
	for _, tx := range all {
		recorded[tx.ID] = tx
	}
	seen := 0
	for _, v := range page.Items {
		tx, ok := recorded[v.ID]
		if !ok {
			continue // the voided fee
		}
		seen++
		if v.Currency != tx.Currency || !v.FXRate.Equal(tx.FXRate) || !v.ToAmount.Equal(tx.ToAmount) || v.ToCurrency != tx.ToCurrency {
			t.Errorf("transaction %s %s: %s at %s, to %s %s; recorded %s at %s, to %s %s", v.ID, v.Type, v.Currency, v.FXRate,
				v.ToAmount, v.ToCurrency, tx.Currency, tx.FXRate, tx.ToAmount, tx.ToCurrency)
		}
		if v.Type == portfolio.Conversion && (v.ToCurrency != "USD" || v.ToAmount.String() != "5450.25" || !v.FXRate.IsZero()) {
			t.Errorf("conversion view %+v", v)
		}
	}
	if seen != len(all) || len(page.Items) != len(all)+1 {
		t.Errorf("%d of %d transactions seen, %d items", seen, len(all), len(page.Items))
	}

	// A redelivery, in other batches, changes nothing.
	before := render(t, pos)
	applyInBatches(t, f, h.Events, 3)
	again, err := f.Portfolios.Positions(ctx, rmtest.UserA, "pm")
	if err != nil {
		t.Fatal(err)
	}
	if after := render(t, again); after != before {
		t.Errorf("a redelivery changed the positions:\n%s\n%s", before, after)
	}
}
