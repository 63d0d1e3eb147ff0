package alerts

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// State is everything Evaluate remembers between invocations, for storage (as JSON)
// between Lambda invocations. A rule that is armed, at epoch 0 and has seen no tick
// is omitted; so are portfolios without value history.
type State struct {
	Rules  map[string]RuleState     `json:"rules,omitempty"`
	Values map[string][]ValueSample `json:"values,omitempty"`
	// Wealth is, by portfolio, the wealth index of analytics' last computation,
	// which the prices consumer needs to evaluate drawdown rules on ticks: the
	// stores fill it with the rules of portfolios that have drawdown rules. The
	// engine neither reads nor keeps it.
	Wealth map[string]WealthMark `json:"wealth,omitempty"`
}

// RuleState is one rule's state: Fired (otherwise armed), the arming Epoch (the
// firing key's suffix), when it last fired, and the time of the last tick it
// evaluated. A rule with conditions also has Holding, one '1' or '0' per
// condition, whether it holds (empty: none does); its conditions' last ticks
// are its LastAt (they tick together: one symbol's, or one portfolio's at one
// instant).
type RuleState struct {
	Fired   bool      `json:"fired,omitempty"`
	Epoch   uint64    `json:"epoch,omitempty"`
	FiredAt time.Time `json:"firedAt,omitzero"`
	LastAt  time.Time `json:"lastAt,omitzero"`
	Holding string    `json:"holding,omitempty"`
}

// Resumed is the state a rule starts from when it is resumed, or when its
// conditions are edited, at `at`: armed (a fired rule at its next arming, so its
// firing keys stay new), no condition holding, and ticks at or before `at`
// ignored. So nothing that happened while it was paused fires it: it fires at
// the first tick after `at` at which it holds, even if it had fired before the
// pause and holds still. The cooldown keeps counting from the last firing.
func (s RuleState) Resumed(at time.Time) RuleState {
	epoch := s.Epoch
	if s.Fired {
		epoch++
	}
	last := s.LastAt
	if at = at.UTC(); at.After(last) {
		last = at
	}
	return RuleState{Epoch: epoch, FiredAt: s.FiredAt, LastAt: last}
}

// ValueSample is a retained portfolio value (see value_drop).
type ValueSample struct {
	At    time.Time       `json:"at"`
	Value decimal.Decimal `json:"value"`
}

// ErrInvalidState is reported by Restore and Merge for the state of a rule or a
// portfolio that the engine could not have produced. It is a report, not a
// failure: that rule restarts (armed at the epoch after its saved one, so its
// firing keys stay new), that portfolio's value history is forgotten, and every
// other rule and portfolio has its state. One bad state must not stop everyone
// else's rules on its symbol or portfolio.
var ErrInvalidState = errors.New("invalid alert state")

func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func timeNs(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	ns := t.UnixNano()
	if ns <= 0 || !time.Unix(0, ns).Equal(t) {
		return 0, fmt.Errorf("%w: time %s is out of range", ErrInvalidState, t)
	}
	return ns, nil
}

// State returns a copy of the engine's state.
func (e *Engine) State() State {
	withState := 0
	for i := range e.states {
		if e.states[i] != (ruleState{}) {
			withState++
		}
	}
	s := State{Rules: make(map[string]RuleState, withState), Values: make(map[string][]ValueSample, len(e.history))}
	for id, slot := range e.byID {
		if rs, ok := e.export(slot); ok {
			s.Rules[id] = rs
		}
	}
	total := 0
	for _, h := range e.history {
		total += len(h.samples)
	}
	// One allocation for every portfolio's samples rather than one each.
	all := make([]ValueSample, 0, total)
	for p, h := range e.history {
		if len(h.samples) > 0 {
			all, s.Values[p] = h.appendExport(all)
		}
	}
	return s
}

func (st *ruleState) export() RuleState {
	rs := RuleState{Fired: st.fired, Epoch: st.epoch, FiredAt: nsTime(st.firedAt), LastAt: nsTime(st.lastAt)}
	if st.holding != 0 {
		b := make([]byte, 0, MaxConditions)
		for h := st.holding; h != 0; h >>= 1 {
			b = append(b, '0'+h&1)
		}
		rs.Holding = string(b)
	}
	return rs
}

// export returns the state of the rule in slot (with its legs'), and whether
// it differs from a new rule's.
func (e *Engine) export(slot int32) (RuleState, bool) {
	st := &e.states[slot]
	rs := st.export()
	if n := len(e.rules[slot].legs); rs.Holding != "" && len(rs.Holding) < n {
		rs.Holding += strings.Repeat("0", n-len(rs.Holding)) // one digit per condition
	}
	return rs, *st != (ruleState{})
}

// dropPortfolio is the portfolio whose value history the rule in slot needs:
// a value_drop rule's, or a rule's with a value_drop condition.
func (e *Engine) dropPortfolio(slot int32) (string, bool) {
	c := &e.rules[slot]
	if c.code == codeDrop {
		return c.key.portfolio, true
	}
	for _, l := range c.legs {
		if e.rules[l].code == codeDrop {
			return e.rules[l].key.portfolio, true
		}
	}
	return "", false
}

// appendExport appends h's samples to all and returns all and the appended part,
// capped so that appending to the part cannot overwrite the next portfolio's.
func (h *valueHistory) appendExport(all []ValueSample) ([]ValueSample, []ValueSample) {
	start := len(all)
	for i := range h.samples {
		sm := &h.samples[i]
		all = append(all, ValueSample{At: nsTime(sm.at), Value: sm.value})
	}
	return all, all[start:len(all):len(all)]
}

// RuleState returns one rule's state.
func (e *Engine) RuleState(id string) (RuleState, bool) {
	slot, ok := e.byID[id]
	if !ok {
		return RuleState{}, false
	}
	rs, _ := e.export(slot)
	return rs, true
}

// StateOf returns the state of the rules ids (unknown IDs are skipped) and the
// value history of the portfolios of the value_drop rules among them: what a
// store writes for those rules, without copying the state of every rule.
func (e *Engine) StateOf(ids ...string) State {
	// A first pass sizes the maps and the samples' backing array: the consumer asks
	// for some 10,000 rules a batch, and growing maps rehash every entry.
	slots := make([]int32, len(ids))
	withState, dropRules, samples := 0, 0, 0
	for i, id := range ids {
		slot, ok := e.byID[id]
		if !ok {
			slots[i] = -1
			continue
		}
		slots[i] = slot
		if e.states[slot] != (ruleState{}) {
			withState++
		}
		if p, ok := e.dropPortfolio(slot); ok {
			dropRules++
			if h := e.history[p]; h != nil {
				samples += len(h.samples) // over-counts portfolios named twice; harmless
			}
		}
	}
	s := State{Rules: make(map[string]RuleState, withState), Values: make(map[string][]ValueSample, dropRules)}
	all := make([]ValueSample, 0, samples)
	for i, slot := range slots {
		if slot < 0 {
			continue
		}
		if rs, ok := e.export(slot); ok {
			s.Rules[ids[i]] = rs
		}
		p, ok := e.dropPortfolio(slot)
		if !ok {
			continue
		}
		if _, done := s.Values[p]; done {
			continue
		}
		if h := e.history[p]; h != nil && len(h.samples) > 0 {
			all, s.Values[p] = h.appendExport(all)
		}
	}
	return s
}

// ValueHistories returns the value history of each of portfolioIDs, in order
// (nil for a portfolio without one): what a store keeps so that a new engine's
// value_drop rules resume where this one left off, apart from the rules' state.
func (e *Engine) ValueHistories(portfolioIDs []string) [][]ValueSample {
	n := 0
	for _, p := range portfolioIDs {
		if h := e.history[p]; h != nil {
			n += len(h.samples)
		}
	}
	out := make([][]ValueSample, len(portfolioIDs))
	all := make([]ValueSample, 0, n)
	for i, p := range portfolioIDs {
		if h := e.history[p]; h != nil && len(h.samples) > 0 {
			all, out[i] = h.appendExport(all)
		}
	}
	return out
}

// Merge sets the state of the rules and portfolios named in s, as Restore does,
// and leaves every other rule and portfolio as it is: a long-lived engine takes in
// the saved state of the rules it has just (re)loaded. An error (ErrInvalidState)
// names the rules and portfolios whose state was invalid and was reset; the
// others' is merged all the same.
func (e *Engine) Merge(s State) error {
	states, history, invalid := e.parseState(s)
	for slot, st := range states {
		e.states[slot] = st
	}
	for p, h := range history {
		if h == nil {
			delete(e.history, p)
			continue
		}
		e.history[p] = h
	}
	return invalid
}

// Restore replaces the state of the engine's rules with s. Rules absent from s are
// armed at epoch 0; entries for rules or portfolios the engine does not have are
// ignored (their rules were deleted), so state saved for a superset of rules can be
// restored into an engine loaded with only the rules of this batch's symbols. An
// error (ErrInvalidState) names the rules and portfolios whose state was invalid
// and was reset; every other one's is restored all the same.
func (e *Engine) Restore(s State) error {
	parsed, history, invalid := e.parseState(s)
	for p, h := range history {
		if h == nil {
			delete(history, p)
		}
	}
	states := make([]ruleState, len(e.states))
	for slot := range e.rules {
		c := &e.rules[slot]
		if g := c.group; g != 0 {
			c = &e.rules[g-1]
		}
		states[slot] = initialState(c)
	}
	for slot, st := range parsed {
		states[slot] = st
	}
	e.states, e.history = states, history
	for i := range e.isChanged {
		e.isChanged[i] = false
	}
	e.changed = e.changed[:0]
	return invalid
}

// parseState checks s and returns the states it gives the engine's rules, by
// slot, and the value histories of the engine's value_drop portfolios (nil: an
// invalid one, forgotten), with an error naming what was invalid (nil: none).
// An invalid rule state gives the rule a restart, never an error for the others.
func (e *Engine) parseState(s State) (map[int32]ruleState, map[string]*valueHistory, error) {
	var invalid []error
	states := make(map[int32]ruleState, len(s.Rules))
	for id, rs := range s.Rules {
		slot, ok := e.byID[id]
		if !ok {
			continue
		}
		c := &e.rules[slot]
		rs = c.rule.EffectiveState(rs)
		if rs.Holding != "" && len(rs.Holding) != len(c.legs) {
			// Saved under a definition with another number of conditions (an
			// edit whose restart this state's clock ran past): what held says
			// nothing about these conditions, so the rule restarts.
			rs = rs.Resumed(rs.LastAt)
		}
		st, err := parseRuleState(id, rs)
		if err != nil {
			invalid = append(invalid, err)
			st = initialState(c)
			st.epoch = rs.Epoch + 1 // it may have fired at its saved epoch
		}
		for i, l := range c.legs {
			leg := ruleState{fired: st.holding&(1<<i) != 0, lastAt: st.lastAt}
			states[l] = leg
		}
		states[slot] = st
	}
	history := map[string]*valueHistory{}
	for p, vs := range s.Values {
		if _, ok := e.index[indexKey{portfolio: p, metric: MetricValue}]; !ok {
			continue
		}
		h, err := parseValueHistory(p, vs)
		if err != nil {
			invalid = append(invalid, err)
			history[p] = nil
			continue
		}
		if len(h.samples) > 0 {
			history[p] = h
		}
	}
	return states, history, errors.Join(invalid...)
}

// parseRuleState is the engine's state of rule id for rs, which must be one
// the engine could have produced (ErrInvalidState otherwise), with a Holding
// of as many digits as the rule's conditions or none.
func parseRuleState(id string, rs RuleState) (ruleState, error) {
	firedAt, err := timeNs(rs.FiredAt)
	if err != nil {
		return ruleState{}, fmt.Errorf("rule %s: %w", id, err)
	}
	lastAt, err := timeNs(rs.LastAt)
	if err != nil {
		return ruleState{}, fmt.Errorf("rule %s: %w", id, err)
	}
	if rs.Fired && firedAt == 0 {
		return ruleState{}, fmt.Errorf("%w: rule %s fired but has no firing time", ErrInvalidState, id)
	}
	if strings.Trim(rs.Holding, "01") != "" {
		return ruleState{}, fmt.Errorf("%w: rule %s holding %q", ErrInvalidState, id, rs.Holding)
	}
	st := ruleState{fired: rs.Fired, epoch: rs.Epoch, firedAt: firedAt, lastAt: lastAt}
	for i := range len(rs.Holding) {
		if rs.Holding[i] == '1' {
			st.holding |= 1 << i
		}
	}
	return st, nil
}

// parseValueHistory is portfolio p's value history for vs, which must be one
// the engine could have produced (ErrInvalidState otherwise).
func parseValueHistory(p string, vs []ValueSample) (*valueHistory, error) {
	h := &valueHistory{samples: make([]valueSample, len(vs))}
	for i, v := range vs {
		at, err := timeNs(v.At)
		if err != nil || at == 0 {
			return nil, fmt.Errorf("%w: portfolio %s sample %d has a bad time", ErrInvalidState, p, i)
		}
		if !v.Value.IsPositive() {
			return nil, fmt.Errorf("%w: portfolio %s sample %d value %s is not positive", ErrInvalidState, p, i, v.Value)
		}
		if i > 0 && (at <= h.samples[i-1].at || v.Value.Cmp(h.samples[i-1].value) >= 0) {
			return nil, fmt.Errorf("%w: portfolio %s samples must have rising times and falling values", ErrInvalidState, p)
		}
		h.samples[i] = newValueSample(at, v.Value)
	}
	return h, nil
}
