package alerts

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// Patch is an owner's change to a rule (PATCH /alerts/{ruleId}, a JSON merge
// patch): each field that is set replaces the rule's. What a rule watches on
// (its kind, symbol and portfolio: the key the stores file it under) is not
// patched, except through Conditions, whose conditions stay on the rule's
// portfolio; another kind of rule is a new rule.
type Patch struct {
	Threshold    *decimal.Decimal
	Direction    *Direction
	TargetWeight *decimal.Decimal
	Window       *Duration
	// Conditions replaces the conditions; on a rule without any it makes the
	// rule one with conditions (its own condition fields are dropped).
	Conditions *[]Condition
	Match      *Match
	Hysteresis *decimal.Decimal
	Cooldown   *Duration
	// Channels replaces the rule's channels; empty: the owner's preferences.
	Channels *[]notify.Channel
	// Active false pauses the rule, true resumes it.
	Active *bool
}

// Apply returns r patched at `at`, and whether the rule's state restarts
// (its RestartedAt is then `at`: see Rule.EffectiveState): when what it watches
// changed (a state reached on the old conditions says nothing about the new) or
// it was resumed. Channels, cooldown and pausing keep the state. The result is
// not validated.
func (p Patch) Apply(r Rule, at time.Time) (Rule, bool) {
	restart := false
	set := func(changed bool) {
		restart = restart || changed
	}
	if p.Conditions != nil {
		set(true)
		r.Conditions = append([]Condition(nil), (*p.Conditions)...)
		if len(r.Conditions) > 0 {
			r.Kind, r.Symbol, r.Threshold, r.Direction, r.TargetWeight, r.Window = "", "", decimal.Decimal{}, "", decimal.Decimal{}, 0
		}
	}
	if p.Threshold != nil {
		set(!p.Threshold.Equal(r.Threshold))
		r.Threshold = *p.Threshold
	}
	if p.Direction != nil {
		set(*p.Direction != r.Direction)
		r.Direction = *p.Direction
	}
	if p.TargetWeight != nil {
		set(!p.TargetWeight.Equal(r.TargetWeight))
		r.TargetWeight = *p.TargetWeight
	}
	if p.Window != nil {
		set(*p.Window != r.Window)
		r.Window = *p.Window
	}
	if p.Match != nil {
		set(*p.Match != r.Match)
		r.Match = *p.Match
	}
	if p.Hysteresis != nil {
		set(!p.Hysteresis.Equal(r.Hysteresis))
		r.Hysteresis = *p.Hysteresis
	}
	if p.Cooldown != nil {
		r.Cooldown = *p.Cooldown
	}
	if p.Channels != nil {
		r.Channels = nil
		if len(*p.Channels) > 0 {
			r.Channels = append([]notify.Channel(nil), (*p.Channels)...)
		}
	}
	if p.Active != nil {
		switch {
		case *p.Active && !r.Active():
			r.PausedAt = time.Time{}
			set(true)
		case !*p.Active && r.Active():
			r.PausedAt = at.UTC()
		}
	}
	if restart {
		r.RestartedAt = at.UTC()
	}
	return r, restart
}
