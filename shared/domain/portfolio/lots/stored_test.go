package lots

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// A history recorded before the bounds: a trade in year 0, a split of
// 9223372036854775807:1, splits that would take the position past MaxQuantity,
// and a sell that only the left-out buy could have covered. The rest is folded as
// if they had never been recorded.
func TestApplyStoredLeavesOutWhatCannotBeComputed(t *testing.T) {
	txs := []portfolio.Transaction{
		buy("0000-01-01", "OLD", "5", "10"),
		buy("2024-01-02", "AAA", "10", "100"),
		split("2024-02-01", "AAA", 9223372036854775807, 1),
		split("2024-03-01", "AAA", 1_000_000, 1),
		split("2024-04-01", "AAA", 1_000_000, 1), // 10^13
		split("2024-04-02", "AAA", 1_000_000, 1), // 10^19: beyond MaxQuantity
		sell("2024-05-01", "OLD", "5", "12"),     // only the year-0 buy held OLD
		sell("2024-06-03", "AAA", "1", "0.001"),
		dividend("2024-07-01", "AAA", "3"),
	}
	for i := range txs {
		txs[i].ID, txs[i].Seq = string(rune('a'+i)), int64(i+1)
	}
	book := New(portfolio.FIFO, "USD")
	kept, out := book.ApplyStored(txs)
	var ids []string
	for _, lo := range out {
		ids = append(ids, lo.Transaction.ID)
		if !errors.Is(lo.Err, portfolio.ErrInvalidTransaction) && !errors.Is(lo.Err, portfolio.ErrInsufficientHoldings) {
			t.Errorf("%s: %v", lo.Transaction.ID, lo.Err)
		}
	}
	if !slices.Equal(ids, []string{"a", "c", "f", "g"}) {
		t.Fatalf("left out %v", ids)
	}
	var keptIDs []string
	for _, tx := range kept {
		keptIDs = append(keptIDs, tx.ID)
	}
	if !slices.Equal(keptIDs, []string{"b", "d", "e", "h", "i"}) {
		t.Fatalf("kept %v", keptIDs)
	}
	// The kept history folds to the same book on its own.
	again := New(portfolio.FIFO, "USD")
	for i := range kept {
		if err := again.Apply(&kept[i]); err != nil {
			t.Fatal(err)
		}
	}
	if q := book.Quantity("AAA"); !q.Equal(dec("9999999999999")) || !q.Equal(again.Quantity("AAA")) {
		t.Errorf("AAA %s (again %s), want 10 × 10^12 − 1", q, again.Quantity("AAA"))
	}
	if _, ok := book.Position("OLD"); ok {
		t.Error("OLD has a position")
	}
	if fmt.Sprintf("%+v", book.Summary()) != fmt.Sprintf("%+v", again.Summary()) {
		t.Errorf("summary %+v, folding the kept ones %+v", book.Summary(), again.Summary())
	}
}

// A history within the bounds is kept whole, without a copy.
func TestApplyStoredKeepsAnOrdinaryHistory(t *testing.T) {
	txs := []portfolio.Transaction{buy("2024-01-02", "AAA", "10", "100"), split("2024-02-01", "AAA", 4, 1), sell("2024-03-01", "AAA", "40", "30")}
	kept, out := New(portfolio.AverageCost, "USD").ApplyStored(txs)
	if len(out) != 0 || len(kept) != len(txs) || &kept[0] != &txs[0] {
		t.Fatalf("kept %d (same slice: %v), left out %+v", len(kept), len(kept) > 0 && &kept[0] == &txs[0], out)
	}
}
