package analyticsjob

import (
	"context"
	"fmt"
	"time"
)

// ModeRefresh is the schedule that recomputes the portfolios whose figures
// predate a completed backfill of one of their symbols (the backfill function,
// shared/app/history): closes that arrived after a computation change its
// performance, risk and value history.
const ModeRefresh = "refresh"

// BackfillRefresh finds the portfolios whose analytics are older than a
// backfill of one of their symbols (readmodel.SymbolHistory).
type BackfillRefresh interface {
	// StaleAfterBackfill returns up to limit portfolios (not archived) whose
	// figures were computed before a backfill of one of their symbols (traded,
	// benchmark, the pair against quoteCurrency of every currency their figures
	// convert: the base's, each transaction's settlement currency, a
	// conversion's incoming one) completed after since, least recently
	// computed first.
	StaleAfterBackfill(ctx context.Context, quoteCurrency string, since time.Time, limit int) ([]string, error)
}

// RefreshOptions configure the refresh schedule. Zero values take the defaults.
type RefreshOptions struct {
	// Stale finds the portfolios to recompute; without it a refresh does nothing.
	Stale BackfillRefresh
	// Limit bounds the portfolios one refresh recomputes. Default 50.
	Limit int
	// Window is how long after a backfill completed its portfolios are looked
	// for. Default 7 days.
	Window time.Duration
	// QuoteCurrency is the currency of the quotes. Default USD.
	QuoteCurrency string
}

func (o RefreshOptions) withDefaults() RefreshOptions {
	if o.Limit <= 0 {
		o.Limit = 50
	}
	if o.Window <= 0 {
		o.Window = 7 * 24 * time.Hour
	}
	if o.QuoteCurrency == "" {
		o.QuoteCurrency = "USD"
	}
	return o
}

// refresh recomputes the portfolios a completed backfill left stale, through the
// stream's path (retried within the invocation when a cause is transient). A
// portfolio that fails stays stale and is found again by the next refresh.
func (j *Job) refresh(ctx context.Context) (RunSummary, error) {
	start := time.Now()
	day := j.Today()
	sum := RunSummary{Mode: ModeRefresh, Day: day.String()}
	o := j.opts.Refresh.withDefaults()
	if o.Stale == nil {
		return sum, nil
	}
	ids, err := o.Stale.StaleAfterBackfill(ctx, o.QuoteCurrency, j.opts.Now().Add(-o.Window), o.Limit)
	if err != nil {
		return sum, fmt.Errorf("analytics: portfolios stale after a backfill: %w", err)
	}
	if len(ids) > 0 {
		t := j.recomputeWithRetries(ctx, ids, day)
		sum.Computed, sum.Failed = t.stored, len(t.failed)+len(t.broken)
		for id, err := range t.broken {
			j.logger(ctx).ErrorContext(ctx, "analytics refresh: a portfolio cannot be computed", "portfolioId", id, "error", err.Error())
		}
	}
	sum.Elapsed = time.Since(start)
	j.logger(ctx).InfoContext(ctx, "analytics refreshed after backfills", "stale", len(ids), "computed", sum.Computed, "failed", sum.Failed)
	return sum, nil
}
