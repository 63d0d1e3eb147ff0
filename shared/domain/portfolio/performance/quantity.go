package performance

import (
	"math"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// quantity is a holding's exact share count. decimal.Decimal.Add rescales through
// big.Int.Exp whenever the exponents differ (a holding of 48 plus a buy of 12.5),
// which made it a third of Build's time; so a quantity is kept as an int64 count
// of 10^−12 shares while it fits (below 9.2 million shares, at most 12 decimal
// places) and as a decimal otherwise. Sells follow portfolio.ApplySell exactly (a
// test holds them to it); splits go through portfolio.Ratio.Apply.
type quantity struct {
	m    int64 // the quantity × 10^12, when !slow
	slow bool
	d    decimal.Decimal // the quantity, when slow
}

const qtyScale = 12

// dustScaled is portfolio.Dust at the quantity scale, or −1 when it does not fit
// (then every sell takes the decimal path).
var dustScaled = func() int64 {
	if v, ok := scaled(portfolio.Dust); ok {
		return v
	}
	return -1
}()

// scaled returns d × 10^12 when that is an int64 integer.
func scaled(d decimal.Decimal) (int64, bool) { n := newNum(d); return scaledNum(&n) }

func scaledNum(n *num) (int64, bool) {
	if !n.small {
		return 0, false
	}
	if n.c == 0 {
		return 0, true
	}
	k := int(n.e) + qtyScale
	if k < 0 || k > 18 {
		return 0, false
	}
	p := int64(pow10u[k])
	if n.c > math.MaxInt64/p || n.c < -math.MaxInt64/p {
		return 0, false
	}
	return n.c * p, true
}

func (q *quantity) set(d decimal.Decimal) {
	if v, ok := scaled(d); ok {
		q.m, q.slow, q.d = v, false, decimal.Decimal{}
		return
	}
	q.m, q.slow, q.d = 0, true, d
}

func (q *quantity) decimal() decimal.Decimal {
	if q.slow {
		return q.d
	}
	return decimal.New(q.m, -qtyScale)
}

func (q *quantity) isZero() bool { return !q.slow && q.m == 0 || q.slow && q.d.Sign() == 0 }

func (q *quantity) float() float64 {
	if q.slow {
		return toFloat(q.d)
	}
	return float64(q.m) / pow10f[qtyScale]
}

// add adds a bought quantity.
func (q *quantity) add(x *num) {
	if !q.slow {
		if v, ok := scaledNum(x); ok {
			if s := q.m + v; (s > q.m) == (v > 0) || v == 0 {
				q.m = s
				return
			}
		}
	}
	q.set(q.decimal().Add(x.d))
}

// sell subtracts a sold quantity as portfolio.ApplySell does: a result within
// Dust of zero, either side, closes the holding; a larger shortfall is refused.
func (q *quantity) sell(x *num) bool {
	if !q.slow && dustScaled >= 0 && q.m >= 0 {
		if v, ok := scaledNum(x); ok && v >= 0 {
			left := q.m - v // no overflow: both are non-negative
			switch {
			case left == 0:
			case left >= -dustScaled && left <= dustScaled:
				left = 0
			case left < 0:
				return false
			}
			q.m = left
			return true
		}
	}
	left, ok := portfolio.ApplySell(q.decimal(), x.d)
	if ok {
		q.set(left)
	}
	return ok
}

// split applies a split ratio.
func (q *quantity) split(r portfolio.Ratio) { q.set(r.Apply(q.decimal())) }
