package portfolio_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// What a transaction in another currency must carry, and what is refused.
func TestForeignTransactionRules(t *testing.T) {
	conv := func(from, amount, to, toAmount string) portfolio.Transaction {
		return portfolio.Transaction{Type: portfolio.Conversion, Date: d("2024-01-03"), Currency: from, Amount: dec(amount), ToCurrency: to, ToAmount: dec(toAmount)}
	}
	withRate := func(tx portfolio.Transaction, rate string) portfolio.Transaction { tx.FXRate = dec(rate); return tx }
	gbp := trade(portfolio.Buy, "2024-01-02", "VUSA.L", "10", "7125.5")
	gbp.Currency = "GBp"
	jpy := portfolio.Transaction{Type: portfolio.Deposit, Date: d("2024-01-02"), Currency: "JPY", Amount: dec("100.5")}
	for _, c := range []struct {
		name string
		tx   portfolio.Transaction
		want error
	}{
		{"a London listing in pence needs the pound's rate", gbp, portfolio.ErrFXRateRequired},
		{"… and is accepted with it", withRate(gbp, "1.27"), nil},
		{"a split of a foreign share moves no money and needs no rate", func() portfolio.Transaction { x := split("2024-01-03", "VUSA.L", 2, 1); x.Currency = "GBp"; return x }(), nil},
		{"a lower-case code is not a currency", func() portfolio.Transaction { x := gbp; x.Currency = "gbp"; return x }(), portfolio.ErrInvalidTransaction},
		{"yen have no fractions", withRate(jpy, "0.0068"), portfolio.ErrInvalidTransaction},
		{"whole yen are fine", withRate(func() portfolio.Transaction { x := jpy; x.Amount = dec("100"); return x }(), "0.0068"), nil},
		{"a conversion into the base derives its rate", conv("EUR", "100", "USD", "109.5"), nil},
		{"a conversion into the base with a rate its amounts contradict", withRate(conv("EUR", "100", "USD", "109.5"), "5"), portfolio.ErrInvalidTransaction},
		{"a conversion into the base with the rate its amounts imply", withRate(conv("EUR", "100", "USD", "109.5"), "1.095"), nil},
		{"a split without charges takes no rate", withRate(func() portfolio.Transaction { x := split("2024-01-03", "VUSA.L", 2, 1); x.Currency = "GBp"; return x }(), "1.2"), portfolio.ErrInvalidTransaction},
		{"a conversion between two foreign currencies needs the outgoing rate", conv("EUR", "100", "GBP", "86"), portfolio.ErrFXRateRequired},
		{"… given, it is accepted", withRate(conv("EUR", "100", "GBP", "86"), "1.09"), nil},
		{"a conversion to itself", withRate(conv("EUR", "100", "EUR", "100"), "1.09"), portfolio.ErrInvalidTransaction},
		{"a conversion into a quote unit", withRate(conv("EUR", "100", "GBp", "8600"), "1.09"), portfolio.ErrInvalidTransaction},
		{"a conversion with a symbol", func() portfolio.Transaction { x := conv("EUR", "100", "USD", "109.5"); x.Symbol = "X"; return x }(), portfolio.ErrInvalidTransaction},
		{"toAmount on a buy", func() portfolio.Transaction {
			x := trade(portfolio.Buy, "2024-01-02", "A", "1", "1")
			x.ToAmount = dec("1")
			return x
		}(), portfolio.ErrInvalidTransaction},
		{"a zero-rate never passes for a rate", withRate(func() portfolio.Transaction {
			x := trade(portfolio.Buy, "2024-01-02", "SAP", "1", "1")
			x.Currency = "EUR"
			return x
		}(), "0"), portfolio.ErrFXRateRequired},
		{"a negative rate", withRate(func() portfolio.Transaction {
			x := trade(portfolio.Buy, "2024-01-02", "SAP", "1", "1")
			x.Currency = "EUR"
			return x
		}(), "-1.1"), portfolio.ErrInvalidTransaction},
		{"an absurd rate", withRate(func() portfolio.Transaction {
			x := trade(portfolio.Buy, "2024-01-02", "SAP", "1", "1")
			x.Currency = "EUR"
			return x
		}(), "100000000"), portfolio.ErrInvalidTransaction},
		{"a rate finer than 12 places", withRate(func() portfolio.Transaction {
			x := trade(portfolio.Buy, "2024-01-02", "SAP", "1", "1")
			x.Currency = "EUR"
			return x
		}(), "1.0000000000001"), portfolio.ErrInvalidTransaction},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, portfolio.FIFO)
			_, err := f.record(c.tx)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// The currency a symbol trades in survives a snapshot: a restored aggregate
// still refuses the symbol in another currency.
func TestSymbolCurrencySurvivesSnapshots(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	eur := trade(portfolio.Buy, "2024-01-02", "SAP", "1", "100")
	eur.Currency, eur.FXRate = "EUR", dec("1.1")
	f.mustRecord(eur)
	snap, err := f.p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := portfolio.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	usd := trade(portfolio.Buy, "2024-01-03", "SAP", "1", "110")
	if _, err := restored.RecordTransaction(usd, f.meta(alice)); !errors.Is(err, portfolio.ErrCurrencyMismatch) {
		t.Fatalf("SAP in USD after a restore: err = %v, want ErrCurrencyMismatch", err)
	}
}

// A conversion into the base whose amounts imply an absurd rate is refused, not
// recorded and then left out of every figure.
func TestConversionImpliedRateIsBounded(t *testing.T) {
	for _, amounts := range [][2]string{{"0.000001", "100000"}, {"1000000000", "0.01"}} {
		f := newFixture(t, portfolio.FIFO)
		tx := portfolio.Transaction{Type: portfolio.Conversion, Date: d("2024-01-03"), Currency: "EUR", Amount: dec(amounts[0]), ToCurrency: "USD", ToAmount: dec(amounts[1])}
		if _, err := f.record(tx); !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("EUR %s → USD %s: err = %v, want ErrInvalidTransaction", amounts[0], amounts[1], err)
		}
	}
}

// A void of the only trade of a symbol in the wrong currency frees the symbol
// for the right one, with the history and after a snapshot (which asks for it).
func TestVoidFreesASymbolsCurrency(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	wrong := trade(portfolio.Buy, "2024-01-02", "AAPL", "1", "100")
	wrong.Currency, wrong.FXRate = "EUR", dec("1.1")
	id := f.mustRecord(wrong).ID
	snap, err := f.p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.p.VoidTransaction(id, "wrong currency", f.meta(alice)); err != nil {
		t.Fatal(err)
	}
	right := trade(portfolio.Buy, "2024-01-03", "AAPL", "1", "110")
	// From a snapshot taken before the void, folding the void marks AAPL stale:
	// the trade asks for the history instead of being refused.
	restored, err := portfolio.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	events := f.p.Pending()
	if err := restored.Apply(events[len(events)-1]); err != nil {
		t.Fatal(err)
	}
	if _, err := restored.RecordTransaction(right, f.meta(alice)); !errors.Is(err, portfolio.ErrHistoryRequired) {
		t.Fatalf("after a void folded from a snapshot: err = %v, want ErrHistoryRequired", err)
	}
	if _, err := f.record(right); err != nil {
		t.Fatalf("AAPL in USD after voiding AAPL in EUR: %v", err)
	}
}

// A snapshot written before symbols kept their currency (schema 1) is not
// restored: the store folds the history instead, which knows every symbol's
// currency.
func TestSnapshotWithoutSymbolCurrenciesIsNotRestored(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	f.mustRecord(trade(portfolio.Buy, "2024-01-02", "AAPL", "1", "100"))
	snap, err := f.p.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	old := strings.NewReplacer(`"sv":2`, `"sv":1`, `,"cu":"USD"`, ``).Replace(string(snap))
	if old == string(snap) || strings.Contains(old, `"cu"`) {
		t.Fatalf("could not make a schema-1 snapshot of %s", snap)
	}
	if _, err := portfolio.Restore([]byte(old)); !errors.Is(err, portfolio.ErrCorruptEvent) {
		t.Fatalf("a schema-1 snapshot restored: err = %v", err)
	}
}
