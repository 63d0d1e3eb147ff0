package readmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// WeeklySummaries is the analytics job's weekly outbox (analyticsjob.WeeklyOutbox):
// the portfolios' summaries of the week on their status rows (migration 0027),
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

// SaveWeekSummaries implements analyticsjob.WeeklyOutbox: each summary on the
// portfolio's 'weekly' status row (migration 0027), which MarkDone then marks.
func (w *WeeklySummaries) SaveWeekSummaries(ctx context.Context, day calendar.Date, summaries []analyticsjob.PortfolioWeek) error {
	ids, docs := make([]string, 0, len(summaries)), make([]string, 0, len(summaries))
	for _, s := range summaries {
		b, err := json.Marshal(s.Summary)
		if err != nil {
			return fmt.Errorf("readmodel: the week's summary of %s: %w", s.Summary.PortfolioID, err)
		}
		ids, docs = append(ids, s.Summary.PortfolioID), append(docs, string(b))
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := w.db.Exec(ctx, `insert into analytics_status as s (portfolio_id, mode, summary_day, summary, updated_at)
	      select id, $1, $2::date, doc::jsonb, now() from unnest($3::text[], $4::text[]) as t(id, doc)
	      on conflict (portfolio_id, mode) do update set summary_day = excluded.summary_day, summary = excluded.summary`,
		analyticsjob.ModeWeekly, day.String(), ids, docs); err != nil {
		return fmt.Errorf("readmodel: store %d summaries of the week: %w", len(ids), err)
	}
	return nil
}

// WeekSummaries implements analyticsjob.WeeklyOutbox: the summaries of the day
// of the portfolios done for it, with their owners (archived ones left out, as
// the runs leave them).
func (w *WeeklySummaries) WeekSummaries(ctx context.Context, day calendar.Date) (map[string][]analyticsjob.PortfolioSummary, error) {
	rows, err := w.db.Query(ctx, `select p.user_id::text, s.summary from analytics_status s join portfolios p on p.id = s.portfolio_id
	     where s.mode = $1 and s.summary_day = $2::date and s.done_day = $2::date and not p.archived
	     order by p.user_id, s.portfolio_id`, analyticsjob.ModeWeekly, day.String())
	if err != nil {
		return nil, fmt.Errorf("readmodel: the week's summaries: %w", err)
	}
	out := map[string][]analyticsjob.PortfolioSummary{}
	var user string
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&user, &doc}, func() error {
		var s analyticsjob.PortfolioSummary
		if err := json.Unmarshal(doc, &s); err != nil {
			return fmt.Errorf("summary of a portfolio of %s: %w", user, err)
		}
		out[user] = append(out[user], s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("readmodel: the week's summaries: %w", err)
	}
	return out, nil
}

// QueueWeeklySummaries implements analyticsjob.WeeklyOutbox: one statement for
// every user, the source key de-duplicating a rerun.
func (w *WeeklySummaries) QueueWeeklySummaries(ctx context.Context, summaries []analyticsjob.QueuedSummary) ([]string, error) {
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
		return nil, nil
	}
	rows, err := w.db.Query(ctx, `insert into notification_outbox (user_id, source, source_key, payload)
	      select u, 'weekly_summary', k, p::jsonb from unnest($1::uuid[], $2::text[], $3::text[]) as x(u, k, p)
	      on conflict (source_key) do nothing
	      returning user_id::text`, users, keys, payloads)
	if err != nil {
		return nil, fmt.Errorf("readmodel: queue %d weekly summaries: %w", len(users), err)
	}
	queued, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("readmodel: queue %d weekly summaries: %w", len(users), err)
	}
	slices.Sort(queued)
	return queued, nil
}
