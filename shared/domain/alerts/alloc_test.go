package alerts

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// TestRuleChecksDoNotAllocate: rule checks that do not fire allocate nothing, for
// price rules and for value_drop rules over values exact in fixed point.
func TestRuleChecksDoNotAllocate(t *testing.T) {
	e := mustEngine(t,
		Rule{ID: "above", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1000")},
		Rule{ID: "move", Kind: KindPercentMove, Symbol: "X", Threshold: d("0.5")},
		Rule{ID: "drop-1h", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.02"), Window: Duration(time.Hour)},
		Rule{ID: "drop-2h", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.04"), Window: Duration(2 * time.Hour)})
	values := make([]decimal.Decimal, 200)
	for i := range values {
		values[i] = decimal.New(10_000_000+int64(i%7)*1000-int64(i%3)*2000, -2) // within 1% of 100,000.00
	}
	ticks := []Tick{
		PriceTick("X", d("100.5"), d("100"), time.Time{}),
		ValueTick("p", values[0], time.Time{}),
	}
	at, i := t0, 0
	checks := e.Checks()
	allocs := testing.AllocsPerRun(100, func() {
		at, i = at.Add(time.Minute), i+1
		ticks[0].At, ticks[1].At, ticks[1].Value = at, at, values[i%len(values)]
		if fs := e.Evaluate(ticks); len(fs) > 0 {
			t.Fatalf("unexpected firings %v", keys(fs))
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
	if got := e.Checks() - checks; got != 4*101 {
		t.Errorf("%d checks, want %d", got, 4*101)
	}
}
