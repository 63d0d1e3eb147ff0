package analyticsjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// RunStatus is what a scheduled run has done (the analytics_status read model),
// which makes a run resumable and idempotent per portfolio and day.
type RunStatus interface {
	// PendingPortfolios returns up to limit portfolios (not archived) with an ID
	// after after, in ID order, that mode has not completed for day at their
	// current version, failed ones included.
	PendingPortfolios(ctx context.Context, mode string, day calendar.Date, after string, limit int) ([]PortfolioRef, error)
	// MarkDone records that mode completed day for the portfolios at their
	// versions, clearing any failure.
	MarkDone(ctx context.Context, mode string, day calendar.Date, refs []PortfolioRef) error
	// MarkFailed records failures of mode on day.
	MarkFailed(ctx context.Context, mode string, day calendar.Date, failures []Failure) error
}

// Failure is a portfolio a run could not compute.
type Failure struct {
	PortfolioID string
	Day         calendar.Date
	Reason      string
	// Attempts counts the runs that failed it in a row (read back from the store).
	Attempts int
}

// Valuations is where the daily run records each portfolio's value at the close
// (the valuations read model, which the prices function also writes).
type Valuations interface {
	// InsertValuations records vals, leaving those already recorded for their
	// portfolio and instant, and returns how many it inserted.
	InsertValuations(ctx context.Context, vals []portfolio.Valuation) (int64, error)
}

// MetricsHistory is the history of the figures, which the weekly run thins.
type MetricsHistory interface {
	// PruneMetrics thins the figures older than before to month-ends and returns
	// the rows deleted.
	PruneMetrics(ctx context.Context, before calendar.Date) (int64, error)
}

// ScheduledRun is what a schedule asks for: Mode (ModeDaily or ModeWeekly) on
// Day, or today (in Options.Location) when Day is zero. A Day of its own is for
// backfills and reruns.
type ScheduledRun struct {
	Mode string
	Day  calendar.Date
}

// RunSummary is what a scheduled run did.
type RunSummary struct {
	Mode     string `json:"mode"`
	Day      string `json:"day"`
	Pages    int    `json:"pages"`
	Computed int    `json:"computed"`
	Failed   int    `json:"failed"`
	Skipped  int    `json:"skipped"`
	Firings  int    `json:"firings"`
	Notified int    `json:"notified"`
	// Queued counts the weekly summaries queued for e-mail.
	Queued  int           `json:"queued"`
	Pruned  int64         `json:"pruned"`
	Elapsed time.Duration `json:"elapsedNs"`
	// Incomplete is true when the run stopped before the deadline with pages left.
	Incomplete bool `json:"incomplete"`
}

// ErrIncomplete is returned by a run that had to stop before the invocation's
// deadline: failing the invocation makes EventBridge Scheduler retry it, and the
// retry resumes where this one stopped.
var ErrIncomplete = errors.New("analytics: scheduled run incomplete")

// scheduled is the state of one scheduled run across its pages.
type scheduled struct {
	mode string
	day  calendar.Date
	set  Settings
	// closeAt is the session's close on day: the instant of the daily snapshot
	// and of the risk alerts' ticks.
	closeAt time.Time
	// weekly gathers by user the weekly summaries this invocation computed
	// (pushed when there is no outbox to read every invocation's from).
	weekly map[string][]PortfolioSummary
	log    *slog.Logger
	sum    RunSummary
}

// RunScheduled runs a daily or weekly pass over every portfolio, or a refresh
// of the portfolios a completed backfill left stale (refresh.go).
func (j *Job) RunScheduled(ctx context.Context, in ScheduledRun) (RunSummary, error) {
	start := time.Now()
	if in.Mode == ModeRefresh {
		return j.refresh(ctx)
	}
	if in.Mode != ModeDaily && in.Mode != ModeWeekly {
		return RunSummary{Mode: in.Mode}, fmt.Errorf("analytics: unknown mode %q (want daily, weekly or refresh)", in.Mode)
	}
	r := j.startRun(ctx, in)
	for after := ""; ; {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < j.opts.Reserve {
			r.sum.Incomplete = true
			break
		}
		refs, err := j.store.PendingPortfolios(ctx, r.mode, r.day, after, j.opts.PageSize)
		if err != nil {
			return r.sum, err
		}
		if len(refs) == 0 {
			break
		}
		after = refs[len(refs)-1].ID
		r.sum.Pages++
		if err := j.runPage(ctx, r, refs); err != nil {
			return r.sum, err
		}
		if len(refs) < j.opts.PageSize {
			break
		}
	}
	var weekErr error
	if r.mode == ModeWeekly {
		weekErr = j.finishWeek(ctx, r)
	}
	r.sum.Elapsed = time.Since(start)
	j.reportRun(ctx, r)
	if r.sum.Incomplete {
		return r.sum, ErrIncomplete
	}
	return r.sum, weekErr
}

// startRun settles the run's day and settings: the daily run snapshots the
// valuations, at the session's close.
func (j *Job) startRun(ctx context.Context, in ScheduledRun) *scheduled {
	day := in.Day
	if day == 0 {
		day = j.Today()
	}
	r := &scheduled{mode: in.Mode, day: day, set: j.opts.Settings, weekly: map[string][]PortfolioSummary{},
		sum: RunSummary{Mode: in.Mode, Day: day.String()}}
	r.log = j.logger(ctx).With("mode", in.Mode, "day", r.sum.Day)
	r.set.Snapshot = in.Mode == ModeDaily
	r.set.WeekReturns = in.Mode == ModeWeekly
	t := day.Time()
	r.closeAt = time.Date(t.Year(), t.Month(), t.Day(), 16, 0, 0, 0, j.opts.Location).UTC()
	return r
}

// page is one page's outcomes sorted for the stores.
type page struct {
	results  []Result
	done     []PortfolioRef
	failed   []Failure
	computed []*Analysis
}

// runPage computes one page of pending portfolios, stores what it computed
// (with the week's summaries, weekly) and the page's status, then evaluates the
// risk alerts (daily).
func (j *Job) runPage(ctx context.Context, r *scheduled, refs []PortfolioRef) error {
	ids := make([]string, len(refs))
	for i, ref := range refs {
		ids[i] = ref.ID
	}
	pg := r.sortOutcomes(ctx, refs, j.computePage(ctx, ids, r.day, r.set))
	if err := j.storePage(ctx, r, pg); err != nil {
		return err
	}
	r.sum.Computed += len(pg.results)
	r.sum.Failed += len(pg.failed)
	if r.mode == ModeDaily {
		n, err := j.riskAlerts(ctx, pg.computed, r.closeAt)
		if err != nil {
			// The figures are stored; the alerts of this page are evaluated
			// again by the next run (their keys de-duplicate).
			r.log.ErrorContext(ctx, "risk alerts failed", "error", err.Error())
		}
		r.sum.Firings += n
		return nil
	}
	return nil
}

// sortOutcomes sorts a page's outcomes (outs[i] is refs[i]'s) into results to
// store, portfolios done and failures.
func (r *scheduled) sortOutcomes(ctx context.Context, refs []PortfolioRef, outs []outcome) page {
	var pg page
	for i, o := range outs {
		switch {
		case o.err != nil:
			pg.failed = append(pg.failed, Failure{PortfolioID: o.id, Day: r.day, Reason: o.err.Error()})
			r.log.ErrorContext(ctx, "analytics of a portfolio failed; the next run retries it", "portfolioId", o.id, "error", o.err.Error())
		case o.analysis == nil:
			// Not in the event store (yet): the read model is ahead of the
			// store only in tests, or the portfolio was never created.
			r.sum.Skipped++
			pg.done = append(pg.done, refs[i])
		default:
			o.analysis.Result.Scheduled = true
			pg.results = append(pg.results, o.analysis.Result)
			ref := o.analysis.Result.Portfolio
			// Done at the version the read model listed, at least: a newer
			// version was computed too.
			ref.Version = max(ref.Version, refs[i].Version)
			pg.done = append(pg.done, ref)
			pg.computed = append(pg.computed, o.analysis)
		}
	}
	return pg
}

// storePage stores the page's figures, then its valuations at the close, then
// its week's summaries (weekly), then its status: a page whose writes failed
// is computed again by the retry.
func (j *Job) storePage(ctx context.Context, r *scheduled, pg page) error {
	if err := j.store.SaveResults(ctx, pg.results); err != nil {
		return err
	}
	var vals []portfolio.Valuation
	for _, a := range pg.computed {
		if a.Valuation != nil {
			v := *a.Valuation
			v.AsOf = r.closeAt
			vals = append(vals, v)
		}
	}
	if _, err := j.store.InsertValuations(ctx, vals); err != nil {
		return err
	}
	if r.mode == ModeWeekly {
		if err := j.saveWeek(ctx, r, pg.computed); err != nil {
			return err
		}
	}
	if err := j.store.MarkDone(ctx, r.mode, r.day, pg.done); err != nil {
		return err
	}
	return j.store.MarkFailed(ctx, r.mode, r.day, pg.failed)
}

// finishWeek sends the weekly summaries once the run has been through every
// page (an incomplete run leaves them to the retry that completes it), and
// thins the figures' history: daily rows older than a year are kept at
// month-ends only.
func (j *Job) finishWeek(ctx context.Context, r *scheduled) error {
	var err error
	if !r.sum.Incomplete {
		r.sum.Notified, err = j.weeklySummaries(ctx, r)
	}
	if n, perr := j.store.PruneMetrics(ctx, r.day-366); perr != nil {
		r.log.ErrorContext(ctx, "pruning the metrics history failed", "error", perr.Error())
	} else {
		r.sum.Pruned = n
	}
	return err
}

// reportRun logs the run's summary and emits its metrics.
func (j *Job) reportRun(ctx context.Context, r *scheduled) {
	sum := &r.sum
	r.log.InfoContext(ctx, "scheduled analytics run", "pages", sum.Pages, "computed", sum.Computed, "failed", sum.Failed,
		"skipped", sum.Skipped, "firings", sum.Firings, "notified", sum.Notified, "incomplete", sum.Incomplete, "elapsedMs", sum.Elapsed.Milliseconds())
	j.metrics.WithDimensions(map[string]string{"Mode": r.mode}).Emit(
		emf.Metric{Name: "PortfoliosComputed", Value: float64(sum.Computed)},
		emf.Metric{Name: "PortfoliosFailed", Value: float64(sum.Failed)},
		emf.Metric{Name: "AlertsFired", Value: float64(sum.Firings)},
		emf.Metric{Name: "RunDuration", Unit: "Milliseconds", Value: float64(sum.Elapsed.Milliseconds())},
		emf.Metric{Name: "RunIncomplete", Value: map[bool]float64{true: 1}[sum.Incomplete]})
}
