package analytics

import "github.com/portfoliotracker/tracker/shared/domain/calendar"

// recoveryTolerance is the relative shortfall from the peak still counted as a
// recovery: a −10% then +11.1…% path returns to the peak only up to float rounding.
const recoveryTolerance = 1e-12

// maxDrawdown computes the Drawdown of the TWR wealth index built from the calendar-day
// returns daily (days indexed alike). See Drawdown for the definition.
func maxDrawdown(days []calendar.Date, daily []float64) Drawdown {
	if len(daily) == 0 {
		return Drawdown{Value: absent(reasonNoHistory)}
	}
	const opening = -1
	w, peakW, peakI := 1.0, 1.0, opening
	var best, bestPeakW float64
	bestPeak, bestTrough, recovery := opening, opening, opening
	recovered := false
	for i, r := range daily {
		w *= 1 + r
		if w > peakW {
			peakW, peakI = w, i
		} else if dd := 1 - w/peakW; dd > best {
			best, bestPeakW = dd, peakW
			bestPeak, bestTrough = peakI, i
			recovered = false
		}
		if best > 0 && !recovered && i > bestTrough && w >= bestPeakW*(1-recoveryTolerance) {
			recovery, recovered = i, true
		}
	}
	if !(best > zeroDeviation) {
		return Drawdown{Value: val(0)}
	}
	dateOf := func(i int) *calendar.Date {
		if i == opening {
			return new(days[0] - 1)
		}
		return new(days[i])
	}
	d := Drawdown{Value: val(best), PeakDate: dateOf(bestPeak), TroughDate: dateOf(bestTrough)}
	if recovered {
		d.RecoveryDate = dateOf(recovery)
	}
	return d
}
