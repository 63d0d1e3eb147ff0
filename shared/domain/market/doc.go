// Package market holds the market facts that the price providers
// (shared/adapters/marketdata), the ingest and the prices consumer
// (shared/app/ingest, shared/app/prices) and the read models all speak: a quote
// and its invariants, a daily bar, a day's close, a symbol's latest price in a
// currency, a portfolio's value at those prices, and the MarketDataError a
// provider's failure becomes. It imports no I/O package: providers produce these
// values, stores keep them, the use cases decide with them.
package market
