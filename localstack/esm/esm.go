// Package esm is the local stack's Lambda event source mapping for streams: it
// polls every shard of a DynamoDB stream or a Kinesis stream and invokes a
// function with batches of records, with the batching, checkpointing and failure
// semantics of AWS Lambda's stream pollers (docs/architecture.md §4): per-shard order, one batch
// in flight per shard, ReportBatchItemFailures, BisectBatchOnFunctionError,
// MaximumRetryAttempts, MaximumRecordAgeInSeconds and an on-failure destination,
// so a poison record never stalls a shard.
//
// It reads the streams through the ordinary SDK clients, so it works against
// DynamoDB Local and kinesis-mock as well as against AWS. Where the emulators
// differ from AWS, the events still look as they would on AWS: DynamoDB Local
// writes an empty map attribute as {} (made {"M":{}} again), names its region
// "ddblocal" (the client's region is used) and truncates
// ApproximateCreationDateTime to the minute (records look up to a minute older,
// which only a MaxRecordAge of minutes would notice). kinesis-mock, killed
// between two saves of its persistence file, comes back without the newest
// records: a checkpoint naming one of them makes the shard be read again from
// its trim horizon (see runShard). Its SplitShard is tested.
//
// Not emulated: ParallelizationFactor (the topology uses 1), tumbling windows,
// filter criteria, and the retries of a failed send to the destination beyond
// waiting and trying again.
package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Mapping holds one event source mapping's settings, named after
// CreateEventSourceMapping's parameters.
type Mapping struct {
	Function string
	// BatchSize is the most records in one invocation (default 100).
	BatchSize int
	// BatchingWindow is how long to gather records before invoking with fewer
	// than BatchSize; 0 invokes as soon as records are read.
	BatchingWindow time.Duration
	// MaxRetries is the retries after the first attempt of a batch; -1 retries
	// until the records expire (AWS's default). Bisecting does not count.
	MaxRetries int
	// MaxRecordAge discards records older than this (0 = never).
	MaxRecordAge time.Duration
	// BisectOnError splits a batch in two on a function error; each half is
	// then retried on its own.
	BisectOnError bool
	// ReportBatchItemFailures makes the function's batchItemFailures response
	// count: the shard is checkpointed before the lowest failed record and
	// retried from there.
	ReportBatchItemFailures bool
	// PollInterval is how often a shard with no new records is read again
	// (default 100 ms). AWS polls about once a second (four times for DynamoDB
	// streams); locally a price tick must reach the browser within 300 ms at
	// the median, and a one-second poll alone would eat that budget.
	PollInterval time.Duration
	// OnFailure receives a record of each batch given up on; nil drops the
	// batch with a log line.
	OnFailure Destination
	// StartingPosition is where a shard without a checkpoint is first read:
	// "TRIM_HORIZON" (the default) or "LATEST". The default differs from
	// what most people pick on AWS because the local stack creates its streams
	// and mappings together: TRIM_HORIZON loses nothing written before the
	// poller started (the demo data, for instance). Shards that appear later
	// (splits, DynamoDB's shard rollover) are always read from their start, as
	// AWS does.
	StartingPosition string
	// Checkpoints keeps each shard's position; nil keeps them in memory. Use one
	// per mapping (shard IDs repeat across Kinesis streams).
	Checkpoints Checkpoints
	// RetryBackoff is the pause before the first retry of a failed batch,
	// doubling up to MaxRetryBackoff (defaults 100 ms and 2 s), so a failing
	// function does not spin the CPU.
	RetryBackoff, MaxRetryBackoff time.Duration
	// DiscoveryInterval is how often the shard list is refreshed (default 1 s).
	DiscoveryInterval time.Duration
}

// Starting positions.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
)

// maxPayload is Lambda's synchronous invocation payload limit: a batch is cut
// short rather than exceed it.
const maxPayload = 6 << 20

func (m Mapping) withDefaults() Mapping {
	if m.BatchSize <= 0 {
		m.BatchSize = 100
	}
	if m.PollInterval <= 0 {
		m.PollInterval = 100 * time.Millisecond
	}
	if m.StartingPosition == "" {
		m.StartingPosition = TrimHorizon
	}
	if m.Checkpoints == nil {
		m.Checkpoints = NewMemoryCheckpoints()
	}
	if m.RetryBackoff <= 0 {
		m.RetryBackoff = 100 * time.Millisecond
	}
	if m.MaxRetryBackoff <= 0 {
		m.MaxRetryBackoff = 2 * time.Second
	}
	m.MaxRetryBackoff = max(m.MaxRetryBackoff, m.RetryBackoff)
	if m.DiscoveryInterval <= 0 {
		m.DiscoveryInterval = time.Second
	}
	return m
}

// Stats counts what a poller did since it was created.
type Stats struct {
	Batches     int64 // distinct batches handed to the function
	Records     int64 // records read from the stream
	Invocations int64 // invocations, retries included
	Retries     int64 // invocations that retried a batch or part of it
	Failures    int64 // batches given up on (sent to OnFailure or dropped)
}

// Poller runs one mapping.
type Poller struct {
	inv invoke.Invoker
	src source
	m   Mapping
	log *slog.Logger

	batches, records, invocations, retries, failures atomic.Int64
}

// record is one stream record: its position, arrival time and its JSON as it
// appears in the Lambda event.
type record struct {
	seq     string
	arrival time.Time
	event   json.RawMessage
}

// shard is one shard of the stream as the listing describes it.
type shard struct {
	id      string
	parents []string
}

// errExpired: the shard iterator expired (renew it from the last position);
// errShardGone: the shard no longer exists (trimmed, or the stream was deleted);
// errCheckpointMissing: the shard exists but the record to resume after does
// not (an emulator that lost the tail of its stream on a restart).
var (
	errExpired           = errors.New("shard iterator expired")
	errShardGone         = errors.New("shard not found")
	errCheckpointMissing = errors.New("checkpointed record not in the shard")
)

// source is one stream API.
type source interface {
	// init resolves what the event needs (the stream ARN).
	init(ctx context.Context) error
	// kinesis tells which batch info the on-failure record carries.
	kinesis() bool
	streamARN() string
	awsRegion() string
	shards(ctx context.Context) ([]shard, error)
	// iterator returns an iterator at the position: after seq, or at pos
	// (TRIM_HORIZON, LATEST) when seq is empty. It fails with
	// errCheckpointMissing if the shard exists but seq is not in it.
	iterator(ctx context.Context, shardID, seq, pos string) (string, error)
	// read returns records and the next iterator; "" means the shard is closed
	// and read to its end.
	read(ctx context.Context, shardID, iterator string, limit int) ([]record, string, error)
}

func newPoller(inv invoke.Invoker, src source, m Mapping, log *slog.Logger) *Poller {
	if log == nil {
		log = slog.Default()
	}
	m = m.withDefaults()
	return &Poller{inv: inv, src: src, m: m, log: log.With("function", m.Function)}
}

// Stats returns the counters so far.
func (p *Poller) Stats() Stats {
	return Stats{
		Batches: p.batches.Load(), Records: p.records.Load(), Invocations: p.invocations.Load(),
		Retries: p.retries.Load(), Failures: p.failures.Load(),
	}
}

// Run polls until ctx is cancelled, then waits for the batches in flight to
// end and returns nil. It fails only if the stream cannot be described at the
// start.
func (p *Poller) Run(ctx context.Context) error {
	if err := p.src.init(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("esm %s: %w", p.m.Function, err)
	}
	p.log = p.log.With("stream", p.src.streamARN())
	var (
		wg      sync.WaitGroup
		done    = make(chan string, 16)
		running = map[string]bool{}
		ended   = map[string]bool{}
		first   = true
	)
	defer wg.Wait()
	tick := time.NewTicker(p.m.DiscoveryInterval)
	defer tick.Stop()
	for {
		shards, err := p.src.shards(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("esm: list shards", "err", err)
		}
		known := map[string]bool{}
		for _, s := range shards {
			known[s.id] = true
		}
		for _, s := range shards {
			if running[s.id] || ended[s.id] {
				continue
			}
			// A child waits for its parents to be read to their end, so that
			// records of one key keep their order across a split, a merge or
			// DynamoDB's shard rollover.
			ready := true
			for _, parent := range s.parents {
				if known[parent] && !ended[parent] {
					ready = false
				}
			}
			if !ready {
				continue
			}
			pos := TrimHorizon
			if first {
				pos = p.m.StartingPosition
			}
			running[s.id] = true
			wg.Go(func() {
				p.runShard(ctx, s.id, pos)
				select {
				case done <- s.id:
				case <-ctx.Done():
				}
			})
		}
		if err == nil {
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case id := <-done:
			delete(running, id)
			ended[id] = true
		case <-tick.C:
		}
	}
}

// runShard reads one shard to its end (or until ctx ends), delivering batch
// after batch.
func (p *Poller) runShard(ctx context.Context, shardID, startPos string) {
	log := p.log.With("shard", shardID)
	ckpt, err := p.m.Checkpoints.Get(shardID)
	if err != nil {
		log.Error("esm: read checkpoint; starting without it", "err", err)
	}
	// last is the sequence number of the last record read (delivered or in the
	// buffer): an expired iterator is renewed after it. Records are never read
	// twice, and on a restart the checkpoint takes its place.
	last := ckpt
	iter := ""
	closed := false
	backoff := newBackoff(p.m.RetryBackoff, p.m.MaxRetryBackoff)
	var buf []record
	size := 0
	var windowEnd time.Time

	// fill reads once; it reports whether records came.
	fill := func() bool {
		if iter == "" {
			it, err := p.src.iterator(ctx, shardID, last, startPos)
			if errors.Is(err, errCheckpointMissing) {
				// Nothing after the lost record can be told apart from what was
				// processed before it (kinesis-mock numbers new records from
				// where its file ends), so the shard is read again from its
				// start: at-least-once redelivers, it never skips.
				log.Warn("esm: the checkpointed record is not in the shard (the stream lost its tail, as kinesis-mock does when killed between two saves); reading the shard again from its trim horizon",
					"checkpoint", last, "err", err)
				last, startPos = "", TrimHorizon
				return false
			}
			if errors.Is(err, errShardGone) {
				log.Info("esm: shard gone; its reading ends", "err", err)
				closed = true
				return false
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("esm: get shard iterator", "err", err)
					backoff.sleep(ctx)
				}
				return false
			}
			iter = it
		}
		recs, next, err := p.src.read(ctx, shardID, iter, min(p.m.BatchSize-len(buf), 10000))
		switch {
		case errors.Is(err, errExpired):
			iter = ""
			return false
		case errors.Is(err, errShardGone):
			log.Info("esm: shard gone; its reading ends", "err", err)
			closed = true
			return false
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("esm: get records", "err", err)
				backoff.sleep(ctx)
			}
			return false
		}
		backoff.reset()
		iter = next
		if next == "" {
			closed = true
		}
		for _, r := range recs {
			buf = append(buf, r)
			size += len(r.event)
			last = r.seq
		}
		p.records.Add(int64(len(recs)))
		return len(recs) > 0
	}

	for ctx.Err() == nil {
		if len(buf) == 0 {
			if closed {
				return
			}
			if !fill() {
				if !closed {
					sleep(ctx, p.m.PollInterval)
				}
				continue
			}
			windowEnd = time.Now().Add(p.m.BatchingWindow)
		}
		for len(buf) < p.m.BatchSize && size < maxPayload && !closed && time.Now().Before(windowEnd) && ctx.Err() == nil {
			if !fill() {
				sleep(ctx, min(p.m.PollInterval, time.Until(windowEnd)))
			}
		}
		// Cut the batch at the payload limit (a lone oversized record still goes,
		// and fails in the runtime as it would on AWS).
		n, total := 0, 0
		for n < len(buf) && (n == 0 || total+len(buf[n].event) < maxPayload-1024) {
			total += len(buf[n].event)
			n++
		}
		batch := buf[:n]
		p.batches.Add(1)
		if !p.deliver(ctx, log, shardID, batch) {
			return // ctx ended
		}
		buf = append([]record(nil), buf[n:]...)
		size -= total
		windowEnd = time.Now() // what is left over goes at once
	}
}

// deliver invokes the function with the batch until every record is either
// processed (checkpointed) or given up on. It returns false if ctx ended first.
func (p *Poller) deliver(ctx context.Context, log *slog.Logger, shardID string, recs []record) bool {
	backoff := newBackoff(p.m.RetryBackoff, p.m.MaxRetryBackoff)
	attempts := 0 // failed invocations of what is left of this batch
	for len(recs) > 0 {
		if p.m.MaxRecordAge > 0 {
			// Records are in arrival order: the expired ones are a prefix.
			n := 0
			for n < len(recs) && time.Since(recs[n].arrival) > p.m.MaxRecordAge {
				n++
			}
			if n > 0 {
				if !p.giveUp(ctx, log, shardID, recs[:n], "RecordAgeExceeded", attempts, nil) {
					return false
				}
				recs = recs[n:]
				continue
			}
		}
		if attempts > 0 {
			p.retries.Add(1)
		}
		p.invocations.Add(1)
		out, err := p.inv.Invoke(ctx, p.m.Function, p.payload(recs))
		if ctx.Err() != nil {
			return false
		}
		var fe *invoke.FunctionError
		switch {
		case err == nil:
			failed := p.firstFailed(log, recs, out)
			if failed < 0 {
				return p.commit(log, shardID, recs[len(recs)-1].seq)
			}
			if failed > 0 {
				// Checkpoint before the lowest failed record; only the rest is
				// retried (and, with bisection on, that is the split AWS makes).
				if !p.commit(log, shardID, recs[failed-1].seq) {
					return false
				}
				recs = recs[failed:]
			}
		case errors.As(err, &fe) || errors.Is(err, invoke.ErrTimeout):
			if p.m.BisectOnError && len(recs) > 1 {
				// Splitting does not use up retries: each half starts afresh.
				log.Info("esm: function error, bisecting", "records", len(recs), "err", err)
				half := len(recs) / 2
				return p.deliver(ctx, log, shardID, recs[:half]) && p.deliver(ctx, log, shardID, recs[half:])
			}
			log.Info("esm: function error", "records", len(recs), "attempt", attempts+1, "err", err)
		default:
			// Throttled, unknown function or a local failure: like AWS, retry until
			// the records expire, without using up the retries.
			level := slog.LevelWarn
			if errors.Is(err, invoke.ErrThrottled) {
				level = slog.LevelInfo
			}
			log.Log(ctx, level, "esm: invoke failed, retrying", "records", len(recs), "err", err)
			if !backoff.sleep(ctx) {
				return false
			}
			continue
		}
		attempts++
		if p.m.MaxRetries >= 0 && attempts > p.m.MaxRetries {
			return p.giveUp(ctx, log, shardID, recs, "RetryAttemptsExhausted", attempts, err)
		}
		if !backoff.sleep(ctx) {
			return false
		}
	}
	return true
}

// firstFailed returns the index of the lowest record the response reports as
// failed, 0 if the whole batch failed, or -1 if it succeeded.
func (p *Poller) firstFailed(log *slog.Logger, recs []record, out []byte) int {
	if !p.m.ReportBatchItemFailures {
		return -1
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	trimmed := strings.TrimSpace(string(out))
	if trimmed == "" || trimmed == "null" {
		return -1
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		// Not a batch response at all (a bare string, say): Lambda reads it as
		// no failures.
		log.Debug("esm: response is not a batch item failure list; taken as success", "err", err)
		return -1
	}
	if len(resp.BatchItemFailures) == 0 {
		return -1
	}
	index := make(map[string]int, len(recs))
	for i, r := range recs {
		index[r.seq] = i
	}
	lowest := len(recs)
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return 0
		}
		i, ok := index[*f.ItemIdentifier]
		if !ok {
			log.Warn("esm: batch item failure names no record of the batch; the whole batch failed", "itemIdentifier", *f.ItemIdentifier)
			return 0
		}
		lowest = min(lowest, i)
	}
	return lowest
}

func (p *Poller) commit(log *slog.Logger, shardID, seq string) bool {
	if err := p.m.Checkpoints.Put(shardID, seq); err != nil {
		// The records were processed; a lost checkpoint only means they may be
		// delivered again after a restart, which at-least-once allows.
		log.Error("esm: save checkpoint", "seq", seq, "err", err)
	}
	return true
}

// giveUp sends the batch's failure record to the destination and checkpoints
// past it, so the shard moves on.
func (p *Poller) giveUp(ctx context.Context, log *slog.Logger, shardID string, recs []record, condition string, attempts int, lastErr error) bool {
	p.failures.Add(1)
	f := p.failure(shardID, recs, condition, attempts, lastErr)
	if p.m.OnFailure == nil {
		log.Error("esm: batch discarded (no on-failure destination)", "condition", condition,
			"first", recs[0].seq, "last", recs[len(recs)-1].seq, "records", len(recs))
	} else {
		backoff := newBackoff(p.m.RetryBackoff, p.m.MaxRetryBackoff)
		for {
			err := p.m.OnFailure.Send(ctx, f)
			if err == nil {
				break
			}
			// Losing the record of a discarded batch is worse than waiting.
			log.Error("esm: send to on-failure destination", "err", err)
			if !backoff.sleep(ctx) {
				return false
			}
		}
		log.Warn("esm: batch sent to the on-failure destination", "condition", condition,
			"first", recs[0].seq, "last", recs[len(recs)-1].seq, "records", len(recs))
	}
	return p.commit(log, shardID, recs[len(recs)-1].seq)
}

func (p *Poller) failure(shardID string, recs []record, condition string, attempts int, lastErr error) Failure {
	arn := p.src.streamARN()
	_, account := arnRegionAccount(arn)
	region := p.src.awsRegion()
	f := Failure{
		RequestContext: RequestContext{
			RequestID:              uuid.New(),
			FunctionARN:            fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, p.m.Function),
			Condition:              condition,
			ApproximateInvokeCount: attempts,
		},
		ResponseContext: ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST"},
		Version:         "1.0",
		Timestamp:       formatMillis(time.Now()),
	}
	var fe *invoke.FunctionError
	switch {
	case errors.As(lastErr, &fe), errors.Is(lastErr, invoke.ErrTimeout):
		f.ResponseContext.FunctionError = "Unhandled"
	case lastErr == nil && attempts == 0:
		// Expired before any invocation.
		f.ResponseContext = ResponseContext{}
	}
	info := &BatchInfo{
		ShardID:                         shardID,
		StartSequenceNumber:             recs[0].seq,
		EndSequenceNumber:               recs[len(recs)-1].seq,
		ApproximateArrivalOfFirstRecord: formatMillis(recs[0].arrival),
		ApproximateArrivalOfLastRecord:  formatMillis(recs[len(recs)-1].arrival),
		BatchSize:                       len(recs),
		StreamARN:                       arn,
	}
	if p.src.kinesis() {
		f.KinesisBatchInfo = info
	} else {
		f.DDBStreamBatchInfo = info
	}
	return f
}

func (p *Poller) payload(recs []record) []byte {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.event)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// arnRegionAccount returns an ARN's region and account fields.
func arnRegionAccount(arn string) (region, account string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return "us-east-1", "000000000000"
	}
	return parts[3], parts[4]
}

func formatMillis(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

type backoff struct{ next, first, limit time.Duration }

func newBackoff(first, limit time.Duration) *backoff {
	return &backoff{next: first, first: first, limit: limit}
}

// sleep waits for the current delay and doubles it; false if ctx ended.
func (b *backoff) sleep(ctx context.Context) bool {
	d := b.next
	b.next = min(b.next*2, b.limit)
	return sleep(ctx, d)
}

func (b *backoff) reset() { b.next = b.first }

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// MappingFor returns the mapping the topology declares for a function's stream
// trigger, with what docs/architecture.md §4 asks of every mapping: batch item failures
// reported and failing batches bisected. The topology's ParallelizationFactor
// is 1 everywhere, and so is this poller's (one batch in flight per shard).
func MappingFor(function string, sm topology.StreamMapping) Mapping {
	retries := sm.MaxRetries
	if retries < 0 {
		retries = -1
	}
	return Mapping{
		Function:                function,
		BatchSize:               sm.BatchSize,
		BatchingWindow:          sm.BatchingWindow,
		MaxRetries:              retries,
		MaxRecordAge:            sm.MaxRecordAge,
		BisectOnError:           true,
		ReportBatchItemFailures: true,
	}
}
