package performance

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// in sets a transaction's currency and fxRate ("" for none).
func in(tx portfolio.Transaction, code, fxRate string) portfolio.Transaction {
	tx.Currency = code
	if fxRate != "" {
		tx.FXRate = dec(fxRate)
	}
	return tx
}

// ratesOf builds a table from "date from to rate" rows.
func ratesOf(t *testing.T, rows ...string) *currency.Rates {
	t.Helper()
	r := currency.NewRates()
	for _, row := range rows {
		f := strings.Fields(row)
		if err := r.Add(day(f[0]), f[1], f[2], dec(f[3])); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func buildFX(t *testing.T, txs []portfolio.Transaction, c *Closes, fx FX, from, to string) *Series {
	t.Helper()
	s, err := BuildFX(txs, c, fx, day(from), day(to))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A EUR investor buys US shares without a cash account: trades are the flows, at
// their own rate; the holding is worth close × the day's USD→EUR rate. The file
// quotes EUR→USD, so USD→EUR is its inverse: 1/1.25 = 0.8 from 01-02, 1/1 = 1 from
// 01-04.
//
//	01-02 BUY 10 @ 100, fxRate 0.8  in 10×100×0.8 = 800   end 10×100×0.8 = 800    r = 800/800 = 1
//	01-03 close 110                                       end 10×110×0.8 = 880    r = 880/800 = 1.1
//	01-04 the dollar rises to 1 EUR                       end 10×110×1   = 1100   r = 1100/880 = 1.25
//	01-05 SELL 5 @ 120, fxRate 1    out 5×120×1 = 600     end 5×120×1    = 600    r = (600+600)/1100
//
//	TWR = 1.1 × 1.25 × 12/11 − 1 = 0.5: the price (1.1, 12/11) and the dollar (1.25) both count.
func TestBuildFXForeignShares(t *testing.T) {
	c := closesOf(t, "2024-01-02 AAPL 100", "2024-01-03 AAPL 110", "2024-01-05 AAPL 120")
	rates := ratesOf(t, "2024-01-02 EUR USD 1.25", "2024-01-04 EUR USD 1")
	txs := history(in(buy("2024-01-02", "AAPL", "10", "100"), "USD", "0.8"), in(sell("2024-01-05", "AAPL", "5", "120"), "USD", "1"))
	s := buildFX(t, txs, c, FX{Base: "EUR", Rates: rates}, "2024-01-02", "2024-01-05")
	nearAll(t, "Value", s.Value, []float64{800, 880, 1100, 600})
	nearAll(t, "Inflow", s.Inflow, []float64{800, 0, 0, 0})
	nearAll(t, "Outflow", s.Outflow, []float64{0, 0, 0, 600})
	near(t, "TWR", s.TWR(), 0.5, 1e-12)
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %v", s.Warnings)
	}
	// Build knows nothing of rates: the same history read as EUR is another series.
	if plain := build(t, txs, c, "2024-01-02", "2024-01-05"); plain.Value[0] == s.Value[0] {
		t.Errorf("Build values the dollars at 1: %v", plain.Value)
	}
}

// A EUR cash account with dollars and a London ETF quoted in pence. Rates: EUR→USD
// 1.25 then 1 (USD→EUR 0.8 then 1); GBP→USD 1.5, so GBP→EUR crosses through the
// dollar: 1.5 × 0.8 = 1.2, then 1.5 × 1 = 1.5.
//
//	01-02 DEPOSIT 10000 EUR                           EUR 10000          (the only flow: in 10000)
//	      CONVERSION 4000 EUR → 5000 USD              EUR 6000, USD 5000 (no flow, no change of value at 0.8)
//	      CONVERSION 6000 EUR → 5000 GBP              EUR 0, GBP 5000    (1.2 a pound: no change either)
//	      BUY 40 AAPL @ 100 USD, fxRate 0.8           USD 5000 − 4000 = 1000
//	      BUY 100 VUSA @ 5000 GBp, fxRate 1.2         GBP 5000 − 100×50 = 0
//	      end: USD 1000×0.8 + AAPL 40×100×0.8 + VUSA 100×50×1.2 = 800 + 3200 + 6000 = 10000
//	01-03 DIVIDEND AAPL 20 USD, fxRate 0.8            USD 1020; closes AAPL 105, VUSA 5100 GBp
//	      end: 1020×0.8 + 40×105×0.8 + 100×51×1.2 = 816 + 3360 + 6120 = 10296
//	01-04 the dollar 1 EUR, the pound 1.5 EUR; closes unchanged
//	      end: 1020×1 + 40×105×1 + 100×51×1.5 = 1020 + 4200 + 7650 = 12870
//
//	TWR = 10296/10000 × 12870/10296 − 1 = 0.287
func TestBuildFXCashPerCurrency(t *testing.T) {
	c := closesOf(t, "2024-01-02 AAPL 100", "2024-01-03 AAPL 105", "2024-01-02 VUSA 5000", "2024-01-03 VUSA 5100")
	rates := ratesOf(t, "2024-01-02 EUR USD 1.25", "2024-01-04 EUR USD 1", "2024-01-02 GBP USD 1.5")
	conv := func(amount, to, toAmount string) portfolio.Transaction {
		return portfolio.Transaction{Type: portfolio.Conversion, Date: day("2024-01-02"), Amount: dec(amount), Currency: "EUR", ToAmount: dec(toAmount), ToCurrency: to}
	}
	div := portfolio.Transaction{Type: portfolio.Dividend, Date: day("2024-01-03"), Symbol: "AAPL", Amount: dec("20")}
	txs := history(
		in(cashTx(portfolio.Deposit, "2024-01-02", "10000"), "EUR", ""),
		conv("4000", "USD", "5000"),
		conv("6000", "GBP", "5000"),
		in(buy("2024-01-02", "AAPL", "40", "100"), "USD", "0.8"),
		in(buy("2024-01-02", "VUSA", "100", "5000"), "GBp", "1.2"),
		in(div, "USD", "0.8"),
	)
	s := buildFX(t, txs, c, FX{Base: "EUR", Rates: rates}, "2024-01-02", "2024-01-04")
	nearAll(t, "Value", s.Value, []float64{10000, 10296, 12870})
	nearAll(t, "Inflow", s.Inflow, []float64{10000, 0, 0})
	nearAll(t, "Outflow", s.Outflow, []float64{0, 0, 0})
	near(t, "TWR", s.TWR(), 0.287, 1e-12)
	if !s.CashAccount || len(s.Warnings) != 0 {
		t.Errorf("cash account %v, warnings %v", s.CashAccount, s.Warnings)
	}
}

// A currency without a rate in force is valued at its latest transaction's rate,
// with one warning naming the pair and the first day; from the first rate on, the
// rate counts. USD→EUR has no rate before 01-04 (then 1/1 = 1):
//
//	01-02 BUY 10 @ 100, fxRate 0.9   in 900   end 10×100×0.9 = 900 (the trade's rate)
//	01-03                                     end 900 (still the trade's rate)
//	01-04                                     end 10×100×1 = 1000
//
// TWR = 1000/900 − 1. Without any rates, every day is valued at 0.9: TWR 0.
func TestBuildFXMissingRateFallsBackToTheTransactionRate(t *testing.T) {
	c := closesOf(t, "2024-01-02 AAPL 100")
	txs := history(in(buy("2024-01-02", "AAPL", "10", "100"), "USD", "0.9"))
	s := buildFX(t, txs, c, FX{Base: "EUR", Rates: ratesOf(t, "2024-01-04 EUR USD 1")}, "2024-01-02", "2024-01-04")
	nearAll(t, "Value", s.Value, []float64{900, 900, 1000})
	near(t, "TWR", s.TWR(), 1000.0/900-1, 1e-12)
	want := []Warning{{Currency: "USD", Base: "EUR", Day: day("2024-01-02")}}
	if !reflect.DeepEqual(s.Warnings, want) {
		t.Errorf("warnings %v, want %v", s.Warnings, want)
	}
	if got := want[0].String(); got != "USD is needed on 2024-01-02 but no USD→EUR rate is in force on that day; it is valued at its latest transaction's rate until a rate is" {
		t.Errorf("message %q", got)
	}
	s = buildFX(t, txs, c, FX{Base: "EUR"}, "2024-01-02", "2024-01-04")
	nearAll(t, "Value without rates", s.Value, []float64{900, 900, 900})
	if len(s.Warnings) != 1 {
		t.Errorf("warnings %v", s.Warnings)
	}
}

// Pence in a pound portfolio need no rate, but are a hundredth of a pound:
// BUY 10 @ 7000 GBp is in 10×70 = 700 GBP; the close 7070 makes it 707: r = 1.01.
func TestBuildFXPenceInPounds(t *testing.T) {
	c := closesOf(t, "2024-01-02 VUSA 7000", "2024-01-03 VUSA 7070")
	txs := history(in(buy("2024-01-02", "VUSA", "10", "7000"), "GBp", ""))
	s := buildFX(t, txs, c, FX{Base: "GBP", Rates: currency.NewRates()}, "2024-01-02", "2024-01-03")
	nearAll(t, "Value", s.Value, []float64{700, 707})
	nearAll(t, "Inflow", s.Inflow, []float64{700, 0})
	near(t, "TWR", s.TWR(), 0.01, 1e-12)
}

func TestBuildFXNeedsTheTransactionRate(t *testing.T) {
	txs := history(in(buy("2024-01-02", "AAPL", "10", "100"), "USD", ""))
	_, err := BuildFX(txs, nil, FX{Base: "EUR", Rates: currency.NewRates()}, day("2024-01-02"), day("2024-01-03"))
	if !errors.Is(err, portfolio.ErrFXRateRequired) {
		t.Errorf("err = %v, want ErrFXRateRequired", err)
	}
	if _, err := BuildFX(txs, nil, FX{Base: "usd"}, day("2024-01-02"), day("2024-01-03")); err == nil {
		t.Error("a base that is not an ISO code is accepted")
	}
}

// A history in the base alone is Build's series, to the bit.
func TestBuildFXInTheBaseIsBuild(t *testing.T) {
	c := closesOf(t, "2024-01-02 X 10", "2024-01-03 X 11", "2024-01-04 X 12")
	txs := history(cashTx(portfolio.Deposit, "2024-01-02", "1000"), buy("2024-01-02", "X", "10", "10"),
		sell("2024-01-04", "X", "4", "12"), cashTx(portfolio.Withdrawal, "2024-01-04", "100"))
	want := build(t, txs, c, "2024-01-01", "2024-01-05")
	got := buildFX(t, txs, c, FX{Base: "USD", Rates: ratesOf(t, "2024-01-02 EUR USD 1.1")}, "2024-01-01", "2024-01-05")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildFX %+v\nBuild %+v", got, want)
	}
}

// Closes are in their symbol's quote currency (FX.CloseCurrency), which need not
// be the unit its trades are recorded in. A EUR investor buys 10 VUSA.L at 76
// GBP, fxRate 1.2 (in 10×76×1.2 = 912 EUR); its closes are in pence, 7600 then
// 7980 GBp. GBP→EUR crosses the dollar: 1.5 / 1.25 = 1.2.
//
//	01-02 close 7600 GBp = 76 GBP     end 10×76×1.2   = 912     r = 912/912 = 1
//	01-03 close 7980 GBp = 79.8 GBP   end 10×79.8×1.2 = 957.6   r = 957.6/912 = 1.05
//
// Read as pounds, the pence would make it 91,200 EUR on the first day. The same
// trade recorded in pence (10 @ 7600 GBp) with closes in pounds (76, 79.8) is
// the same series: a GBP close is a hundred pence.
func TestBuildFXClosesInAnotherUnitOfTheTradingCurrency(t *testing.T) {
	rates := ratesOf(t, "2024-01-02 GBP USD 1.5", "2024-01-02 EUR USD 1.25")
	for name, tc := range map[string]struct {
		trade, price, closeCcy string
		closes                 []string
	}{
		"pence closes of a pound trade": {"GBP", "76", "GBp", []string{"2024-01-02 VUSA.L 7600", "2024-01-03 VUSA.L 7980"}},
		"pound closes of a pence trade": {"GBp", "7600", "GBP", []string{"2024-01-02 VUSA.L 76", "2024-01-03 VUSA.L 79.8"}},
	} {
		t.Run(name, func(t *testing.T) {
			txs := history(in(buy("2024-01-02", "VUSA.L", "10", tc.price), tc.trade, "1.2"))
			fx := FX{Base: "EUR", Rates: rates, CloseCurrency: map[string]string{"VUSA.L": tc.closeCcy}}
			s := buildFX(t, txs, closesOf(t, tc.closes...), fx, "2024-01-02", "2024-01-03")
			nearAll(t, "Value", s.Value, []float64{912, 957.6})
			nearAll(t, "Inflow", s.Inflow, []float64{912, 0})
			near(t, "TWR", s.TWR(), 0.05, 1e-12)
			if len(s.Warnings) != 0 {
				t.Errorf("warnings %v", s.Warnings)
			}
		})
	}
}

// A history wholly in the base whose closes are quoted in a unit of it takes
// BuildFX's way, not Build's: a GBP investor's BUY 10 VUSA.L @ 76 GBP is in
// 760 GBP; closes 7600 then 7980 GBp make it 10×76 = 760, then 10×79.8 = 798
// (r = 1.05), not 76,000.
func TestBuildFXPenceClosesOfAPoundTradeInPounds(t *testing.T) {
	c := closesOf(t, "2024-01-02 VUSA.L 7600", "2024-01-03 VUSA.L 7980")
	txs := history(in(buy("2024-01-02", "VUSA.L", "10", "76"), "GBP", ""))
	fx := FX{Base: "GBP", Rates: currency.NewRates(), CloseCurrency: map[string]string{"VUSA.L": "GBp", "OTHER": "USD"}}
	s := buildFX(t, txs, c, fx, "2024-01-02", "2024-01-03")
	nearAll(t, "Value", s.Value, []float64{760, 798})
	near(t, "TWR", s.TWR(), 0.05, 1e-12)
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %v", s.Warnings)
	}
}

// Closes quoted in another settlement currency than a symbol's trades are
// another listing's, not its price: the holding is valued as one without
// closes, at its last trade price, with a warning naming both currencies (the
// API leaves such a position unpriced; a series cannot drop it to 0 without a
// −100% day). A GBP investor buys 10 AAPL at 180 EUR, fxRate 0.85; AAPL's
// closes are 200 USD. EUR→GBP 0.85, then 0.9:
//
//	01-02 end 10×180×0.85 = 1530   (not 10×200×0.85 = 1700: the dollars read as euros)
//	01-03 end 10×180×0.9  = 1620   r = 1620/1530: the euro's rise alone
func TestBuildFXClosesInAnotherCurrencyAreNotThePrice(t *testing.T) {
	c := closesOf(t, "2024-01-02 AAPL 200", "2024-01-03 AAPL 200")
	rates := ratesOf(t, "2024-01-02 EUR GBP 0.85", "2024-01-03 EUR GBP 0.9")
	txs := history(in(buy("2024-01-02", "AAPL", "10", "180"), "EUR", "0.85"))
	fx := FX{Base: "GBP", Rates: rates, CloseCurrency: map[string]string{"AAPL": "USD"}}
	s := buildFX(t, txs, c, fx, "2024-01-02", "2024-01-03")
	nearAll(t, "Value", s.Value, []float64{1530, 1620})
	near(t, "TWR", s.TWR(), 1620.0/1530-1, 1e-12)
	want := []Warning{{Symbol: "AAPL", Day: day("2024-01-02"), CloseCurrency: "USD", TradeCurrency: "EUR"}}
	if !reflect.DeepEqual(s.Warnings, want) {
		t.Errorf("warnings %v, want %v", s.Warnings, want)
	}
	if got := want[0].String(); got != "AAPL is held on 2024-01-02 but its closes are in USD and its trades in EUR; it is valued at its last trade price" {
		t.Errorf("message %q", got)
	}
}
