// Package alerts is the alert-rule model and its evaluation. It is pure: no AWS, SQL
// or HTTP; callers load rules and state, call Evaluate, store the state and deliver
// the firings.
//
// Rules (Rule, Kind):
//   - price_above / price_below: the price reaches a level (≥ / ≤).
//   - percent_move: the day's move against the previous close, (price − pc) / pc,
//     reaches the threshold: up (≥ t), down (≤ −t) or either (|move| ≥ t).
//   - weight_drift: a position's weight leaves target ± band (rebalancing).
//   - value_drop: the portfolio's value falls by the threshold from its highest
//     value observed within the window (e.g. 10% within 5 days).
//   - drawdown, var_breach, concentration: risk metrics computed by the analytics
//     function, fed in as metric ticks; one evaluator serves them all ("metric at or
//     above threshold").
//
// State per rule: armed or fired. A fired rule re-arms only once the observation
// has come back past the hysteresis level — threshold × (1 − h) for the "at or above"
// kinds, threshold × (1 + h) for price_below — and, once re-armed, fires again only
// after its cooldown has passed since the last firing. So a price oscillating around
// a threshold fires once. Each arming has an epoch; a firing's Key is "<rule ID>#<epoch>",
// stable across re-processing, so an at-least-once consumer de-duplicates deliveries
// on it. Each rule also remembers the time of the last tick it evaluated and ignores
// ticks at or before it, so re-processing a batch after its state was saved fires
// nothing (ticks of one symbol arrive in order: Kinesis orders per partition key).
//
// A rule may instead hold several conditions (Rule.Conditions, Match all or any, on
// one symbol or one portfolio): each is evaluated as a rule of its own (a leg) whose
// state says whether it holds, and the rule fires once when the combination becomes
// true at an instant and re-arms when it becomes false, with the rule's cooldown.
// A paused rule (PausedAt) is given to no evaluator; a resume or an edit of what a
// rule watches stamps RestartedAt, and a state saved before it is read as restarted
// (Rule.EffectiveState).
//
// Cost: Evaluate looks up the rules of each tick's symbol (price ticks) or portfolio
// and metric (portfolio ticks) in an index, so a batch costs O(rules on the ticked
// keys), not O(all rules). Comparisons run on exact fixed-point integers (1e-8
// units): every threshold is a decimal with at most 8 places, and an observation x is
// compared through floor(x·10⁸) and ceil(x·10⁸), which decides x ≥ t, x ≤ t, x < t and
// x > t exactly for such t.
package alerts
