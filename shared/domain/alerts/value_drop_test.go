package alerts

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// refDrop is value_drop in plain decimals: every accepted value is kept, the peak is
// the highest within the rule's window, nothing is in fixed point.
type refDrop struct {
	rules  []Rule
	states []refState
	seen   map[string][]ValueSample // accepted values by portfolio
}

func (m *refDrop) eval(ticks []Tick) []Firing {
	var out []Firing
	one := decimal.New(1, 0)
	for _, t := range ticks {
		if t.Metric != MetricValue || !t.Value.IsPositive() || t.At.UnixNano() <= 0 {
			continue
		}
		vs := m.seen[t.PortfolioID]
		if len(vs) > 0 && !t.At.After(vs[len(vs)-1].At) {
			continue
		}
		vs = append(vs, ValueSample{At: t.At, Value: t.Value})
		m.seen[t.PortfolioID] = vs
		for i, r := range m.rules {
			st := &m.states[i]
			if r.PortfolioID != t.PortfolioID {
				continue
			}
			peak, from := t.Value, t.At.Add(-time.Duration(r.Window))
			for i := len(vs) - 1; i >= 0 && !vs[i].At.Before(from); i-- {
				peak = decimal.Max(peak, vs[i].Value)
			}
			diff := peak.Sub(t.Value) // drop ≥ T ⇔ diff ≥ T·peak, as peak > 0
			rearmLevel := r.Threshold.Mul(one.Sub(r.hysteresis())).RoundFloor(8)
			fire, rearm := diff.GreaterThanOrEqual(r.Threshold.Mul(peak)), diff.LessThan(rearmLevel.Mul(peak))
			if f, ok := st.step(r, fire, rearm, t.At, diff.DivRound(peak, 8)); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

// values is what the engine should retain for portfolio p: each value higher than
// every later one, within the longest of p's windows of the newest.
func (m *refDrop) values(p string) []ValueSample {
	vs := m.seen[p]
	if len(vs) == 0 {
		return nil
	}
	var longest time.Duration
	for _, r := range m.rules {
		if r.PortfolioID == p {
			longest = max(longest, time.Duration(r.Window))
		}
	}
	newest := vs[len(vs)-1].At
	var out []ValueSample
	for i, s := range vs {
		dominated := false
		for _, later := range vs[i+1:] {
			dominated = dominated || later.Value.GreaterThanOrEqual(s.Value)
		}
		if !dominated && !s.At.Before(newest.Add(-longest)) {
			out = append(out, s)
		}
	}
	return out
}

// randomValue is a portfolio value of cents in one of the shapes the engine must
// treat alike: cents, and values that do not fit 8 decimals (thirds to 20 digits,
// 9 places) or int64 units of 1e-8 (above 1e11: scaled, so the drops stay exact).
func randomValue(rng *rand.Rand, cents int64) decimal.Decimal {
	v := decimal.New(cents, -2)
	switch rng.IntN(6) {
	case 0:
		return v.Add(decimal.New(1, 0).DivRound(decimal.New(3, 0), 20))
	case 1:
		return v.Add(decimal.New(rng.Int64N(9)+1, -9))
	case 2, 3:
		return v.Mul(decimal.New(1, 10))
	}
	return v
}

func randomDropRules(rng *rand.Rand, portfolios int) []Rule {
	var rules []Rule
	hs := []string{"0", "0.01", "0.5"}
	// Drops between whole values near 100 hit these exactly.
	thresholds := []string{"0.01", "0.02", "0.03", "0.04", "0.05", "0.0125", "0.0099"}
	for p := range portfolios {
		for k := range 1 + rng.IntN(3) {
			rules = append(rules, Rule{
				ID: fmt.Sprintf("p%d-%d", p, k), Kind: KindValueDrop, PortfolioID: fmt.Sprintf("p%d", p),
				Threshold:  d(thresholds[rng.IntN(len(thresholds))]),
				Window:     Duration(time.Duration(1+rng.IntN(120)) * time.Minute),
				Hysteresis: d(hs[rng.IntN(len(hs))]), Cooldown: Duration(time.Duration(rng.IntN(3)) * 5 * time.Minute),
			})
		}
	}
	return rules
}

// randomValueTicks walks values around 100.00 in steps of a dollar or a cent, so
// that values repeat and drops land exactly on thresholds.
func randomValueTicks(rng *rand.Rand, portfolios, n int) []Tick {
	cents := make([]int64, portfolios)
	for i := range cents {
		cents[i] = 10_000
	}
	at := t0
	var ticks []Tick
	for range n {
		p := rng.IntN(portfolios)
		step := int64(100)
		if rng.IntN(3) == 0 {
			step = 1
		}
		cents[p] = max(cents[p]+(rng.Int64N(5)-2)*step, 8_000)
		at = at.Add(time.Duration(rng.IntN(90)) * time.Second) // equal times happen
		t := ValueTick(fmt.Sprintf("p%d", p), randomValue(rng, cents[p]), at)
		ticks = append(ticks, t)
		if rng.IntN(20) == 0 { // an at-least-once duplicate
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// TestValueDropAgreesWithReference: value_drop rules over values mixing cents with
// values that do not convert exactly to fixed point fire as the decimal reference
// does and retain the values it says, both on the integer route and when forced
// onto the decimal one, however the ticks are batched and with state restored from
// JSON between batches.
func TestValueDropAgreesWithReference(t *testing.T) {
	for _, decimalOnly := range []bool{false, true} {
		forceDecimalDrop = decimalOnly
		for seed := uint64(1); seed <= 100; seed++ {
			rng := rand.New(rand.NewPCG(seed, 17))
			portfolios := 1 + rng.IntN(3)
			rules := randomDropRules(rng, portfolios)
			ticks := randomValueTicks(rng, portfolios, 100+rng.IntN(400))

			ref := &refDrop{rules: rules, states: make([]refState, len(rules)), seen: map[string][]ValueSample{}}
			want := ref.eval(ticks)

			e, got := evaluateInRandomBatches(t, rng, rules, ticks)
			sameFirings(t, fmt.Sprintf("decimal only %v, seed %d", decimalOnly, seed), got, want)
			state := e.State()
			for p := range portfolios {
				id := fmt.Sprintf("p%d", p)
				if g, w := state.Values[id], ref.values(id); !sameSamples(g, w) {
					t.Fatalf("decimal only %v, seed %d: %s retains %v, reference %v", decimalOnly, seed, id, g, w)
				}
			}
		}
	}
	forceDecimalDrop = false
}

func sameSamples(a, b []ValueSample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].At.Equal(b[i].At) || !a[i].Value.Equal(b[i].Value) {
			return false
		}
	}
	return true
}

// TestValueDropRoutesAgree: the integer and decimal routes leave identical firings
// and state, field for field.
func TestValueDropRoutesAgree(t *testing.T) {
	defer func() { forceDecimalDrop = false }()
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 23))
		rules := randomDropRules(rng, 3)
		ticks := randomValueTicks(rng, 3, 500)
		run := func(decimalOnly bool) ([]Firing, State) {
			forceDecimalDrop = decimalOnly
			e := mustEngine(t, rules...)
			fs := e.Evaluate(ticks)
			ids := make([]string, len(rules))
			for i, r := range rules {
				ids[i] = r.ID
			}
			return fs, e.StateOf(ids...)
		}
		fastFirings, fastState := run(false)
		slowFirings, slowState := run(true)
		if !reflect.DeepEqual(fastFirings, slowFirings) {
			t.Fatalf("seed %d: firings differ\ninteger %v\ndecimal %v", seed, fastFirings, slowFirings)
		}
		if !reflect.DeepEqual(fastState, slowState) {
			t.Fatalf("seed %d: state differs\ninteger %+v\ndecimal %+v", seed, fastState, slowState)
		}
	}
}
