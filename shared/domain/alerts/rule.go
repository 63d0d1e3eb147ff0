package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// Direction selects which moves a percent_move rule watches.
type Direction string

// Directions. Empty means DirectionEither.
const (
	DirectionUp     Direction = "up"
	DirectionDown   Direction = "down"
	DirectionEither Direction = "either"
)

// Limits of rule definitions.
const (
	MaxIDLen          = MaxOwnIDLen + 37 // a user ID (36) and ":" scope it (owner.go)
	MaxSymbolLen      = 32
	MinWindow         = time.Minute
	MaxWindow         = 366 * 24 * time.Hour
	MaxCooldown       = 30 * 24 * time.Hour
	maxThresholdDigit = 10 // thresholds below 10^10
	MaxConditions     = 8  // conditions of one rule
)

// DefaultHysteresis (0.5%) applies when a rule's Hysteresis is zero.
var DefaultHysteresis = decimal.New(5, -3)

// MaxHysteresis bounds h: re-arming at threshold × (1 − h) with h above one half
// would make the rule practically one-shot.
var MaxHysteresis = decimal.New(5, -1)

// Rule is one alert definition. Which fields matter depends on Kind:
//
//	price_above, price_below   Symbol, Threshold (a price)
//	percent_move               Symbol, Threshold (fraction), Direction
//	weight_drift               PortfolioID, Symbol, TargetWeight, Threshold (band)
//	value_drop                 PortfolioID, Threshold (fraction), Window
//	drawdown, var_breach,
//	concentration              PortfolioID, Threshold
//
// Every rule has an ID (unique in an Engine), optionally the owning UserID (carried
// into firings for delivery), a Hysteresis fraction (zero: DefaultHysteresis) and a
// Cooldown (zero: none). Thresholds, targets and hysteresis have at most 8 decimal
// places.
//
// A rule with Conditions watches several at once instead (then Kind, Symbol,
// Threshold, Direction, TargetWeight and Window are empty: each condition has its
// own): it holds when all of them hold (Match "all", the default) or any of them
// (Match "any"), fires once when that becomes true and re-arms when it becomes
// false, with the rule's cooldown; each condition keeps the rule's hysteresis. Its
// conditions are evaluated by one evaluator on one key: price conditions on one
// symbol (no portfolio), or conditions on the rule's portfolio.
//
// Channels, if any, are where the rule's firings go instead of the owner's
// preferences (notify.Preferences.ChannelsFor). A rule with PausedAt set is paused:
// the stores give it to no evaluator. RestartedAt is when it was last resumed or
// its conditions edited: a state saved before then is read as
// RuleState.Resumed(RestartedAt) (EffectiveState), so an edit restarts the rule
// without writing its state, which only the evaluators do.
type Rule struct {
	ID           string           `json:"id"`
	UserID       string           `json:"userId,omitempty"`
	Kind         Kind             `json:"kind,omitempty"`
	Symbol       string           `json:"symbol,omitempty"`
	PortfolioID  string           `json:"portfolioId,omitempty"`
	Threshold    decimal.Decimal  `json:"threshold,omitzero"`
	Direction    Direction        `json:"direction,omitempty"`
	TargetWeight decimal.Decimal  `json:"targetWeight,omitzero"`
	Window       Duration         `json:"window,omitzero"`
	Conditions   []Condition      `json:"conditions,omitempty"`
	Match        Match            `json:"match,omitempty"`
	Hysteresis   decimal.Decimal  `json:"hysteresis,omitzero"`
	Cooldown     Duration         `json:"cooldown,omitzero"`
	Channels     []notify.Channel `json:"channels,omitempty"`
	PausedAt     time.Time        `json:"pausedAt,omitzero"`
	RestartedAt  time.Time        `json:"restartedAt,omitzero"`
}

// EffectiveState is rs as r's evaluation starts from it: restarted when it was
// saved before r's RestartedAt (its last tick is older), as it is otherwise.
// Applying it twice changes nothing.
func (r Rule) EffectiveState(rs RuleState) RuleState {
	if r.RestartedAt.IsZero() || !rs.LastAt.Before(r.RestartedAt) {
		return rs
	}
	return rs.Resumed(r.RestartedAt)
}

// Condition is one condition of a rule with several: the fields of a
// single-condition rule that say what to watch (see Rule for which kind takes
// which).
type Condition struct {
	Kind         Kind            `json:"kind"`
	Symbol       string          `json:"symbol,omitempty"`
	Threshold    decimal.Decimal `json:"threshold"`
	Direction    Direction       `json:"direction,omitempty"`
	TargetWeight decimal.Decimal `json:"targetWeight,omitzero"`
	Window       Duration        `json:"window,omitzero"`
}

// Match says how a rule's conditions combine. Empty means MatchAll.
type Match string

// Matches.
const (
	MatchAll Match = "all"
	MatchAny Match = "any"
)

// Active reports a rule that is not paused.
func (r Rule) Active() bool { return r.PausedAt.IsZero() }

// IsComposite reports a rule with Conditions.
func (r Rule) IsComposite() bool { return len(r.Conditions) > 0 }

// Legs returns the rule's conditions: Conditions, or the rule's own fields as
// one condition.
func (r Rule) Legs() []Condition {
	if r.IsComposite() {
		return r.Conditions
	}
	return []Condition{r.Primary()}
}

// Primary is the rule's first condition: what the stores index it by (kind,
// symbol), since all of its conditions are on one key and one evaluator.
func (r Rule) Primary() Condition {
	if r.IsComposite() {
		return r.Conditions[0]
	}
	return Condition{Kind: r.Kind, Symbol: r.Symbol, Threshold: r.Threshold, Direction: r.Direction, TargetWeight: r.TargetWeight, Window: r.Window}
}

// HasKind reports whether r watches a condition of kind k.
func (r Rule) HasKind(k Kind) bool {
	if !r.IsComposite() {
		return r.Kind == k
	}
	for _, c := range r.Conditions {
		if c.Kind == k {
			return true
		}
	}
	return false
}

// Symbols lists the symbols r's conditions name, once each.
func (r Rule) Symbols() []string {
	var out []string
	for _, c := range r.Legs() {
		if c.Symbol != "" && !slices.Contains(out, c.Symbol) {
			out = append(out, c.Symbol)
		}
	}
	return out
}

// leg is condition i of r as a single-condition rule of r's ID, owner,
// portfolio and hysteresis, and no cooldown: the rule applies the cooldown.
func (r Rule) leg(c Condition) Rule {
	return Rule{ID: r.ID, UserID: r.UserID, Kind: c.Kind, Symbol: c.Symbol, PortfolioID: r.PortfolioID,
		Threshold: c.Threshold, Direction: c.Direction, TargetWeight: c.TargetWeight, Window: c.Window, Hysteresis: r.Hysteresis}
}

// Duration is a time.Duration that is JSON text such as "120h" or "15m".
type Duration time.Duration

// MarshalJSON writes the duration as Go duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads Go duration text ("120h", "1h30m").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"120h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// IsZero lets omitzero drop a zero duration.
func (d Duration) IsZero() bool { return d == 0 }

// Validation sentinels. A *ValidationError matches ErrInvalidRule and exactly one of
// the others with errors.Is.
var (
	ErrInvalidRule   = errors.New("invalid alert rule")
	ErrMissingID     = errors.New("rule ID is required")
	ErrDuplicateRule = errors.New("rule ID already exists")
	// ErrNotFound: the rule or firing does not exist or is another user's (the
	// two are not told apart).
	ErrNotFound          = errors.New("alert rule or firing not found")
	ErrUnknownKind       = errors.New("unknown rule kind")
	ErrInvalidThreshold  = errors.New("invalid threshold")
	ErrMissingSymbol     = errors.New("symbol is required")
	ErrMissingPortfolio  = errors.New("portfolio is required")
	ErrInvalidWindow     = errors.New("invalid window")
	ErrInvalidDirection  = errors.New("invalid direction")
	ErrInvalidTarget     = errors.New("invalid target weight")
	ErrInvalidHysteresis = errors.New("invalid hysteresis")
	ErrInvalidCooldown   = errors.New("invalid cooldown")
	ErrInvalidConditions = errors.New("invalid conditions")
	ErrInvalidChannels   = errors.New("invalid channels")
)

// ValidationError says which rule and field are wrong, and why.
type ValidationError struct {
	RuleID string
	Field  string
	Err    error // one of the sentinels above
	Detail string
}

func (e *ValidationError) Error() string {
	s := "alert rule " + e.RuleID + ": " + e.Field + ": " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap makes errors.Is match ErrInvalidRule and the specific sentinel.
func (e *ValidationError) Unwrap() []error { return []error{ErrInvalidRule, e.Err} }

// Validate checks the rule's definition.
func (r Rule) Validate() error {
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{RuleID: r.ID, Field: field, Err: err, Detail: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(r.ID) == "" || len(r.ID) > MaxIDLen {
		return bad("id", ErrMissingID, "1 to %d bytes", MaxIDLen)
	}
	if err := r.checkChannels(); err != nil {
		return err
	}
	if r.IsComposite() {
		return r.validateComposite()
	}
	if r.Match != "" {
		return bad("match", ErrInvalidConditions, "only a rule with conditions takes a match")
	}
	return r.validateCondition("")
}

// validateCondition checks a single-condition rule (a rule or a leg); prefix
// names the condition in errors ("conditions[1].").
func (r Rule) validateCondition(prefix string) error {
	bad := func(field string, err error, format string, args ...any) error {
		return &ValidationError{RuleID: r.ID, Field: prefix + field, Err: err, Detail: fmt.Sprintf(format, args...)}
	}
	if !r.Kind.known() {
		return bad("kind", ErrUnknownKind, "%q", r.Kind)
	}
	needSymbol := r.Kind.isPrice() || r.Kind == KindWeightDrift
	if needSymbol && (r.Symbol == "" || len(r.Symbol) > MaxSymbolLen) {
		return bad("symbol", ErrMissingSymbol, "%s needs a symbol of 1 to %d bytes", r.Kind, MaxSymbolLen)
	}
	if !r.Kind.isPrice() && strings.TrimSpace(r.PortfolioID) == "" {
		return bad("portfolioId", ErrMissingPortfolio, "%s is a portfolio rule", r.Kind)
	}
	if err := checkFixed(r.Threshold); err != nil || !r.Threshold.IsPositive() {
		return bad("threshold", ErrInvalidThreshold, "%s must be positive, below 1e%d, with at most 8 decimals", show(r.Threshold), maxThresholdDigit)
	}
	one := decimal.New(1, 0)
	switch r.Kind {
	case KindPercentMove:
		if r.Threshold.GreaterThan(decimal.New(10, 0)) {
			return bad("threshold", ErrInvalidThreshold, "a move of %s (as a fraction) is beyond 1000%%", show(r.Threshold))
		}
	case KindWeightDrift, KindValueDrop:
		if !r.Threshold.LessThan(one) {
			return bad("threshold", ErrInvalidThreshold, "%s must be a fraction below 1", show(r.Threshold))
		}
	case KindDrawdown, KindConcentration:
		if r.Threshold.GreaterThan(one) {
			return bad("threshold", ErrInvalidThreshold, "%s must be a fraction up to 1", show(r.Threshold))
		}
	}
	switch r.Direction {
	case "", DirectionEither:
	case DirectionUp, DirectionDown:
		if r.Kind != KindPercentMove {
			return bad("direction", ErrInvalidDirection, "only percent_move rules take a direction")
		}
	default:
		return bad("direction", ErrInvalidDirection, "%q", r.Direction)
	}
	if r.Kind == KindWeightDrift {
		if err := checkFixed(r.TargetWeight); err != nil || r.TargetWeight.IsNegative() || r.TargetWeight.GreaterThan(one) {
			return bad("targetWeight", ErrInvalidTarget, "%s must be in [0, 1] with at most 8 decimals", show(r.TargetWeight))
		}
	} else if !r.TargetWeight.IsZero() {
		return bad("targetWeight", ErrInvalidTarget, "only weight_drift rules take a target weight")
	}
	w := time.Duration(r.Window)
	if r.Kind == KindValueDrop {
		if w < MinWindow || w > MaxWindow {
			return bad("window", ErrInvalidWindow, "%s must be within [%s, %s]", w, MinWindow, MaxWindow)
		}
	} else if w != 0 {
		return bad("window", ErrInvalidWindow, "only value_drop rules take a window")
	}
	if err := checkFixed(r.Hysteresis); err != nil || r.Hysteresis.IsNegative() || r.Hysteresis.GreaterThan(MaxHysteresis) {
		return bad("hysteresis", ErrInvalidHysteresis, "%s must be in [0, %s] with at most 8 decimals", show(r.Hysteresis), MaxHysteresis)
	}
	if c := time.Duration(r.Cooldown); c < 0 || c > MaxCooldown {
		return bad("cooldown", ErrInvalidCooldown, "%s must be within [0, %s]", c, MaxCooldown)
	}
	return nil
}

// validateComposite checks a rule with conditions: the top-level condition
// fields empty, each condition valid as a rule of its own, all of them on one
// evaluator and one key (one symbol, or the rule's portfolio).
func (r Rule) validateComposite() error {
	bad := func(field string, format string, args ...any) error {
		return &ValidationError{RuleID: r.ID, Field: field, Err: ErrInvalidConditions, Detail: fmt.Sprintf(format, args...)}
	}
	if len(r.Conditions) > MaxConditions {
		return bad("conditions", "at most %d conditions", MaxConditions)
	}
	if r.Kind != "" || r.Symbol != "" || !r.Threshold.IsZero() || r.Direction != "" || !r.TargetWeight.IsZero() || r.Window != 0 {
		return bad("conditions", "a rule with conditions has no kind, symbol, threshold, direction, targetWeight or window of its own")
	}
	switch r.Match {
	case "", MatchAll, MatchAny:
	default:
		return bad("match", "%q: want all or any", r.Match)
	}
	first, _ := r.Conditions[0].Kind.spec()
	for i, c := range r.Conditions {
		prefix := fmt.Sprintf("conditions[%d].", i)
		if err := r.leg(c).validateCondition(prefix); err != nil {
			return err
		}
		spec, _ := c.Kind.spec()
		if spec.EvaluatedBy != first.EvaluatedBy {
			return bad(prefix+"kind", "%s is evaluated by %s, %s by %s: one rule's conditions need one evaluator", c.Kind, spec.EvaluatedBy, r.Conditions[0].Kind, first.EvaluatedBy)
		}
		if (spec.Metric == MetricPrice) != (first.Metric == MetricPrice) {
			return bad(prefix+"kind", "price and portfolio conditions cannot mix in one rule")
		}
		if spec.Metric == MetricPrice && c.Symbol != r.Conditions[0].Symbol {
			return bad(prefix+"symbol", "the price conditions of one rule watch one symbol")
		}
	}
	if first.Metric == MetricPrice && r.PortfolioID != "" {
		return bad("portfolioId", "a rule of price conditions is on no portfolio")
	}
	if c := time.Duration(r.Cooldown); c < 0 || c > MaxCooldown {
		return &ValidationError{RuleID: r.ID, Field: "cooldown", Err: ErrInvalidCooldown, Detail: fmt.Sprintf("%s must be within [0, %s]", c, MaxCooldown)}
	}
	return nil
}

// checkChannels accepts known channels, each once.
func (r Rule) checkChannels() error {
	for i, c := range r.Channels {
		if !c.Known() || slices.Contains(r.Channels[:i], c) {
			return &ValidationError{RuleID: r.ID, Field: "channels", Err: ErrInvalidChannels, Detail: fmt.Sprintf("%q: each of %v at most once", c, notify.Channels)}
		}
	}
	return nil
}

// checkFixed accepts decimals with at most 8 places and magnitude below 10^10.
func checkFixed(d decimal.Decimal) error {
	if d.Exponent() < -40 {
		return errors.New("too many decimal places")
	}
	if d.Exponent() < -scaleDigits && !d.Equal(d.Truncate(scaleDigits)) {
		return errors.New("more than 8 decimal places")
	}
	if d.Exponent() > maxThresholdDigit || d.Abs().Cmp(decimal.New(1, maxThresholdDigit)) >= 0 {
		return errors.New("out of range")
	}
	return nil
}

// hysteresis returns h, defaulted.
func (r Rule) hysteresis() decimal.Decimal {
	if r.Hysteresis.IsZero() {
		return DefaultHysteresis
	}
	return r.Hysteresis
}

// show formats d for messages; a decimal with an absurd exponent would print
// billions of digits.
func show(d decimal.Decimal) string {
	if e := d.Exponent(); e < -40 || e > 40 {
		return "(out of range)"
	}
	return d.String()
}
