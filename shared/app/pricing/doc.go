// Package pricing is the live-prices contract between functions/ingest and
// functions/prices (docs/architecture.md §1, §6): the MarketDataUpdated event carried on the
// Kinesis stream market-data-updates (partition key = symbol, so Kinesis orders
// the ticks of one symbol), the Notifier port through which valuations and alert
// firings reach users, and the alert-rule storage port.
//
// Subpackages hold the adapters and the handlers:
//
//	kinesispub    PutRecords publisher (batches of ≤ 500 records / 5 MB, retries
//	              only the failed records of a partial failure)
//	dynamoprices  the DynamoDB rate-limit counter (marketdata.Counter) and the
//	              newer-wins latest-price table
//	ingest        the scheduled ingest handler (quotes → Kinesis; daily-bar backfill)
//	consumer      the Kinesis consumer (latest prices, daily closes, valuations, alerts)
package pricing
