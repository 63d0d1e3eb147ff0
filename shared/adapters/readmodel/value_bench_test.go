package readmodel

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// BenchmarkValue10kPortfolios: the prices consumer's in-memory valuation at the
// issue's scale, 10,000 portfolios of 20 positions over 500 symbols priced in
// cents. One op values every portfolio once.
func BenchmarkValue10kPortfolios(b *testing.B) {
	const portfolios, positions, symbols = 10_000, 20, 500
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	prices := make(map[string]LatestPrice, symbols)
	for s := range symbols {
		sym := fmt.Sprintf("S%03d", s)
		px := decimal.New(10000+int64(s%37)*100+int64(s), -2)
		// As LatestPrices and PortfolioHoldings read them: with their int64 forms.
		prices[sym] = LatestPrice{Symbol: sym, Price: px, Currency: "USD", AsOf: t0.Add(time.Duration(s) * time.Millisecond), fixed: fixedOf(px)}
	}
	hs := make([]*Holdings, portfolios)
	for p := range hs {
		h := &Holdings{UserID: "u", Currency: "USD", Version: 1}
		for k := range positions {
			q := decimal.New(int64(1+(p+k)%50), 0)
			cb := q.Mul(decimal.New(110, 0))
			h.Positions = append(h.Positions, HeldPosition{Symbol: fmt.Sprintf("S%03d", (7*p+25*k)%symbols),
				Quantity: q, CostBasis: cb, q: fixedOf(q), cb: fixedOf(cb)})
		}
		hs[p] = h
	}
	b.ReportAllocs()
	for b.Loop() {
		for p, h := range hs {
			if v := Value("p", h, prices, nil); v.MarketValue.IsZero() {
				b.Fatalf("portfolio %d not valued", p)
			}
		}
	}
}

// BenchmarkValue10kPortfoliosFX is BenchmarkValue10kPortfolios with a third of
// the symbols quoted in other currencies (EUR, GBp) than the portfolios' base
// (USD for half of them, EUR for the other half), converted at live rates.
func BenchmarkValue10kPortfoliosFX(b *testing.B) {
	const portfolios, positions, symbols = 10_000, 20, 500
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	prices := make(map[string]LatestPrice, symbols)
	for s := range symbols {
		sym := fmt.Sprintf("S%03d", s)
		px := decimal.New(10000+int64(s%37)*100+int64(s), -2)
		cur := []string{"USD", "USD", "USD", "USD", "EUR", "GBp"}[s%6]
		prices[sym] = LatestPrice{Symbol: sym, Price: px, Currency: cur, AsOf: t0.Add(time.Duration(s) * time.Millisecond), fixed: fixedOf(px)}
	}
	rates := NewLiveRates(map[string]LatestPrice{
		"EURUSD=X": {Symbol: "EURUSD=X", Price: decimal.RequireFromString("1.0856"), Currency: "USD", AsOf: t0},
		"GBPUSD=X": {Symbol: "GBPUSD=X", Price: decimal.RequireFromString("1.2712"), Currency: "USD", AsOf: t0},
	})
	hs := make([]*Holdings, portfolios)
	for p := range hs {
		h := &Holdings{UserID: "u", Currency: []string{"USD", "EUR"}[p%2], Version: 1}
		for k := range positions {
			q := decimal.New(int64(1+(p+k)%50), 0)
			cb := q.Mul(decimal.New(110, 0))
			sym := fmt.Sprintf("S%03d", (7*p+25*k)%symbols)
			h.Positions = append(h.Positions, HeldPosition{Symbol: sym, Quantity: q, CostBasis: cb, q: fixedOf(q), cb: fixedOf(cb),
				Currency: prices[sym].Currency, LocalCurrency: map[string]string{"GBp": "GBP"}[prices[sym].Currency], LocalCostBasis: cb})
		}
		hs[p] = h
	}
	b.ReportAllocs()
	for b.Loop() {
		for p, h := range hs {
			if v := Value("p", h, prices, rates); v.MarketValue.IsZero() || len(v.Unpriced) > 0 {
				b.Fatalf("portfolio %d not valued: %+v", p, v)
			}
		}
	}
}
