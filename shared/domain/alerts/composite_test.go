package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// movePrices makes price ticks with a previous close, one second apart.
func movePrices(symbol, prevClose string, start time.Time, ps ...string) []Tick {
	out := prices(symbol, start, ps...)
	for i := range out {
		out[i].PreviousClose = d(prevClose)
	}
	return out
}

func TestCompositeAllFiresOnceWhenEveryConditionHolds(t *testing.T) {
	// AAPL at or above 100 and up 5% on the day (previous close 95: 99.75).
	r := Rule{ID: "c", UserID: "u", Match: MatchAll, Conditions: []Condition{
		{Kind: KindPriceAbove, Symbol: "AAPL", Threshold: d("100")},
		{Kind: KindPercentMove, Symbol: "AAPL", Threshold: d("0.05"), Direction: DirectionUp},
	}}
	e := mustEngine(t, r)
	// 99 (neither), 101 (both: fires), 102 (still), 99 (price re-arms below 99.5:
	// the rule no longer holds), 100.5 (both again: fires, next epoch).
	fs := e.Evaluate(movePrices("AAPL", "95", t0, "99", "101", "102", "99", "100.5"))
	if keys(fs) != "c#0,c#1" {
		t.Fatalf("%v", keys(fs))
	}
	f := fs[0]
	// The condition that came to hold last reports: both rose on 101; the later
	// leg in the rule's order is reported.
	if f.RuleID != "c" || f.UserID != "u" || !f.At.Equal(t0.Add(time.Second)) || f.Symbol != "AAPL" {
		t.Fatalf("%+v", f)
	}
	if !(f.Kind == KindPercentMove && f.Observed.Equal(d("0.06315789")) || f.Kind == KindPriceAbove && f.Observed.Equal(d("101"))) {
		t.Fatalf("firing reports %s %s", f.Kind, f.Observed)
	}
	if got := e.TakeChanged(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("changed %v", got)
	}
}

func TestCompositeAllNeedsTheConditionsAtOneInstant(t *testing.T) {
	// Two portfolio metrics ticked at one instant: drawdown rises above 10%
	// while concentration falls below 40% at the same instant. The rule never
	// held at any instant, so it must not fire on the mix of old and new.
	r := Rule{ID: "c", UserID: "u", PortfolioID: "p", Conditions: []Condition{
		{Kind: KindDrawdown, Threshold: d("0.1")},
		{Kind: KindConcentration, Threshold: d("0.4")},
	}}
	e := mustEngine(t, r)
	at := t0
	if fs := e.Evaluate([]Tick{MetricTick("p", MetricDrawdown, d("0.05"), at), MetricTick("p", MetricConcentration, d("0.5"), at)}); len(fs) != 0 {
		t.Fatal(keys(fs))
	}
	at = at.Add(24 * time.Hour)
	if fs := e.Evaluate([]Tick{MetricTick("p", MetricDrawdown, d("0.15"), at), MetricTick("p", MetricConcentration, d("0.3"), at)}); len(fs) != 0 {
		t.Fatalf("fired on a mix of instants: %v", keys(fs))
	}
	at = at.Add(24 * time.Hour)
	fs := e.Evaluate([]Tick{MetricTick("p", MetricDrawdown, d("0.16"), at), MetricTick("p", MetricConcentration, d("0.45"), at)})
	if keys(fs) != "c#0" || fs[0].Kind != KindConcentration || !fs[0].Observed.Equal(d("0.45")) || fs[0].PortfolioID != "p" {
		t.Fatalf("%+v", fs)
	}
}

func TestCompositeAnyAndCooldown(t *testing.T) {
	r := Rule{ID: "c", UserID: "u", Match: MatchAny, Cooldown: Duration(time.Hour), Conditions: []Condition{
		{Kind: KindPriceAbove, Symbol: "X", Threshold: d("100")},
		{Kind: KindPriceBelow, Symbol: "X", Threshold: d("50")},
	}}
	e := mustEngine(t, r)
	// 101 fires (above); 40 keeps it holding (below, while above re-armed): no
	// second firing; 70 (neither) re-arms; 45 holds again but within the hour's
	// cooldown: no firing until a holding tick after it.
	fs := e.Evaluate(prices("X", t0, "101", "40", "70", "45", "44"))
	if keys(fs) != "c#0" {
		t.Fatalf("%v", keys(fs))
	}
	fs = e.Evaluate(prices("X", t0.Add(time.Hour), "43"))
	if keys(fs) != "c#1" || fs[0].Kind != KindPriceBelow || !fs[0].Observed.Equal(d("43")) {
		t.Fatalf("%+v", fs)
	}
}

// refComposite evaluates a composite the plain way: its conditions as rules of
// their own (no cooldown) in an engine of their own, one tick at a time, and
// the composite's state machine on whether they hold.
type refComposite struct {
	r     Rule
	legs  *Engine
	ids   []string
	state refState
}

func newRefComposite(t *testing.T, r Rule) *refComposite {
	m := &refComposite{r: r}
	var legs []Rule
	for i, c := range r.Conditions {
		l := r.leg(c)
		l.ID = fmt.Sprintf("%s/%d", r.ID, i)
		legs, m.ids = append(legs, l), append(m.ids, l.ID)
	}
	m.legs = mustEngine(t, legs...)
	return m
}

func (m *refComposite) eval(ticks []Tick) []Firing {
	var out []Firing
	for _, t := range ticks {
		m.legs.Evaluate([]Tick{t})
		evaluated, holdingTicked, all, anyOf := false, false, true, false
		for _, id := range m.ids {
			st, _ := m.legs.RuleState(id)
			ticked := st.LastAt.Equal(t.At)
			evaluated = evaluated || ticked
			holdingTicked = holdingTicked || ticked && st.Fired
			all, anyOf = all && st.Fired, anyOf || st.Fired
		}
		if !evaluated {
			continue
		}
		holds := all
		if m.r.Match == MatchAny {
			holds = anyOf
		}
		if f, ok := m.state.step(m.r, holds && holdingTicked, !holds, t.At, decimal.Zero); ok {
			out = append(out, f)
		}
	}
	return out
}

func TestPropertyCompositeAgreesWithItsConditions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 17))
	for round := range 40 {
		r := Rule{ID: "c", UserID: "u", Match: []Match{MatchAll, MatchAny}[rng.IntN(2)], Cooldown: Duration(time.Duration(rng.IntN(3)) * 5 * time.Second)}
		for range 1 + rng.IntN(3) {
			c := Condition{Symbol: "S", Threshold: decimal.New(90+rng.Int64N(21), 0)}
			switch rng.IntN(3) {
			case 0:
				c.Kind = KindPriceAbove
			case 1:
				c.Kind = KindPriceBelow
			default:
				c.Kind, c.Threshold, c.Direction = KindPercentMove, decimal.New(1+rng.Int64N(8), -2), []Direction{DirectionUp, DirectionDown, DirectionEither}[rng.IntN(3)]
			}
			r.Conditions = append(r.Conditions, c)
		}
		ticks := make([]Tick, 300)
		p := int64(10000)
		for i := range ticks {
			p += rng.Int64N(301) - 150
			ticks[i] = PriceTick("S", decimal.New(p, -2), decimal.New(10000, -2), t0.Add(time.Duration(i)*time.Second))
		}
		want := newRefComposite(t, r).eval(ticks)
		_, got := evaluateInRandomBatches(t, rng, []Rule{r}, ticks)
		if len(got) != len(want) {
			t.Fatalf("round %d %+v: engine %v, reference %v", round, r, keys(got), keys(want))
		}
		for i := range got {
			if got[i].Key != want[i].Key || !got[i].At.Equal(want[i].At) {
				t.Fatalf("round %d firing %d: engine %+v, reference %+v", round, i, got[i], want[i])
			}
		}
	}
}

func TestCompositeStateRoundTripsAndRemove(t *testing.T) {
	r := Rule{ID: "c", UserID: "u", PortfolioID: "p", Conditions: []Condition{
		{Kind: KindValueDrop, Threshold: d("0.1"), Window: Duration(48 * time.Hour)},
		{Kind: KindValueDrop, Threshold: d("0.02"), Window: Duration(time.Hour)},
	}}
	plain := Rule{ID: "v", UserID: "u", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1")}
	e := mustEngine(t, r, plain)
	ticks := []Tick{ValueTick("p", d("1000"), t0), ValueTick("p", d("950"), t0.Add(2*time.Hour)), ValueTick("p", d("920"), t0.Add(150*time.Minute))}
	// 920 is 8% below 1000 (not 10%) but 3.2% below 950 within the hour: one holds.
	if fs := e.Evaluate(ticks); len(fs) != 0 {
		t.Fatal(keys(fs))
	}
	st := e.StateOf("c")
	if got := st.Rules["c"]; got.Holding != "01" || !got.LastAt.Equal(t0.Add(150*time.Minute)) || got.Fired {
		t.Fatalf("%+v", got)
	}
	if len(st.Values["p"]) == 0 {
		t.Fatal("no value history for the rule's value_drop conditions")
	}
	e2 := mustEngine(t, r, plain)
	restoreJSON(t, e2, e.State())
	if normalise(e2.State()) != normalise(e.State()) {
		t.Fatalf("restored %s\nwant %s", normalise(e2.State()), normalise(e.State()))
	}
	// 890 is 11% below 1000: both hold.
	next := []Tick{ValueTick("p", d("890"), t0.Add(160*time.Minute))}
	if fs := e2.Evaluate(next); keys(fs) != "c#0" || fs[0].Kind != KindValueDrop || !fs[0].Threshold.Equal(d("0.1")) {
		t.Fatalf("%+v", fs)
	}
	if !e2.Remove("c") || e2.Len() != 1 {
		t.Fatal("remove")
	}
	if fs := e2.Evaluate([]Tick{ValueTick("p", d("500"), t0.Add(170*time.Minute))}); len(fs) != 0 || len(e2.State().Values) != 0 {
		t.Fatalf("a removed rule's legs still evaluated: %v %v", keys(fs), e2.State().Values)
	}
	// The slots are reused.
	if err := e2.Add(r); err != nil || e2.Len() != 2 {
		t.Fatal(err)
	}
	// A state saved under other conditions (its Holding has another length)
	// restarts the rule: the next arming, nothing holding. It is no error:
	// the other rules are restored beside it.
	plainState := RuleState{Fired: true, Epoch: 2, FiredAt: t0, LastAt: t0}
	other := State{Rules: map[string]RuleState{"c": {Fired: true, Epoch: 3, FiredAt: t0, LastAt: t0.Add(time.Hour), Holding: "1"}, "v": plainState}}
	if err := e2.Restore(other); err != nil {
		t.Fatalf("holding of another definition: %v", err)
	}
	if rs, _ := e2.RuleState("c"); rs.Fired || rs.Epoch != 4 || rs.Holding != "" || !rs.LastAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("holding of another definition restored as %+v", rs)
	}
	if rs, _ := e2.RuleState("v"); rs != plainState {
		t.Fatalf("the rule beside it: %+v", rs)
	}
	bad := State{Rules: map[string]RuleState{"c": {Holding: "12"}, "v": plainState}}
	if err := e2.Restore(bad); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("holding of other digits: %v", err)
	}
	if rs, _ := e2.RuleState("v"); rs != plainState {
		t.Fatalf("the rule beside a bad state: %+v", rs)
	}
}

func TestResumed(t *testing.T) {
	fired := RuleState{Fired: true, Epoch: 3, FiredAt: t0, LastAt: t0.Add(time.Hour), Holding: "11"}
	got := fired.Resumed(t0.Add(2 * time.Hour))
	want := RuleState{Epoch: 4, FiredAt: t0, LastAt: t0.Add(2 * time.Hour)}
	if got != want {
		t.Fatalf("%+v", got)
	}
	armed := RuleState{Epoch: 2, LastAt: t0.Add(3 * time.Hour)}
	if got := armed.Resumed(t0); got != armed {
		t.Fatalf("%+v", got)
	}
	// A resumed rule whose condition held while paused fires only at a tick
	// after the resume at which it holds.
	r := Rule{ID: "r", UserID: "u", Kind: KindPriceAbove, Symbol: "X", Threshold: d("100")}
	e := mustEngine(t, r)
	e.Evaluate(prices("X", t0, "101"))
	st, _ := e.RuleState("r")
	e2 := mustEngine(t, r)
	restoreJSON(t, e2, State{Rules: map[string]RuleState{"r": st.Resumed(t0.Add(time.Minute))}})
	if fs := e2.Evaluate(prices("X", t0.Add(30*time.Second), "102")); len(fs) != 0 {
		t.Fatal("a tick from before the resume fired")
	}
	if fs := e2.Evaluate(prices("X", t0.Add(2*time.Minute), "102")); keys(fs) != "r#1" {
		t.Fatal(keys(fs))
	}
}

func TestValidateCompositeAndChannels(t *testing.T) {
	price := func(k Kind, sym string) Condition { return Condition{Kind: k, Symbol: sym, Threshold: d("10")} }
	cases := []struct {
		r     Rule
		field string
		err   error
	}{
		{Rule{ID: "a", Conditions: []Condition{price(KindPriceAbove, "X"), price(KindPriceBelow, "X")}, Match: MatchAny}, "", nil},
		{Rule{ID: "a", PortfolioID: "p", Conditions: []Condition{{Kind: KindDrawdown, Threshold: d("0.2")}, {Kind: KindWeightDrift, Symbol: "X", Threshold: d("0.05"), TargetWeight: d("0.3")}}}, "", nil},
		{Rule{ID: "a", Conditions: []Condition{price(KindPriceAbove, "X"), price(KindPriceBelow, "Y")}}, "conditions[1].symbol", ErrInvalidConditions},
		{Rule{ID: "a", PortfolioID: "p", Conditions: []Condition{{Kind: KindDrawdown, Threshold: d("0.2")}, {Kind: KindValueDrop, Threshold: d("0.1"), Window: Duration(time.Hour)}}}, "conditions[1].kind", ErrInvalidConditions},
		{Rule{ID: "a", PortfolioID: "p", Conditions: []Condition{price(KindPriceAbove, "X")}}, "portfolioId", ErrInvalidConditions},
		{Rule{ID: "a", Kind: KindPriceAbove, Conditions: []Condition{price(KindPriceAbove, "X")}}, "conditions", ErrInvalidConditions},
		{Rule{ID: "a", Conditions: []Condition{price(KindPriceAbove, "X")}, Match: "most"}, "match", ErrInvalidConditions},
		{Rule{ID: "a", Conditions: []Condition{price(KindPriceAbove, "")}}, "conditions[0].symbol", ErrMissingSymbol},
		{Rule{ID: "a", Conditions: []Condition{{Kind: KindPriceAbove, Symbol: "X"}}}, "conditions[0].threshold", ErrInvalidThreshold},
		{Rule{ID: "a", Conditions: slices.Repeat([]Condition{price(KindPriceAbove, "X")}, MaxConditions+1)}, "conditions", ErrInvalidConditions},
		{Rule{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1"), Match: MatchAll}, "match", ErrInvalidConditions},
		{Rule{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1"), Channels: []notify.Channel{notify.ChannelEmail, notify.ChannelSMS}}, "", nil},
		{Rule{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1"), Channels: []notify.Channel{"pigeon"}}, "channels", ErrInvalidChannels},
		{Rule{ID: "a", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1"), Channels: []notify.Channel{notify.ChannelSMS, notify.ChannelSMS}}, "channels", ErrInvalidChannels},
		{Rule{ID: "a", Conditions: []Condition{price(KindPriceAbove, "X")}, Cooldown: Duration(-1)}, "cooldown", ErrInvalidCooldown},
	}
	for i, c := range cases {
		err := c.r.Validate()
		if c.err == nil {
			if err != nil {
				t.Errorf("case %d: %v", i, err)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field || !errors.Is(err, c.err) || !errors.Is(err, ErrInvalidRule) {
			t.Errorf("case %d: %v, want %s %v", i, err, c.field, c.err)
		}
	}
}

func TestCompositeJSON(t *testing.T) {
	r := Rule{ID: "c", UserID: "u", Match: MatchAny, Conditions: []Condition{{Kind: KindPriceAbove, Symbol: "X", Threshold: d("10")}},
		Channels: []notify.Channel{notify.ChannelEmail}, PausedAt: t0}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"c","userId":"u","conditions":[{"kind":"price_above","symbol":"X","threshold":"10"}],"match":"any","channels":["email"],"pausedAt":"2024-03-05T14:30:00Z"}`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
	var back Rule
	if err := json.Unmarshal(b, &back); err != nil || back.Active() || !back.IsComposite() || back.Primary().Symbol != "X" {
		t.Fatal(back, err)
	}
}
