package alerts

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

var t0 = time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func mustEngine(t testing.TB, rules ...Rule) *Engine {
	t.Helper()
	e, err := NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// prices makes price ticks for symbol, one second apart from start.
func prices(symbol string, start time.Time, ps ...string) []Tick {
	out := make([]Tick, len(ps))
	for i, p := range ps {
		out[i] = PriceTick(symbol, d(p), decimal.Zero, start.Add(time.Duration(i)*time.Second))
	}
	return out
}

func keys(fs []Firing) string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Key)
	}
	return strings.Join(ks, ",")
}

func TestPriceAboveFiresOnceWhileOscillating(t *testing.T) {
	e := mustEngine(t, Rule{ID: "r1", UserID: "u1", Kind: KindPriceAbove, Symbol: "AAPL", Threshold: d("100")})
	// Default hysteresis 0.5%: re-arms only below 99.5.
	fs := e.Evaluate(prices("AAPL", t0, "99", "100", "99.8", "100.2", "99.51", "100.5", "99.9", "101", "99.5", "100.3"))
	if len(fs) != 1 {
		t.Fatalf("%d firings: %v", len(fs), keys(fs))
	}
	f := fs[0]
	if f.Key != "r1#0" || f.RuleID != "r1" || f.UserID != "u1" || f.Symbol != "AAPL" || f.Kind != KindPriceAbove ||
		!f.Observed.Equal(d("100")) || !f.Threshold.Equal(d("100")) || !f.At.Equal(t0.Add(time.Second)) {
		t.Fatalf("%+v", f)
	}
	// Falling below 99.5 re-arms (strictly: 99.5 itself did not); the next cross fires
	// with a new epoch, hence a new key.
	fs = e.Evaluate(prices("AAPL", t0.Add(time.Minute), "99.49", "99.7", "100"))
	if keys(fs) != "r1#1" {
		t.Fatalf("%v", keys(fs))
	}
	st, _ := e.RuleState("r1")
	if !st.Fired || st.Epoch != 1 || !st.FiredAt.Equal(t0.Add(time.Minute+2*time.Second)) {
		t.Fatalf("%+v", st)
	}
}

func TestPriceBelowAndHysteresis(t *testing.T) {
	e := mustEngine(t, Rule{ID: "b", Kind: KindPriceBelow, Symbol: "X", Threshold: d("50"), Hysteresis: d("0.02")})
	// Fires at ≤ 50; re-arms above 51 (50 × 1.02).
	fs := e.Evaluate(prices("X", t0, "50.5", "50", "49", "51", "50", "51.01", "50.7", "49.99"))
	if keys(fs) != "b#0,b#1" {
		t.Fatalf("%v", keys(fs))
	}
	if !fs[1].Observed.Equal(d("49.99")) || !fs[1].At.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("%+v", fs[1])
	}
}

func TestCooldown(t *testing.T) {
	e := mustEngine(t, Rule{ID: "c", Kind: KindPriceAbove, Symbol: "X", Threshold: d("10"), Cooldown: Duration(time.Hour)})
	ticks := []Tick{
		PriceTick("X", d("10"), decimal.Zero, t0),                       // fires
		PriceTick("X", d("9"), decimal.Zero, t0.Add(time.Minute)),       // re-arms
		PriceTick("X", d("11"), decimal.Zero, t0.Add(2*time.Minute)),    // armed, cooling down: no
		PriceTick("X", d("10.5"), decimal.Zero, t0.Add(59*time.Minute)), // still cooling down
		PriceTick("X", d("10.5"), decimal.Zero, t0.Add(60*time.Minute)), // cooldown over: fires
		PriceTick("X", d("9"), decimal.Zero, t0.Add(61*time.Minute)),    // re-arms
		PriceTick("X", d("10"), decimal.Zero, t0.Add(3*time.Hour)),      // fires
		PriceTick("X", d("10"), decimal.Zero, t0.Add(3*time.Hour+time.Second)),
	}
	fs := e.Evaluate(ticks)
	if keys(fs) != "c#0,c#1,c#2" {
		t.Fatalf("%v", keys(fs))
	}
	if !fs[1].At.Equal(t0.Add(time.Hour)) {
		t.Fatal(fs[1].At)
	}
}

func TestReprocessedBatchDoesNotFireTwice(t *testing.T) {
	rule := Rule{ID: "r", Kind: KindPriceAbove, Symbol: "X", Threshold: d("100")}
	batch := prices("X", t0, "99", "101", "98", "102")
	e := mustEngine(t, rule)
	before := e.State()
	first := e.Evaluate(batch)
	if keys(first) != "r#0,r#1" {
		t.Fatalf("%v", keys(first))
	}
	// Case 1: the state was saved, then the batch is delivered again: nothing fires.
	if again := e.Evaluate(batch); len(again) != 0 {
		t.Fatalf("re-processing fired %v", keys(again))
	}
	// Also when the stored state went through JSON.
	e2 := mustEngine(t, rule)
	restoreJSON(t, e2, e.State())
	if again := e2.Evaluate(batch); len(again) != 0 {
		t.Fatalf("re-processing after restore fired %v", keys(again))
	}
	// Case 2: the invocation died before saving; the retry starts from the old state
	// and produces the same keys, which the delivery step de-duplicates.
	e3 := mustEngine(t, rule)
	restoreJSON(t, e3, before)
	if retry := e3.Evaluate(batch); keys(retry) != keys(first) {
		t.Fatalf("retry produced %v, first run %v", keys(retry), keys(first))
	}
	// A tick repeated inside one batch (same timestamp) is evaluated once.
	e4 := mustEngine(t, rule)
	dup := append(prices("X", t0, "101"), prices("X", t0, "98")...)
	dup = append(dup, prices("X", t0, "101")...)
	if fs := e4.Evaluate(dup); keys(fs) != "r#0" {
		t.Fatalf("%v", keys(fs))
	}
}

func TestPercentMove(t *testing.T) {
	e := mustEngine(t,
		Rule{ID: "up", Kind: KindPercentMove, Symbol: "X", Threshold: d("0.05"), Direction: DirectionUp},
		Rule{ID: "down", Kind: KindPercentMove, Symbol: "X", Threshold: d("0.05"), Direction: DirectionDown},
		Rule{ID: "any", Kind: KindPercentMove, Symbol: "X", Threshold: d("0.1")},
	)
	pc := d("3")
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	ticks := []Tick{
		PriceTick("X", d("3.1499999999"), pc, at(0)),  // +4.99999…%: nothing
		PriceTick("X", d("3.15"), pc, at(1)),          // exactly +5%: up fires
		PriceTick("X", d("3.5"), decimal.Zero, at(2)), // no previous close: percent rules skip
		PriceTick("X", d("2.85"), pc, at(3)),          // exactly −5%: down fires; up re-arms
		PriceTick("X", d("2.7"), pc, at(4)),           // −10%: any fires
		PriceTick("X", d("3.3"), pc, at(5)),           // +10%: up fires again (epoch 1); any is still fired
	}
	fs := e.Evaluate(ticks)
	if keys(fs) != "up#0,down#0,any#0,up#1" {
		t.Fatalf("%v", keys(fs))
	}
	if !fs[0].Observed.Equal(d("0.05")) || !fs[1].Observed.Equal(d("-0.05")) || !fs[2].Observed.Equal(d("-0.1")) {
		t.Fatalf("%v %v %v", fs[0].Observed, fs[1].Observed, fs[2].Observed)
	}
	// A move of exactly one third is compared exactly, not via a rounded quotient.
	e2 := mustEngine(t, Rule{ID: "third", Kind: KindPercentMove, Symbol: "Y", Threshold: d("0.33333333"), Direction: DirectionUp})
	if fs := e2.Evaluate([]Tick{PriceTick("Y", d("4"), d("3"), t0)}); keys(fs) != "third#0" {
		t.Fatal(keys(fs))
	}
	e3 := mustEngine(t, Rule{ID: "third", Kind: KindPercentMove, Symbol: "Y", Threshold: d("0.33333334"), Direction: DirectionUp})
	if fs := e3.Evaluate([]Tick{PriceTick("Y", d("4"), d("3"), t0)}); len(fs) != 0 {
		t.Fatal(keys(fs))
	}
	// Prices with more than 8 decimals take the exact slow path.
	e4 := mustEngine(t, Rule{ID: "p", Kind: KindPercentMove, Symbol: "Z", Threshold: d("0.5"), Direction: DirectionUp})
	if fs := e4.Evaluate([]Tick{PriceTick("Z", d("1.5000000000001"), d("1.0000000000001"), t0)}); len(fs) != 0 {
		t.Fatal("0.4999… is not 0.5")
	}
	if fs := e4.Evaluate([]Tick{PriceTick("Z", d("1.50000000000015"), d("1.0000000000001"), t0.Add(time.Second))}); len(fs) != 1 {
		t.Fatal("exactly 0.5 must fire")
	}
}

func TestWeightDrift(t *testing.T) {
	e := mustEngine(t, Rule{ID: "w", Kind: KindWeightDrift, PortfolioID: "p1", Symbol: "VTI", TargetWeight: d("0.6"), Threshold: d("0.05")})
	w := func(i int, v string) Tick { return WeightTick("p1", "VTI", d(v), t0.Add(time.Duration(i)*time.Minute)) }
	fs := e.Evaluate([]Tick{
		w(0, "0.64"),
		w(1, "0.65"), // +5 points: fires
		w(2, "0.55"), // −5 points, but fired: no
		w(3, "0.6"),  // back inside (−4.975, 4.975): re-arms
		w(4, "0.55"), // fires again
		WeightTick("p1", "BND", d("0.9"), t0.Add(5*time.Minute)), // another position: not this rule
		WeightTick("p2", "VTI", d("0.9"), t0.Add(5*time.Minute)), // another portfolio
	})
	if keys(fs) != "w#0,w#1" || !fs[1].Observed.Equal(d("0.55")) || fs[1].PortfolioID != "p1" {
		t.Fatalf("%v", keys(fs))
	}
}

func TestValueDropOverWindow(t *testing.T) {
	e := mustEngine(t, Rule{ID: "v", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(5 * 24 * time.Hour)})
	day := func(n int, v string) Tick { return ValueTick("p", d(v), t0.Add(time.Duration(n)*24*time.Hour)) }
	fs := e.Evaluate([]Tick{day(0, "100"), day(1, "105"), day(2, "100"), day(3, "95")}) // 95/105: −9.52%
	if len(fs) != 0 {
		t.Fatal(keys(fs))
	}
	fs = e.Evaluate([]Tick{day(4, "94.5")}) // exactly −10% from 105
	if keys(fs) != "v#0" || !fs[0].Observed.Equal(d("0.1")) {
		t.Fatalf("%v %v", keys(fs), fs)
	}
	// Day 7: the 105 peak (day 1) has left the window; the peak is now 100 (day 2)…
	// still fired; day 8 recovers to re-arm, day 9 drops 10% from the new peak.
	fs = e.Evaluate([]Tick{day(7, "92"), day(8, "100"), day(9, "90")})
	if keys(fs) != "v#1" {
		t.Fatalf("%v", keys(fs))
	}
	// Samples beyond the window are forgotten: state stays small.
	if n := len(e.State().Values["p"]); n > 3 {
		t.Fatalf("%d samples kept", n)
	}
	// An old peak outside the window does not count: a slow 20% decline over a month
	// in 2% steps a week never drops 10% within 5 days.
	e2 := mustEngine(t, Rule{ID: "v", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(5 * 24 * time.Hour)})
	v := d("100")
	for i := 0; i < 10; i++ {
		if fs := e2.Evaluate([]Tick{ValueTick("p", v, t0.Add(time.Duration(i)*7*24*time.Hour))}); len(fs) != 0 {
			t.Fatalf("week %d fired", i)
		}
		v = v.Mul(d("0.98"))
	}
}

func TestMetricRules(t *testing.T) {
	e := mustEngine(t,
		Rule{ID: "dd", Kind: KindDrawdown, PortfolioID: "p", Threshold: d("0.2")},
		Rule{ID: "var", Kind: KindVaRBreach, PortfolioID: "p", Threshold: d("25000")},
		Rule{ID: "conc", Kind: KindConcentration, PortfolioID: "p", Threshold: d("0.4")},
	)
	m := func(i int, metric Metric, v string) Tick {
		return MetricTick("p", metric, d(v), t0.Add(time.Duration(i)*time.Hour))
	}
	fs := e.Evaluate([]Tick{
		m(0, MetricDrawdown, "0.19"), m(1, MetricDrawdown, "0.2"), m(2, MetricDrawdown, "0.25"),
		m(0, MetricVaR, "25000.01"), m(0, MetricConcentration, "0.39999999"),
		m(3, MetricDrawdown, "0.1"), m(4, MetricDrawdown, "0.3"),
	})
	if keys(fs) != "dd#0,var#0,dd#1" {
		t.Fatalf("%v", keys(fs))
	}
}

func TestIndexLimitsWork(t *testing.T) {
	var rules []Rule
	for i := 0; i < 1000; i++ {
		rules = append(rules, Rule{ID: "r" + itoa(i), Kind: KindPriceAbove, Symbol: "S" + itoa(i%100), Threshold: d("100")})
	}
	e := mustEngine(t, rules...)
	e.Evaluate(prices("S7", t0, "1", "2", "3"))
	if e.Checks() != 30 { // 10 rules on S7 × 3 ticks
		t.Fatalf("%d checks", e.Checks())
	}
	e.Evaluate(prices("UNKNOWN", t0, "1"))
	if e.Checks() != 30 {
		t.Fatal("a symbol without rules cost checks")
	}
}

func TestAddRemove(t *testing.T) {
	e := mustEngine(t, Rule{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1")})
	err := e.Add(Rule{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1")})
	if !errors.Is(err, ErrDuplicateRule) || !errors.Is(err, ErrInvalidRule) {
		t.Fatal(err)
	}
	e.Evaluate(prices("X", t0, "2"))
	if !e.Remove("a") || e.Remove("a") || e.Len() != 0 {
		t.Fatal("remove")
	}
	if err := e.Add(Rule{ID: "b", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1")}); err != nil {
		t.Fatal(err)
	}
	// The re-used slot starts armed.
	if fs := e.Evaluate(prices("X", t0.Add(time.Hour), "2")); keys(fs) != "b#0" {
		t.Fatal(keys(fs))
	}
	if r, ok := e.Rule("b"); !ok || r.Symbol != "X" {
		t.Fatal(r)
	}
}

func TestIgnoredTicks(t *testing.T) {
	e := mustEngine(t, Rule{ID: "a", Kind: KindPriceBelow, Symbol: "X", Threshold: d("1")},
		Rule{ID: "v", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.5"), Window: Duration(time.Hour)})
	fs := e.Evaluate([]Tick{
		PriceTick("X", d("0"), decimal.Zero, t0),            // not a price
		PriceTick("X", d("-1"), decimal.Zero, t0),           // not a price
		PriceTick("X", d("0.5"), decimal.Zero, time.Time{}), // no time
		ValueTick("p", d("0"), t0),                          // empty portfolio
	})
	if len(fs) != 0 || e.Checks() != 0 {
		t.Fatal(keys(fs), e.Checks())
	}
}

func itoa(i int) string { return decimal.NewFromInt(int64(i)).String() }
