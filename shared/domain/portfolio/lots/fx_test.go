package lots

import (
	"errors"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// in sets a transaction's currency and its rate to the book's base.
func in(tx portfolio.Transaction, cur, rate string) portfolio.Transaction {
	tx.Currency = cur
	if rate != "" {
		tx.FXRate = dec(rate)
	}
	return tx
}

// checkIdentity holds the base-currency identity of the package doc.
func checkIdentity(t *testing.T, b *Book) {
	t.Helper()
	s := b.Summary()
	id := s.Deposits.Sub(s.Withdrawals).Sub(s.CostBasis).Add(s.RealizedPnL).Add(s.Dividends).Add(s.Interest).Sub(s.Charges)
	if !s.Cash.Equal(id) {
		t.Fatalf("cash identity: cash %s, identity gives %s (%+v)", s.Cash, id, s)
	}
}

func balances(t *testing.T, b *Book, want ...string) {
	t.Helper()
	got := b.Balances()
	if len(got) != len(want)/2 {
		t.Fatalf("balances %+v, want %v", got, want)
	}
	for i, bal := range got {
		if bal.Currency != want[2*i] || !bal.Amount.Equal(dec(want[2*i+1])) {
			t.Fatalf("balances %+v, want %v", got, want)
		}
	}
}

// A EUR investor buys US shares, the dollar rises, she sells part, the dollar
// falls back: cost basis in both currencies, realized P&L at each side's rate,
// and the unrealized P&L split into price and currency effects.
func TestEURInvestorBuysAndPartlySellsUSDShares(t *testing.T) {
	for _, m := range methods {
		b := New(m, "EUR")
		// Buy 10 AAPL at 150 USD + 1 USD fee when 1 USD = 0.90 EUR:
		// local cost 10 × 150 + 1 = 1501 USD; in EUR 1501 × 0.90 = 1350.90.
		apply(t, b, in(buy("2024-01-02", "AAPL", "10", "150", "1"), "USD", "0.90"))
		p := mustPosition(t, b, "AAPL")
		eq(t, "cost EUR", p.CostBasis, "1350.90")
		eq(t, "cost USD", p.Local.CostBasis, "1501")
		if p.Currency != "USD" || p.Local.Currency != "USD" {
			t.Fatalf("currencies %q/%q", p.Currency, p.Local.Currency)
		}
		// At 160 USD and 1 USD = 0.95 EUR: 1600 USD = 1520 EUR; unrealized 1520 − 1350.90 = 169.10,
		// price effect (1600 − 1501) × 0.95 = 94.05, currency effect 1501 × 0.95 − 1350.90 = 75.05.
		v := p.ValueAt(dec("160"), dec("0.95"))
		eq(t, "market value", v.MarketValue, "1520")
		eq(t, "unrealized", v.UnrealizedPnL, "169.10")
		eq(t, "price effect", v.PriceEffect, "94.05")
		eq(t, "currency effect", v.CurrencyEffect, "75.05")
		eq(t, "local market value", v.LocalMarketValue, "1600")
		eq(t, "local unrealized", v.LocalUnrealizedPnL, "99")

		// Sell 4 at 170 USD − 1 USD fee when 1 USD = 0.95 EUR: proceeds 679 USD = 645.05 EUR.
		// Cost consumed (both methods: one buy) 4/10 of it: 600.4 USD, 540.36 EUR.
		// Realized 645.05 − 540.36 = 104.69 EUR; in USD 679 − 600.4 = 78.6.
		apply(t, b, in(sell("2024-03-01", "AAPL", "4", "170", "1"), "USD", "0.95"))
		p = mustPosition(t, b, "AAPL")
		eq(t, "realized EUR", p.RealizedPnL, "104.69")
		eq(t, "realized USD", p.Local.RealizedPnL, "78.6")
		eq(t, "cost EUR left", p.CostBasis, "810.54")
		eq(t, "cost USD left", p.Local.CostBasis, "900.6")
		// 6 left at 170 USD when 1 USD = 0.92 EUR: 1020 USD = 938.40 EUR; unrealized 938.40 − 810.54 = 127.86;
		// price effect (1020 − 900.6) × 0.92 = 109.848; currency effect 900.6 × 0.92 − 810.54 = 18.012.
		v = p.ValueAt(dec("170"), dec("0.92"))
		eq(t, "unrealized after sale", v.UnrealizedPnL, "127.86")
		eq(t, "price effect after sale", v.PriceEffect, "109.848")
		eq(t, "currency effect after sale", v.CurrencyEffect, "18.012")
		if !v.PriceEffect.Add(v.CurrencyEffect).Equal(v.UnrealizedPnL) {
			t.Fatal("effects do not sum to the unrealized P&L")
		}
		// USD cash: −1501 + 679 = −822; in EUR at the trades' rates −1350.90 + 645.05 = −705.85.
		balances(t, b, "USD", "-822")
		eq(t, "cash EUR", b.Summary().Cash, "-705.85")
		checkIdentity(t, b)

		// Fees so far: 1 USD on each trade, 0.90 + 0.95 = 1.85 EUR.
		p = mustPosition(t, b, "AAPL")
		eq(t, "fees EUR", p.Fees, "1.85")
		eq(t, "fees USD", p.Local.Fees, "2")
		// A 20 USD dividend, 3 USD withheld, when 1 USD = 0.92 EUR: 18.40 EUR gross, 2.76 EUR tax.
		// A FEE of 2.50 USD on AAPL (an ADR fee) + 0.50 USD fee on it when 1 USD = 0.94 EUR:
		// 3 USD = 2.82 EUR. Local: dividends 20, taxes 3, fees 2 + 3 = 5 USD.
		apply(t, b, in(dividend("2024-04-15", "AAPL", "20", "", "3"), "USD", "0.92"))
		apply(t, b, in(feeTx("2024-04-20", "AAPL", "2.50", "0.50"), "USD", "0.94"))
		// The broker books the next dividend straight in EUR: 4.60 EUR gross. It is in
		// the base figures (dividends 18.40 + 4.60 = 23) but has no USD amount without a
		// rate: excluded from the local ones.
		apply(t, b, in(dividend("2024-05-15", "AAPL", "4.60"), "EUR", ""))
		p = mustPosition(t, b, "AAPL")
		eq(t, "dividends EUR", p.Dividends, "23.00")
		eq(t, "taxes EUR", p.Taxes, "2.76")
		eq(t, "fees EUR", p.Fees, "4.67") // 1.85 + 2.82
		eq(t, "dividends USD", p.Local.Dividends, "20")
		eq(t, "taxes USD", p.Local.Taxes, "3")
		eq(t, "fees USD", p.Local.Fees, "5")
		if p.Local.Excluded != 1 {
			t.Fatalf("excluded %d, want 1 (the EUR dividend)", p.Local.Excluded)
		}
		// USD: −822 + 20 − 3 − 3 = −808; EUR: 4.60.
		balances(t, b, "EUR", "4.60", "USD", "-808")
		checkIdentity(t, b)
	}
}

// A London ETF quoted in pence: every amount of the trade is in GBp, cash and
// cost move in pounds.
func TestGBpQuotedETF(t *testing.T) {
	b := New(portfolio.FIFO, "EUR")
	// 100 VUSA at 7,125.5 GBp + 500 GBp fee = 713,050 GBp = 7,130.50 GBP; at 1 GBP = 1.16 EUR 8,271.38 EUR.
	apply(t, b, in(buy("2024-01-02", "VUSA", "100", "7125.5", "500"), "GBp", "1.16"))
	p := mustPosition(t, b, "VUSA")
	eq(t, "cost GBP", p.Local.CostBasis, "7130.50")
	eq(t, "cost EUR", p.CostBasis, "8271.38")
	if p.Currency != "GBp" || p.Local.Currency != "GBP" {
		t.Fatalf("currencies %q/%q", p.Currency, p.Local.Currency)
	}
	eq(t, "fees EUR", p.Fees, "5.80") // 500 GBp = 5 GBP = 5.80 EUR
	// At 7,300 GBp and 1 GBP = 1.15 EUR: 730,000 GBp = 7,300 GBP = 8,395 EUR; unrealized 8,395 − 8,271.38 = 123.62;
	// price effect (7,300 − 7,130.50) × 1.15 = 194.925; currency effect 7,130.50 × 1.15 − 8,271.38 = −71.305.
	v := p.ValueAt(dec("7300"), dec("1.15"))
	eq(t, "market value", v.MarketValue, "8395")
	eq(t, "unrealized", v.UnrealizedPnL, "123.62")
	eq(t, "price effect", v.PriceEffect, "194.925")
	eq(t, "currency effect", v.CurrencyEffect, "-71.305")
	balances(t, b, "GBP", "-7130.50")
	checkIdentity(t, b)
	eq(t, "fees GBP", p.Local.Fees, "5")

	// A 40.25 GBP dividend when 1 GBP = 1.17 EUR: 47.0925 EUR. One recorded in the
	// listing's pence, 3,000 GBp = 30 GBP: 35.10 EUR. A FEE on VUSA of 250 GBp =
	// 2.50 GBP when 1 GBP = 1.16 EUR: 2.90 EUR. Local: dividends 40.25 + 30 = 70.25
	// GBP, fees 5 + 2.50 = 7.50 GBP.
	apply(t, b, in(dividend("2024-03-27", "VUSA", "40.25"), "GBP", "1.17"))
	apply(t, b, in(dividend("2024-06-26", "VUSA", "3000"), "GBp", "1.17"))
	apply(t, b, in(feeTx("2024-07-01", "VUSA", "250"), "GBp", "1.16"))
	// The fund's next distribution paid in USD: 50 USD, 7.50 USD withheld, when
	// 1 USD = 0.93 EUR: 46.50 EUR gross, 6.975 EUR tax, in the base figures only.
	apply(t, b, in(dividend("2024-09-25", "VUSA", "50", "", "7.50"), "USD", "0.93"))
	p = mustPosition(t, b, "VUSA")
	eq(t, "dividends EUR", p.Dividends, "128.6925") // 47.0925 + 35.10 + 46.50
	eq(t, "taxes EUR", p.Taxes, "6.975")
	eq(t, "fees EUR", p.Fees, "8.70") // 5.80 + 2.90
	eq(t, "dividends GBP", p.Local.Dividends, "70.25")
	eq(t, "taxes GBP", p.Local.Taxes, "0")
	eq(t, "fees GBP", p.Local.Fees, "7.50")
	if p.Local.Currency != "GBP" || p.Local.Excluded != 1 {
		t.Fatalf("local %q, excluded %d: want GBP, 1 (the USD dividend)", p.Local.Currency, p.Local.Excluded)
	}
	// GBP: −7,130.50 + 40.25 + 30 − 2.50 = −7,062.75; USD: 50 − 7.50 = 42.50.
	balances(t, b, "GBP", "-7062.75", "USD", "42.50")
	checkIdentity(t, b)
}

// Income before a symbol's first trade waits for it: the trade's settlement
// currency decides what is local. A symbol never traded has no local currency,
// so all its income is excluded.
func TestIncomeBeforeTheFirstTrade(t *testing.T) {
	b := New(portfolio.FIFO, "EUR")
	// Dividends on ASML (EUR, the base) and on MSFT (USD) before their first buys,
	// a GBP fee on MSFT, and a dividend on a symbol never traded.
	apply(t, b, in(dividend("2024-01-02", "ASML", "6.10"), "EUR", ""))
	apply(t, b, in(dividend("2024-01-02", "MSFT", "7.50", "", "1.12"), "USD", "0.91"))
	apply(t, b, in(feeTx("2024-01-02", "MSFT", "1"), "GBP", "1.15"))
	apply(t, b, in(dividend("2024-01-02", "ORPH", "3"), "USD", "0.91"))
	apply(t, b, in(buy("2024-01-03", "ASML", "1", "600"), "EUR", ""))
	apply(t, b, in(buy("2024-01-03", "MSFT", "2", "370"), "USD", "0.91"))

	asml := mustPosition(t, b, "ASML")
	eq(t, "ASML local dividends", asml.Local.Dividends, "6.10")
	if asml.Local.Excluded != 0 {
		t.Fatalf("ASML excluded %d", asml.Local.Excluded)
	}
	// MSFT: 7.50 USD gross, 1.12 USD tax local; the 1 GBP fee (1.15 EUR) excluded.
	msft := mustPosition(t, b, "MSFT")
	eq(t, "MSFT local dividends", msft.Local.Dividends, "7.50")
	eq(t, "MSFT local taxes", msft.Local.Taxes, "1.12")
	eq(t, "MSFT local fees", msft.Local.Fees, "0")
	eq(t, "MSFT fees EUR", msft.Fees, "1.15")
	eq(t, "MSFT dividends EUR", msft.Dividends, "6.825") // 7.50 × 0.91
	if msft.Local.Currency != "USD" || msft.Local.Excluded != 1 {
		t.Fatalf("MSFT local %q, excluded %d: want USD, 1", msft.Local.Currency, msft.Local.Excluded)
	}
	orph := mustPosition(t, b, "ORPH")
	eq(t, "ORPH dividends EUR", orph.Dividends, "2.73")
	eq(t, "ORPH local dividends", orph.Local.Dividends, "0")
	if orph.Local.Currency != "" || orph.Local.Excluded != 1 {
		t.Fatalf("ORPH local %q, excluded %d: want \"\", 1", orph.Local.Currency, orph.Local.Excluded)
	}
	checkIdentity(t, b)
}

// A position in the base keeps no separate local income until something in
// another currency is excluded; from then on the two part.
func TestBaseCurrencyPositionWithAForeignDividend(t *testing.T) {
	b := New(portfolio.AverageCost, "USD")
	apply(t, b, buy("2024-01-02", "SAP", "10", "180", "2"), dividend("2024-02-01", "SAP", "5", "", "1"))
	p := mustPosition(t, b, "SAP")
	eq(t, "local fees", p.Local.Fees, "2")
	eq(t, "local dividends", p.Local.Dividends, "5")
	eq(t, "local taxes", p.Local.Taxes, "1")
	// A 20 EUR dividend, 5.28 EUR withheld, at 1 EUR = 1.08 USD: 21.60 USD gross, 5.7024 USD tax.
	apply(t, b, in(dividend("2024-05-20", "SAP", "20", "", "5.28"), "EUR", "1.08"))
	apply(t, b, dividend("2024-08-01", "SAP", "4", "0.10"))
	p = mustPosition(t, b, "SAP")
	eq(t, "dividends USD", p.Dividends, "30.60") // 5 + 21.60 + 4
	eq(t, "taxes USD", p.Taxes, "6.7024")        // 1 + 5.7024
	eq(t, "fees USD", p.Fees, "2.10")
	eq(t, "local dividends", p.Local.Dividends, "9") // 5 + 4
	eq(t, "local taxes", p.Local.Taxes, "1")
	eq(t, "local fees", p.Local.Fees, "2.10")
	if p.Local.Excluded != 1 {
		t.Fatalf("excluded %d, want 1", p.Local.Excluded)
	}
	checkIdentity(t, b)
}

// A USD dividend on US shares held in a EUR portfolio, paid into EUR cash: either
// recorded as the broker booked it (in EUR), or in USD and converted.
func TestUSDDividendIntoEURCash(t *testing.T) {
	b := New(portfolio.FIFO, "EUR")
	apply(t, b, in(deposit("2024-01-01", "2000"), "EUR", ""))
	apply(t, b, in(buy("2024-01-02", "AAPL", "10", "150"), "USD", "0.90")) // 1500 USD = 1350 EUR
	// 20 USD gross, 3 USD withheld, when 1 USD = 0.92 EUR: income 18.40 EUR, tax 2.76 EUR, 17 USD into USD cash.
	apply(t, b, in(dividend("2024-02-15", "AAPL", "20", "", "3"), "USD", "0.92"))
	// The 17 USD are converted into 15.64 EUR (17 × 0.92): the conversion carries that rate.
	conv := portfolio.Transaction{ID: "c1", Type: portfolio.Conversion, Date: day("2024-02-15"), Currency: "USD", Amount: dec("17"),
		ToCurrency: "EUR", ToAmount: dec("15.64"), FXRate: dec("0.92")}
	apply(t, b, conv)
	// The next dividend the broker books straight in EUR: 18.50 EUR, nothing to convert.
	apply(t, b, in(dividend("2024-05-15", "AAPL", "18.50"), "EUR", ""))
	s := b.Summary()
	eq(t, "dividends EUR", s.Dividends, "36.90") // 18.40 + 18.50
	eq(t, "taxes EUR", s.Taxes, "2.76")
	eq(t, "AAPL dividends EUR", mustPosition(t, b, "AAPL").Dividends, "36.90")
	// EUR: 2000 + 15.64 + 18.50 = 2034.14; USD: −1500 for the shares, + 17 dividend − 17 converted = −1500.
	balances(t, b, "EUR", "2034.14", "USD", "-1500")
	checkIdentity(t, b)
}

// An FX conversion moves cash between balances; in the base it is neutral but
// for its fee.
func TestConversionBetweenCashBalances(t *testing.T) {
	b := New(portfolio.FIFO, "EUR")
	apply(t, b, in(deposit("2024-01-01", "1000"), "EUR", ""))
	// 500 EUR out, 546.50 USD in (1 EUR = 1.093 USD), 2 EUR fee.
	apply(t, b, portfolio.Transaction{ID: "c1", Type: portfolio.Conversion, Date: day("2024-01-03"), Currency: "EUR", Amount: dec("500"),
		ToCurrency: "USD", ToAmount: dec("546.50"), Fee: dec("2")})
	// EUR 1000 − 500 − 2 = 498; USD 546.50. In the base: 1000 deposited, 2 charged, cash 998.
	balances(t, b, "EUR", "498", "USD", "546.50")
	s := b.Summary()
	eq(t, "cash EUR", s.Cash, "998")
	eq(t, "charges", s.Charges, "2")
	checkIdentity(t, b)
}

// Without a rate a foreign transaction is refused, never booked at 1.
func TestMissingRateIsRefused(t *testing.T) {
	b := New(portfolio.FIFO, "EUR")
	err := b.Apply(ptr(in(buy("2024-01-02", "AAPL", "10", "150"), "USD", "")))
	if !errors.Is(err, portfolio.ErrFXRateRequired) {
		t.Fatalf("want ErrFXRateRequired, got %v", err)
	}
	if len(b.Positions()) != 0 || len(b.Balances()) != 0 {
		t.Fatal("a refused transaction changed the book")
	}
	apply(t, b, in(buy("2024-01-02", "AAPL", "10", "150"), "USD", "0.9"))
	if err := b.Apply(ptr(in(buy("2024-01-03", "AAPL", "1", "150"), "EUR", ""))); !errors.Is(err, portfolio.ErrCurrencyMismatch) {
		t.Fatalf("AAPL in EUR after AAPL in USD: want ErrCurrencyMismatch, got %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
