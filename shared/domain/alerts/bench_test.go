package alerts

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// BenchmarkEvaluate: 100,000 rules over 500 symbols (200 a symbol: 40% price above,
// 40% price below, 20% percent move), batches of 10,000 price ticks random-walking
// around the thresholds. One op is one batch. Reports rule checks per second (the
// target is ≥ 1,000,000 on one core) and allocations per batch.
func BenchmarkEvaluate(b *testing.B) {
	const (
		nRules   = 100_000
		nSymbols = 500
		nTicks   = 10_000
	)
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]int64, nSymbols) // cents
	symbols := make([]string, nSymbols)
	for i := range symbols {
		symbols[i] = fmt.Sprintf("SYM%03d", i)
		base[i] = 1000 + rng.Int64N(100000)
	}
	rules := make([]Rule, nRules)
	for i := range rules {
		s := i % nSymbols
		r := Rule{ID: fmt.Sprintf("rule-%06d", i), UserID: "user", Symbol: symbols[s], Cooldown: Duration(time.Minute)}
		switch k := rng.IntN(10); {
		case k < 4:
			r.Kind, r.Threshold = KindPriceAbove, decimal.New(base[s]+rng.Int64N(base[s]/20+1), -2)
		case k < 8:
			r.Kind, r.Threshold = KindPriceBelow, decimal.New(base[s]-rng.Int64N(base[s]/20+1), -2)
		default:
			r.Kind, r.Threshold, r.Direction = KindPercentMove, decimal.New(50+rng.Int64N(450), -4), DirectionEither
		}
		rules[i] = r
	}
	e, err := NewEngine(rules...)
	if err != nil {
		b.Fatal(err)
	}
	price := append([]int64(nil), base...)
	ticks := make([]Tick, nTicks)
	for i := range ticks {
		s := rng.IntN(nSymbols)
		price[s] += rng.Int64N(price[s]/100+1) - price[s]/200
		ticks[i] = PriceTick(symbols[s], decimal.New(price[s], -2), decimal.New(base[s], -2), time.Time{})
	}
	at := time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC)
	stamp := func() {
		for i := range ticks {
			at = at.Add(time.Millisecond)
			ticks[i].At = at
		}
	}
	firings := 0
	startChecks := e.Checks()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		stamp()
		b.StartTimer()
		firings += len(e.Evaluate(ticks))
	}
	b.StopTimer()
	checks := float64(e.Checks() - startChecks)
	b.ReportMetric(checks/float64(b.N), "checks/op")
	b.ReportMetric(checks/b.Elapsed().Seconds(), "checks/s")
	b.ReportMetric(float64(firings)/float64(b.N), "firings/op")
}

// BenchmarkEvaluateWithConditions is BenchmarkEvaluate's load with one rule in
// ten a rule of two conditions on its symbol (above a level or below another,
// any): what a composite costs over the single-condition rules it is made of.
// Checks count each condition.
func BenchmarkEvaluateWithConditions(b *testing.B) {
	const (
		nRules   = 100_000
		nSymbols = 500
		nTicks   = 10_000
	)
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]int64, nSymbols)
	symbols := make([]string, nSymbols)
	for i := range symbols {
		symbols[i] = fmt.Sprintf("SYM%03d", i)
		base[i] = 1000 + rng.Int64N(100000)
	}
	rules := make([]Rule, nRules)
	for i := range rules {
		s := i % nSymbols
		r := Rule{ID: fmt.Sprintf("rule-%06d", i), UserID: "user", Cooldown: Duration(time.Minute)}
		above := decimal.New(base[s]+rng.Int64N(base[s]/20+1), -2)
		below := decimal.New(base[s]-rng.Int64N(base[s]/20+1), -2)
		if i%10 == 0 {
			r.Match, r.Conditions = MatchAny, []Condition{
				{Kind: KindPriceAbove, Symbol: symbols[s], Threshold: above},
				{Kind: KindPriceBelow, Symbol: symbols[s], Threshold: below},
			}
		} else {
			r.Symbol, r.Kind, r.Threshold = symbols[s], KindPriceAbove, above
			if rng.IntN(2) == 0 {
				r.Kind, r.Threshold = KindPriceBelow, below
			}
		}
		rules[i] = r
	}
	e, err := NewEngine(rules...)
	if err != nil {
		b.Fatal(err)
	}
	price := append([]int64(nil), base...)
	ticks := make([]Tick, nTicks)
	for i := range ticks {
		s := rng.IntN(nSymbols)
		price[s] += rng.Int64N(price[s]/100+1) - price[s]/200
		ticks[i] = PriceTick(symbols[s], decimal.New(price[s], -2), decimal.New(base[s], -2), time.Time{})
	}
	at := time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC)
	firings := 0
	startChecks := e.Checks()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range ticks {
			at = at.Add(time.Millisecond)
			ticks[j].At = at
		}
		b.StartTimer()
		firings += len(e.Evaluate(ticks))
	}
	b.StopTimer()
	checks := float64(e.Checks() - startChecks)
	b.ReportMetric(checks/float64(b.N), "checks/op")
	b.ReportMetric(checks/b.Elapsed().Seconds(), "checks/s")
	b.ReportMetric(float64(firings)/float64(b.N), "firings/op")
}
