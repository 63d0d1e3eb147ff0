package alerts

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// valueDropLoad is the prices consumer's portfolio load: 10,000 portfolios with a
// 1h/2% and a 2h/4% value_drop rule each, and one value tick per portfolio per
// batch, the values (in cents) random-walking around 100,000.00.
type valueDropLoad struct {
	engine *Engine
	ticks  []Tick
	cents  []int64
	rng    *rand.Rand
	at     time.Time
	ruleID []string // one value_drop rule per portfolio
}

func newValueDropLoad(tb testing.TB) *valueDropLoad {
	const nPortfolios = 10_000
	l := &valueDropLoad{
		ticks:  make([]Tick, nPortfolios),
		cents:  make([]int64, nPortfolios),
		rng:    rand.New(rand.NewPCG(3, 4)),
		at:     time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC),
		ruleID: make([]string, nPortfolios),
	}
	rules := make([]Rule, 0, 2*nPortfolios)
	for i := range nPortfolios {
		p := fmt.Sprintf("pf-%05d", i)
		l.ruleID[i] = p + "-1h"
		rules = append(rules,
			Rule{ID: p + "-1h", UserID: "user", Kind: KindValueDrop, PortfolioID: p, Threshold: d("0.02"), Window: Duration(time.Hour), Cooldown: Duration(time.Hour)},
			Rule{ID: p + "-2h", UserID: "user", Kind: KindValueDrop, PortfolioID: p, Threshold: d("0.04"), Window: Duration(2 * time.Hour), Cooldown: Duration(time.Hour)})
		l.cents[i] = 10_000_000
		l.ticks[i] = ValueTick(p, decimal.Zero, time.Time{})
	}
	e, err := NewEngine(rules...)
	if err != nil {
		tb.Fatal(err)
	}
	l.engine = e
	return l
}

// next moves every value by up to ±0.5% and the clock by a minute.
func (l *valueDropLoad) next() {
	l.at = l.at.Add(time.Minute)
	for i := range l.ticks {
		l.cents[i] += l.rng.Int64N(l.cents[i]/100+1) - l.cents[i]/200
		l.ticks[i].Value = decimal.New(l.cents[i], -2)
		l.ticks[i].At = l.at
	}
}

// BenchmarkEvaluateValueDrop: one op is one batch of 10,000 value ticks (20,000
// value_drop rule checks), after two hours of warm-up so the windows are full.
func BenchmarkEvaluateValueDrop(b *testing.B) {
	l := newValueDropLoad(b)
	for range 120 {
		l.next()
		l.engine.Evaluate(l.ticks)
	}
	startChecks := l.engine.Checks()
	firings := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l.next()
		b.StartTimer()
		firings += len(l.engine.Evaluate(l.ticks))
	}
	b.StopTimer()
	checks := float64(l.engine.Checks() - startChecks)
	b.ReportMetric(checks/float64(b.N), "checks/op")
	b.ReportMetric(float64(firings)/float64(b.N), "firings/op")
}

// BenchmarkStateOf10k: StateOf for one value_drop rule of each of 10,000
// portfolios, after two hours of value ticks.
func BenchmarkStateOf10k(b *testing.B) {
	l := newValueDropLoad(b)
	for range 120 {
		l.next()
		l.engine.Evaluate(l.ticks)
	}
	samples := 0
	for _, h := range l.engine.history {
		samples += len(h.samples)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := l.engine.StateOf(l.ruleID...)
		if len(s.Values) != len(l.ruleID) {
			b.Fatalf("%d portfolios' values, want %d", len(s.Values), len(l.ruleID))
		}
	}
	b.ReportMetric(float64(samples)/float64(len(l.engine.history)), "samples/portfolio")
}
