package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// WeeklySummaries is the analytics job's weekly outbox (analyticsjob.WeeklyOutbox):
// the users' firings of the week from alert_history, and the summaries queued
// in the notifier's outbox (migration 0021). The analytics function's owner
// pool writes it.
type WeeklySummaries struct{ db MetricsDB }

// NewWeeklySummaries returns the store.
func NewWeeklySummaries(db MetricsDB) *WeeklySummaries { return &WeeklySummaries{db: db} }

var _ analyticsjob.WeeklyOutbox = (*WeeklySummaries)(nil)

// FiringsBetween implements analyticsjob.WeeklyOutbox. Rule IDs and keys are the
// user's own (without the stored "<user>:" scope), as the API shows them.
func (w *WeeklySummaries) FiringsBetween(ctx context.Context, userIDs []string, from, to time.Time, limit int) (map[string][]alerts.Firing, error) {
	var ids []string
	for _, u := range userIDs {
		if isUUID(u) {
			ids = append(ids, u)
		}
	}
	out := make(map[string][]alerts.Firing, len(ids))
	if len(ids) == 0 || limit < 1 {
		return out, nil
	}
	rows, err := w.db.Query(ctx, `
select h.user_id::text, h.firing_key, h.rule_id, h.kind, h.symbol, h.portfolio_id, h.observed::text, h.threshold::text, h.fired_at
  from unnest($1::uuid[]) as u(id)
  cross join lateral (select * from alert_history a
                       where a.user_id = u.id and a.fired_at > $2 and a.fired_at <= $3
                       order by a.fired_at desc, a.firing_key desc limit $4) h`, ids, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("readmodel: the week's firings: %w", err)
	}
	type row struct {
		user, key, rule, kind, symbol, portfolio, observed, threshold string
		at                                                            time.Time
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.user, &x.key, &x.rule, &x.kind, &x.symbol, &x.portfolio, &x.observed, &x.threshold, &x.at)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("readmodel: the week's firings: %w", err)
	}
	for _, x := range got {
		f := alerts.Firing{Key: alerts.OwnID(x.user, x.key), RuleID: alerts.OwnID(x.user, x.rule), Kind: alerts.Kind(x.kind), UserID: x.user,
			Symbol: x.symbol, PortfolioID: x.portfolio, At: x.at.UTC()}
		if f.Observed, err = decimal.NewFromString(x.observed); err != nil {
			return nil, err
		}
		if f.Threshold, err = decimal.NewFromString(x.threshold); err != nil {
			return nil, err
		}
		out[x.user] = append(out[x.user], f)
	}
	return out, nil
}

// QueueWeeklySummaries implements analyticsjob.WeeklyOutbox: one statement for
// every user, the source key de-duplicating a rerun.
func (w *WeeklySummaries) QueueWeeklySummaries(ctx context.Context, summaries []analyticsjob.QueuedSummary) error {
	var users, keys, payloads []string
	for _, s := range summaries {
		if !isUUID(s.UserID) {
			continue
		}
		users = append(users, s.UserID)
		keys = append(keys, "weekly_summary:"+s.UserID+":"+s.Day.String())
		payloads = append(payloads, string(s.Payload))
	}
	if len(users) == 0 {
		return nil
	}
	if _, err := w.db.Exec(ctx, `insert into notification_outbox (user_id, source, source_key, payload)
	      select u, 'weekly_summary', k, p::jsonb from unnest($1::uuid[], $2::text[], $3::text[]) as x(u, k, p)
	      on conflict (source_key) do nothing`, users, keys, payloads); err != nil {
		return fmt.Errorf("readmodel: queue %d weekly summaries: %w", len(users), err)
	}
	return nil
}
