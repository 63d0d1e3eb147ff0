package performance

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// quantity follows decimal arithmetic, portfolio.ApplySell and Ratio.Apply exactly,
// through its fast and slow forms.
func TestQuantityMatchesDecimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	rnd := func() decimal.Decimal {
		switch rng.IntN(6) {
		case 0: // beyond the fast form: too many places or too large
			return decimal.New(1+rng.Int64N(1e6), -int32(13+rng.IntN(5)))
		case 1:
			return decimal.New(1+rng.Int64N(1e9), int32(rng.IntN(4)))
		case 2: // dust-sized
			return decimal.New(1+rng.Int64N(20), -9)
		default:
			return decimal.New(1+rng.Int64N(1e6), -int32(rng.IntN(5)))
		}
	}
	slow := 0
	defer func() {
		if slow == 0 {
			t.Error("the slow form was never used")
		}
	}()
	for run := range 300 {
		var q quantity
		want := decimal.Zero
		for step := range 60 {
			switch k := rng.IntN(10); {
			case k < 4:
				x := rnd()
				xn := newNum(x)
				q.add(&xn)
				want = want.Add(x)
			case k < 8:
				x := rnd()
				if rng.IntN(2) == 0 { // sell about all of it, within or beyond dust
					x = want.Add(decimal.New(rng.Int64N(41)-20, -9))
					if x.Sign() <= 0 {
						x = decimal.New(1, -9)
					}
				}
				left, ok := portfolio.ApplySell(want, x)
				xn := newNum(x)
				if got := q.sell(&xn); got != ok {
					t.Fatalf("run %d step %d: sell %s of %s: ok %v, ApplySell %v", run, step, x, want, got, ok)
				}
				if ok {
					want = left
				}
			default:
				r := portfolio.Ratio{New: 1 + rng.Int64N(4), Old: 1 + rng.Int64N(4)}
				q.split(r)
				want = r.Apply(want)
			}
			if got := q.decimal(); !got.Equal(want) {
				t.Fatalf("run %d step %d: quantity %s, decimal %s", run, step, got, want)
			}
			if q.slow {
				slow++
			}
			if q.isZero() != want.IsZero() {
				t.Fatalf("run %d step %d: isZero %v for %s", run, step, q.isZero(), want)
			}
			if f, w := q.float(), want.InexactFloat64(); math.Abs(f-w) > 1e-15*math.Abs(w) {
				t.Fatalf("float %v, want %v", f, w)
			}
		}
	}
}
