// Package projection keeps the read models in step with the event store: it
// takes a batch of stream records, decoded by the trigger's adapter
// (functions/projector decodes DynamoDB stream records), applies their events
// through a Projector (the read models' writer, whose decisions package rows
// makes), and returns the IDs of the records to redeliver, with the batch
// semantics of docs/architecture.md §4 and its "Self-healing consumers":
//
//   - A record that carries no new event (Ignored: a MODIFY or REMOVE, which
//     append-only events make operator actions) is logged and passes.
//   - A record that did not decode (a poison record) goes to the projector by its
//     aggregate and version: it reads that version from the event store, and
//     quarantines it if the store's copy is unusable too. A poison record naming
//     no event is quarantined here: sent to the failure destination with its image.
//   - An event of a type this build does not know is skipped by the projector (its
//     checkpoint advances), not failed.
//   - What the projector cannot apply yet (a gap with no event store to fill it
//     from, a catch-up cut short by the deadline) fails, in aggregate order: once
//     a record fails, every later record of the same aggregate in the batch fails
//     too, so the retry delivers them in order.
//   - A database or event-store error is transient: the service retries the batch
//     with backoff within the invocation (Options.Retry), then returns the error,
//     and the stream retries the batch. So the mapping's retries are spent only
//     by an outage that outlasts several invocations.
package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/projection/rows"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// Projector applies records to the read models (*readmodel.Projector). An error
// means the database or the event store could not be reached: the whole batch is
// retried (what was applied before it is then a duplicate).
type Projector interface {
	ApplyRecords(ctx context.Context, recs []rows.Record) (rows.BatchResult, error)
}

// FailureRecorder is implemented by projectors that log failures for operators
// (*readmodel.Projector writes projection_failures).
type FailureRecorder interface {
	RecordFailures(ctx context.Context, failures []rows.Failure) error
}

// Record is one record of a stream batch, decoded.
type Record struct {
	// ID names the record in its batch (a DynamoDB stream sequence number):
	// Project returns the IDs of the failed records, and a quarantine keeps it.
	ID string
	// Event is the record's event. For an Ignored or Undecodable record it holds
	// what the record still tells: the AggregateID and Version when it names an
	// event, the EventType, EventID, UserID and Timestamp when its image has them.
	Event portfolio.Event
	// Ignored, when set, names the operation of a record that carries no new
	// event (MODIFY, REMOVE).
	Ignored string
	// Undecodable, when set, says why the record's image did not decode.
	Undecodable string
	// Image is an undecodable record's image as delivered (DynamoDB JSON), kept
	// with its quarantine.
	Image json.RawMessage
}

// Options configures a Service.
type Options struct {
	Logger *slog.Logger
	// Metrics receives one EMF line per batch. Default os.Stdout.
	Metrics io.Writer
	// Quarantine receives the poison records that name no aggregate. Without it
	// they fail, and the stream's retries end in its on-failure destination.
	Quarantine quarantine.Sink
	// Consumer names the function in quarantine records. Default "projector".
	Consumer string
	// Retry paces the retries of a transient failure within an invocation.
	Retry retry.Policy
}

// Service projects stream batches.
type Service struct {
	build     func(ctx context.Context) (Projector, error)
	mu        sync.Mutex
	projector Projector
	log       *slog.Logger
	metrics   *emf.Writer
	sink      quarantine.Sink
	consumer  string
	retry     retry.Policy
}

// New returns a service applying through p.
func New(p Projector, opts Options) *Service {
	return NewLazy(func(context.Context) (Projector, error) { return p, nil }, opts)
}

// NewLazy returns a service that builds its projector on first use (for example
// after fetching the database secret), keeping the Lambda's init small. A failed
// build fails that batch and is tried again on the next.
func NewLazy(build func(ctx context.Context) (Projector, error), opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = os.Stdout
	}
	if opts.Consumer == "" {
		opts.Consumer = "projector"
	}
	return &Service{build: build, log: opts.Logger, metrics: emf.New(opts.Metrics, map[string]string{"Function": opts.Consumer}),
		sink: opts.Quarantine, consumer: opts.Consumer, retry: opts.Retry}
}

func (s *Service) getProjector(ctx context.Context) (Projector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projector != nil {
		return s.projector, nil
	}
	p, err := s.build(ctx)
	if err != nil {
		return nil, err
	}
	s.projector = p
	return p, nil
}

// outcome is what the service knows about one record.
type outcome struct {
	event  int // index in the projector batch, -1 if none
	failed bool
	reason string
}

// counts are the batch's figures for the metrics line.
type counts struct {
	ignored, poison, unknown, quarantined, retries int
}

// Project applies a batch and returns the IDs of the records to redeliver, in
// batch order. An error means the batch could not be applied at all (retry it).
func (s *Service) Project(ctx context.Context, recs []Record) (failed []string, err error) {
	out := make([]outcome, len(recs))
	var n counts
	batch, orphans := s.split(recs, out, &n)
	if len(orphans) > 0 {
		// Sent before the batch moves past them; a failed send fails the batch.
		if err := s.sink.Send(ctx, orphans); err != nil {
			return nil, fmt.Errorf("projector: quarantine %d poison records: %w", len(orphans), err)
		}
	}
	res, err := s.applyWithRetries(ctx, batch, out, &n)
	if err != nil {
		return nil, err
	}
	n.quarantined = len(orphans) + len(res.Quarantined)
	failed, logged := failInAggregateOrder(recs, out)
	s.recordFailures(ctx, logged)
	s.emit(len(recs), len(failed), n, projectionLag(recs, time.Now()))
	return failed, nil
}

// maxLagSamples bounds a batch's ProjectionLag values (an EMF line holds 100
// values of a metric).
const maxLagSamples = 100

// projectionLag samples, evenly over the batch, the milliseconds from each
// event's recording to now; records that carry no event are left out.
func projectionLag(recs []Record, now time.Time) []float64 {
	step := max(1, (len(recs)+maxLagSamples-1)/maxLagSamples)
	var out []float64
	for i := 0; i < len(recs); i += step {
		if r := recs[i]; r.Ignored == "" && r.Undecodable == "" && !r.Event.Timestamp.IsZero() {
			out = append(out, float64(now.Sub(r.Event.Timestamp).Microseconds())/1000)
		}
	}
	return out
}

// split lays the records out: the events (and the poison records that name one)
// into the projector's batch, the poison records that name none into the
// quarantine (or failed, without one); ignored records only count.
func (s *Service) split(recs []Record, out []outcome, n *counts) (batch []rows.Record, orphans []quarantine.Record) {
	batch = make([]rows.Record, 0, len(recs))
	for i := range recs {
		r, o := &recs[i], &out[i]
		o.event = -1
		e := &r.Event
		switch {
		case r.Ignored != "":
			n.ignored++
			s.log.Warn("ignoring a non-INSERT stream record: events are append-only",
				"eventName", r.Ignored, "aggregateId", e.AggregateID, "version", e.Version, "sequenceNumber", r.ID)
		case r.Undecodable == "":
			if !rows.KnownEventType(e.EventType) {
				n.unknown++
				s.log.Warn("event of an unknown type: skipped (checkpoint advances)",
					"eventType", e.EventType, "aggregateId", e.AggregateID, "version", e.Version)
			}
			o.event = len(batch)
			batch = append(batch, rows.Record{Event: *e, SequenceNumber: r.ID})
		default:
			n.poison++
			s.log.Error("poison stream record", "aggregateId", e.AggregateID, "version", e.Version,
				"sequenceNumber", r.ID, "err", r.Undecodable)
			switch {
			case e.AggregateID != "" && e.Version > 0:
				// The record names the event: the projector reads it from the event store.
				o.event = len(batch)
				batch = append(batch, rows.Record{Event: *e, Undecodable: "stream: " + r.Undecodable, Image: r.Image,
					SequenceNumber: r.ID})
			case s.sink != nil:
				orphans = append(orphans, quarantine.Record{Consumer: s.consumer, EventType: e.EventType, Reason: r.Undecodable,
					Image: r.Image, SequenceNumber: r.ID, QuarantinedAt: time.Now().UTC()})
			default:
				o.failed, o.reason = true, r.Undecodable
			}
		}
	}
	return batch, orphans
}

// applyWithRetries applies the batch, retrying a transient failure as Retry
// allows, and marks the records the projector failed.
func (s *Service) applyWithRetries(ctx context.Context, batch []rows.Record, out []outcome, n *counts) (rows.BatchResult, error) {
	var res rows.BatchResult
	if len(batch) == 0 {
		return res, nil
	}
	attempts := s.retry.Start(ctx)
	for {
		var err error
		res, err = s.apply(ctx, batch)
		if err == nil {
			break
		}
		if !attempts.Wait() {
			return res, err
		}
		n.retries++
		s.log.Warn("projector: transient failure, retrying the batch", "attempt", n.retries, "err", err)
	}
	byEvent := make(map[int]*outcome, len(batch))
	for i := range out {
		if out[i].event >= 0 {
			byEvent[out[i].event] = &out[i]
		}
	}
	for _, f := range res.Failures {
		if o := byEvent[f.Index]; o != nil {
			o.failed, o.reason = true, f.Reason
		}
	}
	return res, nil
}

func (s *Service) apply(ctx context.Context, batch []rows.Record) (rows.BatchResult, error) {
	p, err := s.getProjector(ctx)
	if err != nil {
		return rows.BatchResult{}, fmt.Errorf("projector: %w", err)
	}
	return p.ApplyRecords(ctx, batch)
}

// failInAggregateOrder fails every record after a failed one of its aggregate,
// and returns the failed records' IDs and what to log of them.
func failInAggregateOrder(recs []Record, out []outcome) (failed []string, logged []rows.Failure) {
	failedAgg := map[string]bool{}
	for i := range recs {
		o, e := &out[i], &recs[i].Event
		if !o.failed && e.AggregateID != "" && failedAgg[e.AggregateID] {
			o.failed, o.reason = true, "an earlier record of the aggregate failed"
		}
		if !o.failed {
			continue
		}
		if e.AggregateID != "" {
			failedAgg[e.AggregateID] = true
		}
		failed = append(failed, recs[i].ID)
		logged = append(logged, rows.Failure{Index: i, AggregateID: e.AggregateID, Version: e.Version, EventType: e.EventType, Reason: o.reason})
	}
	return failed, logged
}

// recordFailures logs the failures for operators, when the projector can; a
// failure to do so is only logged.
func (s *Service) recordFailures(ctx context.Context, logged []rows.Failure) {
	if len(logged) == 0 {
		return
	}
	p, err := s.getProjector(ctx)
	if err != nil {
		return
	}
	if fr, ok := p.(FailureRecorder); ok {
		if err := fr.RecordFailures(ctx, logged); err != nil {
			s.log.Error("could not record projection failures", "err", err)
		}
	}
}

func (s *Service) emit(records, failed int, n counts, lag []float64) {
	s.metrics.Emit(
		emf.Metric{Name: "StreamRecords", Value: float64(records)},
		emf.Metric{Name: "StreamRecordsIgnored", Value: float64(n.ignored)},
		emf.Metric{Name: "StreamRecordsPoison", Value: float64(n.poison)},
		emf.Metric{Name: "StreamRecordsUnknownType", Value: float64(n.unknown)},
		emf.Metric{Name: "StreamRecordsFailed", Value: float64(failed)},
		emf.Metric{Name: "StreamRecordsQuarantined", Value: float64(n.quarantined)},
		emf.Metric{Name: "TransientRetries", Value: float64(n.retries)},
		emf.Metric{Name: "ProjectionLag", Unit: "Milliseconds", Values: lag},
	)
}
