package alerts

import (
	"cmp"
	"math"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Tick is one observation. A price tick has Metric "" (MetricPrice), Symbol, Value
// (the price) and, for percent_move rules, PreviousClose. A portfolio tick has
// PortfolioID, a Metric and Value; a weight tick also names the position's Symbol.
// At orders ticks: each rule ignores ticks at or before the last one it evaluated,
// and ticks at or before 1970-01-01 UTC.
type Tick struct {
	Symbol        string          `json:"symbol,omitempty"`
	PortfolioID   string          `json:"portfolioId,omitempty"`
	Metric        Metric          `json:"metric,omitempty"`
	Value         decimal.Decimal `json:"value"`
	PreviousClose decimal.Decimal `json:"previousClose,omitzero"`
	At            time.Time       `json:"at"`
}

// PriceTick is a price observation; previousClose may be zero (unknown), and
// percent_move rules then skip the tick.
func PriceTick(symbol string, price, previousClose decimal.Decimal, at time.Time) Tick {
	return Tick{Symbol: symbol, Value: price, PreviousClose: previousClose, At: at}
}

// ValueTick is a portfolio's market value (value_drop rules).
func ValueTick(portfolioID string, value decimal.Decimal, at time.Time) Tick {
	return Tick{PortfolioID: portfolioID, Metric: MetricValue, Value: value, At: at}
}

// WeightTick is one position's weight in a portfolio (weight_drift rules).
func WeightTick(portfolioID, symbol string, weight decimal.Decimal, at time.Time) Tick {
	return Tick{PortfolioID: portfolioID, Symbol: symbol, Metric: MetricWeight, Value: weight, At: at}
}

// MetricTick is a risk metric computed by the analytics function (drawdown, var,
// concentration rules).
func MetricTick(portfolioID string, m Metric, value decimal.Decimal, at time.Time) Tick {
	return Tick{PortfolioID: portfolioID, Metric: m, Value: value, At: at}
}

// Firing is one alert to deliver. Key ("<rule ID>#<epoch>") is the same every time
// the same arming fires, however often its batch is re-processed: deliveries and
// history rows are de-duplicated on it.
//
// Observed is the value that crossed: the price; the move as a fraction; the
// position's weight; the drop as a fraction; the metric. Moves and drops are rounded
// to 8 places for display (the decision itself was exact).
type Firing struct {
	Key         string          `json:"key"`
	RuleID      string          `json:"ruleId"`
	Epoch       uint64          `json:"epoch"`
	Kind        Kind            `json:"kind"`
	UserID      string          `json:"userId,omitempty"`
	Symbol      string          `json:"symbol,omitempty"`
	PortfolioID string          `json:"portfolioId,omitempty"`
	Observed    decimal.Decimal `json:"observed"`
	Threshold   decimal.Decimal `json:"threshold"`
	At          time.Time       `json:"at"`
}

// FiringKey is the de-duplication key of a rule's arming.
func FiringKey(ruleID string, epoch uint64) string {
	return ruleID + "#" + strconv.FormatUint(epoch, 10)
}

type code uint8

const (
	codeAbove code = iota + 1 // fire x ≥ thr, re-arm x < rearm
	codeBelow                 // fire x ≤ thr, re-arm x > rearm
	codeMoveUp
	codeMoveDown
	codeMoveEither
	codeWeight
	codeDrop
	codeMetric
	codeComposite // a rule with conditions: not indexed, its legs are
)

// compiled is a rule as the engine evaluates it. A rule with conditions is one
// compiled entry of code codeComposite, unindexed, and one leg per condition,
// indexed like a rule of its own and evaluated by the same loops; a leg's state
// says whether its condition holds, and its transitions step the composite
// (stepLeg), so rules without conditions pay one branch for them.
type compiled struct {
	code     code
	thr      int64 // threshold ·10⁸
	rearm    int64 // re-arm level ·10⁸
	target   int64 // weight_drift target ·10⁸
	cooldown int64 // nanoseconds
	window   int64 // nanoseconds
	group    int32 // a leg's composite slot + 1; 0 for any other rule
	bit      uint8 // a leg's bit in its composite's ruleState.holding
	legs     []int32
	key      indexKey
	rule     Rule
}

type ruleState struct {
	fired   bool
	holding uint8 // a composite's: the bits of its legs that hold
	epoch   uint64
	firedAt int64 // Unix ns of the last firing; 0 = never
	lastAt  int64 // Unix ns of the last tick evaluated; 0 = none
}

type indexKey struct {
	portfolio string
	symbol    string
	metric    Metric
}

// Engine holds rules, their state and the indexes that make evaluation cost
// proportional to the rules on the ticked keys. It is not safe for concurrent use.
type Engine struct {
	rules   []compiled
	states  []ruleState
	byID    map[string]int32
	index   map[indexKey][]int32
	free    []int32
	history map[string]*valueHistory
	checks  uint64
	// Rules whose fired, epoch or firing time changed since TakeChanged.
	changed   []int32
	isChanged []bool
	// Composites whose legs were evaluated at pendingAt, to settle once that
	// instant's ticks are evaluated.
	pending   []pendingStep
	pendingAt int64
	pendingOf []int32 // by composite slot: its index in pending + 1, 0 if none
}

// NewEngine returns an engine with rules (all armed).
func NewEngine(rules ...Rule) (*Engine, error) {
	e := &Engine{byID: make(map[string]int32, len(rules)), index: map[indexKey][]int32{}, history: map[string]*valueHistory{}}
	for _, r := range rules {
		if err := e.Add(r); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Add validates r and adds it, armed.
func (e *Engine) Add(r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if _, dup := e.byID[r.ID]; dup {
		return &ValidationError{RuleID: r.ID, Field: "id", Err: ErrDuplicateRule}
	}
	if r.IsComposite() {
		return e.addComposite(r)
	}
	c, err := compile(r)
	if err != nil {
		return err
	}
	slot := e.place(c)
	e.states[slot] = initialState(&c)
	e.byID[r.ID] = slot
	e.index[c.key] = append(e.index[c.key], slot)
	return nil
}

// addComposite adds a rule with conditions: its own unindexed entry and its
// legs.
func (e *Engine) addComposite(r Rule) error {
	legs := make([]compiled, len(r.Conditions))
	for i, cond := range r.Conditions {
		c, err := compile(r.leg(cond))
		if err != nil {
			return err
		}
		legs[i] = c
	}
	parent := e.place(compiled{code: codeComposite, cooldown: int64(r.Cooldown), rule: r})
	e.states[parent] = initialState(&e.rules[parent])
	slots := make([]int32, len(legs))
	for i, c := range legs {
		c.group, c.bit = parent+1, 1<<i
		slots[i] = e.place(c)
		e.states[slots[i]] = e.states[parent]
		e.index[c.key] = append(e.index[c.key], slots[i])
	}
	e.rules[parent].legs = slots
	e.byID[r.ID] = parent
	return nil
}

// initialState is the state of a rule without a saved one: armed at epoch 0,
// ignoring ticks up to its restart (Rule.EffectiveState).
func initialState(c *compiled) ruleState {
	if c.rule.RestartedAt.IsZero() {
		return ruleState{}
	}
	return ruleState{lastAt: c.rule.RestartedAt.UnixNano()}
}

// place puts c, armed, in a free slot or a new one.
func (e *Engine) place(c compiled) int32 {
	if n := len(e.free); n > 0 {
		slot := e.free[n-1]
		e.free = e.free[:n-1]
		e.rules[slot], e.states[slot], e.isChanged[slot] = c, ruleState{}, false
		return slot
	}
	e.rules = append(e.rules, c)
	e.states = append(e.states, ruleState{})
	e.isChanged = append(e.isChanged, false)
	e.pendingOf = append(e.pendingOf, 0)
	return int32(len(e.rules) - 1)
}

// Remove deletes a rule and its state; it reports whether the rule existed.
func (e *Engine) Remove(id string) bool {
	slot, ok := e.byID[id]
	if !ok {
		return false
	}
	for _, leg := range e.rules[slot].legs {
		e.unindex(leg)
		e.release(leg)
	}
	if e.rules[slot].code != codeComposite {
		e.unindex(slot)
	}
	delete(e.byID, id)
	e.release(slot)
	return true
}

// unindex takes slot out of the index (and a value_drop portfolio's history out
// with its last rule).
func (e *Engine) unindex(slot int32) {
	c := &e.rules[slot]
	list := e.index[c.key]
	for i, s := range list {
		if s == slot {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.index, c.key)
		if c.code == codeDrop {
			delete(e.history, c.key.portfolio)
		}
	} else {
		e.index[c.key] = list
	}
}

// release frees slot.
func (e *Engine) release(slot int32) {
	e.rules[slot], e.states[slot], e.isChanged[slot] = compiled{}, ruleState{}, false
	e.free = append(e.free, slot)
}

// Rule returns the rule with id.
func (e *Engine) Rule(id string) (Rule, bool) {
	slot, ok := e.byID[id]
	if !ok {
		return Rule{}, false
	}
	return e.rules[slot].rule, true
}

// Len is the number of rules.
func (e *Engine) Len() int { return len(e.byID) }

// Checks is the number of rule evaluations performed so far (one per rule per tick
// it was offered and did not ignore as stale).
func (e *Engine) Checks() uint64 { return e.checks }

func compile(r Rule) (compiled, error) {
	c := compiled{rule: r, cooldown: int64(r.Cooldown), window: int64(r.Window)}
	thr, ok := mustScaled(r.Threshold)
	if !ok {
		return compiled{}, &ValidationError{RuleID: r.ID, Field: "threshold", Err: ErrInvalidThreshold, Detail: "not representable"}
	}
	c.thr = thr
	one := decimal.New(1, 0)
	h := r.hysteresis()
	// Re-arm levels are rounded away from the threshold, never toward it.
	c.rearm = toBounds(r.Threshold.Mul(one.Sub(h))).lo
	switch r.Kind {
	case KindPriceAbove:
		c.code = codeAbove
	case KindPriceBelow:
		c.code = codeBelow
		c.rearm = toBounds(r.Threshold.Mul(one.Add(h))).hi
	case KindPercentMove:
		switch r.Direction {
		case DirectionUp:
			c.code = codeMoveUp
		case DirectionDown:
			c.code = codeMoveDown
		default:
			c.code = codeMoveEither
		}
	case KindWeightDrift:
		c.code = codeWeight
		c.target, _ = mustScaled(r.TargetWeight)
	case KindValueDrop:
		c.code = codeDrop
	default:
		c.code = codeMetric
	}
	if r.Kind.isPrice() {
		c.key = indexKey{symbol: r.Symbol}
	} else {
		c.key = indexKey{portfolio: r.PortfolioID, metric: r.Kind.Metric()}
		if r.Kind == KindWeightDrift {
			c.key.symbol = r.Symbol
		}
	}
	return c, nil
}

// Evaluate offers each tick, in order, to the rules indexed under its symbol (price
// ticks) or portfolio and metric (portfolio ticks), updates their state and returns
// the firings, in tick order then rule insertion order. Ticks with a non-positive
// price or portfolio value are ignored.
func (e *Engine) Evaluate(ticks []Tick) []Firing {
	var out []Firing
	for i := range ticks {
		t := &ticks[i]
		at := t.At.UnixNano()
		if at <= 0 {
			continue
		}
		if len(e.pending) > 0 && at != e.pendingAt {
			out = e.settle(out)
		}
		switch t.Metric {
		case MetricPrice:
			out = e.evalPrice(t, at, out)
		case MetricValue:
			out = e.evalValue(t, at, out)
		default:
			out = e.evalMetric(t, at, out)
		}
	}
	if len(e.pending) > 0 {
		out = e.settle(out)
	}
	return out
}

// exact reports bounds that are one value, well inside int64.
func (b bounds) exact() bool {
	return b.lo == b.hi && b.lo > -math.MaxInt64/2 && b.lo < math.MaxInt64/2
}

func (e *Engine) evalPrice(t *Tick, at int64, out []Firing) []Firing {
	slots := e.index[indexKey{symbol: t.Symbol}]
	if len(slots) == 0 || !t.Value.IsPositive() {
		return out
	}
	p := toBounds(t.Value)
	var mv bounds
	moveState := 0 // 0 not computed, 1 known, -1 unavailable
	for _, slot := range slots {
		c, st := &e.rules[slot], &e.states[slot]
		if at <= st.lastAt {
			continue
		}
		var fire, rearm bool
		switch c.code {
		case codeAbove:
			fire, rearm = p.lo >= c.thr, p.lo < c.rearm
		case codeBelow:
			fire, rearm = p.hi <= c.thr, p.hi > c.rearm
		default:
			if moveState == 0 {
				moveState = -1
				if t.PreviousClose.IsPositive() {
					moveState = 1
					if pc := toBounds(t.PreviousClose); p.exact() && pc.exact() {
						mv = ratioBounds(p.lo-pc.lo, pc.lo)
					} else {
						mv = quoBounds(t.Value.Sub(t.PreviousClose), t.PreviousClose)
					}
				}
			}
			if moveState < 0 {
				continue
			}
			fire, rearm = bandCheck(c.code, mv, c.thr, c.rearm)
		}
		e.checks++
		st.lastAt = at
		if e.step(slot, c, st, fire, rearm, at) {
			obs := t.Value
			if c.code != codeAbove && c.code != codeBelow {
				obs = ratioDecimal(t.Value.Sub(t.PreviousClose), t.PreviousClose)
			}
			out = e.emit(c, st, obs, at, out)
		}
	}
	return out
}

// bandCheck evaluates a two-sided or one-sided band on x: up fires at x ≥ thr, down
// at x ≤ −thr; re-arming needs x back inside (−rearm, rearm) on the watched side(s).
func bandCheck(k code, x bounds, thr, rearm int64) (fire, rearmed bool) {
	switch k {
	case codeMoveUp:
		return x.lo >= thr, x.lo < rearm
	case codeMoveDown:
		return x.hi <= -thr, x.hi > -rearm
	default:
		return x.lo >= thr || x.hi <= -thr, x.lo < rearm && x.hi > -rearm
	}
}

func (e *Engine) evalMetric(t *Tick, at int64, out []Firing) []Firing {
	key := indexKey{portfolio: t.PortfolioID, metric: t.Metric}
	if t.Metric == MetricWeight {
		key.symbol = t.Symbol
	}
	slots := e.index[key]
	if len(slots) == 0 {
		return out
	}
	v := toBounds(t.Value)
	if v.lo <= math.MinInt64/2 || v.hi >= math.MaxInt64/2 {
		return out // far outside any threshold's range: not a meaningful metric
	}
	for _, slot := range slots {
		c, st := &e.rules[slot], &e.states[slot]
		if at <= st.lastAt {
			continue
		}
		var fire, rearm bool
		if c.code == codeWeight {
			fire, rearm = bandCheck(codeMoveEither, bounds{v.lo - c.target, v.hi - c.target}, c.thr, c.rearm)
		} else {
			fire, rearm = v.lo >= c.thr, v.lo < c.rearm
		}
		e.checks++
		st.lastAt = at
		if e.step(slot, c, st, fire, rearm, at) {
			out = e.emit(c, st, t.Value, at, out)
		}
	}
	return out
}

func (e *Engine) evalValue(t *Tick, at int64, out []Firing) []Firing {
	slots := e.index[indexKey{portfolio: t.PortfolioID, metric: MetricValue}]
	if len(slots) == 0 || !t.Value.IsPositive() {
		return out
	}
	h := e.history[t.PortfolioID]
	if h == nil {
		h = &valueHistory{}
		e.history[t.PortfolioID] = h
	}
	if at <= h.lastAt() {
		return out // stale or re-processed
	}
	var longest int64
	for _, slot := range slots {
		longest = max(longest, e.rules[slot].window)
	}
	cur := newValueSample(at, t.Value)
	h.push(cur, longest)
	for _, slot := range slots {
		c, st := &e.rules[slot], &e.states[slot]
		if at <= st.lastAt {
			continue
		}
		peak := h.maxSince(at - c.window)
		drop := dropBounds(peak, &cur)
		fire, rearm := drop.lo >= c.thr, drop.lo < c.rearm
		e.checks++
		st.lastAt = at
		if e.step(slot, c, st, fire, rearm, at) {
			out = e.emit(c, st, ratioDecimal(peak.value.Sub(t.Value), peak.value), at, out)
		}
	}
	return out
}

// dropBounds is the bounds of (peak − v)/peak. Decimal division costs about a
// microsecond and allocates, so values held exactly in fixed point (nearly all
// portfolio values) take the integer route, which gives the same bounds.
func dropBounds(peak, v *valueSample) bounds {
	if peak.fixed != 0 && v.fixed != 0 && !forceDecimalDrop {
		// Both are below MaxInt64/2 (bounds.exact), so the difference cannot overflow.
		return ratioBounds(peak.fixed-v.fixed, peak.fixed)
	}
	return quoBounds(peak.value.Sub(v.value), peak.value)
}

// forceDecimalDrop sends every value_drop check down the decimal route; tests set
// it to hold the integer route to the same results.
var forceDecimalDrop bool

// step advances one rule's state machine and reports whether it fires (a leg:
// whether its condition holds, for emit).
func (e *Engine) step(slot int32, c *compiled, st *ruleState, fire, rearm bool, at int64) bool {
	if c.group != 0 {
		return e.stepLeg(slot, c, st, fire, rearm, at)
	}
	if st.fired {
		if rearm {
			st.fired = false
			st.epoch++
			e.touch(slot)
		}
		return false
	}
	if !fire {
		return false
	}
	if st.firedAt != 0 && at-st.firedAt < c.cooldown {
		return false // armed, but still cooling down
	}
	st.fired, st.firedAt = true, at
	e.touch(slot)
	return true
}

// stepLeg records whether a leg's condition holds (fired, with the hysteresis
// of re-arming) and queues its composite for settle, once the tick's instant
// has been evaluated on every leg: a composite is judged on its conditions at
// one instant, never on a mix of this tick's and the previous one's. It reports
// whether the leg holds (emit then notes its observation).
func (e *Engine) stepLeg(slot int32, c *compiled, st *ruleState, fire, rearm bool, at int64) bool {
	rose := false
	p := c.group - 1
	ps := &e.states[p]
	if st.fired && rearm {
		st.fired = false
		ps.holding &^= c.bit
		e.touch(slot)
	} else if !st.fired && fire {
		st.fired, rose = true, true
		ps.holding |= c.bit
		e.touch(slot)
	}
	ps.lastAt = max(ps.lastAt, at)
	e.pendingAt = at
	if i := e.pendingOf[p]; i != 0 {
		q := &e.pending[i-1]
		q.rose = q.rose || rose
		if rose || !q.holding {
			q.leg = slot
		}
		return st.fired
	}
	e.pending = append(e.pending, pendingStep{parent: p, leg: slot, rose: rose})
	e.pendingOf[p] = int32(len(e.pending))
	return st.fired
}

// pendingStep is a composite to settle: the leg to report if it fires (one
// that holds, preferably one that just came to hold) and its observation.
type pendingStep struct {
	parent, leg   int32
	rose, holding bool
	observed      decimal.Decimal
}

// emit appends the firing of c's rule; for a leg that holds it notes the
// observation instead, for settle.
func (e *Engine) emit(c *compiled, st *ruleState, observed decimal.Decimal, at int64, out []Firing) []Firing {
	if c.group == 0 {
		return append(out, e.firing(c, st, observed, at))
	}
	if i := e.pendingOf[c.group-1]; i != 0 {
		if q := &e.pending[i-1]; &e.rules[q.leg] == c {
			q.holding, q.observed = true, observed
		}
	}
	return out
}

// settle steps the queued composites at their instant, in the order their
// legs were first evaluated: each holds when all its legs hold (any of them,
// for MatchAny), fires like a rule whose condition that is, and re-arms when it
// no longer holds. It fires only at an instant at which a leg that holds was
// evaluated, so the firing reports a condition that holds (the leg that came to
// hold, else one that held); when the cooldown has not passed by then, the
// composite waits for a later such instant.
func (e *Engine) settle(out []Firing) []Firing {
	at := e.pendingAt
	for _, q := range e.pending {
		e.pendingOf[q.parent] = 0
		pc, ps := &e.rules[q.parent], &e.states[q.parent]
		holds := holds(pc, ps)
		if e.step(q.parent, pc, ps, holds && q.holding, !holds, at) {
			out = append(out, e.firing(&e.rules[q.leg], ps, q.observed, at))
		}
	}
	e.pending = e.pending[:0]
	return out
}

// holds reports whether composite pc's legs hold together, from the bits of
// those that hold (ps.holding).
func holds(pc *compiled, ps *ruleState) bool {
	if pc.rule.Match == MatchAny {
		return ps.holding != 0
	}
	return ps.holding == 1<<len(pc.legs)-1
}

// touch marks slot's rule (a leg's composite) changed.
func (e *Engine) touch(slot int32) {
	if g := e.rules[slot].group; g != 0 {
		slot = g - 1
	}
	if !e.isChanged[slot] {
		e.isChanged[slot] = true
		e.changed = append(e.changed, slot)
	}
}

// TakeChanged returns the IDs of the rules that fired or re-armed since the last
// call (or since they were added), in the order they first changed, and starts
// afresh. Their evaluation time (RuleState.LastAt) is not a change: a store that
// keeps a long-lived engine's state need only write these rules, because
// re-evaluating ticks on a rule's older saved state makes exactly the transitions
// it made the first time, that is none for a rule not returned here.
func (e *Engine) TakeChanged() []string {
	var out []string
	for _, slot := range e.changed {
		if e.isChanged[slot] {
			e.isChanged[slot] = false
			out = append(out, e.rules[slot].rule.ID)
		}
	}
	e.changed = e.changed[:0]
	return out
}

// firing is the firing of c's rule at state st; a leg's is its composite's
// (same rule ID, owner and portfolio), at the composite's state, with the leg's
// condition, observation and threshold.
func (e *Engine) firing(c *compiled, st *ruleState, observed decimal.Decimal, at int64) Firing {
	r := &c.rule
	return Firing{
		Key: FiringKey(r.ID, st.epoch), RuleID: r.ID, Epoch: st.epoch, Kind: r.Kind, UserID: r.UserID,
		Symbol: r.Symbol, PortfolioID: r.PortfolioID, Observed: observed, Threshold: r.Threshold,
		At: time.Unix(0, at).UTC(),
	}
}

// valueHistory keeps a portfolio's values for value_drop rules as a monotonic
// deque: times increasing, values strictly decreasing, so the highest value since
// any instant is the first sample at or after it. Samples older than the longest
// window go.
type valueHistory struct {
	samples []valueSample
}

type valueSample struct {
	at    int64
	value decimal.Decimal
	// fixed is value·10⁸ when that is exact (bounds.exact), else 0: values are
	// positive, so 0 is free to mean "compare the decimals".
	fixed int64
}

func newValueSample(at int64, v decimal.Decimal) valueSample {
	s := valueSample{at: at, value: v}
	if b := toBounds(v); b.exact() {
		s.fixed = b.lo
	}
	return s
}

// cmpValue compares the values of a and b.
func (a *valueSample) cmpValue(b *valueSample) int {
	if a.fixed != 0 && b.fixed != 0 {
		return cmp.Compare(a.fixed, b.fixed)
	}
	return a.value.Cmp(b.value)
}

func (h *valueHistory) lastAt() int64 {
	if len(h.samples) == 0 {
		return 0
	}
	return h.samples[len(h.samples)-1].at
}

func (h *valueHistory) push(s valueSample, window int64) {
	n := len(h.samples)
	for n > 0 && h.samples[n-1].cmpValue(&s) <= 0 {
		n--
	}
	h.samples = append(h.samples[:n], s)
	cut := 0
	for cut < len(h.samples)-1 && h.samples[cut].at < s.at-window {
		cut++
	}
	if cut > 0 {
		h.samples = append(h.samples[:0], h.samples[cut:]...)
	}
}

// maxSince returns the highest sample at or after from; the newest sample is
// always within the window.
func (h *valueHistory) maxSince(from int64) *valueSample {
	lo, hi := 0, len(h.samples)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.samples[mid].at >= from {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &h.samples[lo]
}
