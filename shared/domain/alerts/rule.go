package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
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
type Rule struct {
	ID           string          `json:"id"`
	UserID       string          `json:"userId,omitempty"`
	Kind         Kind            `json:"kind"`
	Symbol       string          `json:"symbol,omitempty"`
	PortfolioID  string          `json:"portfolioId,omitempty"`
	Threshold    decimal.Decimal `json:"threshold"`
	Direction    Direction       `json:"direction,omitempty"`
	TargetWeight decimal.Decimal `json:"targetWeight,omitzero"`
	Window       Duration        `json:"window,omitzero"`
	Hysteresis   decimal.Decimal `json:"hysteresis,omitzero"`
	Cooldown     Duration        `json:"cooldown,omitzero"`
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
