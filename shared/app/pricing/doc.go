// Package pricing is the live-prices contract between functions/ingest and
// functions/prices (docs/architecture.md §1, §6): the MarketDataUpdated event carried on the
// Kinesis stream market-data-updates (partition key = symbol, so Kinesis orders
// the ticks of one symbol), the PortfolioValueCalculated event the prices
// consumer derives from them, the Notifier port through which valuations, quotes
// and alert firings reach users, and the alert-rule storage ports.
//
// The use cases are shared/app/ingest (quotes → the stream; daily-bar backfill)
// and shared/app/prices (the stream's consumer); the adapters implementing these
// ports are shared/adapters/kinesispub, dynamoprices, readmodel and push. This
// package imports no adapter: the market facts it carries are shared/domain/market's.
package pricing
