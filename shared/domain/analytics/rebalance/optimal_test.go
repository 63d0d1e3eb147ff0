package rebalance

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// bruteForce finds, by exhaustive search, the fewest symbols that must trade so that
// every weight ends inside its band with whole shares, spending net no more than
// avail. It shares no code with the planner: each symbol's in-band share counts are
// found by trying every count from 0 to T/price, and every subset of symbols is
// tried. A subset S works when every symbol outside S is already inside its band and
// buying/selling each symbol of S to its cheapest in-band count (the smallest one)
// keeps the net spending ≤ avail; the smallest count is the cheapest choice for each
// symbol independently, so this is exact. ok = false when no subset works.
func bruteForce(qty, price []int64, target []decimal.Decimal, band, cash, avail decimal.Decimal) (best int, ok bool) {
	k := len(qty)
	total := cash
	for i := range k {
		total = total.Add(decimal.NewFromInt(qty[i] * price[i]))
	}
	minIn := make([]int64, k)
	has := make([]bool, k)
	inNow := make([]bool, k)
	for i := range k {
		lo, hi := target[i].Sub(band).Mul(total), target[i].Add(band).Mul(total)
		in := func(n int64) bool {
			v := decimal.NewFromInt(n * price[i])
			return v.GreaterThanOrEqual(lo) && v.LessThanOrEqual(hi)
		}
		inNow[i] = in(qty[i])
		for n := int64(0); decimal.NewFromInt(n * price[i]).LessThanOrEqual(total); n++ {
			if in(n) {
				minIn[i], has[i] = n, true
				break
			}
		}
	}
	best = k + 1
	for s := 0; s < 1<<k; s++ {
		spend := decimal.Zero
		good := true
		for i := range k {
			if s&(1<<i) == 0 {
				good = good && inNow[i]
				continue
			}
			good = good && has[i]
			spend = spend.Add(decimal.NewFromInt((minIn[i] - qty[i]) * price[i]))
		}
		if good && spend.LessThanOrEqual(avail) {
			// A symbol of S already at its cheapest count does not trade.
			n := 0
			for i := range k {
				if s&(1<<i) != 0 && minIn[i] != qty[i] {
					n++
				}
			}
			best = min(best, n)
		}
	}
	return best, best <= k
}

// TestFewestTradesExhaustive compares the plan's trade count with the exhaustive
// minimum on 3,000 random whole-share portfolios of 2–5 symbols (with and without
// reserved cash, with and without a minimum trade value, which never blocks a needed
// trade), and checks that the plan reports "all inside the band" exactly
// when some plan can achieve it.
func TestFewestTradesExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 11))
	bands := []string{"0.02", "0.05", "0.1", "0.15"}
	syms := []string{"A", "B", "C", "D", "E"}
	feasible, withFunding := 0, 0
	for iter := range 3000 {
		k := 2 + rng.IntN(4)
		qty, price := make([]int64, k), make([]int64, k)
		target := make([]decimal.Decimal, k)
		// Targets: k positive multiples of 1/20 summing to 1.
		units := make([]int, k)
		for i := range units {
			units[i] = 1
		}
		for range 20 - k {
			units[rng.IntN(k)]++
		}
		in := Input{Holdings: map[string]decimal.Decimal{}, Prices: map[string]decimal.Decimal{}, Targets: map[string]decimal.Decimal{}, WholeShares: true}
		for i := range k {
			qty[i] = int64(rng.IntN(15))
			price[i] = int64(5 + rng.IntN(76))
			target[i] = decimal.New(int64(units[i]*5), -2)
			in.Holdings[syms[i]] = decimal.NewFromInt(qty[i])
			in.Prices[syms[i]] = decimal.NewFromInt(price[i])
			in.Targets[syms[i]] = target[i]
		}
		in.Cash = decimal.NewFromInt(int64(rng.IntN(300)))
		avail := in.Cash
		if rng.IntN(2) == 0 {
			avail = decimal.NewFromInt(int64(rng.IntN(int(in.Cash.IntPart()) + 1)))
			in.CashAvailable = &avail
		}
		in.Band = decimal.RequireFromString(bands[rng.IntN(len(bands))])
		in.MinTradeValue = decimal.NewFromInt([]int64{0, 0, 30, 150}[rng.IntN(4)])
		if in.Cash.IsZero() && func() bool {
			for _, q := range qty {
				if q > 0 {
					return false
				}
			}
			return true
		}() {
			continue // nothing to rebalance
		}

		p, err := Rebalance(in)
		if err != nil {
			t.Fatalf("case %d: %v", iter, err)
		}
		checkInvariants(t, in, p)
		best, ok := bruteForce(qty, price, target, in.Band, in.Cash, avail)
		desc := func() string {
			return fmt.Sprintf("case %d: qty %v price %v targets %v band %s cash %s avail %s → %d trades %+v",
				iter, qty, price, target, in.Band, in.Cash, avail, len(p.Trades), p.Trades)
		}
		if ok != p.AllInBand {
			t.Fatalf("%s: exhaustive feasible %v (min %d), plan all in band %v", desc(), ok, best, p.AllInBand)
		}
		if !ok {
			continue
		}
		feasible++
		if len(p.Trades) != best {
			t.Fatalf("%s: the exhaustive minimum is %d trades", desc(), best)
		}
		for _, tr := range p.Trades {
			if tr.Purpose == Funding {
				withFunding++
				break
			}
		}
	}
	// The generator must exercise the interesting cases.
	if feasible < 1000 || withFunding < 50 {
		t.Errorf("only %d feasible cases, %d needing funding sells", feasible, withFunding)
	}
	t.Logf("%d feasible, %d with funding sells", feasible, withFunding)
}

// BenchmarkRebalance300: a 300-symbol portfolio drifted around equal targets, whole
// shares, with funding sells.
func BenchmarkRebalance300(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	in := Input{Holdings: map[string]decimal.Decimal{}, Prices: map[string]decimal.Decimal{}, Targets: map[string]decimal.Decimal{},
		Cash: decimal.NewFromInt(1000), Band: decimal.RequireFromString("0.001"), WholeShares: true, MinTradeValue: decimal.NewFromInt(50)}
	w := decimal.New(1, 0).Div(decimal.NewFromInt(300)).Round(12)
	sum := decimal.Zero
	for i := range 300 {
		sym := fmt.Sprintf("S%03d", i)
		in.Holdings[sym] = decimal.NewFromInt(int64(10 + rng.IntN(200)))
		in.Prices[sym] = decimal.New(int64(500+rng.IntN(50000)), -2)
		in.Targets[sym] = w
		sum = sum.Add(w)
	}
	in.Targets["S000"] = in.Targets["S000"].Add(decimal.NewFromInt(1).Sub(sum))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Rebalance(in); err != nil {
			b.Fatal(err)
		}
	}
}
