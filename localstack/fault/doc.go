// Package fault proves the system's reliability by injecting faults into the real
// local stack (localstack/stack, started in the test's process with its own data
// folder and free ports) while users' commands flow through the public HTTP API
// and price ticks onto Kinesis:
//
//   - a stream consumer (projector, analytics, prices) killed mid-batch, i.e.
//     while its process holds an invocation it has not answered (runtime.KillBusy);
//   - DynamoDB Local stopped for 10 s and PostgreSQL for 30 s, then restarted on
//     the same port with their data (emulator.Set.StopEmulator);
//   - a poison record on each stream: an events-table item whose image cannot be
//     decoded, written with PutItem, and a Kinesis record that is not a
//     MarketDataUpdated event.
//
// After each fault the test waits until every read model has caught up (the
// projection checkpoints and the analytics versions at the event store's latest
// version, the latest prices at the last tick), then compares every read model
// row by row with what a full replay produces in a second database (the events
// through readmodel.Rebuild and the analytics job, the ticks through the prices
// consumer), counts what was lost or applied twice, and checks that the stream
// mappings' on-failure destinations hold the poison records and nothing else.
//
// Each scenario has users, portfolios and symbols of its own, so one scenario's
// outcome cannot hide or cause another's. The figures RELIABILITY.md reports come
// from `make faults` (this test with -v), which prints them.
package fault
