package marketdata

import (
	"context"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// SimQuotes is the simulated QuoteProvider for a stateless, scheduled Lambda
// (the ingest's).
//
// Every call regenerates the symbol's walk from today's 00:00 UTC (the anchor of
// SimConfig.Start) up to now, with its own single-symbol simulator: each symbol
// draws from a stream seeded by Seed and the symbol, so the path is the same in
// every container and whatever the other symbols are. Ticks are 20–100 s apart
// (about 1,440 a day), which keeps a regeneration well under a millisecond per
// symbol. Symbols outside DefaultSimSymbols get a start price and
// volatility derived from their name.
type SimQuotes struct {
	Seed uint64
	Now  func() time.Time // default time.Now
}

// Name implements QuoteProvider.
func (s SimQuotes) Name() string { return SourceSimulated }

// Quote implements QuoteProvider. A currency pair ("EURUSD=X") is quoted from
// its canonical walk (see canonicalFX), as a rate to 6 decimals.
func (s SimQuotes) Quote(ctx context.Context, symbol string) (Quote, error) {
	if pair, ok := market.ParseFXPair(symbol); ok {
		canon, inverted := canonicalFX(pair)
		q, err := s.walk(ctx, canon.Symbol())
		if err != nil {
			return Quote{}, err
		}
		q.Symbol, q.Price, q.Volume, q.Currency = symbol, simFXRate(q.Price, inverted), decimal.Zero, pair.Quote
		return q, nil
	}
	return s.walk(ctx, symbol)
}

// walk is symbol's simulated walk of today, up to now.
func (s SimQuotes) walk(ctx context.Context, symbol string) (Quote, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC()
	sim, err := NewSimulator(SimConfig{
		Seed: s.Seed, Symbols: []SimSymbol{simSymbolFor(symbol)}, Start: t.Truncate(24 * time.Hour),
		MinInterval: 20 * time.Second, MaxInterval: 100 * time.Second, Now: func() time.Time { return t },
	})
	if err != nil {
		return Quote{}, &MarketDataError{Provider: SourceSimulated, Symbol: symbol,
			Kind: KindNotFound, Message: err.Error(), At: t}
	}
	return sim.Quote(ctx, symbol)
}

// SimBars is the simulated BarProvider for backfills: a market-hours walk from the
// first day's midnight in New York, ticking every 5–15 minutes of trading time,
// aggregated into one bar per session, and scaled so that the last session
// before today closes at the symbol's reference price, where SimQuotes' walk of
// today starts: backfilled history and live quotes join without a jump.
// Deterministic for a seed, a range start and the current day.
type SimBars struct {
	Seed uint64
	Now  func() time.Time // default time.Now
}

// Name implements BarProvider.
func (SimBars) Name() string { return SourceSimulated }

// DailyBars implements BarProvider. A currency pair's bars are those of its
// canonical walk (see canonicalFX) as rates, without volume.
func (b SimBars) DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]DailyBar, error) {
	if pair, ok := market.ParseFXPair(symbol); ok {
		canon, inverted := canonicalFX(pair)
		bars, err := b.walk(canon.Symbol(), from, to)
		if err != nil {
			return nil, err
		}
		for i := range bars {
			bar := &bars[i]
			bar.Symbol, bar.Volume = symbol, decimal.Zero
			bar.Open, bar.Close = simFXRate(bar.Open, inverted), simFXRate(bar.Close, inverted)
			high, low := simFXRate(bar.High, inverted), simFXRate(bar.Low, inverted)
			if inverted {
				high, low = low, high
			}
			bar.High, bar.Low = high, low
		}
		return bars, nil
	}
	return b.walk(symbol, from, to)
}

// walk is symbol's simulated session bars from..to.
func (b SimBars) walk(symbol string, from, to calendar.Date) ([]DailyBar, error) {
	ny := market.NewYork()
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	// The walk runs to the last session before the live feed's anchor (today's
	// 00:00 UTC), even when the range ends earlier, to find the scale.
	anchor := calendar.FromTime(now().UTC()).AddDays(-1)
	fy, fm, fd := from.Time().Date()
	def := simSymbolFor(symbol)
	sim, err := NewSimulator(SimConfig{
		Seed: b.Seed, Symbols: []SimSymbol{def}, Start: time.Date(fy, fm, fd, 0, 0, 0, 0, ny), MarketHours: true,
		MinInterval: 5 * time.Minute, MaxInterval: 15 * time.Minute,
	})
	if err != nil {
		return nil, &MarketDataError{Provider: SourceSimulated, Symbol: symbol, Kind: KindNotFound, Message: err.Error(), At: time.Now().UTC()}
	}
	end := to
	if anchor.After(end) {
		end = anchor
	}
	var bars []DailyBar
	for {
		q := sim.Next()
		day := calendar.FromTime(q.Timestamp.In(ny))
		if day.After(end) {
			break
		}
		if n := len(bars); n > 0 && bars[n-1].Date == day {
			bar := &bars[n-1]
			bar.High = decimal.Max(bar.High, q.Price)
			bar.Low = decimal.Min(bar.Low, q.Price)
			bar.Close = q.Price
			bar.Volume = bar.Volume.Add(q.Volume)
			continue
		}
		bars = append(bars, DailyBar{Symbol: symbol, Date: day, Open: q.Price, High: q.Price, Low: q.Price,
			Close: q.Price, Volume: q.Volume, Source: SourceSimulated})
	}
	scale := decimal.NewFromInt(1)
	for i := len(bars) - 1; i >= 0; i-- {
		if !bars[i].Date.After(anchor) {
			scale = def.Start.Div(bars[i].Close)
			break
		}
	}
	out := bars[:0]
	for _, bar := range bars {
		if bar.Date.After(to) {
			break
		}
		for _, p := range []*decimal.Decimal{&bar.Open, &bar.High, &bar.Low, &bar.Close} {
			*p = decimal.Max(p.Mul(scale).Round(2), decimal.New(1, -2))
		}
		out = append(out, bar)
	}
	return out, nil
}

// simSymbolFor is the default definition of symbol (DefaultSimSymbols,
// simListed), or one derived from its name: drift 5 %, volatility 20–50 %, a
// start price between 10 and 500 in its currency, or, for a London listing
// quoted in pence (GBp), between 100 and 9,000 pence.
func simSymbolFor(symbol string) SimSymbol {
	if pair, ok := market.ParseFXPair(symbol); ok {
		canon, _ := canonicalFX(pair)
		return simFXSymbol(canon)
	}
	for _, d := range slices.Concat(DefaultSimSymbols(), simListed) {
		if d.Symbol == symbol {
			return d
		}
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(symbol); i++ {
		h ^= uint64(symbol[i])
		h *= 1099511628211
	}
	cents := int64(1000 + h%49001)
	if SimCurrency(symbol) == "GBp" {
		cents = int64(10000 + h%890001)
	}
	return SimSymbol{Symbol: symbol, Start: decimal.New(cents, -2), Drift: 0.05,
		Volatility: 0.2 + float64(h>>32%31)/100, Exchange: ""}
}

// simListed are a few listings outside the US at plausible prices in their
// currency (SimCurrency): the London ones in pence.
var simListed = []SimSymbol{
	{"VUSA.L", decimal.RequireFromString("8150.00"), 0.06, 0.15, "XLON"},
	{"VOD.L", decimal.RequireFromString("72.50"), 0.02, 0.25, "XLON"},
	{"HSBA.L", decimal.RequireFromString("660.00"), 0.05, 0.22, "XLON"},
	{"SAP.DE", decimal.RequireFromString("180.00"), 0.07, 0.25, "XETR"},
	{"MC.PA", decimal.RequireFromString("700.00"), 0.06, 0.28, "XPAR"},
	{"ASML.AS", decimal.RequireFromString("650.00"), 0.10, 0.35, "XAMS"},
	{"NESN.SW", decimal.RequireFromString("95.00"), 0.04, 0.15, "XSWX"},
}

// SimCurrency is the currency the simulated feed quotes symbol in: the
// listing's own (market.ListingCurrency: GBp for ".L", a pair's quote currency).
func SimCurrency(symbol string) string { return market.ListingCurrency(symbol) }
