package alerts

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestValidate(t *testing.T) {
	ok := []Rule{
		{ID: "1", Kind: KindPriceAbove, Symbol: "AAPL", Threshold: d("189.99")},
		{ID: "2", Kind: KindPriceBelow, Symbol: "BTC", Threshold: d("0.00000001")},
		{ID: "3", Kind: KindPercentMove, Symbol: "AAPL", Threshold: d("0.05"), Direction: DirectionDown},
		{ID: "4", Kind: KindWeightDrift, PortfolioID: "p", Symbol: "VTI", TargetWeight: d("0"), Threshold: d("0.05")},
		{ID: "5", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(5 * 24 * time.Hour), Hysteresis: d("0.5")},
		{ID: "6", Kind: KindDrawdown, PortfolioID: "p", Threshold: d("1")},
		{ID: "7", Kind: KindVaRBreach, PortfolioID: "p", Threshold: d("9999999999.99999999")},
		{ID: "8", Kind: KindConcentration, PortfolioID: "p", Threshold: d("0.4"), Cooldown: Duration(MaxCooldown)},
	}
	for _, r := range ok {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
	}
	bad := []struct {
		rule  Rule
		field string
		err   error
	}{
		{Rule{Kind: KindPriceAbove, Symbol: "A", Threshold: d("1")}, "id", ErrMissingID},
		{Rule{ID: "x", Kind: "price_sideways", Symbol: "A", Threshold: d("1")}, "kind", ErrUnknownKind},
		{Rule{ID: "x", Kind: KindPriceAbove, Threshold: d("1")}, "symbol", ErrMissingSymbol},
		{Rule{ID: "x", Kind: KindPercentMove, Symbol: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", Threshold: d("1")}, "symbol", ErrMissingSymbol},
		{Rule{ID: "x", Kind: KindWeightDrift, PortfolioID: "p", Threshold: d("0.1")}, "symbol", ErrMissingSymbol},
		{Rule{ID: "x", Kind: KindValueDrop, Threshold: d("0.1"), Window: Duration(time.Hour)}, "portfolioId", ErrMissingPortfolio},
		{Rule{ID: "x", Kind: KindDrawdown, PortfolioID: " ", Threshold: d("0.1")}, "portfolioId", ErrMissingPortfolio},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("0")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("-1")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1.000000001")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1e10")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1e-2147483648")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindPercentMove, Symbol: "A", Threshold: d("10.5")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("1"), Window: Duration(time.Hour)}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindWeightDrift, PortfolioID: "p", Symbol: "A", Threshold: d("1")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindConcentration, PortfolioID: "p", Threshold: d("1.01")}, "threshold", ErrInvalidThreshold},
		{Rule{ID: "x", Kind: KindPercentMove, Symbol: "A", Threshold: d("0.1"), Direction: "sideways"}, "direction", ErrInvalidDirection},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1"), Direction: DirectionUp}, "direction", ErrInvalidDirection},
		{Rule{ID: "x", Kind: KindWeightDrift, PortfolioID: "p", Symbol: "A", Threshold: d("0.1"), TargetWeight: d("1.1")}, "targetWeight", ErrInvalidTarget},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1"), TargetWeight: d("0.5")}, "targetWeight", ErrInvalidTarget},
		{Rule{ID: "x", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1")}, "window", ErrInvalidWindow},
		{Rule{ID: "x", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(30 * time.Second)}, "window", ErrInvalidWindow},
		{Rule{ID: "x", Kind: KindValueDrop, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(367 * 24 * time.Hour)}, "window", ErrInvalidWindow},
		{Rule{ID: "x", Kind: KindDrawdown, PortfolioID: "p", Threshold: d("0.1"), Window: Duration(time.Hour)}, "window", ErrInvalidWindow},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1"), Hysteresis: d("0.6")}, "hysteresis", ErrInvalidHysteresis},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1"), Hysteresis: d("-0.1")}, "hysteresis", ErrInvalidHysteresis},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1"), Cooldown: Duration(-time.Second)}, "cooldown", ErrInvalidCooldown},
		{Rule{ID: "x", Kind: KindPriceAbove, Symbol: "A", Threshold: d("1"), Cooldown: Duration(MaxCooldown + 1)}, "cooldown", ErrInvalidCooldown},
	}
	for _, tc := range bad {
		err := tc.rule.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidRule) {
			t.Errorf("%+v: got %v, want %s / %v", tc.rule, err, tc.field, tc.err)
			continue
		}
		if _, err := NewEngine(tc.rule); !errors.Is(err, tc.err) {
			t.Errorf("NewEngine accepted %+v", tc.rule)
		}
	}
}

func TestBounds(t *testing.T) {
	cases := []struct {
		in     string
		lo, hi int64
	}{
		{"0", 0, 0}, {"0e20", 0, 0}, {"1", 1e8, 1e8}, {"100.25", 10025000000, 10025000000},
		{"0.000000015", 1, 2}, {"-0.000000015", -2, -1}, {"1e-12", 0, 1}, {"-1e-30", -1, 0},
		{"123456789012345678901234.5", math.MaxInt64, math.MaxInt64}, {"-1e25", math.MinInt64, math.MinInt64},
		{"92233720368.54775807", math.MaxInt64, math.MaxInt64},
		{"1.234567890123456789012345", 123456789, 123456790}, // long coefficient: slow path
		{"-1.234567890123456789012345", -123456790, -123456789},
	}
	for _, c := range cases {
		if b := toBounds(d(c.in)); b.lo != c.lo || b.hi != c.hi {
			t.Errorf("%s: got [%d, %d], want [%d, %d]", c.in, b.lo, b.hi, c.lo, c.hi)
		}
	}
	// ratioBounds agrees with the decimal division for assorted values.
	for _, p := range [][2]string{{"4", "3"}, {"-1", "3"}, {"2.85", "3"}, {"0.00000001", "7"}, {"123.45", "0.01"}, {"-0.00000001", "99999.99999999"}} {
		num, den := d(p[0]), d(p[1])
		nb, db := toBounds(num), toBounds(den)
		if got, want := ratioBounds(nb.lo, db.lo), quoBounds(num, den); got != want {
			t.Errorf("%s/%s: fast %v, exact %v", p[0], p[1], got, want)
		}
	}
	_ = decimal.Zero
}
