package analytics

import "math"

// The normal quantiles of the parametric VaR, rounded to four decimals as quoted in
// risk texts: Φ⁻¹(0.95) = 1.64485…, Φ⁻¹(0.99) = 2.32635….
const (
	z95 = 1.6449
	z99 = 2.3263
)

// meanStd returns the mean and the sample standard deviation √(Σ(x−μ)²/(n−1)) of x,
// in two passes (the one-pass formula loses all precision on returns near 0.0001
// with a mean of the same size). sd is 0 for fewer than 2 values.
func meanStd(x []float64) (mean, sd float64) {
	n := len(x)
	if n == 0 {
		return 0, 0
	}
	var s float64
	for _, v := range x {
		s += v
	}
	mean = s / float64(n)
	if n < 2 {
		return mean, 0
	}
	var ss, c float64
	for _, v := range x {
		d := v - mean
		ss += d * d
		c += d
	}
	// c is the rounding error of the mean (Σ(x−μ) should be 0); subtracting c²/n
	// is the corrected two-pass algorithm (Chan, Golub & LeVeque).
	return mean, math.Sqrt(max(0, ss-c*c/float64(n)) / float64(n-1))
}

// downsideDeviation is √( Σ min(0, x − target)² / (n − 1) ), for n ≥ 2.
func downsideDeviation(x []float64, target float64) float64 {
	if len(x) < 2 {
		return 0
	}
	var ss float64
	for _, v := range x {
		if d := v - target; d < 0 {
			ss += d * d
		}
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// quantile is the p-quantile of sorted (ascending, non-empty) by linear interpolation
// between order statistics: h = (n−1)·p, x_⌊h⌋ + (h−⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋)
// (Hyndman & Fan type 7).
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// historicalVaR is the historical VaR and CVaR at confidence alpha from the sorted
// returns (see ValueAtRisk).
func historicalVaR(sorted []float64, alpha float64) VaR {
	q := quantile(sorted, 1-alpha)
	var s float64
	k := 0
	for _, v := range sorted {
		if v > q {
			break
		}
		s += v
		k++
	}
	cvar := -q
	if k > 0 {
		cvar = -s / float64(k)
	}
	return VaR{VaR: val(-q), CVaR: val(cvar)}
}

// parametricVaR is the normal VaR z·σ − μ and CVaR σ·φ(z)/(1−α) − μ.
func parametricVaR(mu, sd, alpha, z float64) VaR {
	phi := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
	return VaR{VaR: val(z*sd - mu), CVaR: val(sd*phi/(1-alpha) - mu)}
}
