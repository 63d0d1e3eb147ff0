package lots

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// charges reads the optional fee and tax arguments of the builders below.
func charges(ft []string) (fee, tax decimal.Decimal) {
	if len(ft) > 0 && ft[0] != "" {
		fee = dec(ft[0])
	}
	if len(ft) > 1 && ft[1] != "" {
		tax = dec(ft[1])
	}
	return fee, tax
}

func trade(typ portfolio.TxType, date, sym, qty, price string, ft []string) portfolio.Transaction {
	fee, tax := charges(ft)
	return portfolio.Transaction{ID: fmt.Sprintf("%s-%s-%s-%s", typ, date, sym, qty), Type: typ, Date: day(date),
		Symbol: sym, Quantity: dec(qty), Price: dec(price), Fee: fee, Tax: tax, Currency: "USD"}
}

func cashTx(typ portfolio.TxType, date, sym, amount string, ft []string) portfolio.Transaction {
	fee, tax := charges(ft)
	return portfolio.Transaction{ID: fmt.Sprintf("%s-%s-%s-%s", typ, date, sym, amount), Type: typ, Date: day(date),
		Symbol: sym, Amount: dec(amount), Fee: fee, Tax: tax, Currency: "USD"}
}

// Builders. The trailing strings are fee, then tax ("" for none).
func buy(date, sym, qty, price string, ft ...string) portfolio.Transaction {
	return trade(portfolio.Buy, date, sym, qty, price, ft)
}
func sell(date, sym, qty, price string, ft ...string) portfolio.Transaction {
	return trade(portfolio.Sell, date, sym, qty, price, ft)
}
func dividend(date, sym, amount string, ft ...string) portfolio.Transaction {
	return cashTx(portfolio.Dividend, date, sym, amount, ft)
}
func interest(date, sym, amount string, ft ...string) portfolio.Transaction {
	return cashTx(portfolio.Interest, date, sym, amount, ft)
}
func feeTx(date, sym, amount string, ft ...string) portfolio.Transaction {
	return cashTx(portfolio.Fee, date, sym, amount, ft)
}
func deposit(date, amount string, ft ...string) portfolio.Transaction {
	return cashTx(portfolio.Deposit, date, "", amount, ft)
}
func withdrawal(date, amount string, ft ...string) portfolio.Transaction {
	return cashTx(portfolio.Withdrawal, date, "", amount, ft)
}
func split(date, sym string, n, d int64) portfolio.Transaction {
	return portfolio.Transaction{ID: fmt.Sprintf("SPLIT-%s-%s", date, sym), Type: portfolio.Split, Date: day(date),
		Symbol: sym, Ratio: portfolio.Ratio{New: n, Old: d}, Currency: "USD"}
}

// apply applies every transaction and fails the test on the first error.
func apply(t testing.TB, b *Book, txs ...portfolio.Transaction) {
	t.Helper()
	for i := range txs {
		if err := b.Apply(&txs[i]); err != nil {
			t.Fatalf("Apply(%s): %v", txs[i].ID, err)
		}
	}
}

// eq fails the test unless got equals want numerically.
func eq(t testing.TB, what string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(dec(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func mustPosition(t testing.TB, b *Book, sym string) Position {
	t.Helper()
	p, ok := b.Position(sym)
	if !ok {
		t.Fatalf("no position %s", sym)
	}
	return p
}

// lotsAre checks a position's lots as "quantity@costBasis" strings, oldest first.
func lotsAre(t testing.TB, p Position, want ...string) {
	t.Helper()
	got := make([]string, len(p.Lots))
	for i, l := range p.Lots {
		got[i] = l.Quantity.String() + "@" + l.CostBasis.String()
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s lots = %v, want %v", p.Symbol, got, want)
	}
}

// snapshot renders everything the book reports; decimals print without trailing
// zeros, so equal snapshots mean numerically equal books.
func snapshot(b *Book) string {
	return fmt.Sprintf("%+v\n%+v\n%+v", b.Positions(), b.Summary(), b.Realizations())
}

// checkInvariants verifies what must hold after any sequence of applied
// transactions (applied lists the accepted ones).
func checkInvariants(t testing.TB, b *Book, applied []portfolio.Transaction) {
	t.Helper()
	var cash decimal.Decimal
	for i := range applied {
		cash = cash.Add(applied[i].CashEffect())
	}
	checkState(t, b, cash)
}

// checkState is checkInvariants given Σ CashEffect of the applied transactions.
func checkState(t testing.TB, b *Book, cash decimal.Decimal) {
	t.Helper()
	var cost, realized, dividends decimal.Decimal
	for _, p := range b.Positions() {
		if p.Quantity.IsNegative() || p.CostBasis.IsNegative() {
			t.Fatalf("%s: quantity %s, cost basis %s: negative", p.Symbol, p.Quantity, p.CostBasis)
		}
		var lq, lc decimal.Decimal
		for _, l := range p.Lots {
			if l.Quantity.IsNegative() || l.CostBasis.IsNegative() {
				t.Fatalf("%s: negative lot %+v", p.Symbol, l)
			}
			lq, lc = lq.Add(l.Quantity), lc.Add(l.CostBasis)
		}
		if !lq.Equal(p.Quantity) || !lc.Equal(p.CostBasis) {
			t.Fatalf("%s: lots sum to %s shares / %s cost, position says %s / %s", p.Symbol, lq, lc, p.Quantity, p.CostBasis)
		}
		if p.Local.Currency == b.Base() && p.Local.Excluded == 0 &&
			(!p.Local.Fees.Equal(p.Fees) || !p.Local.Taxes.Equal(p.Taxes) || !p.Local.Dividends.Equal(p.Dividends)) {
			t.Fatalf("%s: settles in the base with nothing excluded, but local income %+v differs from fees %s, taxes %s, dividends %s",
				p.Symbol, p.Local, p.Fees, p.Taxes, p.Dividends)
		}
		if b.Method() == portfolio.AverageCost && len(p.Lots) > 1 {
			t.Fatalf("%s: %d lots under average cost", p.Symbol, len(p.Lots))
		}
		cost, realized, dividends = cost.Add(p.CostBasis), realized.Add(p.RealizedPnL), dividends.Add(p.Dividends)
	}
	s := b.Summary()
	if !s.CostBasis.Equal(cost) || !s.RealizedPnL.Equal(realized) || !s.Dividends.Equal(dividends) {
		t.Fatalf("summary %+v disagrees with positions (cost %s, realized %s, dividends %s)", s, cost, realized, dividends)
	}
	var rz decimal.Decimal
	for _, r := range b.Realizations() {
		if !r.PnL.Equal(r.Proceeds.Sub(r.CostBasis)) {
			t.Fatalf("realization %+v: PnL is not proceeds − cost basis", r)
		}
		rz = rz.Add(r.PnL)
	}
	if !rz.Equal(s.RealizedPnL) {
		t.Fatalf("realizations sum to %s, summary says %s", rz, s.RealizedPnL)
	}
	if !s.Cash.Equal(cash) {
		t.Fatalf("cash %s, Σ CashEffect %s", s.Cash, cash)
	}
	// Cash = Deposits − Withdrawals − CostBasis + RealizedPnL + Dividends + Interest − Charges
	id := s.Deposits.Sub(s.Withdrawals).Sub(s.CostBasis).Add(s.RealizedPnL).Add(s.Dividends).Add(s.Interest).Sub(s.Charges)
	if !s.Cash.Equal(id) {
		t.Fatalf("cash identity: cash %s, identity gives %s (%+v)", s.Cash, id, s)
	}
}

var methods = []portfolio.LotMethod{portfolio.FIFO, portfolio.AverageCost}
