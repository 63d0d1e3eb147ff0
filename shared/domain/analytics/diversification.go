package analytics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// diversification computes the concentration figures of the holdings with a positive
// value (see Diversification).
func diversification(hs []Holding) Diversification {
	var total float64
	n := 0
	for _, h := range hs {
		if h.Value > 0 && isFinite(h.Value) {
			total += h.Value
			n++
		}
	}
	out := Diversification{Holdings: n}
	if n == 0 || !isFinite(total) {
		reason := "no holding has a positive value (an all-cash or empty portfolio has no position weights)"
		if n > 0 {
			reason = reasonNotFinite
		}
		a := absent(reason)
		out.HHI, out.Score, out.EffectiveHoldings, out.LargestWeight = a, a, a, a
		return out
	}
	var hhi, largest float64
	for _, h := range hs {
		if !(h.Value > 0) || !isFinite(h.Value) {
			continue
		}
		w := h.Value / total
		hhi += w * w
		if w > largest || w == largest && h.Symbol < out.LargestSymbol {
			largest, out.LargestSymbol = w, h.Symbol
		}
	}
	// Rounding can leave Σw² a hair outside [1/N, 1].
	hhi = min(1, max(1/float64(n), hhi))
	score := 0.0
	if n > 1 {
		score = min(100, max(0, 100*(1-hhi)/(1-1/float64(n))))
	}
	out.HHI = val(hhi)
	out.Score = val(score)
	out.EffectiveHoldings = val(1 / hhi)
	out.LargestWeight = val(largest)
	return out
}

// correlation computes the correlation matrix of the top holdings (see Correlation).
func correlation(hs []Holding, top int, w window, ends []int, warnings *[]string) Correlation {
	empty := func(reason string) Correlation {
		return Correlation{Symbols: []string{}, Matrix: [][]*float64{}, Reason: reason}
	}
	if top < 0 {
		return empty("not requested")
	}
	if top == 0 {
		top = DefaultCorrelationTop
	}
	cand := make([]int, 0, len(hs))
	for i, h := range hs {
		if !(h.Value > 0) || !isFinite(h.Value) {
			continue
		}
		if len(h.Closes) != w.full {
			if h.Closes != nil {
				*warnings = append(*warnings, fmt.Sprintf("holding %s has %d closes for a series of %d days; left out of the correlation matrix", h.Symbol, len(h.Closes), w.full))
			}
			continue
		}
		cand = append(cand, i)
	}
	if len(cand) == 0 {
		return empty("no holding with a positive value and closes aligned to the series")
	}
	slices.SortFunc(cand, func(a, b int) int {
		return cmp.Or(cmp.Compare(hs[b].Value, hs[a].Value), cmp.Compare(hs[a].Symbol, hs[b].Symbol))
	})
	cand = cand[:min(top, len(cand))]

	// Returns between consecutive trading days, the first from the day before the
	// range (when the series has it); NaN where a close is missing.
	first := w.i0 - 1 // the close before the first return
	if first < 0 && len(ends) > 0 {
		first, ends = w.i0+ends[0], ends[1:]
	}
	m := len(ends)
	rets := make([]float64, len(cand)*m)
	complete := true
	for c, hi := range cand {
		closes := hs[hi].Closes
		prevIdx := first
		row := rets[c*m : (c+1)*m]
		for t, e := range ends {
			idx := w.i0 + e
			p0, p1 := closes[prevIdx], closes[idx]
			row[t] = p1/p0 - 1
			if !(p0 > 0) || !(p1 > 0) || !isFinite(p0) || !isFinite(p1) || !isFinite(row[t]) {
				row[t] = math.NaN()
				complete = false
			}
			prevIdx = idx
		}
	}

	k := len(cand)
	out := Correlation{Symbols: make([]string, k), Matrix: make([][]*float64, k)}
	cells := make([]float64, k*k)
	defined := make([]bool, k*k)
	for i, hi := range cand {
		out.Symbols[i] = hs[hi].Symbol
	}
	if complete {
		correlateComplete(rets, k, m, cells, defined)
	} else {
		for i := range k {
			for j := i; j < k; j++ {
				if r, ok := pearson(rets[i*m:(i+1)*m], rets[j*m:(j+1)*m]); ok {
					cells[i*k+j], cells[j*k+i] = r, r
					defined[i*k+j], defined[j*k+i] = true, true
				}
			}
		}
	}
	for i := range k {
		out.Matrix[i] = make([]*float64, k)
		for j := range k {
			if defined[i*k+j] {
				out.Matrix[i][j] = &cells[i*k+j]
			}
		}
	}
	return out
}

// correlateComplete fills the correlations of k series of m returns without missing
// values: each series is centred and scaled to unit norm once, then r_ij is a dot
// product.
func correlateComplete(rets []float64, k, m int, cells []float64, defined []bool) {
	ok := make([]bool, k)
	if m >= 2 {
		for i := range k {
			row := rets[i*m : (i+1)*m]
			mean, sd := meanStd(row)
			if sd < zeroDeviation {
				continue
			}
			var ss float64
			for t := range row {
				row[t] -= mean
				ss += row[t] * row[t]
			}
			inv := 1 / math.Sqrt(ss)
			for t := range row {
				row[t] *= inv
			}
			ok[i] = true
		}
	}
	for i := range k {
		if !ok[i] {
			continue
		}
		cells[i*k+i], defined[i*k+i] = 1, true
		a := rets[i*m : (i+1)*m]
		for j := i + 1; j < k; j++ {
			if !ok[j] {
				continue
			}
			b := rets[j*m : (j+1)*m]
			var s0, s1, s2, s3 float64
			t := 0
			for ; t+4 <= m; t += 4 {
				s0 += a[t] * b[t]
				s1 += a[t+1] * b[t+1]
				s2 += a[t+2] * b[t+2]
				s3 += a[t+3] * b[t+3]
			}
			for ; t < m; t++ {
				s0 += a[t] * b[t]
			}
			r := min(1, max(-1, (s0+s1)+(s2+s3)))
			if isFinite(r) {
				cells[i*k+j], cells[j*k+i] = r, r
				defined[i*k+j], defined[j*k+i] = true, true
			}
		}
	}
}

// pearson is the correlation of x and y over the indices where both are not NaN;
// ok is false with fewer than 2 such indices or a zero variance on them.
func pearson(x, y []float64) (float64, bool) {
	var sx, sy float64
	n := 0
	for t := range x {
		if math.IsNaN(x[t]) || math.IsNaN(y[t]) {
			continue
		}
		sx += x[t]
		sy += y[t]
		n++
	}
	if n < 2 {
		return 0, false
	}
	mx, my := sx/float64(n), sy/float64(n)
	var cxy, cxx, cyy float64
	for t := range x {
		if math.IsNaN(x[t]) || math.IsNaN(y[t]) {
			continue
		}
		dx, dy := x[t]-mx, y[t]-my
		cxy += dx * dy
		cxx += dx * dx
		cyy += dy * dy
	}
	den := math.Sqrt(cxx * cyy)
	if sd := math.Sqrt(min(cxx, cyy) / float64(n-1)); !(sd >= zeroDeviation) || !(den > 0) {
		return 0, false
	}
	r := min(1, max(-1, cxy/den))
	return r, isFinite(r)
}
