package performance

import (
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// num is a decimal read once for Build: its coefficient and exponent when the
// coefficient fits in an int64 (small), and its nearest float64. Reading a
// decimal's size costs a logarithm (decimal.NumDigits), so each field of a
// transaction is read once and used by the quantity, the cash sum and the flows.
type num struct {
	d     decimal.Decimal
	c     int64
	e     int32
	small bool
	f     float64
}

func newNum(d decimal.Decimal) num {
	if d.Sign() == 0 {
		return num{d: d, small: true}
	}
	n := num{d: d, e: d.Exponent()}
	if d.NumDigits() <= 18 {
		n.c, n.small = d.CoefficientInt64(), true
		if n.c < 1<<53 && n.c > -(1<<53) && n.e >= -22 && n.e <= 22 {
			// One correctly rounded operation on exact operands.
			if n.e < 0 {
				n.f = float64(n.c) / pow10f[-n.e]
			} else {
				n.f = float64(n.c) * pow10f[n.e]
			}
			return n
		}
	}
	n.f = d.InexactFloat64()
	return n
}

// toFloat is d as the nearest float64 (see newNum).
func toFloat(d decimal.Decimal) float64 { return newNum(d).f }

// txNums are a transaction's numeric fields, read once.
type txNums struct {
	qty, price, amount, fee, tax num
}

// readNums reads the fields tx's type uses (every type's cash effect includes
// Fee and Tax); the others are left zero.
func readNums(tx *portfolio.Transaction, v *txNums) {
	*v = txNums{fee: newNum(tx.Fee), tax: newNum(tx.Tax)}
	switch tx.Type {
	case portfolio.Buy, portfolio.Sell:
		v.qty, v.price = newNum(tx.Quantity), newNum(tx.Price)
	case portfolio.Split:
	default:
		v.amount = newNum(tx.Amount)
	}
}
