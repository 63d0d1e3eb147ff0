// Package projection is the projector Lambda's handler: DynamoDB stream records
// of the events table in, read models out, with the batch-failure semantics of
// docs/architecture.md §4 (ReportBatchItemFailures) and docs/architecture.md's "Self-healing
// consumers".
//
//   - INSERT records carry a new event (NEW_IMAGE). MODIFY and REMOVE records are
//     ignored and logged: events are append-only, so they are operator actions.
//   - A record whose image does not decode (a poison record) goes to the projector
//     by its keys: it reads that version from the event store, and quarantines it
//     if the store's copy is unusable too. A poison record without usable keys is
//     quarantined here: sent to the failure destination with its image.
//   - An event of a type this build does not know is skipped by the projector (its
//     checkpoint advances), not failed.
//   - What the projector cannot apply yet (a gap with no event store to fill it
//     from, a catch-up cut short by the deadline) fails, in aggregate order: once
//     a record fails, every later record of the same aggregate in the batch fails
//     too, so the retry delivers them in order.
//   - A database or event-store error is transient: the handler retries the batch
//     with backoff within the invocation (Options.Retry), then fails the whole
//     invocation, and the stream retries it. So the mapping's retries are spent
//     only by an outage that outlasts several invocations.
package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// Applier is the projector as the handler uses it (*readmodel.Projector).
type Applier interface {
	ApplyRecords(ctx context.Context, recs []readmodel.Record) (readmodel.BatchResult, error)
}

// FailureRecorder is implemented by appliers that log failures for operators
// (*readmodel.Projector writes projection_failures).
type FailureRecorder interface {
	RecordFailures(ctx context.Context, failures []readmodel.Failure) error
}

// Options configures a Handler.
type Options struct {
	Logger *slog.Logger
	// Metrics receives one EMF line per invocation. Default os.Stdout.
	Metrics io.Writer
	// Quarantine receives the poison records that name no aggregate. Without it
	// they fail, and the stream's retries end in its on-failure destination.
	Quarantine quarantine.Sink
	// Consumer names the function in quarantine records. Default "projector".
	Consumer string
	// Retry paces the retries of a transient failure within an invocation.
	Retry retry.Policy
}

// Handler handles DynamoDB stream batches.
type Handler struct {
	build    func(ctx context.Context) (Applier, error)
	mu       sync.Mutex
	applier  Applier
	log      *slog.Logger
	metrics  *emf.Writer
	sink     quarantine.Sink
	consumer string
	retry    retry.Policy
}

// New returns a handler applying through a.
func New(a Applier, opts Options) *Handler {
	return NewLazy(func(context.Context) (Applier, error) { return a, nil }, opts)
}

// NewLazy returns a handler that builds its applier on first use (for example
// after fetching the database secret), keeping the Lambda's init small. A failed
// build fails that invocation and is tried again on the next.
func NewLazy(build func(ctx context.Context) (Applier, error), opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = os.Stdout
	}
	if opts.Consumer == "" {
		opts.Consumer = "projector"
	}
	return &Handler{build: build, log: opts.Logger, metrics: emf.New(opts.Metrics, map[string]string{"Function": opts.Consumer}),
		sink: opts.Quarantine, consumer: opts.Consumer, retry: opts.Retry}
}

func (h *Handler) getApplier(ctx context.Context) (Applier, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.applier != nil {
		return h.applier, nil
	}
	a, err := h.build(ctx)
	if err != nil {
		return nil, err
	}
	h.applier = a
	return a, nil
}

// record is what the handler knows about one stream record.
type record struct {
	aggregateID string
	version     string
	eventType   string
	event       int // index in the projector batch, -1 if none
	failed      bool
	reason      string
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	recs := make([]record, len(ev.Records))
	batch := make([]readmodel.Record, 0, len(ev.Records))
	var orphans []quarantine.Record // poison records naming no aggregate
	var ignored, poison, unknown int
	for i := range ev.Records {
		r := &ev.Records[i]
		rec := &recs[i]
		rec.event = -1
		rec.aggregateID = keyString(r.Change.Keys, eventstore.AttrAggregateID)
		rec.version = keyString(r.Change.Keys, eventstore.AttrVersion)
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			ignored++
			h.log.Warn("ignoring a non-INSERT stream record: events are append-only",
				"eventName", r.EventName, "aggregateId", rec.aggregateID, "version", rec.version, "sequenceNumber", r.Change.SequenceNumber)
			continue
		}
		item, err := ItemFromImage(r.Change.NewImage)
		if err == nil {
			if id := item[eventstore.AttrAggregateID]; id != "" {
				rec.aggregateID = id
			}
			rec.eventType = item[eventstore.AttrEventType]
			var e portfolio.Event
			e, err = readmodel.DecodeItem(item, r.Change.ApproximateCreationDateTime.Time)
			if err == nil {
				if !readmodel.KnownEventType(e.EventType) {
					unknown++
					h.log.Warn("event of an unknown type: skipped (checkpoint advances)",
						"eventType", e.EventType, "aggregateId", e.AggregateID, "version", e.Version)
				}
				rec.event = len(batch)
				batch = append(batch, readmodel.Record{Event: e, SequenceNumber: r.Change.SequenceNumber})
				continue
			}
		}
		poison++
		h.log.Error("poison stream record", "aggregateId", rec.aggregateID, "version", rec.version,
			"sequenceNumber", r.Change.SequenceNumber, "err", err)
		img, _ := json.Marshal(r.Change.NewImage)
		if id, v := keyString(r.Change.Keys, eventstore.AttrAggregateID), keyInt(r.Change.Keys, eventstore.AttrVersion); id != "" && v > 0 {
			// The keys name the event: the projector reads it from the event store.
			rec.aggregateID = id
			rec.event = len(batch)
			batch = append(batch, readmodel.Record{Event: envelope(id, v, r.Change.NewImage), Undecodable: "stream: " + err.Error(), Image: img,
				SequenceNumber: r.Change.SequenceNumber})
			continue
		}
		if h.sink != nil {
			orphans = append(orphans, quarantine.Record{Consumer: h.consumer, EventType: rec.eventType, Reason: err.Error(),
				Image: img, SequenceNumber: r.Change.SequenceNumber, QuarantinedAt: time.Now().UTC()})
			continue
		}
		rec.failed, rec.reason = true, err.Error()
	}
	if len(orphans) > 0 {
		// Sent before the batch moves past them; a failed send fails the invocation.
		if err := h.sink.Send(ctx, orphans); err != nil {
			return events.DynamoDBEventResponse{}, fmt.Errorf("projector: quarantine %d poison records: %w", len(orphans), err)
		}
	}

	var res readmodel.BatchResult
	retries := 0
	if len(batch) > 0 {
		attempts := h.retry.Start(ctx)
		for {
			var err error
			res, err = h.apply(ctx, batch)
			if err == nil {
				break
			}
			if !attempts.Wait() {
				return events.DynamoDBEventResponse{}, err
			}
			retries++
			h.log.Warn("projector: transient failure, retrying the batch", "attempt", retries, "err", err)
		}
		byEvent := make(map[int]*record, len(batch))
		for i := range recs {
			if recs[i].event >= 0 {
				byEvent[recs[i].event] = &recs[i]
			}
		}
		for _, f := range res.Failures {
			if rec := byEvent[f.Index]; rec != nil {
				rec.failed, rec.reason = true, f.Reason
			}
		}
	}

	// Fail in aggregate order, and collect what to log.
	failedAgg := map[string]bool{}
	var logged []readmodel.Failure
	for i := range recs {
		rec := &recs[i]
		if !rec.failed && rec.aggregateID != "" && failedAgg[rec.aggregateID] {
			rec.failed, rec.reason = true, "an earlier record of the aggregate failed"
		}
		if !rec.failed {
			continue
		}
		if rec.aggregateID != "" {
			failedAgg[rec.aggregateID] = true
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[i].Change.SequenceNumber})
		v, _ := strconv.ParseInt(rec.version, 10, 64)
		logged = append(logged, readmodel.Failure{Index: i, AggregateID: rec.aggregateID, Version: v, EventType: rec.eventType, Reason: rec.reason})
	}
	if len(logged) > 0 {
		if a, err := h.getApplier(ctx); err == nil {
			if fr, ok := a.(FailureRecorder); ok {
				if err := fr.RecordFailures(ctx, logged); err != nil {
					h.log.Error("could not record projection failures", "err", err)
				}
			}
		}
	}
	h.metrics.Emit(
		emf.Metric{Name: "StreamRecords", Value: float64(len(ev.Records))},
		emf.Metric{Name: "StreamRecordsIgnored", Value: float64(ignored)},
		emf.Metric{Name: "StreamRecordsPoison", Value: float64(poison)},
		emf.Metric{Name: "StreamRecordsUnknownType", Value: float64(unknown)},
		emf.Metric{Name: "StreamRecordsFailed", Value: float64(len(resp.BatchItemFailures))},
		emf.Metric{Name: "StreamRecordsQuarantined", Value: float64(len(orphans) + len(res.Quarantined))},
		emf.Metric{Name: "TransientRetries", Value: float64(retries)},
	)
	return resp, nil
}

func (h *Handler) apply(ctx context.Context, batch []readmodel.Record) (readmodel.BatchResult, error) {
	a, err := h.getApplier(ctx)
	if err != nil {
		return readmodel.BatchResult{}, fmt.Errorf("projector: %w", err)
	}
	return a.ApplyRecords(ctx, batch)
}

// envelope is what a poison record's keys and image still tell of its event.
func envelope(id string, version int64, img map[string]events.DynamoDBAttributeValue) portfolio.Event {
	e := portfolio.Event{AggregateID: id, Version: version, EventType: keyString(img, eventstore.AttrEventType),
		EventID: keyString(img, eventstore.AttrEventID), UserID: keyString(img, eventstore.AttrUserID)}
	if ts, err := time.Parse(time.RFC3339Nano, keyString(img, eventstore.AttrTimestamp)); err == nil {
		e.Timestamp = ts.UTC()
	}
	return e
}

func keyInt(m map[string]events.DynamoDBAttributeValue, name string) int64 {
	v, err := strconv.ParseInt(keyString(m, name), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func keyString(m map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := m[name]
	if !ok || v.IsNull() {
		return ""
	}
	switch v.DataType() {
	case events.DataTypeString:
		return v.String()
	case events.DataTypeNumber:
		return v.Number()
	}
	return ""
}

// ErrBadImage is wrapped by ItemFromImage's errors.
var ErrBadImage = errors.New("stream record image")

// ItemFromImage converts a stream record's NewImage to the event item form that
// eventstore.DecodeItem reads: strings and numbers as text. The binary snapshot
// attribute is left out (the projector does not need it); any other attribute
// type makes the record poison.
func ItemFromImage(img map[string]events.DynamoDBAttributeValue) (eventstore.Item, error) {
	if len(img) == 0 {
		return nil, fmt.Errorf("%w: no NewImage (is the stream's view type NEW_IMAGE?)", ErrBadImage)
	}
	it := make(eventstore.Item, len(img))
	for k, v := range img {
		if v.IsNull() && v.DataType() != events.DataTypeNull {
			return nil, fmt.Errorf("%w: attribute %s has no value", ErrBadImage, k)
		}
		switch v.DataType() {
		case events.DataTypeString:
			it[k] = v.String()
		case events.DataTypeNumber:
			it[k] = v.Number()
		case events.DataTypeBinary:
			if k != eventstore.AttrSnapshot {
				return nil, fmt.Errorf("%w: attribute %s is binary", ErrBadImage, k)
			}
		default:
			return nil, fmt.Errorf("%w: attribute %s has DynamoDB type %d", ErrBadImage, k, v.DataType())
		}
	}
	return it, nil
}
