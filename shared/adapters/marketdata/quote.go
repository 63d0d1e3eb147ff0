package marketdata

import "github.com/portfoliotracker/tracker/shared/domain/market"

// Source names. They are Quote.Source, MarketDataError.Provider and the provider part
// of rate-limit keys, so they never change once data carries them.
const (
	SourceFinnhub      = "finnhub"
	SourceAlphaVantage = "alphavantage"
	SourcePolygon      = "polygon"
	SourceSimulated    = "simulated"
	SourceReplay       = "replay"
)

// MaxSymbolLen bounds a symbol in bytes (market.MaxSymbolLen).
const MaxSymbolLen = market.MaxSymbolLen

// Quote and DailyBar are the market facts every source produces; they live in
// shared/domain/market, which the use cases share without importing a provider.
type (
	Quote    = market.Quote
	DailyBar = market.DailyBar
)
