package analytics

import (
	"math"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// series builds a daily series from `from` with the given end-of-day values; flows
// are keyed by day index (positive = inflow, negative = outflow).
func series(from string, start float64, values []float64, flows map[int]float64) *performance.Series {
	n := len(values)
	s := &performance.Series{
		Start:   start,
		Days:    make([]calendar.Date, n),
		Value:   values,
		Inflow:  make([]float64, n),
		Outflow: make([]float64, n),
	}
	d0 := day(from)
	for i := range n {
		s.Days[i] = d0 + calendar.Date(i)
	}
	for i, f := range flows {
		if f > 0 {
			s.Inflow[i] = f
		} else {
			s.Outflow[i] = -f
		}
	}
	return s
}

// fromReturns builds values start·Π(1+r) for consecutive calendar days.
func fromReturns(start float64, rets []float64) []float64 {
	out := make([]float64, len(rets))
	v := start
	for i, r := range rets {
		v *= 1 + r
		out[i] = v
	}
	return out
}

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.15g, want %.15g (±%g)", name, got, want, tol)
	}
}

func has(t *testing.T, name string, m Metric, want, tol float64) {
	t.Helper()
	if !m.OK {
		t.Errorf("%s absent (%s), want %.15g", name, m.Reason, want)
		return
	}
	near(t, name, m.Value, want, tol)
}

func isAbsent(t *testing.T, name string, m Metric) {
	t.Helper()
	if m.OK {
		t.Errorf("%s = %v, want absent", name, m.Value)
	} else if m.Reason == "" {
		t.Errorf("%s absent without a reason", name)
	}
}

func dateIs(t *testing.T, name string, got *calendar.Date, want string) {
	t.Helper()
	switch {
	case want == "" && got != nil:
		t.Errorf("%s = %s, want nil", name, *got)
	case want != "" && got == nil:
		t.Errorf("%s = nil, want %s", name, want)
	case want != "" && got.String() != want:
		t.Errorf("%s = %s, want %s", name, got, want)
	}
}

func TestHelperDatesAreWeekdays(t *testing.T) {
	// The hand-computed cases start on Monday 2024-01-01.
	if wd := day("2024-01-01").Weekday(); wd != time.Monday {
		t.Fatalf("2024-01-01 is a %s", wd)
	}
}
