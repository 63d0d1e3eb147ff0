package memstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// Valuations is the in-memory readmodel.Valuations: each portfolio's valuations
// by as_of, the first one recorded at an instant kept.
type Valuations struct {
	mu   sync.RWMutex
	rows map[valuationKey]readmodel.Valuation
}

type valuationKey struct {
	portfolioID string
	asOf        time.Time
}

// NewValuations returns an empty store.
func NewValuations() *Valuations { return &Valuations{rows: map[valuationKey]readmodel.Valuation{}} }

// InsertValuations implements readmodel.Valuations.InsertValuations.
func (v *Valuations) InsertValuations(_ context.Context, vals []readmodel.Valuation) (int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var n int64
	for _, val := range vals {
		k := valuationKey{val.PortfolioID, stamp(val.AsOf)}
		if _, ok := v.rows[k]; ok {
			continue
		}
		val.AsOf = k.asOf
		val.MarketValue, val.CostBasis, val.UnrealizedPnL = numeric(val.MarketValue), numeric(val.CostBasis), numeric(val.UnrealizedPnL)
		val.Unpriced = slices.Clone(val.Unpriced)
		if len(val.Unpriced) == 0 {
			val.Unpriced = nil
		}
		v.rows[k] = val
		n++
	}
	return n, nil
}

// ValuationHistory implements readmodel.Valuations.ValuationHistory.
func (v *Valuations) ValuationHistory(_ context.Context, userID, portfolioID string, from, to time.Time, limit int) ([]readmodel.Valuation, error) {
	limit = max(1, min(limit, readmodel.MaxValuationsPage))
	from, to = stamp(from), stamp(to)
	v.mu.RLock()
	out := []readmodel.Valuation{}
	for k, val := range v.rows {
		if k.portfolioID == portfolioID && val.UserID == userID && !k.asOf.Before(from) && k.asOf.Before(to) {
			val.Unpriced = slices.Clone(val.Unpriced)
			out = append(out, val)
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b readmodel.Valuation) int { return a.AsOf.Compare(b.AsOf) })
	return out[:min(len(out), limit)], nil
}

// PruneValuations implements readmodel.Valuations.PruneValuations.
func (v *Valuations) PruneValuations(_ context.Context, from, before time.Time, limit int) (int64, error) {
	from, before = stamp(from), stamp(before)
	v.mu.Lock()
	defer v.mu.Unlock()
	// The last row of each portfolio and UTC day stays.
	type dayKey struct {
		portfolioID string
		day         time.Time
	}
	last := map[dayKey]time.Time{}
	for k := range v.rows {
		d := dayKey{k.portfolioID, k.asOf.Truncate(24 * time.Hour)}
		if at, ok := last[d]; !ok || k.asOf.After(at) {
			last[d] = k.asOf
		}
	}
	var n int64
	for k := range v.rows {
		if limit > 0 && n >= int64(limit) {
			break
		}
		if k.asOf.Before(from) || !k.asOf.Before(before) || last[dayKey{k.portfolioID, k.asOf.Truncate(24 * time.Hour)}].Equal(k.asOf) {
			continue
		}
		delete(v.rows, k)
		n++
	}
	return n, nil
}
