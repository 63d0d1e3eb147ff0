// Package prices is the market-data-updates consumer behind functions/prices,
// which turns the Kinesis event into Records and the sequence numbers Process
// returns into the batch item failures. Its ports (ports.go, and pricing's
// alert and notifier ports) are implemented by dynamoprices, readmodel and push.
//
// Per batch of records (Process, one named step each):
//
//  1. decode each record (decode, pricing.Decode); an undecodable record is a
//     poison record, skipped and set aside (below);
//  2. storeLatest: keep the newest quote per symbol in the DynamoDB prices table, one
//     conditional put per symbol (attribute_not_exists(symbol) OR #ts < :ts): a
//     late or duplicate tick never overwrites a newer price;
//  3. updateReadModels: upsert latest_prices and daily_closes in Postgres, set-based, with the same
//     newer-wins rule (the positions view joins latest_prices at query time, so
//     this is the revaluation);
//  4. priceAlerts: evaluate the price alert rules of the ticked symbols (shared/domain/alerts),
//     record their firings in the alert history, then save the rules' state;
//  5. valuate: value every portfolio holding a ticked symbol (from positions kept in
//     memory and reloaded when holding_marks say they changed), record each
//     valuation as a PortfolioValueCalculated event in the valuations read model
//     (one set-based insert; the same as_of is never recorded twice), and
//     evaluate the value_drop rules of those portfolios whose first priced symbol
//     the batch carries, so of each portfolio in one shard only (see owned), on
//     their new values (record, then save state, as for price rules);
//  6. pruneOnceApplied: every few minutes, delete the expired symbol watches
//     and thin the valuations that aged past the retention (bounded; see
//     Retention);
//  7. push: once the batch's result is decided, push the firings, the valuations and
//     the quotes to the browsers (see deliver): best effort, within
//     Config.PushBudget, never a reason to retry the batch.
//
// Steps 2 to 5 decide the batch's success (docs/architecture.md, "Self-healing
// consumers"). Failures are per symbol, and every step is idempotent (newer
// wins; valuations keyed by as_of; alert firings keyed, and the rules skip a
// tick no newer than the last they evaluated), so re-processing is harmless:
//
//   - A transient failure (DynamoDB or PostgreSQL unreachable, a connection cut,
//     a timeout) is retried within the invocation with backoff (Config.Retry),
//     the failed symbols only, up to a budget that ends before the deadline.
//   - If every symbol still fails, a dependency is down: the invocation fails,
//     and the mapping retries the batch (bisecting it, which spends none of its
//     retries) while the shard waits. If only some do, every record of those
//     symbols is reported, so the mapping re-delivers from the lowest of them
//     and each symbol's ticks are re-applied in order, never a later tick
//     without an earlier one. A portfolio alert whose firings or state could not
//     be written fails the symbols its portfolio holds.
//   - What can never apply is set aside: a poison record, and the ticks of a
//     symbol a store refuses for their data (see refusal; a set-based write
//     refused is applied again in halves until the symbol refused alone is
//     found). Each goes to the failure destination (Config.Quarantine) as a
//     quarantine.Record naming its shard, sequence number and partition key,
//     with its data, and is reported as processed, so it neither holds up the
//     shard nor, heading what the mapping retries, takes live ticks with it
//     when the retries run out.
//
// A push that fails or times out costs its user that message only: the next
// tick brings a newer value, the API serves the current one, and the alert
// history keeps the firing.
//
// With a store that implements pricing.StateMarker (readmodel.ConsumerAlertRules),
// alert rules and their state stay compiled in memory between batches
// (rules.go), and readmodel.PricesConsumerStore keeps the holders' positions
// likewise: a batch reads the marks that moved since its previous batch (a
// change feed, migration 0009), drops what they cover, and loads only what it
// lacks. A cold container's first batch loads everything it touches.
//
// Stats.Writes is the time spent in read-model writes (latest prices, closes,
// valuations, alert history and state); Stats.Dynamo the DynamoDB puts;
// Stats.Push the pushes. The rest of the handler's time is decoding, reading
// rules and valuations and evaluating.
package prices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// Config wires a Consumer. Latest and DB are required; Alerts and Notifier may be
// nil (no alerts; nothing pushed).
type Config struct {
	Latest   LatestStore
	DB       ReadModels
	Alerts   pricing.AlertStore
	Notifier pricing.Notifier
	// Currency of the quotes on the stream that carry none and whose listing's
	// suffix names none (market.ListingCurrency). Default USD.
	Currency string
	// Exchange time zone deciding a tick's day for daily_closes. Default America/New_York.
	Location *time.Location
	// Concurrency of the DynamoDB puts. Default 32 (500 conditional puts are the
	// batch's longest step; see the benchmark).
	Concurrency int
	// ValuationRetention: intraday valuations older than this are thinned to one
	// a day. Default DefaultValuationRetention; negative: never.
	ValuationRetention time.Duration
	// PruneEvery is the least time between two prunes by one Consumer (default 5
	// minutes), each deleting at most PruneLimit rows (default 20,000).
	PruneEvery time.Duration
	PruneLimit int
	// PushBudget bounds the time a batch spends pushing once its durable work is
	// done (default 2 s): a shard's next batch waits for this one, so slow
	// connections must not hold everyone's prices. What is not sent by then is
	// dropped and counted. The notifier's own per-connection timeout and
	// concurrency bound each post (push.Options).
	PushBudget time.Duration
	// Valuations, when set, receives each batch's PortfolioValueCalculated events
	// once they are in the valuations read model (for example to forward them);
	// it must not keep the slice.
	Valuations func(ctx context.Context, evs []pricing.PortfolioValueCalculated)
	// Quarantine is the failure destination (FAILURE_DESTINATION): a record that
	// does not decode, and the ticks a store refuses for their data, are sent
	// there and reported as processed (see Process). Nil: they are reported as
	// batch item failures, and the mapping's retries end in its own on-failure
	// destination.
	Quarantine quarantine.Sink
	// Retry paces the retries of a transient failure (a store unreachable, a
	// connection cut, a timeout) within the invocation.
	Retry retry.Policy
	// Metrics receives one EMF line per batch (dimension Function=prices); nil:
	// none.
	Metrics io.Writer
	// Gauges, when set, adds its figures to each batch's line (the database
	// pool's).
	Gauges func() []emf.Metric
	Logger *slog.Logger
}

// DefaultPushBudget is Config.PushBudget's default.
const DefaultPushBudget = 2 * time.Second

// DefaultValuationRetention is how long intraday valuations are kept in full
// (Config.ValuationRetention's default).
const DefaultValuationRetention = 7 * 24 * time.Hour

// Consumer handles batches. It is safe for concurrent use.
type Consumer struct {
	cfg        Config
	mu         sync.Mutex
	lastPrune  time.Time
	priceRules *ruleCache
	valueRules *ruleCache
	tokens     *claimTokens
	// feedMu guards alertCursor, the position in the alert marks' feed.
	feedMu      sync.Mutex
	alertCursor uint64
	metrics     *emf.Writer
}

// New returns a Consumer.
func New(cfg Config) *Consumer {
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.Location == nil {
		cfg.Location = market.NewYork()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.ValuationRetention == 0 {
		cfg.ValuationRetention = DefaultValuationRetention
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = 5 * time.Minute
	}
	if cfg.PruneLimit <= 0 {
		cfg.PruneLimit = 20000
	}
	if cfg.PushBudget <= 0 {
		cfg.PushBudget = DefaultPushBudget
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tokens := newClaimTokens()
	return &Consumer{cfg: cfg, priceRules: newRuleCache(tokens), valueRules: newRuleCache(tokens), tokens: tokens,
		metrics: emf.New(cfg.Metrics, map[string]string{"Function": consumerName})}
}

// Stats describe one batch.
type Stats struct {
	Records, Poison, Symbols int
	// FailedSymbols still failed transiently after the retries within the
	// invocation (their records are reported, or the invocation fails);
	// RefusedSymbols had their ticks refused by a store and set aside.
	FailedSymbols, RefusedSymbols int
	// FailedRecords are the records reported as batch item failures (all of them
	// when the invocation fails); Quarantined those sent to the failure
	// destination (poison and refused ticks).
	FailedRecords, Quarantined int
	// TransientRetries counts the retries within the invocation (of the durable
	// work, or of the sending to the failure destination).
	TransientRetries                     int
	LatestStored                         int   // DynamoDB puts that stored (others were late or duplicates)
	LatestRows, CloseRows, ValuationRows int64 // Postgres rows written
	Pruned                               int64 // old valuations thinned
	Firings, Valuations, ValueFirings    int
	// Wall time of each step, summed over the passes of a batch that retried.
	// ReadModel is the latest-price and close upserts;
	// Alerts the price rules; Valuations the valuation query, its insert and the
	// value_drop rules; Push the pushes, after the rest.
	Decode, Dynamo, ReadModel, Alerts, Valuate, Prune, Push time.Duration
	// PushFailures counts the notifier calls that reported a failure (some
	// messages failed or did not fit in the budget); never retried.
	PushFailures int
	// AlertTicks counts the ticks evaluated against alert rules;
	// RuleCacheHits and RuleCacheMisses the alert keys whose rules the
	// consumer's cache held or had to load.
	AlertTicks, RuleCacheHits, RuleCacheMisses int
	// TickToPush samples (at most maxLatencySamples, in milliseconds) the time
	// from the records' arrival on the stream to the end of the pushes.
	TickToPush []float64
	// ValuationQuery is the part of Valuate spent in the valuation query, and
	// ValueAlerts the part in the value_drop rules (their writes included).
	ValuationQuery, ValueAlerts time.Duration
	// AlertsWrites and ValuateWrites are the writes within Alerts and Valuate.
	AlertsWrites, ValuateWrites time.Duration
	// Writes is the part of all steps spent in read-model writes (the upserts,
	// the valuations insert, alert history and state, pruning).
	Writes time.Duration
}

// write runs one read-model write and accounts its time to st.Writes.
func write[T any](st *Stats, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	st.Writes += time.Since(start)
	return v, err
}

type tick struct {
	rec int
	ev  pricing.MarketDataUpdated
}

// consumerName names the function in quarantine records and metrics.
const consumerName = "prices"

// answerReserve is the time kept before the invocation's deadline for what comes
// after the durable work: setting records aside, the pushes (Config.PushBudget
// at most) and the answer. The work's retries stop Config.Retry.Reserve earlier.
const answerReserve = 3 * time.Second

// batch is one Process call: its records, their ticks by symbol, and what
// became of each symbol.
type batch struct {
	recs  []Record
	st    Stats
	bySym map[string][]tick // per symbol, in time order: the newest is the last
	order []string          // the symbols, in arrival order
	// poison are the records that did not decode; refused the symbols a store
	// refused the ticks of; transient those still failing after the retries.
	poison             []setAside
	refused, transient map[string]error
	out                outbox
	traceparents       []string // by record, filled on the first call of traceparent
}

// Process handles one batch and returns the sequence numbers of the records the
// stream must deliver again (in batch order) and the batch's statistics; see the
// package doc. An error means nothing could be applied (every symbol still
// failed after the retries within the invocation, or what had to be set aside
// could not be sent): the invocation must fail and the batch be retried whole,
// the records returned then being meaningless.
//
// The batch has a span, and each record carrying a traceparent a span that
// continues its publisher's trace (tracing.Batch); the pushes run in the
// last such record's span.
func (c *Consumer) Process(ctx context.Context, recs []Record) ([]string, Stats, error) {
	b := c.decode(ctx, recs)
	spans := tracing.StartBatch(ctx, "prices batch", len(recs), b.traceparent)
	failed, st, err := c.process(spans, b)
	spans.End(err)
	return failed, st, err
}

// process is Process once the batch is decoded.
func (c *Consumer) process(spans *tracing.Batch, b *batch) ([]string, Stats, error) {
	ctx, recs := spans.Context(), b.recs
	work, cancel := c.durableWorkContext(ctx)
	defer cancel()
	attempts := c.cfg.Retry.Start(work)
	applied := c.applyRetryingTransients(ctx, work, attempts, b)
	if len(b.transient) > 0 && applied == 0 {
		return nil, b.st, c.failInvocation(ctx, b)
	}
	c.pruneOnceApplied(work, b, applied)
	toRetry := b.recordsToRetry()
	if err := c.setAsideWhatCannotApply(ctx, attempts, b, toRetry); err != nil {
		b.st.FailedRecords = len(recs)
		c.finish(ctx, &b.st, err)
		return nil, b.st, err
	}
	failed := b.sequenceNumbers(toRetry)
	b.st.FailedRecords = len(failed)
	c.push(spans.Last(), b)
	c.finish(ctx, &b.st, nil)
	return failed, b.st, nil
}

// traceparent is record i's traceparent, "" when it has none or is poison.
func (b *batch) traceparent(i int) string {
	if b.traceparents == nil {
		b.traceparents = make([]string, len(b.recs))
		for _, ticks := range b.bySym {
			for _, t := range ticks {
				b.traceparents[t.rec] = t.ev.Traceparent
			}
		}
	}
	return b.traceparents[i]
}

// decode is step 1: it decodes each record, grouping the ticks by symbol in
// arrival order, then sorts each symbol's ticks by time (stable: equal
// timestamps keep arrival order). A record that does not decode is poison.
func (c *Consumer) decode(ctx context.Context, recs []Record) *batch {
	start := time.Now()
	b := &batch{recs: recs, st: Stats{Records: len(recs)}, bySym: map[string][]tick{},
		refused: map[string]error{}, transient: map[string]error{}}
	var dec pricing.Decoder // the ticks of one publisher share its traceparent's string
	for i, r := range recs {
		e, err := dec.Decode(r.Data)
		if err != nil {
			b.st.Poison++
			b.poison = append(b.poison, setAside{rec: i, reason: err.Error()})
			c.cfg.Logger.ErrorContext(ctx, "prices: poison record", "sequenceNumber", r.SequenceNumber,
				"partitionKey", r.PartitionKey, "error", err.Error())
			continue
		}
		if _, ok := b.bySym[e.Symbol]; !ok {
			b.order = append(b.order, e.Symbol)
		}
		b.bySym[e.Symbol] = append(b.bySym[e.Symbol], tick{rec: i, ev: e})
	}
	b.st.Symbols = len(b.order)
	for _, s := range b.order {
		slices.SortStableFunc(b.bySym[s], func(x, y tick) int { return x.ev.Timestamp.Compare(y.ev.Timestamp) })
	}
	b.st.Decode = time.Since(start)
	return b
}

// durableWorkContext is ctx less answerReserve before its deadline.
func (c *Consumer) durableWorkContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-answerReserve))
	}
	return ctx, func() {}
}

// applyRetryingTransients runs steps 2 to 5, the durable work, retrying what
// fails transiently with backoff within the invocation: only the symbols that
// failed, each step being idempotent. What a store refuses for its data is
// isolated (apply) and set aside later. It returns how many symbols applied.
func (c *Consumer) applyRetryingTransients(ctx, work context.Context, attempts *retry.Attempts, b *batch) int {
	for pending := b.order; len(pending) > 0; pending = pick(b.order, b.transient) {
		clear(b.transient)
		c.apply(work, &b.st, &b.out, pending, b.bySym, b.refused, b.transient)
		if len(b.transient) == 0 || !attempts.Wait() {
			break
		}
		b.st.TransientRetries++
		c.cfg.Logger.WarnContext(ctx, "prices: transient failure, retrying", "symbols", len(b.transient), "attempt", b.st.TransientRetries,
			"error", firstError(b.order, b.transient).Error())
	}
	b.st.FailedSymbols, b.st.RefusedSymbols = len(b.transient), len(b.refused)
	return len(b.order) - len(b.transient) - len(b.refused)
}

// failInvocation is the answer when every symbol still fails: a dependency is
// down rather than anything in the batch, so the invocation fails. The mapping
// retries the batch (bisecting it, which spends none of its retries) while the
// shard waits; reporting every record instead would spend a retry each time and
// then discard the whole batch.
func (c *Consumer) failInvocation(ctx context.Context, b *batch) error {
	b.st.FailedRecords = len(b.recs)
	err := fmt.Errorf("prices: %d symbols still failing after %d retries within the invocation: %w",
		len(b.transient), b.st.TransientRetries, firstError(b.order, b.transient))
	c.finish(ctx, &b.st, err)
	return err
}

// pruneOnceApplied is step 6, the retention (see prune), when anything applied.
func (c *Consumer) pruneOnceApplied(ctx context.Context, b *batch, applied int) {
	start := time.Now()
	if applied > 0 {
		c.prune(ctx, &b.st)
	}
	b.st.Prune = time.Since(start)
}

// recordsToRetry marks, by record index, every record of a symbol that still
// fails: the mapping checkpoints before the lowest and re-delivers the rest, so
// each symbol's ticks are retried in order.
func (b *batch) recordsToRetry() []bool {
	toRetry := make([]bool, len(b.recs))
	for s := range b.transient {
		for _, t := range b.bySym[s] {
			toRetry[t.rec] = true
		}
	}
	return toRetry
}

// sequenceNumbers names the records marked in toRetry, in batch order.
func (b *batch) sequenceNumbers(toRetry []bool) []string {
	var out []string
	for i, r := range toRetry {
		if r {
			out = append(out, b.recs[i].SequenceNumber)
		}
	}
	return out
}

// setAsideWhatCannotApply sends what can never apply, the poison and the ticks
// refused, to the failure destination and reports it as processed, so that it
// neither holds up the shard nor, heading what the mapping retries, takes live
// ticks with it when the retries run out. Only below the lowest record to
// retry: the mapping re-delivers the rest, and that delivery sets it aside.
// Without a destination it is marked in toRetry instead, as it used to be.
func (c *Consumer) setAsideWhatCannotApply(ctx context.Context, attempts *retry.Attempts, b *batch, toRetry []bool) error {
	lowest := slices.Index(toRetry, true)
	if lowest < 0 {
		lowest = len(toRetry)
	}
	aside := b.poison
	for _, s := range b.order {
		if err := b.refused[s]; err != nil {
			for _, t := range b.bySym[s] {
				aside = append(aside, setAside{rec: t.rec, reason: "refused: " + err.Error(), ev: &t.ev})
			}
		}
	}
	var sent []quarantine.Record
	for _, a := range aside {
		switch {
		case c.cfg.Quarantine == nil:
			toRetry[a.rec] = true
		case a.rec < lowest:
			sent = append(sent, quarantineRecord(b.recs[a.rec], a))
		}
	}
	if len(sent) == 0 {
		return nil
	}
	return c.quarantine(ctx, attempts, &b.st, sent)
}

// push is step 7, once the batch's result is decided: the firings, the
// valuations and the quotes go to the browsers (deliver).
func (c *Consumer) push(ctx context.Context, b *batch) {
	start := time.Now()
	c.deliver(ctx, &b.st, &b.out, b.bySym)
	b.st.Push = time.Since(start)
	b.st.TickToPush = sinceArrival(b.recs, time.Now())
}

// maxLatencySamples bounds the TickToPush values of a batch: one EMF line
// holds 100 values of a metric, and an even sample of a 10,000-record batch
// keeps its percentiles.
const maxLatencySamples = 100

// sinceArrival samples, evenly over the batch, the milliseconds from each
// record's arrival to now (records without an arrival time left out).
func sinceArrival(recs []Record, now time.Time) []float64 {
	step := max(1, (len(recs)+maxLatencySamples-1)/maxLatencySamples)
	var out []float64
	for i := 0; i < len(recs); i += step {
		if at := recs[i].ArrivedAt; !at.IsZero() {
			out = append(out, float64(now.Sub(at).Microseconds())/1000)
		}
	}
	return out
}

// setAside is a record that can never apply: poison (ev nil) or a tick refused.
type setAside struct {
	rec    int
	reason string
	ev     *pricing.MarketDataUpdated
}

// quarantineRecord is what the failure destination keeps of a record set aside:
// where it was on the stream and its data, to put back once mended.
func quarantineRecord(r Record, a setAside) quarantine.Record {
	q := quarantine.Record{Consumer: consumerName, Reason: a.reason, SequenceNumber: r.SequenceNumber, ShardID: r.ShardID,
		Stream: r.Stream, PartitionKey: r.PartitionKey, Data: r.Data, QuarantinedAt: time.Now().UTC()}
	if a.ev != nil {
		q.EventType, q.EventID = pricing.EventTypeMarketDataUpdated, a.ev.EventID
	}
	return q
}

// quarantine sends recs to the failure destination, retrying under attempts;
// the batch moves past them only once they are recorded.
func (c *Consumer) quarantine(ctx context.Context, attempts *retry.Attempts, st *Stats, recs []quarantine.Record) error {
	for {
		err := c.cfg.Quarantine.Send(ctx, recs)
		if err == nil {
			st.Quarantined += len(recs)
			for _, r := range recs {
				c.cfg.Logger.ErrorContext(ctx, "prices: record set aside on the failure destination", "sequenceNumber", r.SequenceNumber,
					"shardId", r.ShardID, "partitionKey", r.PartitionKey, "reason", r.Reason)
			}
			return nil
		}
		if !attempts.Wait() {
			return fmt.Errorf("prices: set %d records aside: %w", len(recs), err)
		}
		st.TransientRetries++
		c.cfg.Logger.WarnContext(ctx, "prices: failure destination, retrying", "attempt", st.TransientRetries, "error", err.Error())
	}
}

// finish logs the batch and writes its metrics.
func (c *Consumer) finish(ctx context.Context, st *Stats, err error) {
	attrs := []any{"records", st.Records, "poison", st.Poison, "symbols", st.Symbols, "failedSymbols", st.FailedSymbols,
		"refusedSymbols", st.RefusedSymbols, "quarantined", st.Quarantined, "transientRetries", st.TransientRetries,
		"latestStored", st.LatestStored, "closeRows", st.CloseRows, "firings", st.Firings, "valuations", st.Valuations,
		"valueFirings", st.ValueFirings, "pruned", st.Pruned, "pushMs", st.Push.Milliseconds(), "pushFailures", st.PushFailures}
	if err != nil {
		c.cfg.Logger.ErrorContext(ctx, "prices: batch failed; the mapping retries it", append(attrs, "error", err.Error())...)
	} else {
		c.cfg.Logger.InfoContext(ctx, "prices: batch", attrs...)
	}
	failedBatches := 0.0
	if err != nil {
		failedBatches = 1
	}
	line := append(make([]emf.Metric, 0, 16),
		emf.Metric{Name: "StreamRecords", Value: float64(st.Records)},
		emf.Metric{Name: "StreamRecordsPoison", Value: float64(st.Poison)},
		emf.Metric{Name: "StreamRecordsQuarantined", Value: float64(st.Quarantined)},
		emf.Metric{Name: "StreamRecordsFailed", Value: float64(st.FailedRecords)},
		emf.Metric{Name: "SymbolsRefused", Value: float64(st.RefusedSymbols)},
		emf.Metric{Name: "TransientRetries", Value: float64(st.TransientRetries)},
		emf.Metric{Name: "BatchesFailed", Value: failedBatches},
		emf.Metric{Name: "PushFailures", Value: float64(st.PushFailures)},
		emf.Metric{Name: "AlertTicksEvaluated", Value: float64(st.AlertTicks)},
		emf.Metric{Name: "AlertsFired", Value: float64(st.Firings + st.ValueFirings)},
		emf.Metric{Name: "RuleCacheHits", Value: float64(st.RuleCacheHits)},
		emf.Metric{Name: "RuleCacheMisses", Value: float64(st.RuleCacheMisses)},
	)
	if len(st.TickToPush) > 0 {
		line = append(line, emf.Metric{Name: "TickToPush", Unit: "Milliseconds", Values: st.TickToPush})
	}
	if c.cfg.Gauges != nil {
		line = append(line, c.cfg.Gauges()...)
	}
	c.metrics.Emit(line...)
}

// apply runs steps 2 to 5 for symbols. What fails transiently goes into
// transient, by symbol; what a store refuses for its data (refusal) is
// isolated: a set-based write refused for one symbol fails them all, so they are
// applied again in halves until each symbol refused alone is found, and those go
// into refused.
func (c *Consumer) apply(ctx context.Context, st *Stats, out *outbox, symbols []string, bySym map[string][]tick, refused, transient map[string]error) {
	fails := c.applyOnce(ctx, st, out, symbols, bySym)
	var bad []string
	for _, s := range symbols {
		switch err := fails[s]; {
		case err == nil:
		case refusal(err):
			bad = append(bad, s)
		default:
			transient[s] = err
		}
	}
	if len(bad) == 1 {
		refused[bad[0]] = fails[bad[0]]
		c.cfg.Logger.ErrorContext(ctx, "prices: ticks refused", "symbol", bad[0], "ticks", len(bySym[bad[0]]), "error", fails[bad[0]].Error())
		return
	}
	if half := len(bad) / 2; half > 0 {
		c.apply(ctx, st, out, bad[:half], bySym, refused, transient)
		c.apply(ctx, st, out, bad[half:], bySym, refused, transient)
	}
}

// applyOnce runs steps 2 to 5 for symbols and returns those that failed, each
// with its error. Each step takes the symbols still in good standing.
func (c *Consumer) applyOnce(ctx context.Context, st *Stats, out *outbox, symbols []string, bySym map[string][]tick) map[string]error {
	symFailed := map[string]error{}
	fail := func(syms []string, err error) {
		if err == nil {
			err = errors.New("failed") // unreachable: every failure carries its error
		}
		for _, s := range syms {
			symFailed[s] = err
		}
	}
	c.storeLatest(ctx, st, symbols, bySym, symFailed)
	ok := okSymbols(symbols, symFailed)
	if err := c.updateReadModels(ctx, st, ok, bySym); err != nil {
		fail(ok, err)
		ok = nil
	}
	if bad, err := c.priceAlerts(ctx, st, out, ok, bySym); len(bad) > 0 {
		fail(bad, err)
		ok = okSymbols(ok, symFailed)
	}
	c.valuate(ctx, st, out, ok, bySym, fail)
	return symFailed
}

// storeLatest is step 2: the newest tick of each symbol goes to the latest
// store (DynamoDB), one conditional put per symbol, Config.Concurrency at a
// time; a symbol whose put fails goes into failed.
//
// The step is one span ("prices store latest") with its counts, its puts
// none of their own (tracing.Quiet): a span per put was most of the tracing's
// cost in a batch.
func (c *Consumer) storeLatest(ctx context.Context, st *Stats, symbols []string, bySym map[string][]tick, failed map[string]error) {
	start := time.Now()
	stored0, failed0 := st.LatestStored, len(failed)
	ctx, span := tracing.Start(ctx, "prices store latest", trace.WithAttributes(attribute.Int("prices.symbols", len(symbols))))
	defer func() {
		var err error
		if len(failed) > failed0 {
			err = firstError(symbols, failed)
		}
		span.SetAttributes(attribute.Int("prices.stored", st.LatestStored-stored0), attribute.Int("prices.failed", len(failed)-failed0))
		tracing.End(span, err)
	}()
	ctx = tracing.Quiet(ctx)
	var mu sync.Mutex
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, s := range symbols {
		ts := bySym[s]
		newest := ts[len(ts)-1].ev
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			stored, err := c.cfg.Latest.Put(ctx, newest.Quote(), newest.EventID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[s] = err
			} else if stored {
				st.LatestStored++
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		// One line, not one a symbol: an outage fails every symbol of every pass.
		c.cfg.Logger.ErrorContext(ctx, "prices: latest prices not stored", "symbols", len(failed), "error", firstError(symbols, failed).Error())
	}
	st.Dynamo += time.Since(start)
}

// updateReadModels is step 3: latest_prices and daily_closes (the last tick of
// each exchange day is that day's close so far), set-based. An error fails
// every one of symbols.
func (c *Consumer) updateReadModels(ctx context.Context, st *Stats, symbols []string, bySym map[string][]tick) error {
	if len(symbols) == 0 {
		return nil
	}
	start := time.Now()
	defer func() { st.ReadModel += time.Since(start) }()
	latest := make([]market.Price, 0, len(symbols))
	var closes []market.DailyClose
	for _, s := range symbols {
		ts := bySym[s]
		n := ts[len(ts)-1].ev
		cur := n.Currency
		if cur == "" { // an event from before quotes carried their currency
			if cur = market.ListingCurrency(s); cur == "USD" && !market.IsFX(s) {
				cur = c.cfg.Currency
			}
		}
		latest = append(latest, market.Price{Symbol: s, Price: n.Price, Currency: cur, AsOf: n.Timestamp, Source: n.Source})
		for k, t := range ts {
			day := calendar.FromTime(t.ev.Timestamp.In(c.cfg.Location))
			if k+1 < len(ts) && calendar.FromTime(ts[k+1].ev.Timestamp.In(c.cfg.Location)) == day {
				continue
			}
			closes = append(closes, market.DailyClose{Symbol: s, Day: day, Close: t.ev.Price, AsOf: t.ev.Timestamp, Source: t.ev.Source})
		}
	}
	rows, err := write(st, func() (int64, error) { return c.cfg.DB.UpsertLatestPrices(ctx, latest) })
	st.LatestRows += rows
	if err == nil {
		rows, err = write(st, func() (int64, error) { return c.cfg.DB.UpsertDailyCloses(ctx, closes) })
		st.CloseRows += rows
	}
	if err != nil {
		c.cfg.Logger.ErrorContext(ctx, "prices: read models not updated", "symbols", len(symbols), "error", err.Error())
	}
	return err
}

// priceAlerts is step 4: the price rules of symbols are evaluated on their
// ticks, the firings recorded and the state saved. It returns the symbols that
// failed, and why.
func (c *Consumer) priceAlerts(ctx context.Context, st *Stats, out *outbox, symbols []string, bySym map[string][]tick) ([]string, error) {
	start := time.Now()
	w0 := st.Writes
	defer func() {
		st.Alerts += time.Since(start)
		st.AlertsWrites += st.Writes - w0
	}()
	if marker, isMarker := c.cfg.Alerts.(pricing.StateMarker); isMarker && len(symbols) > 0 {
		// Both rule caches drop what others changed; without that, neither may
		// evaluate (a retry of the batch reads the feed again).
		if err := c.syncAlertMarks(ctx, marker); err != nil {
			c.cfg.Logger.ErrorContext(ctx, "prices: alert marks", "error", err.Error())
			return symbols, err
		}
	}
	if len(symbols) == 0 || c.cfg.Alerts == nil {
		return nil, nil
	}
	bad, firings, err := c.alerts(ctx, st, symbols, bySym)
	st.Firings += len(firings)
	out.firings = append(out.firings, firings...)
	return bad, err
}

// valuate is step 5: the portfolios holding symbols are valued, the values
// recorded and their value_drop rules evaluated (valuations); the symbols that
// failed go to fail.
func (c *Consumer) valuate(ctx context.Context, st *Stats, out *outbox, symbols []string, bySym map[string][]tick, fail func([]string, error)) {
	start := time.Now()
	w0 := st.Writes
	if len(symbols) > 0 {
		bad, err := c.valuations(ctx, st, out, symbols, bySym)
		fail(bad, err)
	}
	st.Valuate += time.Since(start)
	st.ValuateWrites += st.Writes - w0
}

// refusal reports whether err is a store refusing the data it was given, which
// no retry mends: the stores mark such errors pricing.ErrRefused (DynamoDB's
// ValidationException; PostgreSQL's data errors and its answer to a value it
// cannot read at all). Anything else is transient.
func refusal(err error) bool {
	return errors.Is(err, pricing.ErrRefused)
}

// gather adds more to what earlier passes put in the outbox, taking more itself
// when it is the first (the usual case: copying 10,000 valuations a batch would
// cost megabytes).
func gather[T any](dst, more []T) []T {
	if len(dst) == 0 {
		return more
	}
	return append(dst, more...)
}

// pick returns the symbols of order that are in set, in order.
func pick(order []string, set map[string]error) []string {
	out := make([]string, 0, len(set))
	for _, s := range order {
		if _, ok := set[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// firstError is the error of the first symbol of order in failed.
func firstError(order []string, failed map[string]error) error {
	for _, s := range order {
		if err := failed[s]; err != nil {
			return err
		}
	}
	return errors.New("no failure")
}

// outbox is what a batch pushes once its durable work is done: the firings
// (recorded already), the valuations (recorded already) and their messages,
// and the symbols whose quotes go to the connections subscribed to them.
type outbox struct {
	firings []alerts.Firing
	evs     []pricing.PortfolioValueCalculated
	msgs    []pricing.ValuationMessage
	quotes  []string
}

// deliver pushes the outbox within Config.PushBudget. With a
// SubscriptionNotifier (the WebSocket pusher) it is one fan-out: every
// connection of a firing's owner gets the alert, each connection the valuations
// of the portfolios it subscribed to and one price message with the batch's
// quotes of the symbols it subscribed to (held or only watched); the pusher
// bounds each post, the posts in flight and each user's share of them. With a
// plain Notifier each firing and valuation goes to its owner's connections. A
// failure is logged and counted, never retried: see the package doc for what a
// user then misses.
func (c *Consumer) deliver(ctx context.Context, st *Stats, out *outbox, bySym map[string][]tick) {
	if c.cfg.Notifier == nil || len(out.firings)+len(out.evs)+len(out.quotes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PushBudget)
	defer cancel()
	log := c.cfg.Logger
	failed := func(what string, err error) {
		st.PushFailures++
		log.WarnContext(ctx, "prices: "+what+" not pushed", "error", err.Error())
	}
	sub, ok := c.cfg.Notifier.(pricing.SubscriptionNotifier)
	if !ok {
		for _, f := range out.firings {
			if f.UserID != "" {
				if err := c.cfg.Notifier.Notify(ctx, []string{f.UserID}, pricing.NewAlertMessage(f)); err != nil {
					failed("alert "+f.Key, err)
				}
			}
		}
		for i, e := range out.evs {
			if err := c.cfg.Notifier.Notify(ctx, []string{e.UserID}, out.msgs[i]); err != nil {
				failed("valuation of "+e.Data.PortfolioID, err)
			}
		}
		return
	}
	var users []string
	valuations := map[string][]int{}
	firings := map[string][]pricing.AlertMessage{}
	add := func(u string) {
		if _, seen := valuations[u]; !seen {
			valuations[u] = nil
			users = append(users, u)
		}
	}
	for i, e := range out.evs {
		add(e.UserID)
		valuations[e.UserID] = append(valuations[e.UserID], i)
	}
	for _, f := range out.firings {
		if f.UserID != "" {
			add(f.UserID)
			firings[f.UserID] = append(firings[f.UserID], pricing.NewAlertMessage(f))
		}
	}
	// Users watching a ticked symbol they hold in no valued portfolio get its
	// quotes too (their connections' subscriptions decide, as for the others).
	if len(out.quotes) > 0 {
		watchers, err := c.cfg.DB.WatchersOf(ctx, out.quotes, time.Now())
		if err != nil {
			log.WarnContext(ctx, "prices: symbol watchers", "error", err.Error())
		}
		for _, u := range watchers {
			add(u)
		}
	}
	if len(users) == 0 {
		return
	}
	quotes := make(map[string]pricing.Quote, len(out.quotes))
	for _, s := range out.quotes {
		if ts := bySym[s]; len(ts) > 0 {
			n := ts[len(ts)-1].ev
			q := pricing.Quote{Symbol: s, Price: n.Price.String(), AsOf: n.Timestamp.UTC().Format(time.RFC3339Nano), Currency: n.Currency}
			if n.PreviousClose.IsPositive() {
				q.PreviousClose = n.PreviousClose.String()
			}
			quotes[s] = q
		}
	}
	err := sub.NotifySubscribed(ctx, users, func(conn pricing.Subscriptions) []any {
		var msgs []any
		for _, a := range firings[conn.UserID] {
			msgs = append(msgs, a)
		}
		for _, i := range valuations[conn.UserID] {
			if conn.SubscribedToPortfolio(out.msgs[i].PortfolioID) {
				msgs = append(msgs, out.msgs[i])
			}
		}
		var qs []pricing.Quote
		for _, s := range conn.Symbols {
			if q, ok := quotes[s]; ok {
				qs = append(qs, q)
			}
		}
		if len(qs) > 0 {
			msgs = append(msgs, pricing.PriceMessage{Type: "price", Quotes: qs})
		}
		return msgs
	})
	if err != nil {
		failed(fmt.Sprintf("pushes to %d users", len(users)), err)
	}
}

// valuations values the portfolios holding symbols, records the valuations,
// evaluates their value_drop rules and adds the new values to the outbox; it
// returns the symbols whose records must be retried, and why.
func (c *Consumer) valuations(ctx context.Context, st *Stats, out *outbox, symbols []string, bySym map[string][]tick) ([]string, error) {
	log := c.cfg.Logger
	qstart := time.Now()
	vals, err := c.cfg.DB.ValuationsHolding(ctx, symbols)
	st.ValuationQuery += time.Since(qstart)
	if err != nil {
		log.ErrorContext(ctx, "prices: valuations", "error", err.Error())
		return symbols, err
	}
	// A portfolio with nothing priced has no value to record (every position is
	// in another currency or not quoted yet).
	valued := vals[:0]
	for _, v := range vals {
		if !v.AsOf.IsZero() {
			valued = append(valued, v)
		}
	}
	vals = valued
	st.Valuations += len(vals)
	if len(vals) == 0 {
		out.quotes = gather(out.quotes, symbols) // to who watches them
		return nil, nil
	}
	evs := make([]pricing.PortfolioValueCalculated, len(vals))
	for i, v := range vals {
		cause := ""
		if ts := bySym[v.NewestSymbol]; len(ts) > 0 && ts[len(ts)-1].ev.Timestamp.Equal(v.AsOf) {
			cause = ts[len(ts)-1].ev.EventID
		}
		evs[i] = pricing.ValueCalculated(pricing.ValuationData{PortfolioID: v.PortfolioID, AsOf: v.AsOf, Currency: v.Currency,
			MarketValue: v.MarketValue, CostBasis: v.CostBasis, UnrealizedPnL: v.UnrealizedPnL, Unpriced: v.Unpriced}, v.UserID, v.Version, cause)
	}
	// The valuation is the chart's point and the value alerts' input: without it
	// recorded, the batch is retried (which values at the same as_of again).
	n, err := write(st, func() (int64, error) { return c.cfg.DB.RecordValuations(ctx, evs) })
	st.ValuationRows += n
	if err != nil {
		log.ErrorContext(ctx, "prices: valuations not recorded", "portfolios", len(evs), "error", err.Error())
		return symbols, err
	}
	if c.cfg.Valuations != nil {
		c.cfg.Valuations(ctx, evs)
	}
	var failed []string
	var failure error
	if store, ok := c.cfg.Alerts.(pricing.PortfolioAlertStore); ok {
		vstart := time.Now()
		badPortfolios, firings, err := c.valueAlerts(ctx, st, store, owned(vals, symbols))
		st.ValueFirings += len(firings)
		out.firings = append(out.firings, firings...)
		st.ValueAlerts += time.Since(vstart)
		if len(badPortfolios) > 0 {
			held, herr := c.cfg.DB.SymbolsHeldBy(ctx, badPortfolios)
			if herr != nil {
				log.ErrorContext(ctx, "prices: symbols of failed portfolio alerts", "error", herr.Error())
				return symbols, errors.Join(err, herr)
			}
			failed, failure = intersect(symbols, held), err
		}
	}
	// Pushed once the batch's result is decided (deliver).
	if c.cfg.Notifier != nil {
		msgs := make([]pricing.ValuationMessage, len(evs))
		for i, e := range evs {
			d := e.Data
			msgs[i] = pricing.ValuationMessage{Type: "valuation", PortfolioID: d.PortfolioID, MarketValue: d.MarketValue.String(),
				AsOf: d.AsOf.Format(time.RFC3339Nano), CostBasis: d.CostBasis.String(), UnrealizedPnL: d.UnrealizedPnL.String(),
				Currency: d.Currency, EventID: e.EventID}
			if len(d.Unpriced) > 0 {
				msgs[i].Unpriced = d.Unpriced
			}
			if ce := vals[i].CurrencyEffect; !ce.IsZero() {
				msgs[i].CurrencyEffect, msgs[i].PriceEffect = ce.String(), d.UnrealizedPnL.Sub(ce).String()
			}
		}
		out.evs, out.msgs, out.quotes = gather(out.evs, evs), gather(out.msgs, msgs), gather(out.quotes, symbols)
	}
	return failed, failure
}

// valueAlerts evaluates the value_drop rules of the valued portfolios on their
// new values and records the firings, with the price rules' semantics: the
// portfolios whose firings or state could not be written are returned and keep
// their old state, so the retry fires again under the same key.
func (c *Consumer) valueAlerts(ctx context.Context, st *Stats, store pricing.PortfolioAlertStore, vals []market.PortfolioValuation) (failed []string, firings []alerts.Firing, err error) {
	keys := make([]string, len(vals))
	ticks := make([]alerts.Tick, len(vals))
	owners := make(map[string]string, len(vals))
	for i, v := range vals {
		owners[v.PortfolioID] = v.UserID
		keys[i] = pricing.PortfolioKey(v.PortfolioID)
		// One value per portfolio and batch, at the newest price used: the value
		// path between the batch's ticks is not reconstructed.
		ticks[i] = alerts.ValueTick(v.PortfolioID, v.MarketValue, v.AsOf)
	}
	bad, n, err := c.runAlerts(ctx, st, c.valueRules, ruleSet{
		name: "value", keys: keys,
		load: func(ctx context.Context, keys []string) ([]alerts.Rule, alerts.State, error) {
			rules, st, err := store.PortfolioRules(ctx, unkey(keys), tickedMetrics...)
			rules = slices.DeleteFunc(rules, func(r alerts.Rule) bool { return !r.OnTicks() })
			return alerts.OwnRules(rules, func(pid string) string { return owners[pid] }), st, err
		},
		keyOf:   func(r alerts.Rule) string { return pricing.PortfolioKey(r.PortfolioID) },
		derived: isRiskRule,
		derive: func(ctx context.Context, rules []alerts.Rule, wealth map[string]alerts.WealthMark) ([]alerts.Tick, error) {
			return c.riskTicks(ctx, rules, wealth, vals)
		},
	}, ticks)
	if marker, ok := c.cfg.Alerts.(pricing.StateMarker); ok {
		c.saveValueSamples(ctx, st, marker, keys)
	}
	failed = unkey(bad)
	slices.Sort(failed)
	return failed, n, err
}

// owned returns the valuations whose portfolio's value alerts this batch
// evaluates: those whose first priced symbol it carries. A symbol's ticks travel
// on one shard (the partition key), so each portfolio's value alerts are
// evaluated by one shard's batches, one at a time, however many shards its
// positions span. Two containers valuing one portfolio at once (each shard's)
// would otherwise both evaluate its rules and take turns reloading them. A
// symbol that stops trading (delisted, halted) hands the lead to the next a day
// after the portfolio's other prices moved on (market.LeadStaleness); until
// then the portfolio's value alerts wait.
func owned(vals []market.PortfolioValuation, symbols []string) []market.PortfolioValuation {
	ticked := make(map[string]bool, len(symbols))
	for _, s := range symbols {
		ticked[s] = true
	}
	out := make([]market.PortfolioValuation, 0, len(vals))
	for _, v := range vals {
		if ticked[v.FirstSymbol] {
			out = append(out, v)
		}
	}
	return out
}

// saveValueSamples keeps the value histories of the portfolios of keys that the
// value rule cache holds (a key whose firing was not delivered was dropped from
// it and keeps its saved state), for the next container that loads them. It
// claims no mark: the histories move every batch, and a warm container that
// misses another's samples of a portfolio (Lambda gives a shard's next batch to
// any container) only samples its value less often; the rules' state, which
// decides firings, is claimed when it changes. A failure is logged only: the
// next batch saves again.
func (c *Consumer) saveValueSamples(ctx context.Context, st *Stats, marker pricing.StateMarker, keys []string) {
	rc := c.valueRules
	rc.mu.Lock()
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		if len(rc.rules[k]) > 0 {
			ids = append(ids, k[2:])
		}
	}
	samples := rc.eng.ValueHistories(ids)
	rc.mu.Unlock()
	if _, err := write(st, func() (struct{}, error) { return struct{}{}, marker.SaveValueSamples(ctx, ids, samples) }); err != nil {
		c.cfg.Logger.WarnContext(ctx, "prices: value samples not saved", "portfolios", len(ids), "error", err.Error())
	}
}

// prune deletes the expired symbol watches and thins the valuations of the days
// that just aged past the retention, at most every PruneEvery per Consumer. A
// failure is logged only: the next prune takes it up.
func (c *Consumer) prune(ctx context.Context, st *Stats) {
	now := time.Now().UTC()
	c.mu.Lock()
	due := now.Sub(c.lastPrune) >= c.cfg.PruneEvery
	if due {
		c.lastPrune = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	// The watches of connections closed without an unsubscribe, once expired.
	if _, err := write(st, func() (int64, error) { return c.cfg.DB.PruneWatchers(ctx, now, c.cfg.PruneLimit) }); err != nil {
		c.cfg.Logger.WarnContext(ctx, "prices: symbol watchers not pruned", "error", err.Error())
	}
	if c.cfg.ValuationRetention < 0 {
		return
	}
	// The three UTC days before the one the retention reaches into: a few idle
	// days (a weekend without containers) are caught up, and older days were
	// thinned already.
	before := now.Add(-c.cfg.ValuationRetention).Truncate(24 * time.Hour)
	n, err := write(st, func() (int64, error) {
		return c.cfg.DB.PruneValuations(ctx, before.Add(-72*time.Hour), before, c.cfg.PruneLimit)
	})
	if err != nil {
		c.cfg.Logger.WarnContext(ctx, "prices: valuations not pruned", "error", err.Error())
		return
	}
	st.Pruned = n
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// alerts evaluates the price rules of symbols and records the firings; it
// returns the symbols whose firings or state could not be written (the retry
// fires them again under the same key) and the firings to deliver.
func (c *Consumer) alerts(ctx context.Context, st *Stats, symbols []string, bySym map[string][]tick) (failed []string, firings []alerts.Firing, err error) {
	keys := make([]string, len(symbols))
	var ticks []alerts.Tick
	for i, s := range symbols {
		keys[i] = pricing.SymbolKey(s)
		for _, t := range bySym[s] {
			ticks = append(ticks, alerts.PriceTick(s, t.ev.Price, t.ev.PreviousClose, t.ev.Timestamp))
		}
	}
	bad, n, err := c.runAlerts(ctx, st, c.priceRules, ruleSet{
		name: "price", keys: keys,
		load: func(ctx context.Context, keys []string) ([]alerts.Rule, alerts.State, error) {
			return c.cfg.Alerts.PriceRules(ctx, unkey(keys))
		},
		// A rule with conditions watches one symbol, its first condition's.
		keyOf: func(r alerts.Rule) string { return pricing.SymbolKey(r.Primary().Symbol) },
	}, ticks)
	return unkey(bad), n, err
}

func unkey(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k[2:] // "s:" or "p:"
	}
	return out
}

func okSymbols(order []string, failed map[string]error) []string {
	out := make([]string, 0, len(order))
	for _, s := range order {
		if _, bad := failed[s]; !bad {
			out = append(out, s)
		}
	}
	return out
}
