package performance

import (
	"errors"
	"math"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// −1000 at day 0, +1100 at day 365: 1100/(1+r) = 1000 → r = 10%.
func TestIRRTextbook(t *testing.T) {
	d0 := day("2023-01-01")
	r, err := IRR([]Flow{{d0, -1000}, {d0 + 365, 1100}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "IRR", r, 0.10, 1e-12)

	// Two years: 1000 → 1210 is 10% a year: 1210/(1.1)^2 = 1000.
	r, err = IRR([]Flow{{d0 + 730, 1210}, {d0, -1000}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "IRR 2y", r, 0.10, 1e-12)

	// A loss: −1000, +500 a year later → r = −50%.
	r, err = IRR([]Flow{{d0, -1000}, {d0 + 365, 500}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "IRR loss", r, -0.5, 1e-12)
}

// Uneven: −1000 at day 0, −500 at day 182, +1700 at day 365.
//
// Valued at day 365 the equation is 1000·(1+r) + 500·(1+r)^(183/365) = 1700.
// Modified Dietz first guess: 200 / (1000 + 500·183/365) = 200/1250.68 = 0.1599.
// At r = 0.161115: ln(1.161115) = 0.149381, × 183/365 = 0.0748948, e^that = 1.077771;
// 1000 × 1.161115 = 1161.115, 500 × 1.077771 = 538.885; sum 1700.000 → r = 0.161115.
func TestIRRUneven(t *testing.T) {
	d0 := day("2023-01-01")
	r, err := IRR([]Flow{{d0, -1000}, {d0 + 182, -500}, {d0 + 365, 1700}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "IRR", r, 0.161115, 5e-7)
	near(t, "IRR precise", r, 0.16111460013334, 1e-12)
}

// Same-day flows are summed; zero flows are ignored; order does not matter.
func TestIRRAggregates(t *testing.T) {
	d0 := day("2023-01-01")
	r, err := IRR([]Flow{{d0 + 365, 600}, {d0, -400}, {d0 + 100, 0}, {d0, -600}, {d0 + 365, 500}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "IRR", r, 0.10, 1e-12)
}

func TestIRRNoRate(t *testing.T) {
	d0 := day("2023-01-01")
	for name, flows := range map[string][]Flow{
		"none":           nil,
		"zeros":          {{d0, 0}, {d0 + 1, 0}},
		"only in":        {{d0, -1}, {d0 + 10, -1}},
		"only out":       {{d0, 1}, {d0 + 10, 1}},
		"one instant":    {{d0, -1}, {d0, 2}},
		"NaN":            {{d0, -1}, {d0 + 1, math.NaN()}},
		"Inf":            {{d0, -1}, {d0 + 1, math.Inf(1)}},
		"beyond e^700":   {{d0, -1}, {d0 + 1, 1e300}},
		"no real root":   {{d0, 1}, {d0 + 365, -3}, {d0 + 730, 3}}, // 1 − 3v + 3v² > 0 for all v
		"tiny one-sided": {{d0, -1e-300}},
	} {
		r, err := IRR(flows)
		if !errors.Is(err, ErrNoRate) {
			t.Errorf("%s: IRR = %v, %v; want ErrNoRate", name, r, err)
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			t.Errorf("%s: IRR returned %v", name, r)
		}
	}
}

// Huge and near-total-loss rates over short periods still solve.
func TestIRRExtremes(t *testing.T) {
	d0 := day("2023-01-01")
	// Doubling in one day: (1+r)^(1/365) = 2 → r = 2^365 − 1.
	r, err := IRR([]Flow{{d0, -1}, {d0 + 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "doubling", math.Log2(1+r), 365, 1e-9)
	// Losing 99% in a year: r = −0.99.
	r, err = IRR([]Flow{{d0, -100}, {d0 + 365, 1}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "wipe-out", r, -0.99, 1e-12)
	// 20 years of monthly −100 and a final 100 000.
	var flows []Flow
	for m := range 240 {
		flows = append(flows, Flow{d0 + calendar.Date(m*30), -100})
	}
	flows = append(flows, Flow{d0 + 240*30, 100000})
	r, err = IRR(flows)
	if err != nil {
		t.Fatal(err)
	}
	var npv float64
	for _, f := range flows {
		npv += f.Amount * math.Pow(1+r, -float64(f.Day-d0)/365)
	}
	near(t, "NPV monthly", npv, 0, 1e-6)
}

// Several roots: flows −1, +2.3, −1.32 a year apart have NPV zero at 1+r = 1.1 and
// 1.2 (v = 1/(1+r): −1 + 2.3v − 1.32v² = −1.32(v − 1/1.1)(v − 1/1.2)). The root
// nearest 0 is taken.
func TestIRRNearestRoot(t *testing.T) {
	d0 := day("2023-01-01")
	r, err := IRR([]Flow{{d0, -1}, {d0 + 365, 2.3}, {d0 + 730, -1.32}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "IRR", r, 0.10, 1e-12)
}

func TestAnnualize(t *testing.T) {
	// 21% over two years is 10% a year: 1.21^(365/730) = 1.1.
	a, ok := Annualize(0.21, 730)
	near(t, "2y", a, 0.10, 1e-12)
	if !ok {
		t.Error("730 days refused")
	}
	a, ok = Annualize(0.05, 364)
	if ok || a != 0.05 {
		t.Errorf("364 days: %v, %v; want 0.05 unchanged, false", a, ok)
	}
	a, ok = Annualize(0.10, 365)
	near(t, "1y", a, 0.10, 1e-15)
	if !ok {
		t.Error("365 days refused")
	}
	if a, _ := Annualize(-1, 730); a != -1 {
		t.Errorf("total loss annualised to %v", a)
	}
}

// FuzzIRR: never NaN or ±Inf, and a returned rate zeroes the NPV.
func FuzzIRR(f *testing.F) {
	f.Add(int64(-1000), uint16(0), int64(1100), uint16(365), int64(0), uint16(0))
	f.Add(int64(-1000), uint16(0), int64(-500), uint16(182), int64(1700), uint16(365))
	f.Add(int64(1), uint16(0), int64(-3), uint16(365), int64(3), uint16(730))
	f.Fuzz(func(t *testing.T, a1 int64, d1 uint16, a2 int64, d2 uint16, a3 int64, d3 uint16) {
		d0 := day("2000-01-01")
		flows := []Flow{{d0 + calendar.Date(d1), float64(a1)}, {d0 + calendar.Date(d2), float64(a2)}, {d0 + calendar.Date(d3), float64(a3)}}
		r, err := IRR(flows)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			t.Fatalf("IRR = %v, %v", r, err)
		}
		if err != nil {
			if !errors.Is(err, ErrNoRate) {
				t.Fatalf("error %v does not wrap ErrNoRate", err)
			}
			return
		}
		first := min(d1, d2, d3)
		x := math.Log1p(r)
		var npv, scale float64
		for _, fl := range flows {
			tt := float64(fl.Day-d0-calendar.Date(first)) / 365
			npv += fl.Amount * math.Exp(-x*tt)
			scale += math.Abs(fl.Amount) * math.Exp(-x*tt)
		}
		if math.Abs(npv) > 1e-6*scale && r > -0.999999 && r < 1e10 {
			t.Fatalf("IRR %v leaves NPV %v of %v", r, npv, scale)
		}
	})
}
