package alerts

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// restoreJSON stores s as JSON, reads it back and restores it into e, as the
// consumer does between invocations.
func restoreJSON(t testing.TB, e *Engine, s State) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := e.Restore(back); err != nil {
		t.Fatal(err)
	}
}

func mixedRules() []Rule {
	return []Rule{
		{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("100"), Cooldown: Duration(time.Minute)},
		{ID: "b", Kind: KindPriceBelow, Symbol: "X", Threshold: d("95")},
		{ID: "m", Kind: KindPercentMove, Symbol: "X", Threshold: d("0.03")},
		{ID: "v", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.05"), Window: Duration(48 * time.Hour)},
		{ID: "w", Kind: KindWeightDrift, PortfolioID: "p", Symbol: "X", TargetWeight: d("0.5"), Threshold: d("0.1")},
		{ID: "idle", Kind: KindDrawdown, PortfolioID: "p", Threshold: d("0.3")},
	}
}

func mixedTicks(start time.Time, n int, seed int) []Tick {
	var out []Tick
	price := d("97")
	value := d("1000")
	steps := []string{"1.5", "-2.25", "3", "-0.75", "0.5", "-3.5", "2"}
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * time.Hour)
		price = price.Add(d(steps[(i+seed)%len(steps)]))
		value = value.Add(d(steps[(i*3+seed)%len(steps)]).Mul(d("10")))
		out = append(out,
			PriceTick("X", price, d("97"), at),
			ValueTick("p", value, at),
			WeightTick("p", "X", d("0.5").Add(d(steps[(i+seed)%len(steps)]).Div(d("20"))), at))
	}
	return out
}

func TestStateRoundTripsExactly(t *testing.T) {
	e := mustEngine(t, mixedRules()...)
	e.Evaluate(mixedTicks(t0, 40, 0))
	s := e.State()
	if len(s.Rules) != 5 || len(s.Values["p"]) == 0 { // "idle" saw no tick: omitted
		t.Fatalf("%+v", s)
	}
	b1, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	e2 := mustEngine(t, mixedRules()...)
	restoreJSON(t, e2, s)
	if !reflect.DeepEqual(normalise(e2.State()), normalise(s)) {
		t.Fatalf("state differs after restore:\n%+v\n%+v", e2.State(), s)
	}
	b2, _ := json.Marshal(e2.State())
	if string(b1) != string(b2) {
		t.Fatalf("JSON differs:\n%s\n%s", b1, b2)
	}
	// Both engines go on identically.
	next := mixedTicks(t0.Add(1000*time.Hour), 60, 3)
	f1, f2 := e.Evaluate(next), e2.Evaluate(next)
	j1, _ := json.Marshal(f1)
	j2, _ := json.Marshal(f2)
	if string(j1) != string(j2) || len(f1) == 0 {
		t.Fatalf("evaluation differs after restore:\n%s\n%s", j1, j2)
	}
}

// normalise makes decimals compare by value (reflect sees their representation).
func normalise(s State) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRestoreSubsetAndErrors(t *testing.T) {
	full := mustEngine(t, mixedRules()...)
	full.Evaluate(mixedTicks(t0, 20, 1))
	// An engine holding only the rules of this batch's symbols takes their part.
	part := mustEngine(t, mixedRules()[:2]...)
	if err := part.Restore(full.State()); err != nil {
		t.Fatal(err)
	}
	want, _ := full.RuleState("a")
	if got, _ := part.RuleState("a"); got != want {
		t.Fatalf("%+v vs %+v", got, want)
	}
	bad := []State{
		{Rules: map[string]RuleState{"a": {Fired: true}}},
		{Rules: map[string]RuleState{"a": {LastAt: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		{Values: map[string][]ValueSample{"p": {{At: t0, Value: d("2")}, {At: t0.Add(time.Hour), Value: d("3")}}}},
		{Values: map[string][]ValueSample{"p": {{At: t0, Value: d("2")}, {At: t0, Value: d("1")}}}},
		{Values: map[string][]ValueSample{"p": {{At: t0, Value: d("0")}}}},
	}
	// Each is reported, and resets only its rule (restarted at its next
	// arming) or its portfolio's value history (forgotten): every other rule
	// and portfolio is restored.
	good := full.State()
	for i, s := range bad {
		saved := State{Rules: maps.Clone(good.Rules), Values: maps.Clone(good.Values)}
		maps.Copy(saved.Rules, s.Rules)
		maps.Copy(saved.Values, s.Values)
		e := mustEngine(t, mixedRules()...)
		if err := e.Restore(saved); !errors.Is(err, ErrInvalidState) {
			t.Errorf("case %d: %v", i, err)
		}
		for id, rs := range good.Rules {
			got, _ := e.RuleState(id)
			if _, isBad := s.Rules[id]; isBad {
				if got.Fired || got.Epoch != s.Rules[id].Epoch+1 || !got.LastAt.IsZero() {
					t.Errorf("case %d: rule %s of a bad state restored as %+v", i, id, got)
				}
			} else if got != rs {
				t.Errorf("case %d: rule %s restored as %+v, want %+v", i, id, got, rs)
			}
		}
		if _, isBad := s.Values["p"]; isBad != (len(e.State().Values["p"]) == 0) {
			t.Errorf("case %d: value history %+v", i, e.State().Values["p"])
		}
	}
}

func TestRuleJSON(t *testing.T) {
	r := Rule{ID: "v", UserID: "u", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(120 * time.Hour), Cooldown: Duration(time.Hour)}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"v","userId":"u","kind":"value_drop","portfolioId":"p","threshold":"0.1","window":"120h0m0s","cooldown":"1h0m0s"}`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
	var back Rule
	if err := json.Unmarshal(b, &back); err != nil || back.Window != r.Window || !back.Threshold.Equal(r.Threshold) {
		t.Fatal(back, err)
	}
	if err := json.Unmarshal([]byte(`{"window":5}`), &back); err == nil {
		t.Fatal("numeric window accepted")
	}
	_ = decimal.Zero
}
