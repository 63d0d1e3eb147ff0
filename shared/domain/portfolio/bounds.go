package portfolio

import (
	"fmt"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/symbol"
	"github.com/shopspring/decimal"
)

// The ranges the system accepts (docs/architecture.md, "Bounds"). They are not
// part of a stored payload's rules (validatePayload): events recorded before the
// bounds existed still load, and consumers leave out what falls outside them
// (CheckStoredRange) instead of failing on it.
var (
	// MinTradeDate is the earliest trade date: older records are not trades anyone
	// tracks, and dates near year 1 break date arithmetic downstream.
	MinTradeDate = calendar.MustNew(1900, time.January, 1)
	// LastStorableDate is the latest date a stored transaction may carry.
	LastStorableDate = calendar.MustNew(9999, time.December, 31)

	// MaxQuantity bounds a quantity, and any position a trade or split leaves
	// (exclusive): 10^15 shares or units.
	MaxQuantity = decimal.New(1, 15)
	// MaxPrice bounds a price per share (exclusive): 10^12.
	MaxPrice = decimal.New(1, 12)
	// MaxAmount bounds an amount, a fee and a tax (exclusive): 10^15.
	MaxAmount = decimal.New(1, 15)
	// MaxFXRate bounds an exchange rate either way (exclusive): 10^7 units of one
	// currency per unit of another is beyond any currency traded today.
	MaxFXRate = decimal.New(1, 7)
)

// FXRateDigits is the most decimal places an exchange rate may have.
const FXRateDigits = 12

// MaxFractionDigits is the most decimal places a quantity, price or amount may
// have: brokers report at most 9 and crypto prices 10, but exports written from
// floating point carry up to 17 (0.1 + 0.2 is 0.30000000000000004).
const MaxFractionDigits = 18

// MaxRatioSide bounds each side of a split ratio: the largest real splits and
// reverse splits are in the thousands.
const MaxRatioSide = 1_000_000

// TradeDateHorizon is how far after today a trade may be dated (a settlement or
// a planned deposit; nothing later).
const TradeDateHorizon = 1 // year

// MaxTradeDate is the latest trade date a command may record at now.
func MaxTradeDate(now time.Time) calendar.Date {
	return calendar.FromTime(now.UTC().AddDate(TradeDateHorizon, 0, 0))
}

// CheckBounds holds a new transaction to what the system accepts beyond its
// payload rules (Validate): its date between MinTradeDate and MaxTradeDate(now),
// the magnitudes of CheckStoredRange, a symbol by the symbol rule, and a note
// without bidi controls.
func (t Transaction) CheckBounds(now time.Time) error {
	if err := t.CheckStoredRange(); err != nil {
		return err
	}
	if t.Symbol != "" {
		if err := symbol.Check(t.Symbol); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidTransaction, err)
		}
	}
	if HasBidiControl(t.Note) {
		return fmt.Errorf("%w: the note holds a character that reorders text", ErrInvalidTransaction)
	}
	if latest := MaxTradeDate(now); t.Date.After(latest) {
		return fmt.Errorf("%w: date %s is after %s (at most %d year from today)", ErrInvalidTransaction, t.Date, latest, TradeDateHorizon)
	}
	return nil
}

// CheckStoredRange is the part of CheckBounds that does not depend on the day:
// what a consumer can project and compute with. A recorded transaction outside
// it predates the bounds.
func (t Transaction) CheckStoredRange() error {
	if t.Date.Before(MinTradeDate) || t.Date.After(LastStorableDate) {
		return fmt.Errorf("%w: date %s is outside %s to %s", ErrInvalidTransaction, t.Date, MinTradeDate, LastStorableDate)
	}
	for _, f := range []struct {
		name string
		v    decimal.Decimal
		max  decimal.Decimal
	}{
		{"quantity", t.Quantity, MaxQuantity},
		{"price", t.Price, MaxPrice},
		{"amount", t.Amount, MaxAmount},
		{"fee", t.Fee, MaxAmount},
		{"tax", t.Tax, MaxAmount},
		{"toAmount", t.ToAmount, MaxAmount},
		{"fxRate", t.FXRate, MaxFXRate},
	} {
		if err := checkMagnitude(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if !t.FXRate.IsZero() {
		if err := checkFXRate(t.FXRate); err != nil {
			return err
		}
	}
	if !t.Ratio.IsZero() && (t.Ratio.New > MaxRatioSide || t.Ratio.Old > MaxRatioSide) {
		return fmt.Errorf("%w: split ratio %s: each side must be at most %d", ErrInvalidTransaction, t.Ratio, MaxRatioSide)
	}
	return nil
}

// MinFXRate bounds an exchange rate from below (inclusive): a hundred-millionth
// of a unit, finer than any currency traded today.
var MinFXRate = decimal.New(1, -7)

// checkFXRate holds a rate to MinFXRate, MaxFXRate and FXRateDigits places.
func checkFXRate(r decimal.Decimal) error {
	if !r.Equal(r.Truncate(FXRateDigits)) || r.LessThan(MinFXRate) || r.GreaterThanOrEqual(MaxFXRate) {
		return fmt.Errorf("%w: fxRate %s is out of range (%s to below %s, at most %d decimal places)", ErrInvalidTransaction, r, MinFXRate, MaxFXRate, FXRateDigits)
	}
	return nil
}

// CheckQuantity refuses a position of q or more than MaxQuantity, in either
// direction.
func CheckQuantity(symbol string, q decimal.Decimal) error {
	if q.Abs().GreaterThanOrEqual(MaxQuantity) {
		return fmt.Errorf("%w: the position in %s would reach %s (limit %s)", ErrInvalidTransaction, symbol, q, MaxQuantity)
	}
	return nil
}

func checkMagnitude(name string, v, max decimal.Decimal) error {
	if v.IsZero() {
		return nil
	}
	if -v.Exponent() > MaxFractionDigits && !v.Equal(v.Truncate(MaxFractionDigits)) {
		return fmt.Errorf("%w: %s %s has more than %d decimal places", ErrInvalidTransaction, name, v, MaxFractionDigits)
	}
	if v.Abs().GreaterThanOrEqual(max) {
		return fmt.Errorf("%w: %s %s is too large (limit %s)", ErrInvalidTransaction, name, v, max)
	}
	return nil
}

// MaxTargets bounds a target allocation: more symbols than any real
// allocation, and well inside one event item.
const MaxTargets = 500

// checkNewTargets holds a new target allocation to the symbol rule and
// MaxTargets (its payload rules are TargetAllocation.Validate).
func checkNewTargets(a TargetAllocation) error {
	if len(a.Targets) > MaxTargets {
		return fmt.Errorf("%w: %d targets (at most %d)", ErrInvalidTargets, len(a.Targets), MaxTargets)
	}
	for _, t := range a.Targets {
		if err := symbol.Check(t.Symbol); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidTargets, err)
		}
	}
	return nil
}

// checkNewSettings holds new analytics settings to the symbol rule and the
// amount bound (their payload rules are AnalyticsSettings.Validate).
func checkNewSettings(s AnalyticsSettings) error {
	if err := symbol.Check(s.Benchmark); err != nil {
		return fmt.Errorf("%w: benchmark: %v", ErrInvalidCommand, err)
	}
	if s.MinTradeValue.GreaterThanOrEqual(MaxAmount) || -s.MinTradeValue.Exponent() > MaxFractionDigits && !s.MinTradeValue.Equal(s.MinTradeValue.Truncate(MaxFractionDigits)) {
		return fmt.Errorf("%w: minimum trade value %s is out of range (below %s, at most %d decimal places)", ErrInvalidCommand, s.MinTradeValue, MaxAmount, MaxFractionDigits)
	}
	return nil
}
