package performance

import (
	"math/big"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// cashSum is the exact running sum of Transaction.CashEffect, kept as v × 10^−scale
// in big.Ints that are reused, so that replaying 50,000 transactions does not
// allocate several decimals each (decimal.Decimal allocates a big.Int per result).
// Build needs it exact only to know when the account is exactly empty.
type cashSum struct {
	v           big.Int
	a, b, prod  big.Int // operands and product of a trade's gross
	scaled, tmp big.Int // addScaled's scratch
	scale       int32
	pow         []*big.Int // pow[i] = 10^i
}

func (s *cashSum) pow10(k int32) *big.Int {
	for int32(len(s.pow)) <= k {
		if len(s.pow) == 0 {
			s.pow = append(s.pow, big.NewInt(1))
			continue
		}
		s.pow = append(s.pow, new(big.Int).Mul(s.pow[len(s.pow)-1], big.NewInt(10)))
	}
	return s.pow[k]
}

// coef loads n's coefficient into z, without allocating when it is small.
func coef(z *big.Int, n *num) *big.Int {
	if n.small {
		return z.SetInt64(n.c)
	}
	return z.Set(n.d.Coefficient())
}

// addScaled adds (or with neg subtracts) x × 10^e; x is scratch and may be changed.
func (s *cashSum) addScaled(x *big.Int, e int32, neg bool) {
	if x.Sign() == 0 {
		return
	}
	if -e > s.scale {
		s.tmp.Mul(&s.v, s.pow10(-e-s.scale))
		s.v.Set(&s.tmp)
		s.scale = -e
	}
	if k := e + s.scale; k > 0 {
		s.scaled.Mul(x, s.pow10(k))
		x = &s.scaled
	}
	if neg {
		s.v.Sub(&s.v, x)
	} else {
		s.v.Add(&s.v, x)
	}
}

// addNum adds (or with neg subtracts) n × 10^shift.
func (s *cashSum) addNum(n *num, shift int32, neg bool) {
	if n.small && n.c == 0 {
		return
	}
	s.addScaled(coef(&s.a, n), n.e+shift, neg)
}

// addTx adds tx.CashEffect() × 10^shift (the same cases, without the
// intermediate decimals); v holds tx's fields. shift is −2 for amounts in a quote
// unit (pence into pounds).
func (s *cashSum) addTx(tx *portfolio.Transaction, v *txNums, shift int32) {
	switch tx.Type {
	case portfolio.Buy, portfolio.Sell:
		if !(v.qty.small && v.qty.c == 0) && !(v.price.small && v.price.c == 0) {
			s.prod.Mul(coef(&s.a, &v.qty), coef(&s.b, &v.price))
			s.addScaled(&s.prod, v.qty.e+v.price.e+shift, tx.Type == portfolio.Buy)
		}
	case portfolio.Dividend, portfolio.Interest, portfolio.Deposit:
		s.addNum(&v.amount, shift, false)
	case portfolio.Fee, portfolio.Withdrawal, portfolio.Conversion:
		s.addNum(&v.amount, shift, true)
	}
	s.addNum(&v.fee, shift, true)
	s.addNum(&v.tax, shift, true)
}

func (s *cashSum) isZero() bool { return s.v.Sign() == 0 }

func (s *cashSum) decimal() decimal.Decimal {
	return decimal.NewFromBigInt(new(big.Int).Set(&s.v), -s.scale)
}
