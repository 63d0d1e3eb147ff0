package lots

import (
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// LeftOut is a stored transaction a consumer leaves out of its figures, and why.
type LeftOut struct {
	Transaction *portfolio.Transaction // points into the slice given to ApplyStored
	Err         error
}

// ApplyStored folds a stored history (in portfolio.SortForReplay order) into the
// book, leaving out what a consumer cannot compute with: a transaction outside
// portfolio.Transaction.CheckStoredRange (recorded before the bounds existed), one
// that would take a position to portfolio.MaxQuantity or beyond (a split repeated
// until the quantity outgrows any numeric column), and one Apply refuses (a sell
// of shares an earlier left-out buy would have provided). It never fails: the
// projector and the analytics consumer show the rest rather than stall on it.
//
// kept is txs without the left-out transactions: txs itself when none is, so the
// common case allocates nothing.
func (b *Book) ApplyStored(txs []portfolio.Transaction) (kept []portfolio.Transaction, leftOut []LeftOut) {
	kept = txs
	for i := range txs {
		tx := &txs[i]
		err := tx.CheckStoredRange()
		if err == nil {
			if q, moves := b.quantityAfter(tx); moves {
				err = portfolio.CheckQuantity(tx.Symbol, q)
			}
		}
		if err == nil {
			err = b.Apply(tx)
		}
		if err == nil {
			if len(leftOut) > 0 {
				kept = append(kept, *tx)
			}
			continue
		}
		if len(leftOut) == 0 {
			kept = make([]portfolio.Transaction, i, len(txs)-1)
			copy(kept, txs[:i])
		}
		leftOut = append(leftOut, LeftOut{Transaction: tx, Err: err})
	}
	return kept, leftOut
}

// quantityAfter is the position tx leaves in its symbol, for the transactions that
// can make one grow.
func (b *Book) quantityAfter(tx *portfolio.Transaction) (decimal.Decimal, bool) {
	switch tx.Type {
	case portfolio.Buy:
		return b.Quantity(tx.Symbol).Add(tx.Quantity), true
	case portfolio.Split:
		if tx.Ratio.Validate() != nil {
			return decimal.Zero, false // Apply refuses it
		}
		return tx.Ratio.Apply(b.Quantity(tx.Symbol)), true
	}
	return decimal.Zero, false
}
