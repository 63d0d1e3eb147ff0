// Package marketdata fetches prices from outside and turns them into one shape.
//
// Every source — Finnhub (WebSocket trades, the REST quote, search), Alpha Vantage
// (GLOBAL_QUOTE, TIME_SERIES_DAILY, SYMBOL_SEARCH, the FX functions), Polygon/Massive
// (snapshot and previous-close quotes, daily aggregates, search, splits, dividends),
// a seeded simulated feed and a file replay — produces the same Quote (or DailyBar,
// SymbolMatch, CorporateAction) with its Source set, so callers are written once
// against QuoteProvider, BarProvider, SymbolSearcher, CorporateActionProvider or
// Feed. Open builds them from the deploy-time choice of a quote and a history source.
//
// Prices are exact: provider JSON numbers are read as text (json.Number or the
// provider's own strings) and parsed straight into decimal.Decimal; no price ever
// passes through float64. Only the simulator computes in floating point, and it
// rounds its output to cents.
//
// Failures never panic and never leak as bare transport errors: every client returns a
// *MarketDataError whose Kind says what happened (rate_limited, http_status,
// malformed, timeout, not_found, upstream_error). The same value, marshalled to
// JSON, is the MarketDataError event published on market-data-errors.
//
// Provider free-tier limits are shared by every Lambda invocation, so they are
// counted outside the process: a Limiter checked before each HTTP attempt. The
// WindowLimiter here counts through a small Counter port (one atomic conditional
// increment per call); MemoryCounter implements it for tests and local runs, and a
// DynamoDB adapter implements it in the cloud (see Counter for the exact semantics).
//
// This package imports net/http and a WebSocket client, never the AWS SDK.
package marketdata
