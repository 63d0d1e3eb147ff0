package alerts

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// refModel is a slow, obviously-correct evaluator: every rule sees every tick, all
// arithmetic in decimals, no fixed point, no index. The engine must agree with it.
type refModel struct {
	rules  []Rule
	states []refState
}

type refState struct {
	fired    bool
	epoch    uint64
	hasFired bool
	firedAt  time.Time
	lastAt   time.Time
}

// step is the rule state machine, written plainly: a fired rule only re-arms
// (a new epoch); an armed one fires unless cooling down.
func (st *refState) step(r Rule, fire, rearm bool, at time.Time, observed decimal.Decimal) (Firing, bool) {
	st.lastAt = at
	if st.fired {
		if rearm {
			st.fired = false
			st.epoch++
		}
		return Firing{}, false
	}
	if !fire || (st.hasFired && at.Sub(st.firedAt) < time.Duration(r.Cooldown)) {
		return Firing{}, false
	}
	st.fired, st.hasFired, st.firedAt = true, true, at
	return Firing{Key: FiringKey(r.ID, st.epoch), RuleID: r.ID, Epoch: st.epoch, Observed: observed, At: at.UTC()}, true
}

func (m *refModel) eval(ticks []Tick) []Firing {
	var out []Firing
	one := decimal.New(1, 0)
	for _, t := range ticks {
		if t.Metric != MetricPrice || !t.Value.IsPositive() || t.At.UnixNano() <= 0 {
			continue
		}
		for i, r := range m.rules {
			st := &m.states[i]
			if r.Symbol != t.Symbol || !t.At.After(st.lastAt) {
				continue
			}
			h := r.hysteresis()
			x, T := t.Value, r.Threshold
			var fire, rearm bool
			observed := x
			switch r.Kind {
			case KindPriceAbove:
				fire, rearm = x.GreaterThanOrEqual(T), x.LessThan(T.Mul(one.Sub(h)).RoundFloor(8))
			case KindPriceBelow:
				fire, rearm = x.LessThanOrEqual(T), x.GreaterThan(T.Mul(one.Add(h)).RoundCeil(8))
			case KindPercentMove:
				pc := t.PreviousClose
				if !pc.IsPositive() {
					continue
				}
				diff := x.Sub(pc) // move ≥ T ⇔ diff ≥ T·pc, as pc > 0
				R := T.Mul(one.Sub(h)).RoundFloor(8)
				up, upRearm := diff.GreaterThanOrEqual(T.Mul(pc)), diff.LessThan(R.Mul(pc))
				down, downRearm := diff.LessThanOrEqual(T.Neg().Mul(pc)), diff.GreaterThan(R.Neg().Mul(pc))
				switch r.Direction {
				case DirectionUp:
					fire, rearm = up, upRearm
				case DirectionDown:
					fire, rearm = down, downRearm
				default:
					fire, rearm = up || down, upRearm && downRearm
				}
				observed = diff.DivRound(pc, 8)
			}
			if f, ok := st.step(r, fire, rearm, t.At, observed); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

func randomRules(rng *rand.Rand, n int) []Rule {
	hs := []string{"0", "0.001", "0.01", "0.05", "0.2"}
	cds := []time.Duration{0, 0, 5 * time.Second, time.Minute}
	var rules []Rule
	for i := 0; i < n; i++ {
		r := Rule{ID: fmt.Sprintf("r%d", i), Symbol: fmt.Sprintf("S%d", rng.IntN(3)),
			Hysteresis: d(hs[rng.IntN(len(hs))]), Cooldown: Duration(cds[rng.IntN(len(cds))])}
		switch rng.IntN(5) {
		case 0:
			r.Kind, r.Threshold = KindPriceAbove, decimal.New(9500+rng.Int64N(1000), -2)
		case 1:
			r.Kind, r.Threshold = KindPriceBelow, decimal.New(9500+rng.Int64N(1000), -2)
		default:
			r.Kind, r.Threshold = KindPercentMove, decimal.New(1+rng.Int64N(500), -4)
			r.Direction = []Direction{DirectionUp, DirectionDown, DirectionEither, ""}[rng.IntN(4)]
		}
		rules = append(rules, r)
	}
	return rules
}

func randomTicks(rng *rand.Rand, n int) []Tick {
	price := map[string]int64{"S0": 10000, "S1": 10000, "S2": 10000}
	at := t0
	var ticks []Tick
	for i := 0; i < n; i++ {
		s := fmt.Sprintf("S%d", rng.IntN(3))
		price[s] += rng.Int64N(201) - 100 // ±1.00
		if price[s] < 1 {
			price[s] = 1
		}
		at = at.Add(time.Duration(rng.IntN(4)) * time.Second) // equal times happen
		pc := decimal.Zero
		if rng.IntN(5) > 0 {
			pc = decimal.New(9900+rng.Int64N(200), -2)
		}
		t := PriceTick(s, decimal.New(price[s], -2), pc, at)
		ticks = append(ticks, t)
		if rng.IntN(20) == 0 { // an at-least-once duplicate
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// TestPropertyAgreesWithReference: for random rules and tick sequences (oscillating
// around the thresholds, with duplicates and equal timestamps), the engine's firings
// equal the reference model's, however the sequence is cut into batches and with the
// state going through JSON between batches; and every rule fires at most once per
// arming: keys are unique, epochs rise, cooldowns are respected.
func TestPropertyAgreesWithReference(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		rules := randomRules(rng, 1+rng.IntN(12))
		ticks := randomTicks(rng, 50+rng.IntN(400))

		ref := &refModel{rules: rules, states: make([]refState, len(rules))}
		want := ref.eval(ticks)

		_, got := evaluateInRandomBatches(t, rng, rules, ticks)
		sameFirings(t, fmt.Sprintf("seed %d", seed), got, want)
		seen := map[string]bool{}
		last := map[string]Firing{}
		byID := map[string]Rule{}
		for _, r := range rules {
			byID[r.ID] = r
		}
		for _, f := range got {
			if seen[f.Key] {
				t.Fatalf("seed %d: key %s fired twice", seed, f.Key)
			}
			seen[f.Key] = true
			if p, ok := last[f.RuleID]; ok {
				if f.Epoch <= p.Epoch {
					t.Fatalf("seed %d: epochs %d then %d", seed, p.Epoch, f.Epoch)
				}
				if f.At.Sub(p.At) < time.Duration(byID[f.RuleID].Cooldown) {
					t.Fatalf("seed %d: %s fired within its cooldown", seed, f.RuleID)
				}
			}
			last[f.RuleID] = f
		}
	}
}

// TestPropertyOscillationFiresOnce: a price that wanders anywhere above the re-arm
// level fires an above rule at most once, whatever the sequence.
func TestPropertyOscillationFiresOnce(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		e := mustEngine(t, Rule{ID: "r", Kind: KindPriceAbove, Symbol: "X", Threshold: d("100"), Hysteresis: d("0.01")})
		var ticks []Tick
		for i := 0; i < 500; i++ {
			p := decimal.New(9900+rng.Int64N(300), -2) // 99.00 … 101.99, never below 99 (= re-arm level)
			ticks = append(ticks, PriceTick("X", p, decimal.Zero, t0.Add(time.Duration(i)*time.Second)))
		}
		if fs := e.Evaluate(ticks); len(fs) > 1 {
			t.Fatalf("seed %d: %d firings", seed, len(fs))
		}
	}
}

// evaluateInRandomBatches offers ticks to a new engine of rules in batches of
// random sizes, storing and reloading the state through JSON between some of
// them and redelivering some; it returns the last engine and the firings.
func evaluateInRandomBatches(t *testing.T, rng *rand.Rand, rules []Rule, ticks []Tick) (*Engine, []Firing) {
	t.Helper()
	e := mustEngine(t, rules...)
	var got []Firing
	for rest := ticks; len(rest) > 0; {
		n := 1 + rng.IntN(len(rest))
		got = append(got, e.Evaluate(rest[:n])...)
		if rng.IntN(2) == 0 { // store and reload between invocations
			e2 := mustEngine(t, rules...)
			restoreJSON(t, e2, e.State())
			e = e2
		}
		if rng.IntN(4) == 0 { // a redelivered batch
			got = append(got, e.Evaluate(rest[:n])...)
		}
		rest = rest[n:]
	}
	return e, got
}

// sameFirings fails unless got and want name the same firings, in order, at the
// same times with the same observed values.
func sameFirings(t *testing.T, label string, got, want []Firing) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: engine %d firings, reference %d\nengine %v\nref    %v", label, len(got), len(want), keys(got), keys(want))
	}
	for i := range got {
		if got[i].Key != want[i].Key || !got[i].At.Equal(want[i].At) || !got[i].Observed.Equal(want[i].Observed) {
			t.Fatalf("%s firing %d: engine %+v, reference %+v", label, i, got[i], want[i])
		}
	}
}
