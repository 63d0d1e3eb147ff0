package alerts

import (
	"math"
	"time"

	"github.com/shopspring/decimal"
)

// WealthMark is where a portfolio's TWR wealth index stood at its last
// computation by analytics: Drawdown = 1 − wealth/peak then (≥ 0), and Value the
// portfolio's market value then, in its base currency. It lets the prices
// consumer follow drawdown between computations: the live wealth is the last
// one moved by the value's ratio, wealth × live/Value, so the live drawdown is
// 1 − (1 − Drawdown) × live / Value (LiveDrawdown). Flows since the computation
// (a buy, a deposit) would move the ratio without moving the wealth index; they
// are accounted by the next computation, which runs on every change of the
// portfolio. A new peak between computations is not tracked (the drawdown is
// then 0 until the value falls below the stored peak's level).
type WealthMark struct {
	Drawdown float64         `json:"drawdown"`
	Value    decimal.Decimal `json:"value"`
	AsOf     time.Time       `json:"asOf,omitzero"`
}

// LiveDrawdown is the drawdown at live value v (see WealthMark), as the
// engine's fixed-point decimal; false when the mark values nothing (a value not
// positive, or a drawdown not a fraction).
func (m WealthMark) LiveDrawdown(v decimal.Decimal) (decimal.Decimal, bool) {
	if m.Value.Sign() <= 0 || !(m.Drawdown >= 0 && m.Drawdown < 1) || v.Sign() < 0 {
		return decimal.Decimal{}, false
	}
	ratio := v.DivRound(m.Value, 16).InexactFloat64()
	dd := max(0, 1-(1-m.Drawdown)*ratio)
	if math.IsNaN(dd) || math.IsInf(dd, 0) {
		return decimal.Decimal{}, false
	}
	return decimal.NewFromFloat(dd).Round(10), true
}
