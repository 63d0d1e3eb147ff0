package analyticsjob

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

// Results is where the figures go (the metrics read model).
type Results interface {
	// SaveResults stores the results together. A stored result reflecting a newer
	// aggregate version than one of results is kept.
	SaveResults(ctx context.Context, results []Result) error
	// IsDataError reports whether err is the store refusing the data itself,
	// which the same write meets again however often it is retried.
	IsDataError(err error) bool
}

// Change is one record of the events table's stream that appended an event of a
// portfolio: which portfolio to recompute, and what identifies the record should
// it be failed or quarantined.
type Change struct {
	PortfolioID string
	// ItemID identifies the record to the stream (its sequence number): a record
	// to deliver again is reported by it.
	ItemID    string
	Version   int64
	EventType string
	EventID   string
}

// StreamBatch is one batch of the stream, decoded: the portfolios' changes in
// stream order, and the number of its records that are none (another operation
// or aggregate type), which only count in the metrics.
type StreamBatch struct {
	Changes []Change
	Ignored int
}

// StreamOutcome is what the stream must deliver again: the ItemIDs of the records
// of the portfolios that still failed (never nil).
type StreamOutcome struct {
	FailedItems []string
}

// streamTally is what the computations of one batch came to.
type streamTally struct {
	stored, leftOut, retries int
	failed                   map[string]error // transiently, after the retries
	broken                   map[string]error // for good
	computed                 []*Analysis      // stored
}

// Recompute recomputes the portfolios a stream batch changed. Changes are
// coalesced by portfolio: each is recomputed once, from the event store (the
// record itself only says which portfolio changed, so even a record the decoder
// could not read needs no special case). A portfolio that fails for a transient
// cause is retried with backoff within the invocation, and its records are
// returned to deliver again if it still fails; one that fails for good is
// quarantined (see the package comment). The risk and rebalance rules of the
// portfolios stored are evaluated on their new figures (streamRiskAlerts).
func (j *Job) Recompute(ctx context.Context, batch StreamBatch) (StreamOutcome, error) {
	out := StreamOutcome{FailedItems: []string{}}
	ids, items := coalesce(batch.Changes)
	if len(ids) == 0 {
		return out, nil
	}
	day := j.Today()
	t := j.recomputeWithRetries(ctx, ids, day)
	firings := j.streamRiskAlerts(ctx, t.computed)
	out.FailedItems = append(out.FailedItems, j.transientFailures(ctx, t.failed, items)...)
	quarantined, unsent := j.quarantineBroken(ctx, day, t.broken, items)
	out.FailedItems = append(out.FailedItems, unsent...)
	j.logger(ctx).InfoContext(ctx, "analytics recomputed", "records", len(batch.Changes)+batch.Ignored, "portfolios", len(ids),
		"stored", t.stored, "failed", len(t.failed), "quarantined", quarantined, "firings", firings)
	j.metrics.Emit(
		emf.Metric{Name: "StreamRecords", Value: float64(len(batch.Changes) + batch.Ignored)},
		emf.Metric{Name: "PortfoliosRecomputed", Value: float64(t.stored)},
		emf.Metric{Name: "PortfoliosFailed", Value: float64(len(t.failed))},
		emf.Metric{Name: "PortfoliosQuarantined", Value: float64(quarantined)},
		emf.Metric{Name: "TransactionsLeftOut", Value: float64(t.leftOut)},
		emf.Metric{Name: "TransientRetries", Value: float64(t.retries)})
	return out, nil
}

// coalesce returns the portfolios the changes touch, in order of first change,
// and each one's changes.
func coalesce(changes []Change) (ids []string, items map[string][]Change) {
	items = map[string][]Change{}
	for _, c := range changes {
		if _, ok := items[c.PortfolioID]; !ok {
			ids = append(ids, c.PortfolioID)
		}
		items[c.PortfolioID] = append(items[c.PortfolioID], c)
	}
	return ids, items
}

// recomputeWithRetries computes and stores the portfolios ids as of day, and
// computes again those that failed for a transient cause while the retry policy
// allows.
func (j *Job) recomputeWithRetries(ctx context.Context, ids []string, day calendar.Date) streamTally {
	t := streamTally{failed: map[string]error{}, broken: map[string]error{}}
	attempts := j.opts.Retry.Start(ctx)
	for pending := ids; ; {
		clear(t.failed)
		var results []Result
		var resultIDs []string
		var analyses []*Analysis
		for _, o := range j.computePage(ctx, pending, day, j.opts.Settings) {
			switch {
			case o.err != nil && j.isPermanent(o.err):
				t.broken[o.id] = o.err
			case o.err != nil:
				t.failed[o.id] = o.err
			case o.analysis != nil:
				results = append(results, o.analysis.Result)
				resultIDs = append(resultIDs, o.id)
				analyses = append(analyses, o.analysis)
				t.leftOut += o.analysis.LeftOut
			}
		}
		n, refused, err := j.save(ctx, results)
		t.stored += n
		maps.Copy(t.broken, refused)
		for i, id := range resultIDs {
			switch {
			case refused[id] != nil:
			case err != nil:
				t.failed[id] = err
			default:
				t.computed = append(t.computed, analyses[i])
			}
		}
		if len(t.failed) == 0 || !attempts.Wait() {
			return t
		}
		t.retries++
		pending = slices.Sorted(maps.Keys(t.failed))
		j.logger(ctx).WarnContext(ctx, "analytics: transient failures, retrying", "portfolios", len(pending), "attempt", t.retries)
	}
}

// streamRiskAlerts evaluates the risk and rebalance rules of the portfolios a
// stream batch recomputed and stored, as the daily run does (riskAlerts), with
// ticks stamped at the time of the run: a change of a portfolio (a trade, a
// transfer) changes its weights, drawdown and VaR now, not at the next close,
// and one state per rule serves both evaluators (a tick at or before the rule's
// last is ignored, so the daily run's tick at a close already passed changes
// nothing). A failure is logged only: the figures are stored, and the next
// change or daily run evaluates the rules again (firing keys de-duplicate).
func (j *Job) streamRiskAlerts(ctx context.Context, computed []*Analysis) int {
	n, err := j.riskAlerts(ctx, computed, j.opts.Now().UTC())
	if err != nil {
		j.logger(ctx).ErrorContext(ctx, "analytics: risk alerts of recomputed portfolios failed", "portfolios", len(computed), "error", err.Error())
	}
	return n
}

// save stores results; a batch the store refuses for its data is stored one
// portfolio at a time, and those it still refuses are returned apart (they fail
// for good). err is a transient failure: nothing of what is not counted is saved.
func (j *Job) save(ctx context.Context, results []Result) (stored int, refused map[string]error, err error) {
	err = j.store.SaveResults(ctx, results)
	if err == nil || !j.store.IsDataError(err) || len(results) == 1 {
		if err == nil {
			return len(results), nil, nil
		}
		if j.store.IsDataError(err) {
			return 0, map[string]error{results[0].Portfolio.ID: err}, nil
		}
		return 0, nil, err
	}
	refused = map[string]error{}
	for i := range results {
		err := j.store.SaveResults(ctx, results[i:i+1])
		switch {
		case err == nil:
			stored++
		case j.store.IsDataError(err):
			refused[results[i].Portfolio.ID] = err
		default:
			return stored, refused, err
		}
	}
	return stored, refused, nil
}

// transientFailures logs the portfolios that still failed and returns their
// records' ItemIDs, by portfolio ID.
func (j *Job) transientFailures(ctx context.Context, failed map[string]error, items map[string][]Change) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(failed)) {
		j.logger(ctx).ErrorContext(ctx, "analytics of a portfolio failed; its records are retried", "portfolioId", id, "error", failed[id].Error())
		out = append(out, itemIDs(items[id])...)
	}
	return out
}

// quarantineBroken quarantines the portfolios that can never be computed and
// returns how many; when it cannot, their records' ItemIDs are returned instead
// (unsent), for the stream to deliver again.
func (j *Job) quarantineBroken(ctx context.Context, day calendar.Date, broken map[string]error, items map[string][]Change) (quarantined int, unsent []string) {
	if len(broken) == 0 {
		return 0, nil
	}
	n, err := j.quarantine(ctx, day, broken, items)
	if err != nil {
		j.logger(ctx).ErrorContext(ctx, "analytics: could not quarantine; the records are retried", "error", err.Error())
		for _, id := range slices.Sorted(maps.Keys(broken)) {
			unsent = append(unsent, itemIDs(items[id])...)
		}
	}
	return n, unsent
}

func itemIDs(changes []Change) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.ItemID
	}
	return out
}

// quarantine records the portfolios that can never be computed as failures of the
// daily run (which retries them every day, and clears them once they compute),
// and sends their stream records to the failure destination. Without one, it does
// nothing and reports their records failed.
func (j *Job) quarantine(ctx context.Context, day calendar.Date, broken map[string]error, items map[string][]Change) (int, error) {
	if j.opts.Quarantine == nil {
		return 0, errors.New("no failure destination configured")
	}
	now := j.opts.Now().UTC()
	var out []quarantine.Record
	var failures []Failure
	for _, id := range slices.Sorted(maps.Keys(broken)) {
		reason := broken[id].Error()
		failures = append(failures, Failure{PortfolioID: id, Day: day, Reason: "quarantined from the stream: " + reason})
		for _, c := range items[id] {
			out = append(out, quarantine.Record{Consumer: "analytics", AggregateID: id, Version: c.Version, EventType: c.EventType,
				EventID: c.EventID, Reason: reason, SequenceNumber: c.ItemID, QuarantinedAt: now})
		}
		j.logger(ctx).ErrorContext(ctx, "analytics of a portfolio cannot be computed from what is stored: quarantined", "portfolioId", id, "error", reason)
	}
	if err := j.opts.Quarantine.Send(ctx, out); err != nil {
		return 0, err
	}
	if err := j.store.MarkFailed(ctx, ModeDaily, day, failures); err != nil {
		// The failure destination has them; the daily run retries every portfolio
		// not done anyway.
		j.logger(ctx).ErrorContext(ctx, "analytics: could not record quarantined portfolios", "error", err.Error())
	}
	return len(broken), nil
}
