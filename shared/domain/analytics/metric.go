package analytics

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// Metric is a figure that may be absent. When OK is false, Value is 0 and Reason says
// why there is no figure (for example "needs at least 2 trading-day returns, have 1").
// A Metric never carries NaN or ±Inf: the constructors turn a non-finite result into
// an absent metric.
//
// JSON: {"value": 0.1234} or {"value": null, "reason": "..."}.
type Metric struct {
	Value  float64
	OK     bool
	Reason string
}

// Reasons shared by several metrics.
const (
	reasonNoHistory  = "no history in the range"
	reasonNotFinite  = "the result is not a finite number (the series overflows float64)"
	reasonZeroVol    = "zero volatility: the trading-day returns are constant, so the ratio is undefined"
	reasonShortRange = "the range is shorter than 365 days, so the return is not annualised"
)

// val is an OK metric, or an absent one when v is NaN or ±Inf.
func val(v float64) Metric {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Metric{Reason: reasonNotFinite}
	}
	if v == 0 {
		v = 0 // no "-0" in the JSON
	}
	return Metric{Value: v, OK: true}
}

// absent is a metric that has no value, for the given reason.
func absent(reason string) Metric { return Metric{Reason: reason} }

// Get returns the value and whether there is one.
func (m Metric) Get() (float64, bool) { return m.Value, m.OK && isFinite(m.Value) }

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// MarshalJSON writes {"value": v} or {"value": null, "reason": "..."}.
func (m Metric) MarshalJSON() ([]byte, error) {
	if v, ok := m.Get(); ok {
		b := make([]byte, 0, 40)
		b = append(b, `{"value":`...)
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
		return append(b, '}'), nil
	}
	reason := m.Reason
	if m.OK {
		reason = reasonNotFinite
	}
	r, err := json.Marshal(reason)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 32+len(r))
	b = append(b, `{"value":null,"reason":`...)
	b = append(b, r...)
	return append(b, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metric) UnmarshalJSON(b []byte) error {
	var raw struct {
		Value  *float64 `json:"value"`
		Reason string   `json:"reason"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Value == nil {
		*m = Metric{Reason: raw.Reason}
		if m.Reason == "" {
			return errors.New("analytics: absent metric without a reason")
		}
		return nil
	}
	*m = Metric{Value: *raw.Value, OK: true}
	return nil
}
