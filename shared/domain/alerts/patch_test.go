package alerts

import (
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

func TestPatchApplyRestartsOnlyWhenTheWatchChanges(t *testing.T) {
	base := Rule{ID: "r", UserID: "u", Kind: KindPercentMove, Symbol: "X", Threshold: d("0.05"), Direction: DirectionUp}
	at := t0.Add(time.Hour)
	thr, same := d("0.07"), d("0.050")
	cd := Duration(time.Hour)
	chans := []notify.Channel{notify.ChannelEmail}
	off, on := false, true
	conds := []Condition{{Kind: KindPriceAbove, Symbol: "X", Threshold: d("10")}}
	cases := []struct {
		name    string
		r       Rule
		p       Patch
		restart bool
		check   func(Rule) bool
	}{
		{"threshold", base, Patch{Threshold: &thr}, true, func(r Rule) bool { return r.Threshold.Equal(thr) }},
		{"the same threshold", base, Patch{Threshold: &same}, false, func(r Rule) bool { return r.RestartedAt.IsZero() }},
		{"channels and cooldown", base, Patch{Channels: &chans, Cooldown: &cd}, false, func(r Rule) bool { return len(r.Channels) == 1 && r.Cooldown == cd }},
		{"pause", base, Patch{Active: &off}, false, func(r Rule) bool { return r.PausedAt.Equal(at) && !r.Active() }},
		{"resume", Rule{ID: "r", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1"), PausedAt: t0}, Patch{Active: &on}, true, func(r Rule) bool { return r.Active() }},
		{"resume an active rule", base, Patch{Active: &on}, false, func(r Rule) bool { return r.Active() }},
		{"conditions", base, Patch{Conditions: &conds}, true, func(r Rule) bool {
			return r.IsComposite() && r.Kind == "" && r.Threshold.IsZero() && r.Validate() == nil
		}},
	}
	for _, c := range cases {
		got, restart := c.p.Apply(c.r, at)
		if restart != c.restart || !c.check(got) || (restart && !got.RestartedAt.Equal(at)) {
			t.Errorf("%s: %+v restart %v", c.name, got, restart)
		}
	}
	// The patch's slices are the rule's own copies.
	got, _ := Patch{Channels: &chans}.Apply(base, at)
	chans[0] = notify.ChannelSMS
	if got.Channels[0] != notify.ChannelEmail {
		t.Error("the rule shares the patch's channels")
	}
}

func TestEffectiveState(t *testing.T) {
	r := Rule{ID: "r", Kind: KindPriceAbove, Symbol: "X", Threshold: d("1"), RestartedAt: t0}
	before := RuleState{Fired: true, Epoch: 1, FiredAt: t0.Add(-time.Hour), LastAt: t0.Add(-time.Minute)}
	got := r.EffectiveState(before)
	if got != (RuleState{Epoch: 2, FiredAt: before.FiredAt, LastAt: t0}) {
		t.Fatalf("%+v", got)
	}
	if again := r.EffectiveState(got); again != got {
		t.Fatalf("applied twice: %+v", again)
	}
	after := RuleState{Fired: true, Epoch: 2, FiredAt: t0.Add(time.Minute), LastAt: t0.Add(time.Minute)}
	if r.EffectiveState(after) != after {
		t.Fatal("a state saved after the restart was restarted")
	}
	// An engine loading the rule without a saved state ignores ticks up to the
	// restart, and restarts a state saved before it.
	e := mustEngine(t, r)
	if fs := e.Evaluate(prices("X", t0.Add(-time.Second), "2")); len(fs) != 0 {
		t.Fatal("a tick before the restart fired")
	}
	if fs := e.Evaluate(prices("X", t0.Add(time.Second), "2")); keys(fs) != "r#0" {
		t.Fatal(keys(fs))
	}
	restoreJSON(t, e, State{Rules: map[string]RuleState{"r": before}})
	if fs := e.Evaluate(prices("X", t0.Add(2*time.Second), "2")); keys(fs) != "r#2" {
		t.Fatal(keys(fs))
	}
}
