package readmodel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// NotificationHistory is what the API reads and writes of the notifier's
// tables (migration 0021), always as the caller over a CallerDB: the
// delivery history and the unsubscribe of a signed link.
type NotificationHistory struct{ db MetricsDB }

// NewNotificationHistory returns the store over db (a CallerDB, or the
// owner's pool in tests).
func NewNotificationHistory(db MetricsDB) *NotificationHistory { return &NotificationHistory{db: db} }

// NotificationDelivery is one delivery of the caller's history.
type NotificationDelivery struct {
	ID      int64
	Source  string // alert | weekly_summary | phone_code
	Channel string
	Status  string
	Address string
	// What it was about: an alert's kind, symbol, portfolio, firing key and
	// rule (the user's own IDs); a weekly summary's day.
	Kind, Symbol, PortfolioID, FiringKey, RuleID, Day string
	Attempts                                          int
	HeldUntil, NextAttemptAt, SentAt                  time.Time // zero when not applicable
	DigestID, LastError                               string
	CreatedAt                                         time.Time
	AttemptLog                                        []NotificationAttempt
}

// NotificationAttempt is one attempt to send a delivery.
type NotificationAttempt struct {
	At      time.Time
	Outcome string // sent | retry | failed
	Error   string
}

// MaxNotificationPage bounds a history page.
const MaxNotificationPage = 100

// Deliveries returns a page of userID's deliveries, newest first, each with
// its attempts, and the next page's cursor ("" at the end).
func (h *NotificationHistory) Deliveries(ctx context.Context, userID string, limit int, cursor string) ([]NotificationDelivery, string, error) {
	limit = max(1, min(limit, MaxNotificationPage))
	if !isUUID(userID) {
		return []NotificationDelivery{}, "", nil
	}
	afterAt, afterID := "infinity", int64(0)
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", ErrInvalidCursor
		}
		at, id, ok := strings.Cut(string(raw), "|")
		n, nerr := strconv.ParseInt(id, 10, 64)
		if _, perr := time.Parse(time.RFC3339Nano, at); !ok || perr != nil || nerr != nil {
			return nil, "", ErrInvalidCursor
		}
		afterAt, afterID = at, n
	}
	db := asCaller(h.db, userID)
	rows, err := db.Query(ctx, `
select id, source, channel, status, coalesce(address, ''), summary::text, attempts,
       coalesce(to_char(held_until at time zone 'UTC', `+tsText+`), ''),
       case when status in ('pending', 'held') then to_char(next_attempt_at at time zone 'UTC', `+tsText+`) else '' end,
       coalesce(to_char(sent_at at time zone 'UTC', `+tsText+`), ''),
       coalesce(digest_id, ''), coalesce(last_error, ''),
       to_char(created_at at time zone 'UTC', `+tsText+`)
  from notification_deliveries
 where user_id = $1::uuid and (created_at, id) < ($2::timestamptz, $3::bigint)
 order by created_at desc, id desc
 limit $4`, userID, afterAt, afterID, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("readmodel: notification history: %w", err)
	}
	out := []NotificationDelivery{}
	var createdText []string
	for rows.Next() {
		var d NotificationDelivery
		var summary, held, next, sent, created string
		if err := rows.Scan(&d.ID, &d.Source, &d.Channel, &d.Status, &d.Address, &summary, &d.Attempts, &held, &next, &sent,
			&d.DigestID, &d.LastError, &created); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("readmodel: notification history: %w", err)
		}
		var s struct {
			Kind        string `json:"kind"`
			Symbol      string `json:"symbol"`
			PortfolioID string `json:"portfolioId"`
			FiringKey   string `json:"firingKey"`
			RuleID      string `json:"ruleId"`
			Day         string `json:"day"`
		}
		if err := json.Unmarshal([]byte(summary), &s); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("readmodel: notification summary %d: %w", d.ID, err)
		}
		d.Kind, d.Symbol, d.PortfolioID, d.Day = s.Kind, s.Symbol, s.PortfolioID, s.Day
		d.FiringKey, d.RuleID = alerts.OwnID(userID, s.FiringKey), alerts.OwnID(userID, s.RuleID)
		for _, f := range []struct {
			text string
			dst  *time.Time
		}{{held, &d.HeldUntil}, {next, &d.NextAttemptAt}, {sent, &d.SentAt}, {created, &d.CreatedAt}} {
			if f.text == "" {
				continue
			}
			if *f.dst, err = time.Parse(time.RFC3339Nano, f.text); err != nil {
				rows.Close()
				return nil, "", err
			}
		}
		d.AttemptLog = []NotificationAttempt{}
		out = append(out, d)
		createdText = append(createdText, created)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("readmodel: notification history: %w", err)
	}
	next := ""
	if len(out) > limit {
		out, createdText = out[:limit], createdText[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(createdText[limit-1] + "|" + strconv.FormatInt(last.ID, 10)))
	}
	return out, next, h.attachAttempts(ctx, userID, out)
}

func (h *NotificationHistory) attachAttempts(ctx context.Context, userID string, ds []NotificationDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	index := make(map[int64]int, len(ds))
	for i, d := range ds {
		ids[i], index[d.ID] = d.ID, i
	}
	rows, err := asCaller(h.db, userID).Query(ctx, `
select delivery_id, to_char(attempted_at at time zone 'UTC', `+tsText+`), outcome, coalesce(error, '')
  from notification_attempts
 where user_id = $1::uuid and delivery_id = any($2::bigint[])
 order by delivery_id, id`, userID, ids)
	if err != nil {
		return fmt.Errorf("readmodel: notification attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a NotificationAttempt
		var at string
		if err := rows.Scan(&id, &at, &a.Outcome, &a.Error); err != nil {
			return fmt.Errorf("readmodel: notification attempts: %w", err)
		}
		if a.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			ds[i].AttemptLog = append(ds[i].AttemptLog, a)
		}
	}
	return rows.Err()
}

// Unsubscribe turns e-mail off in userID's preferences (notify.Preferences
// WithoutEmail: every alert kind, the default channels and the weekly summary)
// and records the unsubscribe, which also stops e-mail a rule names until the
// user turns e-mail on again. It is idempotent: one record per user and
// scope, the first. The preferences are replaced only if unchanged since they
// were read, so a concurrent edit is not lost. A user without a profile row
// (erased, or never created) gets nothing: there is no mail to stop, and an
// erased user's link must not leave a row behind.
func (h *NotificationHistory) Unsubscribe(ctx context.Context, userID string, scope notify.UnsubscribeScope, at time.Time) error {
	if !isUUID(userID) {
		return fmt.Errorf("readmodel: unsubscribe %q: not a user", userID)
	}
	db := asCaller(h.db, userID)
	for range 5 {
		var current string
		err := db.QueryRow(ctx, `select notification_preferences::text from profiles where user_id = $1::uuid`, userID).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("readmodel: unsubscribe: %w", err)
		}
		var prefs notify.Preferences
		if err := json.Unmarshal([]byte(current), &prefs); err != nil {
			return fmt.Errorf("readmodel: unsubscribe: preferences: %w", err)
		}
		updated, err := json.Marshal(prefs.WithoutEmail())
		if err != nil {
			return err
		}
		var recorded int
		if err := db.QueryRow(ctx, `
with upd as (
  update profiles set notification_preferences = $2::jsonb, updated_at = $4
   where user_id = $1::uuid and notification_preferences = $3::jsonb
  returning user_id
), rec as (
  insert into notification_unsubscribes (user_id, scope, created_at) select user_id, $5, $4 from upd
  on conflict do nothing
)
select count(*) from upd`, userID, string(updated), current, at, string(scope)).Scan(&recorded); err != nil {
			return fmt.Errorf("readmodel: unsubscribe: %w", err)
		}
		if recorded == 1 {
			return nil
		}
	}
	return errors.New("readmodel: unsubscribe: the preferences kept changing")
}
