// Package analyticsjob is the analytics function's use case: it loads portfolios
// through the event store, values them with the daily closes, computes their
// figures (shared/domain/analytics, shared/domain/analytics/rebalance) and stores
// them, on two triggers, each taking plain inputs that functions/analytics decodes
// from its Lambda events. It declares the ports it uses (Loader, Store and its
// parts, AlertStore, Notifier); the read models implement them.
//
//   - Changes from the events table's stream (Recompute): a batch's records are
//     coalesced to one recomputation per touched portfolio, whatever the number of
//     its events. It recomputes from the event store, so a record the stream lost
//     or could not decode needs nothing special: any later record of the
//     portfolio, or the next daily run, recomputes it whole. A portfolio that
//     fails for a transient cause (the event store or the database unreachable) is
//     retried within the invocation, then fails its records only; one that can
//     never be computed from what is stored (a corrupt event) is quarantined:
//     recorded as a failure of the daily run, which retries it every day, and sent
//     to the failure destination, so its records do not hold the shard.
//   - Scheduled runs (RunScheduled, daily or weekly): every portfolio not
//     archived, in keyset pages, each page loaded and computed by a bounded pool of
//     workers. A portfolio that fails is recorded in the run status and retried by
//     the next run; the others proceed. A run is idempotent per portfolio and day:
//     it skips what it already completed at the portfolio's current version, so a
//     retried or resumed run does only the rest.
//   - The refresh schedule (every minute): the portfolios whose figures predate a
//     completed backfill of one of their symbols, recomputed as the stream does.
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
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// Modes of a scheduled run: the schedule's name.
const (
	ModeDaily  = "daily"
	ModeWeekly = "weekly"
)

// Store is the read-model side of the job, every port but the event store's and
// the alerts'; *readmodel.Metrics implements it.
type Store interface {
	Closes
	Rates
	Results
	RunStatus
	Valuations
	MetricsHistory
}

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
	// Outbox, optional, queues the weekly summaries for e-mail and reads the
	// week's alerts into them (weekly.go).
	Outbox WeeklyOutbox
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics receives one EMF line per stream batch and per scheduled run.
	// Default os.Stdout.
	Metrics io.Writer
	// Quarantine, the failure destination, receives the stream records of the
	// portfolios that can never be computed. Without it those records fail, and
	// the stream's retries end in the mapping's own on-failure destination.
	Quarantine quarantine.Sink
	// Retry paces the retries of transient failures within a stream invocation.
	Retry retry.Policy
	// Refresh configures the refresh schedule (refresh.go).
	Refresh RefreshOptions
}

// Job computes and stores analytics.
type Job struct {
	loader  Loader
	store   Store
	opts    Options
	metrics *emf.Writer
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
	metrics := emf.New(opts.Metrics, map[string]string{"Function": "analytics"}).WithClock(opts.Now)
	return &Job{loader: loader, store: store, opts: opts, metrics: metrics}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the ID of the invocation it serves: the
// job's log lines for it carry the ID (requestId).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// logger is the job's logger with the invocation's request ID, when there is one.
func (j *Job) logger(ctx context.Context) *slog.Logger {
	if id, _ := ctx.Value(requestIDKey{}).(string); id != "" {
		return j.opts.Logger.With("requestId", id)
	}
	return j.opts.Logger
}

// Today is the run's calendar day at now.
func (j *Job) Today() calendar.Date {
	return calendar.FromTime(j.opts.Now().In(j.opts.Location))
}

// permanent marks a portfolio's failure that no retry mends.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// isPermanent reports whether err is a portfolio's failure that no retry mends:
// computed from what is stored, or the store refusing its data.
func (j *Job) isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) || j.store.IsDataError(err)
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
