// Package analyticsjob is the analytics function's logic: it loads portfolios through the
// event store, values them with the daily closes of the read models, computes
// their figures (shared/domain/analytics, shared/domain/analytics/rebalance) and stores them in
// the read models (readmodel.Metrics), on two triggers.
//
//   - The events table's stream (HandleStream): a batch's records are coalesced to
//     one recomputation per touched portfolio, whatever the number of its events.
//     It recomputes from the event store, so a record the stream lost or could not
//     decode needs nothing special: any later record of the portfolio, or the next
//     daily run, recomputes it whole. A portfolio that fails for a transient cause
//     (the event store or the database unreachable) is retried within the
//     invocation, then fails its records only (ReportBatchItemFailures); one that
//     can never be computed from what is stored (a corrupt event) is quarantined:
//     recorded as a failure of the daily run, which retries it every day, and sent
//     to the failure destination, so its records do not hold the shard.
//   - Schedules (HandleSchedule, {"mode":"daily"|"weekly"}): every portfolio not
//     archived, in keyset pages, each page loaded and computed by a bounded pool of
//     workers. A portfolio that fails is recorded in analytics_status and retried
//     by the next run; the others proceed. A run is idempotent per portfolio and
//     day: it skips what it already completed at the portfolio's current version,
//     so a retried or resumed run does only the rest.
//
// The daily run also evaluates the risk alert rules (drawdown, VaR, concentration,
// weight drift) on the figures it computed; the weekly run pushes each user a
// summary of their portfolios. Correlations and rebalancing recommendations are
// cheap enough (well under a millisecond) that every computation refreshes them,
// so they are never older than the last change or close.
//
// The day of a run is the calendar day in Options.Location (America/New_York, the
// exchange's), so the 16:30 run after the close values the portfolios with that
// session's closes.
package analyticsjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// Modes of a scheduled run.
const (
	ModeDaily  = "daily"
	ModeWeekly = "weekly"
)

// Loader loads a portfolio with its full transaction history; *command.Service
// implements it.
type Loader interface {
	LoadFull(ctx context.Context, aggregateID string) (*portfolio.Portfolio, error)
}

// Store is the read-model side; *readmodel.Metrics implements it.
type Store interface {
	LoadCloses(ctx context.Context, symbols []string, from, to calendar.Date) (*performance.Closes, error)
	SaveResults(ctx context.Context, results []readmodel.AnalyticsResult) error
	PendingPortfolios(ctx context.Context, mode string, day calendar.Date, after string, limit int) ([]readmodel.PortfolioRef, error)
	MarkDone(ctx context.Context, mode string, day calendar.Date, refs []readmodel.PortfolioRef) error
	MarkFailed(ctx context.Context, mode string, day calendar.Date, failures []readmodel.AnalyticsFailure) error
	InsertValuations(ctx context.Context, vals []readmodel.Valuation) (int64, error)
	PruneMetrics(ctx context.Context, before calendar.Date) (int64, error)
}

var _ Store = (*readmodel.Metrics)(nil)

// Options configures a Job. Zero values take the defaults.
type Options struct {
	Settings Settings
	// Concurrency bounds the portfolios loaded and computed at once. Default 8.
	Concurrency int
	// PageSize is the number of portfolios per keyset page of a scheduled run
	// (and per SaveResults). Default 200.
	PageSize int
	// Location's calendar day is the run's day. Default America/New_York.
	Location *time.Location
	// Reserve is the time a scheduled run keeps before the invocation's deadline:
	// it stops starting pages then and reports itself incomplete. Default 20 s.
	Reserve time.Duration
	// Alerts and Notifier, both optional, enable the risk alerts and the weekly
	// summary (see alerts.go).
	Alerts   AlertStore
	Notifier Notifier
	Now      func() time.Time
	Logger   *slog.Logger
	// Metrics receives one EMF line per stream batch and per scheduled run.
	// Default os.Stdout.
	Metrics io.Writer
	// Quarantine, the failure destination, receives the stream records of the
	// portfolios that can never be computed. Without it those records fail, and
	// the stream's retries end in the mapping's own on-failure destination.
	Quarantine quarantine.Sink
	// Retry paces the retries of transient failures within a stream invocation.
	Retry retry.Policy
}

// Job computes and stores analytics.
type Job struct {
	loader  Loader
	store   Store
	opts    Options
	metrics *emf
}

// New returns a Job.
func New(loader Loader, store Store, opts Options) *Job {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 200
	}
	if opts.Location == nil {
		loc, err := time.LoadLocation("America/New_York")
		if err != nil {
			loc = time.UTC
		}
		opts.Location = loc
	}
	if opts.Reserve <= 0 {
		opts.Reserve = 20 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = os.Stdout
	}
	return &Job{loader: loader, store: store, opts: opts, metrics: &emf{w: opts.Metrics}}
}

// logger is the job's logger with the invocation's request ID, when there is one.
func (j *Job) logger(ctx context.Context) *slog.Logger {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return j.opts.Logger.With("requestId", lc.AwsRequestID)
	}
	return j.opts.Logger
}

// Today is the run's calendar day at now.
func (j *Job) Today() calendar.Date {
	return calendar.FromTime(j.opts.Now().In(j.opts.Location))
}

// ---------------------------------------------------------------- one page

// outcome is what happened to one portfolio of a page.
type outcome struct {
	id       string
	analysis *Analysis
	err      error
}

// computePage loads, values and computes the portfolios ids as of day, with at
// most Concurrency at once, and returns one outcome per ID (same order). A
// portfolio that does not exist (or is not a portfolio) has a nil analysis and
// no error.
func (j *Job) computePage(ctx context.Context, ids []string, day calendar.Date, set Settings) []outcome {
	out := make([]outcome, len(ids))
	loaded := make([]*portfolio.Portfolio, len(ids))
	j.parallel(len(ids), func(i int) {
		out[i].id = ids[i]
		p, err := j.loader.LoadFull(ctx, ids[i])
		switch {
		case errors.Is(err, portfolio.ErrNotFound):
		case errors.Is(err, portfolio.ErrCorruptEvent):
			out[i].err = permanent{err} // it stays corrupt until someone repairs it
		case err != nil:
			out[i].err = err
		case p.Version() == 0 || p.ID() == "":
		default:
			loaded[i] = p
		}
	})

	// One closes load for the whole page: portfolios share most symbols. Each
	// portfolio's own benchmark is among them.
	symbols := map[string]bool{}
	first := day
	for i, p := range loaded {
		if p == nil {
			continue
		}
		symbols[set.ForPortfolio(p).Benchmark] = true
		txs, err := p.Transactions()
		if err != nil {
			out[i].err, loaded[i] = permanent{err}, nil
			continue
		}
		for _, s := range Symbols(p, txs) {
			symbols[s] = true
		}
		if d, ok := FirstDay(txs); ok && d < first {
			first = d
		}
	}
	// Trades dated before portfolio.MinTradeDate (stored before the bounds) are
	// left out of the figures, and no close is that old: the look-back stops there,
	// a valid date for the database whatever the history holds.
	first = max(first, portfolio.MinTradeDate)
	syms := make([]string, 0, len(symbols))
	for s := range symbols {
		syms = append(syms, s)
	}
	slices.Sort(syms)
	// The benchmark's opening anchor is its last close before the first day.
	closes, err := j.store.LoadCloses(ctx, syms, first-10, day)
	if err != nil {
		for i := range out {
			if loaded[i] != nil {
				out[i].err = err
			}
		}
		return out
	}
	now := j.opts.Now()
	j.parallel(len(ids), func(i int) {
		if loaded[i] == nil {
			return
		}
		a, err := Analyze(loaded[i], closes, day, set, now)
		if err != nil {
			out[i].err = permanent{err} // computed from what is stored, without I/O
			return
		}
		out[i].analysis = &a
	})
	return out
}

// permanent marks a portfolio's failure that no retry mends.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) || readmodel.IsDataError(err)
}

// parallel runs f(0..n−1) on at most Concurrency goroutines.
func (j *Job) parallel(n int, f func(i int)) {
	workers := min(j.opts.Concurrency, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// ---------------------------------------------------------------- stream

// HandleStream is the DynamoDB stream handler. Records are coalesced by aggregate:
// each touched portfolio is recomputed once, from the event store (the record
// itself only says which aggregate changed, so even a record this build cannot
// decode needs no special case). A portfolio that fails for a transient cause is
// retried with backoff within the invocation, and its records are the batch's
// item failures if it still fails; one that fails for good is quarantined (see
// the package comment).
func (j *Job) HandleStream(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	log := j.logger(ctx)
	var ids []string
	recs := map[string][]*events.DynamoDBEventRecord{}
	for i := range ev.Records {
		r := &ev.Records[i]
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			continue
		}
		id := aggregateID(r)
		if id == "" {
			log.WarnContext(ctx, "stream record without an aggregate ID: skipped", "sequenceNumber", r.Change.SequenceNumber)
			continue
		}
		if _, ok := recs[id]; !ok {
			ids = append(ids, id)
		}
		recs[id] = append(recs[id], r)
	}
	if len(ids) == 0 {
		return resp, nil
	}
	day := j.Today()
	var stored, leftOut int
	failed := map[string]error{}
	broken := map[string]error{} // for good
	attempts := j.opts.Retry.Start(ctx)
	retries := 0
	for pending := ids; ; {
		clear(failed)
		var results []readmodel.AnalyticsResult
		var resultIDs []string
		for _, o := range j.computePage(ctx, pending, day, j.opts.Settings) {
			switch {
			case o.err != nil && isPermanent(o.err):
				broken[o.id] = o.err
			case o.err != nil:
				failed[o.id] = o.err
			case o.analysis != nil:
				results = append(results, o.analysis.Result)
				resultIDs = append(resultIDs, o.id)
				leftOut += o.analysis.LeftOut
			}
		}
		n, refused, err := j.save(ctx, results)
		stored += n
		maps.Copy(broken, refused)
		if err != nil {
			for _, id := range resultIDs {
				if refused[id] == nil {
					failed[id] = err
				}
			}
		}
		if len(failed) == 0 || !attempts.Wait() {
			break
		}
		retries++
		pending = slices.Sorted(maps.Keys(failed))
		log.WarnContext(ctx, "analytics: transient failures, retrying", "portfolios", len(pending), "attempt", retries)
	}
	for _, id := range slices.Sorted(maps.Keys(failed)) {
		log.ErrorContext(ctx, "analytics of a portfolio failed; its records are retried", "portfolioId", id, "error", failed[id].Error())
		resp.BatchItemFailures = append(resp.BatchItemFailures, itemFailures(recs[id])...)
	}
	quarantined := 0
	if len(broken) > 0 {
		n, err := j.quarantine(ctx, day, broken, recs)
		if err != nil {
			log.ErrorContext(ctx, "analytics: could not quarantine; the records are retried", "error", err.Error())
			for _, id := range slices.Sorted(maps.Keys(broken)) {
				resp.BatchItemFailures = append(resp.BatchItemFailures, itemFailures(recs[id])...)
			}
		}
		quarantined = n
	}
	log.InfoContext(ctx, "analytics recomputed", "records", len(ev.Records), "portfolios", len(ids),
		"stored", stored, "failed", len(failed), "quarantined", quarantined)
	j.metrics.emit(map[string]string{"Function": "analytics"}, j.opts.Now(),
		metric{name: "StreamRecords", value: float64(len(ev.Records))},
		metric{name: "PortfoliosRecomputed", value: float64(stored)},
		metric{name: "PortfoliosFailed", value: float64(len(failed))},
		metric{name: "PortfoliosQuarantined", value: float64(quarantined)},
		metric{name: "TransactionsLeftOut", value: float64(leftOut)},
		metric{name: "TransientRetries", value: float64(retries)})
	return resp, nil
}

func itemFailures(recs []*events.DynamoDBEventRecord) []events.DynamoDBBatchItemFailure {
	out := make([]events.DynamoDBBatchItemFailure, len(recs))
	for i, r := range recs {
		out[i] = events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber}
	}
	return out
}

// save stores results; a batch the database refuses for its data is stored one
// portfolio at a time, and those it still refuses are returned apart (they fail
// for good). err is a transient failure: nothing of what is not counted is saved.
func (j *Job) save(ctx context.Context, results []readmodel.AnalyticsResult) (stored int, refused map[string]error, err error) {
	err = j.store.SaveResults(ctx, results)
	if err == nil || !readmodel.IsDataError(err) || len(results) == 1 {
		if err == nil {
			return len(results), nil, nil
		}
		if readmodel.IsDataError(err) {
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
		case readmodel.IsDataError(err):
			refused[results[i].Portfolio.ID] = err
		default:
			return stored, refused, err
		}
	}
	return stored, refused, nil
}

// quarantine records the portfolios that can never be computed as failures of the
// daily run (which retries them every day, and clears them once they compute),
// and sends their stream records to the failure destination. Without one, it does
// nothing and reports their records failed.
func (j *Job) quarantine(ctx context.Context, day calendar.Date, broken map[string]error, recs map[string][]*events.DynamoDBEventRecord) (int, error) {
	if j.opts.Quarantine == nil {
		return 0, errors.New("no failure destination configured")
	}
	now := j.opts.Now().UTC()
	var out []quarantine.Record
	var failures []readmodel.AnalyticsFailure
	for _, id := range slices.Sorted(maps.Keys(broken)) {
		reason := broken[id].Error()
		failures = append(failures, readmodel.AnalyticsFailure{PortfolioID: id, Day: day, Reason: "quarantined from the stream: " + reason})
		for _, r := range recs[id] {
			v, _ := strconv.ParseInt(attr(r, eventstore.AttrVersion), 10, 64)
			out = append(out, quarantine.Record{Consumer: "analytics", AggregateID: id, Version: v, EventType: attr(r, eventstore.AttrEventType),
				EventID: attr(r, eventstore.AttrEventID), Reason: reason, SequenceNumber: r.Change.SequenceNumber, QuarantinedAt: now})
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

// attr reads a string or number attribute of the record's keys, or its image.
func attr(r *events.DynamoDBEventRecord, name string) string {
	for _, m := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, r.Change.NewImage} {
		if v, ok := m[name]; ok {
			switch v.DataType() {
			case events.DataTypeString:
				return v.String()
			case events.DataTypeNumber:
				return v.Number()
			}
		}
	}
	return ""
}

// aggregateID reads the record's partition key, falling back to the image.
func aggregateID(r *events.DynamoDBEventRecord) string {
	for _, m := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, r.Change.NewImage} {
		if v, ok := m[eventstore.AttrAggregateID]; ok && v.DataType() == events.DataTypeString {
			if t, ok := r.Change.NewImage[eventstore.AttrAggregateType]; ok && t.DataType() == events.DataTypeString &&
				t.String() != "" && t.String() != portfolio.AggregateType {
				return "" // another aggregate type sharing the table
			}
			return v.String()
		}
	}
	return ""
}

// ---------------------------------------------------------------- schedules

// ScheduleInput is the event a schedule delivers: {"mode":"daily"}. Day
// (YYYY-MM-DD) overrides the run's day, for backfills and reruns.
type ScheduleInput struct {
	Mode string `json:"mode"`
	Day  string `json:"day,omitempty"`
}

// RunSummary is what a scheduled run did.
type RunSummary struct {
	Mode     string        `json:"mode"`
	Day      string        `json:"day"`
	Pages    int           `json:"pages"`
	Computed int           `json:"computed"`
	Failed   int           `json:"failed"`
	Skipped  int           `json:"skipped"`
	Firings  int           `json:"firings"`
	Notified int           `json:"notified"`
	Pruned   int64         `json:"pruned"`
	Elapsed  time.Duration `json:"elapsedNs"`
	// Incomplete is true when the run stopped before the deadline with pages left.
	Incomplete bool `json:"incomplete"`
}

// ErrIncomplete is returned by a run that had to stop before the invocation's
// deadline: failing the invocation makes EventBridge Scheduler retry it, and the
// retry resumes where this one stopped.
var ErrIncomplete = errors.New("analytics: scheduled run incomplete")

// HandleSchedule runs a daily or weekly pass over every portfolio.
func (j *Job) HandleSchedule(ctx context.Context, in ScheduleInput) (RunSummary, error) {
	start := time.Now()
	sum := RunSummary{Mode: in.Mode}
	if in.Mode != ModeDaily && in.Mode != ModeWeekly {
		return sum, fmt.Errorf("analytics: unknown mode %q (want daily or weekly)", in.Mode)
	}
	day := j.Today()
	if in.Day != "" {
		d, err := calendar.Parse(in.Day)
		if err != nil {
			return sum, fmt.Errorf("analytics: day: %w", err)
		}
		day = d
	}
	sum.Day = day.String()
	log := j.logger(ctx).With("mode", in.Mode, "day", sum.Day)
	set := j.opts.Settings
	set.Snapshot = in.Mode == ModeDaily
	// The daily snapshot is the value at the session's close.
	closeAt := time.Date(day.Time().Year(), day.Time().Month(), day.Time().Day(), 16, 0, 0, 0, j.opts.Location).UTC()
	weekly := map[string][]PortfolioSummary{}
	after := ""
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < j.opts.Reserve {
			sum.Incomplete = true
			break
		}
		refs, err := j.store.PendingPortfolios(ctx, in.Mode, day, after, j.opts.PageSize)
		if err != nil {
			return sum, err
		}
		if len(refs) == 0 {
			break
		}
		after = refs[len(refs)-1].ID
		sum.Pages++
		ids := make([]string, len(refs))
		for i, r := range refs {
			ids[i] = r.ID
		}
		outs := j.computePage(ctx, ids, day, set)
		var results []readmodel.AnalyticsResult
		var done []readmodel.PortfolioRef
		var failed []readmodel.AnalyticsFailure
		var computed []*Analysis
		for i, o := range outs {
			switch {
			case o.err != nil:
				failed = append(failed, readmodel.AnalyticsFailure{PortfolioID: o.id, Day: day, Reason: o.err.Error()})
				log.ErrorContext(ctx, "analytics of a portfolio failed; the next run retries it", "portfolioId", o.id, "error", o.err.Error())
			case o.analysis == nil:
				// Not in the event store (yet): the read model is ahead of the
				// store only in tests, or the portfolio was never created.
				sum.Skipped++
				done = append(done, refs[i])
			default:
				o.analysis.Result.Scheduled = true
				results = append(results, o.analysis.Result)
				ref := o.analysis.Result.Portfolio
				// Done at the version the read model listed, at least: a newer
				// version was computed too.
				ref.Version = max(ref.Version, refs[i].Version)
				done = append(done, ref)
				computed = append(computed, o.analysis)
			}
		}
		if err := j.store.SaveResults(ctx, results); err != nil {
			return sum, err
		}
		var vals []readmodel.Valuation
		for _, a := range computed {
			if a.Valuation != nil {
				v := *a.Valuation
				v.AsOf = closeAt
				vals = append(vals, v)
			}
		}
		if _, err := j.store.InsertValuations(ctx, vals); err != nil {
			return sum, err
		}
		if err := j.store.MarkDone(ctx, in.Mode, day, done); err != nil {
			return sum, err
		}
		if err := j.store.MarkFailed(ctx, in.Mode, day, failed); err != nil {
			return sum, err
		}
		sum.Computed += len(results)
		sum.Failed += len(failed)
		if in.Mode == ModeDaily {
			n, err := j.riskAlerts(ctx, computed, closeAt)
			if err != nil {
				// The figures are stored; the alerts of this page are evaluated
				// again by the next run (their keys de-duplicate).
				log.ErrorContext(ctx, "risk alerts failed", "error", err.Error())
			}
			sum.Firings += n
		} else {
			for _, a := range computed {
				u := a.Result.Portfolio.UserID
				weekly[u] = append(weekly[u], summarize(a, day))
			}
		}
		if len(refs) < j.opts.PageSize {
			break
		}
	}
	if in.Mode == ModeWeekly {
		sum.Notified = j.weeklySummaries(ctx, day, weekly)
		// Housekeeping: daily rows older than a year are thinned to month-ends.
		if n, err := j.store.PruneMetrics(ctx, day-366); err != nil {
			log.ErrorContext(ctx, "pruning the metrics history failed", "error", err.Error())
		} else {
			sum.Pruned = n
		}
	}
	sum.Elapsed = time.Since(start)
	log.InfoContext(ctx, "scheduled analytics run", "pages", sum.Pages, "computed", sum.Computed, "failed", sum.Failed,
		"skipped", sum.Skipped, "firings", sum.Firings, "notified", sum.Notified, "incomplete", sum.Incomplete, "elapsedMs", sum.Elapsed.Milliseconds())
	j.metrics.emit(map[string]string{"Function": "analytics", "Mode": in.Mode}, j.opts.Now(),
		metric{name: "PortfoliosComputed", value: float64(sum.Computed)},
		metric{name: "PortfoliosFailed", value: float64(sum.Failed)},
		metric{name: "AlertsFired", value: float64(sum.Firings)},
		metric{name: "RunDuration", unit: "Milliseconds", value: float64(sum.Elapsed.Milliseconds())},
		metric{name: "RunIncomplete", value: map[bool]float64{true: 1}[sum.Incomplete]})
	if sum.Incomplete {
		return sum, ErrIncomplete
	}
	return sum, nil
}

// ---------------------------------------------------------------- Lambda entry

// Handler is the Lambda handler of the analytics function: one function serves the
// stream mapping (an event with "Records") and the schedules ({"mode": ...}).
// get builds the Job on first use (after the secrets are read); a failed build
// fails the invocation, and the stream or the scheduler retries it.
func Handler(get func(context.Context) (*Job, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Records json.RawMessage `json:"Records"`
			Mode    string          `json:"mode"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("analytics: event is not a JSON object: %w", err)
		}
		if probe.Records == nil && probe.Mode == "" {
			return nil, errors.New(`analytics: unknown event: neither stream records nor {"mode": ...}`)
		}
		j, err := get(ctx)
		if err != nil {
			return nil, fmt.Errorf("analytics: dependencies unavailable: %w", err)
		}
		if probe.Records != nil {
			var ev events.DynamoDBEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("analytics: stream event: %w", err)
			}
			return j.HandleStream(ctx, ev)
		}
		var in ScheduleInput
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("analytics: schedule input: %w", err)
		}
		return j.HandleSchedule(ctx, in)
	}
}
