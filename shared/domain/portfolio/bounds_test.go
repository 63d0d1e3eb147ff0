package portfolio_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// Dates outside 1900-01-01 … a year from today are refused (issue 13, hole 2):
// year 0 does not exist in PostgreSQL, and a first trade near year 1 broke the
// analytics' look-back.
func TestTradeDatesAreBounded(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	for _, date := range []string{"0000-01-01", "0001-01-05", "1899-12-31", "2027-01-03", "9999-12-31"} {
		_, err := f.record(trade(portfolio.Buy, date, "AAPL", "1", "10"))
		if !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("BUY dated %s: err = %v, want ErrInvalidTransaction", date, err)
		}
	}
	// t0 is 2026-01-02: the bounds themselves are accepted.
	for _, date := range []string{"1900-01-01", "2027-01-02"} {
		if _, err := f.record(trade(portfolio.Buy, date, "AAPL", "1", "10")); err != nil {
			t.Errorf("BUY dated %s: %v", date, err)
		}
	}
	// An import is held to the same bounds, and names the row.
	_, err := f.p.ImportTransactions([]portfolio.Transaction{
		trade(portfolio.Buy, "2024-01-02", "MSFT", "1", "10"),
		trade(portfolio.Buy, "0000-01-01", "MSFT", "1", "10"),
	}, f.meta(alice))
	if !errors.Is(err, portfolio.ErrInvalidTransaction) || !strings.Contains(err.Error(), "transaction 1") {
		t.Errorf("import with a year-0 row: %v", err)
	}
}

// Magnitudes and split ratios are bounded (hole 5): a 9223372036854775807:1
// split, repeated, outgrew PostgreSQL's numeric and poisoned shared batches.
func TestMagnitudesAndSplitsAreBounded(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	if _, err := f.record(trade(portfolio.Buy, "2024-01-02", "AAPL", "10", "100")); err != nil {
		t.Fatal(err)
	}
	huge, err := portfolio.ParseRatio("9223372036854775807:1")
	if err != nil {
		t.Fatal(err)
	}
	refused := []portfolio.Transaction{
		split("2024-02-01", "AAPL", huge.New, huge.Old),
		split("2024-02-01", "AAPL", 1, 1_000_001),
		trade(portfolio.Buy, "2024-01-03", "AAPL", "1000000000000000", "1"),
		trade(portfolio.Buy, "2024-01-03", "AAPL", "1", "1000000000000"),
		trade(portfolio.Buy, "2024-01-03", "AAPL", "0.0000000000000000001", "1"),
		{Type: portfolio.Deposit, Date: d("2024-01-03"), Amount: dec("1000000000000000"), Currency: "USD"},
		{Type: portfolio.Deposit, Date: d("2024-01-03"), Amount: dec("1"), Fee: dec("1000000000000000"), Currency: "USD"},
	}
	for _, tx := range refused {
		if _, err := f.record(tx); !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("%s %s q=%s p=%s a=%s fee=%s: err = %v, want ErrInvalidTransaction", tx.Type, tx.Ratio, tx.Quantity, tx.Price, tx.Amount, tx.Fee, err)
		}
	}
	// Splits within the ratio bound may not push the position past MaxQuantity:
	// 10 → 10^7 → 10^13, then the third is refused, in date order or back-dated.
	for i, date := range []string{"2024-03-01", "2024-04-01"} {
		if _, err := f.record(split(date, "AAPL", 1_000_000, 1)); err != nil {
			t.Fatalf("split %d: %v", i, err)
		}
	}
	for _, date := range []string{"2024-05-01", "2024-01-05"} {
		if _, err := f.record(split(date, "AAPL", 1_000_000, 1)); !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("split on %s past the bound: err = %v", date, err)
		}
	}
	if _, err := f.record(trade(portfolio.Buy, "2024-06-01", "AAPL", "999999999999999", "1")); !errors.Is(err, portfolio.ErrInvalidTransaction) {
		t.Errorf("buy past the bound: err = %v", err)
	}
}

// Names and symbols may not hold bidi controls or zero-width characters.
func TestInvisibleCharactersAreRefused(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	for _, name := range []string{"Main\u202e", "Ma\u200bin", "\ufeffMain"} {
		if err := f.p.ChangeDetails(name, "", f.meta(alice)); !errors.Is(err, portfolio.ErrInvalidCommand) {
			t.Errorf("name %q: err = %v", name, err)
		}
	}
	for _, sym := range []string{"AAPL\u200b", "\u202eLPAA", "AA\u2066PL"} {
		if _, err := f.record(trade(portfolio.Buy, "2024-01-02", sym, "1", "1")); !errors.Is(err, portfolio.ErrInvalidTransaction) {
			t.Errorf("symbol %q: err = %v", sym, err)
		}
	}
	note := trade(portfolio.Buy, "2024-01-02", "AAPL", "1", "1")
	note.Note = "ok \u202e?"
	if _, err := f.record(note); !errors.Is(err, portfolio.ErrInvalidTransaction) {
		t.Errorf("note with a bidi override: err = %v", err)
	}
	note.Note = "family 👨\u200d👩\u200d👧"
	if _, err := f.record(note); err != nil {
		t.Errorf("note with an emoji sequence: %v", err)
	}
}

// Events stored before the bounds keep loading: the bounds are decisions on new
// input, not payload rules.
func TestEventsBeyondTheBoundsStillFold(t *testing.T) {
	f := newFixture(t, portfolio.FIFO)
	legacy := trade(portfolio.Buy, "0000-01-01", "AAPL", "1", "10")
	legacy.ID, legacy.Seq = "legacy", portfolio.SeqOf(2, 0)
	e := portfolio.Event{EventID: "legacy", EventType: portfolio.TypeTransactionRecorded, AggregateID: "pf-1",
		AggregateType: portfolio.AggregateType, Version: 2, Timestamp: t0, UserID: alice, SchemaVersion: 1,
		Data: &portfolio.TransactionRecorded{Transaction: legacy}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := portfolio.DecodeEvent(b)
	if err != nil {
		t.Fatalf("a stored year-0 trade no longer decodes: %v", err)
	}
	if err := f.p.Apply(back); err != nil {
		t.Fatalf("apply: %v", err)
	}
}
