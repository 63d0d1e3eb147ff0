package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// Notifications is the notifier's store (migration 0021) over the owner's
// pool: the outbox the producers write, the deliveries planned from it, their
// attempts and the suppressed addresses.
type Notifications struct{ pool *pgxpool.Pool }

// NewNotifications returns the notifier's store.
func NewNotifications(pool *pgxpool.Pool) *Notifications { return &Notifications{pool: pool} }

var _ notifier.Store = (*Notifications)(nil)

// recipientColumns are what a plan needs of the user and the message's rule
// as they are now (scanned by recipientRow), from the outbox entry o, the
// profile p and the rule r (recipientJoins).
const recipientColumns = `
       coalesce(p.email, ''), p.email_confirmed_at is not null,
       coalesce(p.phone, ''), p.phone_verified_at is not null,
       coalesce(p.time_zone, 'UTC'), coalesce(p.notification_preferences::text, ''),
       exists (select 1 from email_suppressions s where s.address = lower(p.email)),
       exists (select 1 from notification_unsubscribes u where u.user_id = o.user_id and u.scope = 'email'),
       coalesce((r.definition -> 'channels')::text, '')`

const recipientJoins = `
  left join profiles p on p.user_id = o.user_id
  left join alert_rules r on o.source = 'alert' and r.id = o.payload ->> 'ruleId' and r.user_id = o.user_id`

const unplannedSQL = `
select o.id, o.user_id::text, o.source, o.payload::text,` + recipientColumns + `
  from notification_outbox o` + recipientJoins + `
 where o.planned_at is null
 order by o.id
 limit $1`

// recipientRow scans recipientColumns.
type recipientRow struct {
	r                       notify.Recipient
	tz, prefs, ruleChannels string
	unsubscribed            bool
}

func (rr *recipientRow) dest() []any {
	r := &rr.r
	return []any{&r.Email, &r.EmailVerified, &r.Phone, &r.PhoneVerified, &rr.tz, &rr.prefs, &r.EmailSuppressed, &rr.unsubscribed, &rr.ruleChannels}
}

// recipient is the scanned recipient. A user without a profile row has no
// address (e-mail and SMS are skipped) and the default preferences.
func (rr *recipientRow) recipient() (notify.Recipient, error) {
	r := rr.r
	r.Preferences = notify.DefaultPreferences()
	if rr.prefs != "" {
		if err := json.Unmarshal([]byte(rr.prefs), &r.Preferences); err != nil {
			return r, fmt.Errorf("preferences: %w", err)
		}
	}
	r.EmailUnsubscribed = rr.unsubscribed && !r.Preferences.WantsEmail()
	if loc, err := time.LoadLocation(rr.tz); err == nil {
		r.Location = loc
	}
	return r, nil
}

// Unplanned implements notifier.Store. A user without a profile row has no
// address (e-mail and SMS are skipped) and the default preferences; a rule
// deleted since it fired leaves the channels to the preferences.
func (n *Notifications) Unplanned(ctx context.Context, limit int) ([]notifier.Unplanned, error) {
	rows, err := n.pool.Query(ctx, unplannedSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("readmodel: unplanned outbox: %w", err)
	}
	defer rows.Close()
	var out []notifier.Unplanned
	for rows.Next() {
		var u notifier.Unplanned
		var source, payload string
		var rr recipientRow
		if err := rows.Scan(append([]any{&u.OutboxID, &u.UserID, &source, &payload}, rr.dest()...)...); err != nil {
			return nil, fmt.Errorf("readmodel: unplanned outbox: %w", err)
		}
		var errRecipient, errMessage error
		u.Recipient, errRecipient = rr.recipient()
		u.Message, errMessage = outboxMessage(notify.Source(source), payload, rr.ruleChannels)
		if err := errors.Join(errRecipient, errMessage); err != nil {
			u.Invalid = fmt.Errorf("readmodel: outbox entry %d: %w", u.OutboxID, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: unplanned outbox: %w", err)
	}
	return out, nil
}

func outboxMessage(source notify.Source, payload, ruleChannels string) (notify.Message, error) {
	m := notify.Message{Source: source}
	var p struct {
		Kind  string `json:"kind"`
		Phone string `json:"phone"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return m, err
	}
	m.AlertKind, m.Phone = p.Kind, p.Phone
	if ruleChannels != "" && ruleChannels != "null" {
		if err := json.Unmarshal([]byte(ruleChannels), &m.RuleChannels); err != nil {
			return m, fmt.Errorf("rule channels: %w", err)
		}
	}
	return m, nil
}

// SavePlan implements notifier.Store: the entry is marked planned and its
// deliveries inserted in one transaction; an entry planned already is left
// alone, so two runs planning it at once make one set of deliveries.
func (n *Notifications) SavePlan(ctx context.Context, outboxID int64, userID string, steps []notify.Step, now time.Time) error {
	return pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update notification_outbox set planned_at = $2 where id = $1 and planned_at is null`, outboxID, now)
		if err != nil {
			return fmt.Errorf("readmodel: mark outbox entry %d planned: %w", outboxID, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		for _, s := range steps {
			var held, sent *time.Time
			switch s.Action {
			case notify.ActionHold:
				held = &s.At
			case notify.ActionLive:
				sent = &now
			}
			if _, err := tx.Exec(ctx, `
insert into notification_deliveries (outbox_id, user_id, source, summary, channel, status, address, held_until,
                                     next_attempt_at, last_error, sent_at, created_at, updated_at)
select o.id, o.user_id, o.source,
       case o.source when 'phone_code' then o.payload - 'code'
                     when 'weekly_summary' then jsonb_build_object('day', o.payload -> 'day')
                     else o.payload end,
       $2, $3, nullif($4, ''), $5, $6, nullif($7, ''), $8, $9, $9
  from notification_outbox o
 where o.id = $1
on conflict (outbox_id, channel) do nothing`,
				outboxID, string(s.Channel), string(s.Action), s.Address, held, s.At, s.Reason, sent, now); err != nil {
				return fmt.Errorf("readmodel: delivery of outbox entry %d by %s: %w", outboxID, s.Channel, err)
			}
		}
		return nil
	})
}

// claimSQL leases the due deliveries of up to $2 users: all of a user's due
// deliveries at once, so that the held ones of a channel make one digest.
// A held delivery marked for a new plan (its user's profile changed, 0029)
// is due at once. SKIP LOCKED keeps concurrent runs off each other's rows;
// the lease keeps a claimed row from being claimed again until it expires (a
// run that died). The recipient is read as it is now: the notifier plans
// each claimed delivery again against it.
const claimSQL = `
with due_users as (
  select user_id from notification_deliveries
   where (status in ('pending', 'held') and next_attempt_at <= $1) or (status = 'sending' and lease_until <= $1)
      or (status = 'held' and replan)
   group by user_id
   order by min(next_attempt_at)
   limit $2
), due as (
  select d.id from notification_deliveries d
   where d.user_id in (select user_id from due_users)
     and ((d.status in ('pending', 'held') and d.next_attempt_at <= $1) or (d.status = 'sending' and d.lease_until <= $1)
          or (d.status = 'held' and d.replan))
   order by d.id
   for update skip locked
), claimed as (
  update notification_deliveries d
     set status = 'sending', lease_until = $3, updated_at = $1
    from due
   where d.id = due.id
  returning d.id, d.outbox_id, d.user_id, d.channel, coalesce(d.address, '') as address, d.source, d.held_until is not null as held,
            d.attempts, d.created_at, coalesce(d.held_until, d.created_at) as due_since, d.lease_until
)
select c.id, c.outbox_id, c.user_id::text, c.channel, c.address, c.source, o.payload::text, c.held, c.attempts, c.created_at, c.due_since,
       c.lease_until, coalesce(p.display_name, ''), coalesce(pf.name, ''),` + recipientColumns + `
  from claimed c
  join notification_outbox o on o.id = c.outbox_id` + recipientJoins + `
  left join portfolios pf on c.source = 'alert' and pf.id = o.payload ->> 'portfolioId' and pf.user_id = c.user_id
 order by c.id`

// ClaimDue implements notifier.Store.
func (n *Notifications) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]notifier.Delivery, error) {
	rows, err := n.pool.Query(ctx, claimSQL, now, limit, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("readmodel: claim deliveries: %w", err)
	}
	defer rows.Close()
	var out []notifier.Delivery
	for rows.Next() {
		var d notifier.Delivery
		var channel, source, payload string
		var rr recipientRow
		if err := rows.Scan(append([]any{&d.ID, &d.OutboxID, &d.UserID, &channel, &d.Address, &source, &payload, &d.Held, &d.Attempts,
			&d.CreatedAt, &d.DueSince, &d.LeaseUntil, &d.DisplayName, &d.PortfolioName}, rr.dest()...)...); err != nil {
			return nil, fmt.Errorf("readmodel: claim deliveries: %w", err)
		}
		d.Channel, d.Source, d.Payload = notify.Channel(channel), notify.Source(source), json.RawMessage(payload)
		d.TimeZone = rr.tz
		// A claimed row whose profile or message no longer reads is planned
		// with what does: the defaults (no rule channels, the default
		// preferences) rather than a claim that fails every run.
		d.Recipient, _ = rr.recipient()
		d.Message, _ = outboxMessage(d.Source, payload, rr.ruleChannels)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: claim deliveries: %w", err)
	}
	return out, nil
}

// recordSQL applies one outcome under its lease, records the attempt, and
// deletes a phone code's code from the outbox once its delivery is final.
const recordSQL = `
with upd as (
  update notification_deliveries
     set status = case $2::text when 'retry' then case when $10 then 'held' else 'pending' end else $2::text end,
         attempts = attempts + case when $4 then 1 else 0 end,
         next_attempt_at = coalesce($5, next_attempt_at),
         lease_until = null,
         provider_id = coalesce(nullif($6, ''), provider_id),
         digest_id = coalesce(nullif($7, ''), digest_id),
         last_error = nullif($8, ''),
         sent_at = case when $2::text = 'sent' then $9 else sent_at end,
         address = coalesce(nullif($11, ''), address),
         held_until = coalesce($12, held_until),
         replan = false,
         updated_at = $9
   where id = $1 and status = 'sending' and lease_until = $3
  returning id, user_id, outbox_id
), attempt as (
  insert into notification_attempts (delivery_id, user_id, attempted_at, outcome, error)
  select id, user_id, $9, $2::text, nullif($8, '') from upd where $4
), strip as (
  update notification_outbox o set payload = o.payload - 'code'
    from upd where o.id = upd.outbox_id and o.source = 'phone_code' and $2::text in ('sent', 'failed')
)
select count(*) from upd`

// Record implements notifier.Store, in one transaction.
func (n *Notifications) Record(ctx context.Context, outcomes []notifier.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		for _, o := range outcomes {
			var next *time.Time
			if !o.NextAttemptAt.IsZero() {
				next = &o.NextAttemptAt
			}
			var heldUntil *time.Time
			if !o.HeldUntil.IsZero() {
				heldUntil = &o.HeldUntil
			}
			var applied int
			if err := tx.QueryRow(ctx, recordSQL, o.DeliveryID, string(o.Status), o.LeaseUntil, o.Attempted, next, o.ProviderID, o.DigestID,
				o.Error, o.At, o.Held, o.Address, heldUntil).Scan(&applied); err != nil {
				return fmt.Errorf("readmodel: record delivery %d: %w", o.DeliveryID, err)
			}
		}
		return nil
	})
}

// Suppress implements notifier.Store. The first reason stays (a complaint
// after a bounce changes nothing: the address is suppressed either way).
func (n *Notifications) Suppress(ctx context.Context, address, reason, detail string, at time.Time) error {
	if address == "" {
		return errors.New("readmodel: suppress an empty address")
	}
	if _, err := n.pool.Exec(ctx, `
insert into email_suppressions (address, reason, detail, created_at) values (lower($1), $2, nullif($3, ''), $4)
on conflict (address) do nothing`, address, reason, detail, at); err != nil {
		return fmt.Errorf("readmodel: suppress an address: %w", err)
	}
	return nil
}

// Prune implements notifier.Store. Entries are taken in id order (the
// primary key's), which is creation order, so the oldest go first and the
// statement stops after limit; the deliveries and attempts go by cascade.
func (n *Notifications) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := n.pool.Exec(ctx, `
delete from notification_outbox
 where id in (select o.id from notification_outbox o
               where o.planned_at is not null and o.created_at < $1
                 and not exists (select 1 from notification_deliveries d
                                  where d.outbox_id = o.id and d.status in ('pending', 'held', 'sending'))
               order by o.id
               limit $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("readmodel: prune notifications: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
