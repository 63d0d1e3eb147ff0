package alerts

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestStateOfIsStateRestricted: StateOf(ids) is State() cut down to the rules ids
// (unknown and repeated IDs included) and the value histories of their value_drop
// portfolios; and a caller appending to one portfolio's samples leaves the
// others' alone.
func TestStateOfIsStateRestricted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rules := append(randomDropRules(rng, 6), randomRules(rng, 10)...)
	e := mustEngine(t, rules...)
	e.Evaluate(randomValueTicks(rng, 6, 400))
	e.Evaluate(randomTicks(rng, 200))
	full := e.State()

	ids := []string{"nope"}
	for _, r := range rules {
		if rng.IntN(2) == 0 {
			ids = append(ids, r.ID)
		}
	}
	ids = append(ids, ids[1:4]...)
	want := State{Rules: map[string]RuleState{}, Values: map[string][]ValueSample{}}
	for _, id := range ids {
		if rs, ok := full.Rules[id]; ok {
			want.Rules[id] = rs
		}
		if r, ok := e.Rule(id); ok && r.Kind == KindValueDrop && len(full.Values[r.PortfolioID]) > 0 {
			want.Values[r.PortfolioID] = full.Values[r.PortfolioID]
		}
	}
	got := e.StateOf(ids...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StateOf\n%+v\nwant\n%+v", got, want)
	}
	if len(got.Values) < 2 {
		t.Fatalf("only %d portfolios: the test needs several", len(got.Values))
	}
	for _, s := range []State{got, full} {
		before := fmt.Sprint(s.Values)
		for p := range s.Values {
			s.Values[p] = append(s.Values[p], ValueSample{At: t0.Add(-time.Hour)})
			s.Values[p] = s.Values[p][:len(s.Values[p])-1]
		}
		if after := fmt.Sprint(s.Values); after != before {
			t.Fatalf("appending to one portfolio's samples changed another's")
		}
	}
}

// TestValueHistoriesAreStateValues: ValueHistories gives, in the order asked, the
// samples State() holds for each portfolio, and nil for one without history.
func TestValueHistoriesAreStateValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	rules := randomDropRules(rng, 6)
	e := mustEngine(t, rules...)
	e.Evaluate(randomValueTicks(rng, 6, 400))
	full := e.State()
	var ids []string
	for p := range full.Values {
		ids = append(ids, p, "nope")
	}
	if len(ids) < 4 {
		t.Fatalf("only %d portfolios with history: the test needs several", len(ids)/2)
	}
	got := e.ValueHistories(ids)
	for i, p := range ids {
		if want := full.Values[p]; !reflect.DeepEqual(got[i], want) && (len(want) != 0 || got[i] != nil) {
			t.Fatalf("%s: %+v, want %+v", p, got[i], want)
		}
	}
}
