package readmodel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Alert rules live in Postgres (migration 0005), not in the event log: they are
// user settings, not portfolio decisions that need an audit trail, and the prices
// consumer reads them by symbol on every batch of ticks, which an indexed table
// answers in one query. Each firing is recorded in alert_history, keyed by the
// firing key so that a re-processed batch records nothing twice.

// AlertRules is the Postgres store of alert rules, their engine state and their
// firing history. It serves the API (per user, over a CallerDB: each statement
// as the caller) and, as a pricing.AlertStore, the prices consumer (across
// users, over the owner's pool).
type AlertRules struct {
	db PriceDB
}

// NewAlertRules returns the store over db (a CallerDB, a pool, a connection or a
// transaction).
func NewAlertRules(db PriceDB) *AlertRules { return &AlertRules{db: db} }

// AlertRule is a stored rule with its engine state.
type AlertRule struct {
	Rule      alerts.Rule
	State     alerts.RuleState
	CreatedAt time.Time
}

// AlertFiring is one row of a user's alert history. AcknowledgedAt is zero until
// the user acknowledges it.
type AlertFiring struct {
	Key            string
	RuleID         string
	Kind           alerts.Kind
	Symbol         string
	PortfolioID    string
	Observed       decimal.Decimal
	Threshold      decimal.Decimal
	FiredAt        time.Time
	AcknowledgedAt time.Time
}

// MaxAlertHistoryPage bounds History's limit.
const MaxAlertHistoryPage = 200

const tsText = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`

// Create stores rule as userID's, with a generated ID when rule.ID is empty. The
// rule is validated (an error matching alerts.ErrInvalidRule); an ID that the
// user already has is an error matching alerts.ErrDuplicateRule; a user who has
// quota.AlertRulesPerUser rules gets *quota.ExceededError (counted and inserted
// under the user's lock, so parallel creates cannot pass it). IDs are the
// user's own (alerts.ScopedID): another user's rule of the same name is no
// conflict. The rule comes back with its ID as the user wrote it; the methods
// that serve the API (List, Delete, History, Acknowledge) take and give the
// user's IDs, those that serve the engines the scoped ones. A rule created
// under the ID of a deleted one whose firings are in the history starts armed
// above their last epoch (migration 0028's trigger), so that its firings have
// keys of their own and are recorded and notified.
func (a *AlertRules) Create(ctx context.Context, userID string, rule alerts.Rule) (AlertRule, error) {
	if !uuid.Valid(userID) {
		return AlertRule{}, fmt.Errorf("readmodel: alert rule: user %q is not a UUID", userID)
	}
	if rule.ID == "" {
		rule.ID = uuid.New()
	}
	if err := rule.CheckNew(); err != nil {
		return AlertRule{}, err
	}
	own := rule.ID
	rule.ID, rule.UserID = alerts.ScopedID(userID, own), userID
	if err := rule.Validate(); err != nil {
		var ve *alerts.ValidationError
		if errors.As(err, &ve) {
			ve.RuleID = own
		}
		return AlertRule{}, err
	}
	def, err := json.Marshal(rule)
	if err != nil {
		return AlertRule{}, fmt.Errorf("readmodel: alert rule: %w", err)
	}
	// One batch, so one transaction (the simple protocol sends it as one
	// message): the user's quota lock, their count, and the insert, which the
	// count guards too.
	q := userQuotaBatch(quota.AlertRulesPerUser, userID, `select count(*) from alert_rules where user_id = $1::uuid`)
	primary := rule.Primary()
	q.Queue(`
insert into alert_rules (id, user_id, kind, symbol, portfolio_id, definition, active)
select $1, $2::uuid, $3, $4, $5, $6::jsonb, $8
 where (select count(*) from alert_rules where user_id = $2::uuid) < $7
on conflict (id) do nothing
returning to_char(created_at at time zone 'UTC', `+tsText+`)`,
		rule.ID, userID, string(primary.Kind), primary.Symbol, rule.PortfolioID, string(def), quota.AlertRulesPerUser.Limit, rule.Active())
	db, ok := asCaller(a.db, userID).(batchSender)
	if !ok {
		return AlertRule{}, fmt.Errorf("readmodel: create alert rule: %T sends no batches", a.db)
	}
	br := db.SendBatch(ctx, q)
	defer br.Close()
	if err := readUserQuota(br, quota.AlertRulesPerUser); err != nil {
		return AlertRule{}, err
	}
	rows, err := br.Query()
	if err != nil {
		return AlertRule{}, fmt.Errorf("readmodel: create alert rule: %w", err)
	}
	at, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return AlertRule{}, fmt.Errorf("readmodel: create alert rule: %w", err)
	}
	rule.ID = own
	if len(at) == 0 {
		return AlertRule{}, &alerts.ValidationError{RuleID: own, Field: "id", Err: alerts.ErrDuplicateRule}
	}
	created, err := time.Parse(time.RFC3339Nano, at[0])
	if err != nil {
		return AlertRule{}, err
	}
	if err := br.Close(); err != nil {
		return AlertRule{}, fmt.Errorf("readmodel: create alert rule: %w", err)
	}
	return AlertRule{Rule: rule, CreatedAt: created}, nil
}

// List returns userID's rules, oldest first.
func (a *AlertRules) List(ctx context.Context, userID string) ([]AlertRule, error) {
	rows, err := asCaller(a.db, userID).Query(ctx, `
select definition::text, coalesce(state::text, ''), to_char(created_at at time zone 'UTC', `+tsText+`)
  from alert_rules where user_id = $1::uuid order by created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("readmodel: alert rules: %w", err)
	}
	defer rows.Close()
	out := []AlertRule{}
	for rows.Next() {
		var def, st, at string
		if err := rows.Scan(&def, &st, &at); err != nil {
			return nil, fmt.Errorf("readmodel: alert rules: %w", err)
		}
		r, err := decodeAlertRule(def, st)
		if err != nil {
			return nil, err
		}
		if r.CreatedAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, err
		}
		r.Rule.ID = alerts.OwnID(userID, r.Rule.ID)
		out = append(out, r)
	}
	return out, rows.Err()
}

// maxUpdateAttempts bounds Update's compare-and-set: another patch of the rule
// between its read and its write makes it read again.
const maxUpdateAttempts = 8

// Update applies patch to userID's rule id and returns the rule as stored
// (alerts.ErrNotFound when there is none, or it is someone else's). The patched
// rule is validated (alerts.ErrInvalidRule); when what it watches changed or it
// was resumed it restarts (alerts.Patch.Apply stamps its RestartedAt, and its
// saved state reads as restarted: the API never writes the engine's state). The
// write is a compare-and-set on the definition read, so concurrent patches never
// lose one another, and the marks trigger moves the rule's keys (old and new),
// so the prices consumer reloads it.
func (a *AlertRules) Update(ctx context.Context, userID, id string, patch alerts.Patch) (AlertRule, error) {
	db := asCaller(a.db, userID)
	scoped := alerts.ScopedID(userID, id)
	for range maxUpdateAttempts {
		rows, err := db.Query(ctx, `
select definition::text, coalesce(state::text, ''), to_char(created_at at time zone 'UTC', `+tsText+`)
  from alert_rules where id = $1 and user_id = $2::uuid`, scoped, userID)
		if err != nil {
			return AlertRule{}, fmt.Errorf("readmodel: update alert rule: %w", err)
		}
		found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([3]string, error) {
			var v [3]string
			return v, row.Scan(&v[0], &v[1], &v[2])
		})
		if err != nil {
			return AlertRule{}, fmt.Errorf("readmodel: update alert rule: %w", err)
		}
		if len(found) == 0 {
			return AlertRule{}, alerts.ErrNotFound
		}
		def, st, created := found[0][0], found[0][1], found[0][2]
		cur, err := decodeAlertRule(def, st)
		if err != nil {
			return AlertRule{}, err
		}
		if cur.CreatedAt, err = time.Parse(time.RFC3339Nano, created); err != nil {
			return AlertRule{}, err
		}
		next, err := PatchRule(cur, id, patch, time.Now())
		if err != nil {
			return AlertRule{}, err
		}
		newDef, err := json.Marshal(next.Rule)
		if err != nil {
			return AlertRule{}, fmt.Errorf("readmodel: update alert rule: %w", err)
		}
		primary := next.Rule.Primary()
		tag, err := db.Exec(ctx, `
update alert_rules set definition = $3::jsonb, kind = $4, symbol = $5, active = $6
 where id = $1 and user_id = $2::uuid and definition = $7::jsonb`,
			scoped, userID, string(newDef), string(primary.Kind), primary.Symbol, next.Rule.Active(), def)
		if err != nil {
			return AlertRule{}, fmt.Errorf("readmodel: update alert rule: %w", err)
		}
		if tag.RowsAffected() == 1 {
			next.Rule.ID = id
			return next, nil
		}
	}
	return AlertRule{}, fmt.Errorf("readmodel: update alert rule %s: changed concurrently %d times", id, maxUpdateAttempts)
}

// PatchRule is what a store's Update makes of cur: patched at now and
// validated, with its state as the evaluators will read it. Errors name the
// rule by ownID. It is exported for the in-memory twin, which must agree.
func PatchRule(cur AlertRule, ownID string, patch alerts.Patch, now time.Time) (AlertRule, error) {
	next, _ := patch.Apply(cur.Rule, now)
	withOwn := next
	withOwn.ID = ownID
	err := withOwn.CheckSymbols()
	if err == nil {
		err = next.Validate()
	}
	if err != nil {
		var ve *alerts.ValidationError
		if errors.As(err, &ve) {
			ve.RuleID = ownID
		}
		return AlertRule{}, err
	}
	return AlertRule{Rule: next, State: next.EffectiveState(cur.State), CreatedAt: cur.CreatedAt}, nil
}

// Delete removes userID's rule id; alerts.ErrNotFound when there is none (or it is
// someone else's). Its history stays.
func (a *AlertRules) Delete(ctx context.Context, userID, id string) error {
	tag, err := asCaller(a.db, userID).Exec(ctx, `delete from alert_rules where id = $1 and user_id = $2::uuid`, alerts.ScopedID(userID, id), userID)
	if err != nil {
		return fmt.Errorf("readmodel: delete alert rule: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return alerts.ErrNotFound
	}
	return nil
}

// History returns a page of userID's firings, newest first, and the cursor of the
// next page ("" at the end). limit is clamped to [1, MaxAlertHistoryPage]; cursor
// is "" for the first page or a previous page's next cursor.
func (a *AlertRules) History(ctx context.Context, userID string, limit int, cursor string) ([]AlertFiring, string, error) {
	limit = max(1, min(limit, MaxAlertHistoryPage))
	afterAt, afterKey := "infinity", ""
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", ErrInvalidCursor
		}
		at, key, ok := strings.Cut(string(raw), "|")
		if _, perr := time.Parse(time.RFC3339Nano, at); !ok || perr != nil {
			return nil, "", ErrInvalidCursor
		}
		afterAt, afterKey = at, key
	}
	rows, err := asCaller(a.db, userID).Query(ctx, `
select firing_key, rule_id, kind, symbol, portfolio_id, observed::text, threshold::text,
       to_char(fired_at at time zone 'UTC', `+tsText+`),
       coalesce(to_char(acknowledged_at at time zone 'UTC', `+tsText+`), '')
  from alert_history
 where user_id = $1::uuid and (fired_at, firing_key) < ($2::timestamptz, $3::text)
 order by fired_at desc, firing_key desc
 limit $4`, userID, afterAt, afterKey, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("readmodel: alert history: %w", err)
	}
	defer rows.Close()
	out := []AlertFiring{}
	var lastKey string // as stored: the next page starts after it
	for rows.Next() {
		var f AlertFiring
		var kind, obs, thr, at, ack string
		if err := rows.Scan(&f.Key, &f.RuleID, &kind, &f.Symbol, &f.PortfolioID, &obs, &thr, &at, &ack); err != nil {
			return nil, "", fmt.Errorf("readmodel: alert history: %w", err)
		}
		if len(out) < limit {
			lastKey = f.Key
		}
		f.Kind = alerts.Kind(kind)
		f.Key, f.RuleID = alerts.OwnID(userID, f.Key), alerts.OwnID(userID, f.RuleID)
		if f.Observed, err = decimal.NewFromString(obs); err != nil {
			return nil, "", err
		}
		if f.Threshold, err = decimal.NewFromString(thr); err != nil {
			return nil, "", err
		}
		if f.FiredAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, "", err
		}
		if ack != "" {
			if f.AcknowledgedAt, err = time.Parse(time.RFC3339Nano, ack); err != nil {
				return nil, "", err
			}
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("readmodel: alert history: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.FiredAt.Format(time.RFC3339Nano) + "|" + lastKey))
	}
	return out, next, nil
}

// Acknowledge marks userID's firing key as acknowledged and returns when it was
// (the first acknowledgement's time: acknowledging again changes nothing).
// alerts.ErrNotFound when there is no such firing of userID's.
func (a *AlertRules) Acknowledge(ctx context.Context, userID, key string) (time.Time, error) {
	rows, err := asCaller(a.db, userID).Query(ctx, `
update alert_history set acknowledged_at = coalesce(acknowledged_at, now())
 where firing_key = $1 and user_id = $2::uuid
returning to_char(acknowledged_at at time zone 'UTC', `+tsText+`)`, alerts.ScopedID(userID, key), userID)
	if err != nil {
		return time.Time{}, fmt.Errorf("readmodel: acknowledge alert: %w", err)
	}
	at, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return time.Time{}, fmt.Errorf("readmodel: acknowledge alert: %w", err)
	}
	if len(at) == 0 {
		return time.Time{}, alerts.ErrNotFound
	}
	return time.Parse(time.RFC3339Nano, at[0])
}

// priceKinds are the kinds of price rule (alerts.MetricPrice), as stored.
var priceKinds = kindNames(alerts.KindsOf(alerts.MetricPrice))

func kindNames(kinds []alerts.Kind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

// PriceRules implements pricing.AlertStore: every user's active price rules
// (priceKinds) on symbols, and their state.
func (a *AlertRules) PriceRules(ctx context.Context, symbols []string) ([]alerts.Rule, alerts.State, error) {
	st := alerts.State{Rules: map[string]alerts.RuleState{}}
	if len(symbols) == 0 {
		return nil, st, nil
	}
	rows, err := a.db.Query(ctx, `
select definition::text, coalesce(state::text, '')
  from alert_rules
 where symbol = any($1::text[]) and portfolio_id = '' and active and kind = any($2::text[])
 order by id`, symbols, priceKinds)
	if err != nil {
		return nil, st, fmt.Errorf("readmodel: price alert rules: %w", err)
	}
	defer rows.Close()
	var out []alerts.Rule
	for rows.Next() {
		var def, s string
		if err := rows.Scan(&def, &s); err != nil {
			return nil, st, fmt.Errorf("readmodel: price alert rules: %w", err)
		}
		r, err := decodeAlertRule(def, s)
		if err != nil {
			return nil, st, err
		}
		out = append(out, r.Rule)
		if r.State != (alerts.RuleState{}) {
			st.Rules[r.Rule.ID] = r.State
		}
	}
	return out, st, rows.Err()
}

// PortfolioRules returns every user's active rules on portfolioIDs that listen to metrics
// (none: every portfolio metric of alerts.KindSpecs), and their state, including
// the recent values of the portfolios that have value_drop rules among them. It
// reads alert_rules_portfolio_idx, so its cost is the rules of those portfolios.
func (a *AlertRules) PortfolioRules(ctx context.Context, portfolioIDs []string, metrics ...alerts.Metric) ([]alerts.Rule, alerts.State, error) {
	st := alerts.State{Rules: map[string]alerts.RuleState{}, Values: map[string][]alerts.ValueSample{}}
	if len(metrics) == 0 {
		metrics = alerts.PortfolioMetrics()
	}
	var kinds []string
	for _, k := range alerts.KindsOf(metrics...) {
		if k.Metric() != alerts.MetricPrice {
			kinds = append(kinds, string(k))
		}
	}
	if len(portfolioIDs) == 0 || len(kinds) == 0 {
		return nil, st, nil
	}
	// The join is the evaluation side's tenant check: a rule is evaluated only on
	// a portfolio of its own user, whatever the table holds.
	rows, err := a.db.Query(ctx, `
select r.definition::text, coalesce(r.state::text, '')
  from alert_rules r join portfolios p on p.id = r.portfolio_id and p.user_id = r.user_id
 where r.portfolio_id = any($1::text[]) and r.portfolio_id <> '' and r.active and r.kind = any($2::text[])
 order by r.id`, portfolioIDs, kinds)
	if err != nil {
		return nil, st, fmt.Errorf("readmodel: portfolio alert rules: %w", err)
	}
	var out []alerts.Rule
	var dropPortfolios []string
	seen := map[string]bool{}
	for rows.Next() {
		var def, s string
		if err := rows.Scan(&def, &s); err != nil {
			rows.Close()
			return nil, st, fmt.Errorf("readmodel: portfolio alert rules: %w", err)
		}
		r, err := decodeAlertRule(def, s)
		if err != nil {
			rows.Close()
			return nil, st, err
		}
		out = append(out, r.Rule)
		if r.State != (alerts.RuleState{}) {
			st.Rules[r.Rule.ID] = r.State
		}
		if r.Rule.HasKind(alerts.KindValueDrop) && !seen[r.Rule.PortfolioID] {
			seen[r.Rule.PortfolioID] = true
			dropPortfolios = append(dropPortfolios, r.Rule.PortfolioID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, st, fmt.Errorf("readmodel: portfolio alert rules: %w", err)
	}
	if err := a.wealthMarks(ctx, out, &st); err != nil {
		return nil, st, err
	}
	if len(dropPortfolios) == 0 {
		return out, st, nil
	}
	rows, err = a.db.Query(ctx, `select portfolio_id, samples::text from alert_value_samples where portfolio_id = any($1::text[])`, dropPortfolios)
	if err != nil {
		return nil, st, fmt.Errorf("readmodel: portfolio value samples: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, js string
		if err := rows.Scan(&p, &js); err != nil {
			return nil, st, fmt.Errorf("readmodel: portfolio value samples: %w", err)
		}
		var vs []alerts.ValueSample
		if err := json.Unmarshal([]byte(js), &vs); err != nil {
			return nil, st, fmt.Errorf("readmodel: portfolio %s value samples: %w", p, err)
		}
		if len(vs) > 0 {
			st.Values[p] = vs
		}
	}
	if err := rows.Err(); err != nil {
		return nil, st, fmt.Errorf("readmodel: portfolio value samples: %w", err)
	}
	return out, st, nil
}

// wealthMarks fills st.Wealth for the portfolios of the drawdown rules among
// rules, from their latest row of portfolio_metrics: its current drawdown is
// 1 − wealth/peak of the TWR wealth index and its market value the value at
// that computation (alerts.WealthMark). A portfolio not computed yet has none.
func (a *AlertRules) wealthMarks(ctx context.Context, rules []alerts.Rule, st *alerts.State) error {
	var pfs []string
	for _, r := range rules {
		if r.HasKind(alerts.KindDrawdown) && !slices.Contains(pfs, r.PortfolioID) {
			pfs = append(pfs, r.PortfolioID)
		}
	}
	if len(pfs) == 0 {
		return nil
	}
	rows, err := a.db.Query(ctx, `
select distinct on (portfolio_id) portfolio_id, coalesce(current_drawdown, 0), market_value::text, computed_at
  from portfolio_metrics
 where portfolio_id = any($1::text[])
 order by portfolio_id, as_of desc`, pfs)
	if err != nil {
		return fmt.Errorf("readmodel: wealth marks: %w", err)
	}
	defer rows.Close()
	st.Wealth = map[string]alerts.WealthMark{}
	for rows.Next() {
		var p, value string
		var m alerts.WealthMark
		if err := rows.Scan(&p, &m.Drawdown, &value, &m.AsOf); err != nil {
			return fmt.Errorf("readmodel: wealth marks: %w", err)
		}
		if m.Value, err = decimal.NewFromString(value); err != nil {
			return fmt.Errorf("readmodel: wealth mark of %s: %w", p, err)
		}
		m.AsOf = m.AsOf.UTC()
		st.Wealth[p] = m
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("readmodel: wealth marks: %w", err)
	}
	return nil
}

// SaveStateAndMarks is SaveState (with its condition) for a writer that keeps no rules in memory
// (the analytics job): in the same statement it moves the state marks of the
// rules' keys, so that a prices consumer holding them reloads their state (and
// the wealth marks of their portfolios) instead of evaluating the next tick on
// what it held.
func (a *AlertRules) SaveStateAndMarks(ctx context.Context, rules []alerts.Rule, s alerts.State) error {
	if len(rules) == 0 {
		return nil
	}
	rows, err := stateRows(rules, s)
	if err != nil {
		return err
	}
	if _, err := a.db.Exec(ctx, `
with saved as (
  update alert_rules r set state = nullif(u.st, '')::jsonb
    from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as u(id, st, restarted, last_at)
   where r.id = u.id and `+stateIsNewer+`
  returning case when r.portfolio_id <> '' then 'p:' || r.portfolio_id else 's:' || r.symbol end as key
)
insert into alert_state_marks (key, token)
select key, gen_random_uuid()::text from (select distinct key from saved) k
on conflict (key) do update set token = excluded.token, changed_by = pg_current_xact_id()`,
		rows.ids, rows.states, rows.restarted, rows.lastAt); err != nil {
		return fmt.Errorf("readmodel: save alert state and marks: %w", err)
	}
	return a.saveSamples(ctx, rows.pfs, rows.samples)
}

// SaveState implements pricing.AlertStore: it writes the state in s of each of
// rules (none: armed at epoch 0) in one statement, as rules were loaded: a
// rule's state is written only if the stored one's last tick (LastAt) is not
// later than the new one's and the rule has not been restarted since it was
// loaded (its definition's restartedAt is still the rule's). So an evaluator
// that loaded a rule earlier (the daily run, the stream path and the prices
// consumer all evaluate portfolio rules) never puts back an older state, such as
// a re-armed rule's "fired" before it re-armed, and a state reached on the
// conditions a patch replaced is not kept. Rules deleted meanwhile are skipped.
// For the portfolios of the value_drop rules among rules it also writes their
// recent values (s.Values; none: forgotten), in a second statement.
func (a *AlertRules) SaveState(ctx context.Context, rules []alerts.Rule, s alerts.State) error {
	if len(rules) == 0 {
		return nil
	}
	rows, err := stateRows(rules, s)
	if err != nil {
		return err
	}
	if _, err := a.db.Exec(ctx, `
update alert_rules r set state = nullif(u.st, '')::jsonb
  from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as u(id, st, restarted, last_at)
 where r.id = u.id and `+stateIsNewer, rows.ids, rows.states, rows.restarted, rows.lastAt); err != nil {
		return fmt.Errorf("readmodel: save alert state: %w", err)
	}
	return a.saveSamples(ctx, rows.pfs, rows.samples)
}

// stateIsNewer is the condition of a state save (u the saved row, r the
// stored rule): the definition's restartedAt is still the one the evaluator
// loaded, compared as the text json.Marshal wrote (exact to the nanosecond),
// and the stored state's last tick is not later than the saved one's (to the
// microsecond).
const stateIsNewer = `coalesce(r.definition->>'restartedAt', '') = u.restarted
   and coalesce((r.state->>'lastAt')::timestamptz, '-infinity') <= coalesce(nullif(u.last_at, '')::timestamptz, '-infinity')`

// savedStates are the columns of a state save: per rule its ID, its state as
// JSON ("" for none), the definition's restartedAt it was evaluated under and
// its last tick; per portfolio of a value_drop rule its recent values ("" for
// none).
type savedStates struct {
	ids, states, restarted, lastAt []string
	pfs, samples                   []string
}

func stateRows(rules []alerts.Rule, s alerts.State) (savedStates, error) {
	n := len(rules)
	out := savedStates{ids: make([]string, 0, n), states: make([]string, 0, n), restarted: make([]string, 0, n), lastAt: make([]string, 0, n)}
	seen := map[string]bool{}
	for _, r := range rules {
		js, last := "", ""
		if rs, ok := s.Rules[r.ID]; ok && rs != (alerts.RuleState{}) {
			b, err := json.Marshal(rs)
			if err != nil {
				return savedStates{}, fmt.Errorf("readmodel: alert state: %w", err)
			}
			js = string(b)
			if !rs.LastAt.IsZero() {
				last = rs.LastAt.UTC().Format(time.RFC3339Nano)
			}
		}
		out.ids, out.states, out.lastAt = append(out.ids, r.ID), append(out.states, js), append(out.lastAt, last)
		out.restarted = append(out.restarted, jsonTime(r.RestartedAt))
		if r.HasKind(alerts.KindValueDrop) && !seen[r.PortfolioID] {
			seen[r.PortfolioID] = true
			vs := ""
			if v := s.Values[r.PortfolioID]; len(v) > 0 {
				b, err := json.Marshal(v)
				if err != nil {
					return savedStates{}, fmt.Errorf("readmodel: alert value samples: %w", err)
				}
				vs = string(b)
			}
			out.pfs, out.samples = append(out.pfs, r.PortfolioID), append(out.samples, vs)
		}
	}
	return out, nil
}

// jsonTime is t as json.Marshal writes it into a definition ("" for the zero
// time, which omitzero leaves out).
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// SaveValueSamples implements pricing.StateMarker: it keeps the recent values of
// portfolioIDs (samples[i] for portfolioIDs[i]; none: deleted) apart from the
// rules' state, without moving any mark.
func (a *AlertRules) SaveValueSamples(ctx context.Context, portfolioIDs []string, samples [][]alerts.ValueSample) error {
	if len(portfolioIDs) != len(samples) {
		return fmt.Errorf("readmodel: alert value samples: %d portfolios, %d histories", len(portfolioIDs), len(samples))
	}
	js := make([]string, len(samples))
	for i, v := range samples {
		if len(v) == 0 {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("readmodel: alert value samples: %w", err)
		}
		js[i] = string(b)
	}
	return a.saveSamples(ctx, portfolioIDs, js)
}

// saveSamples upserts the portfolios with samples (JSON) and deletes the others
// (""), in one statement.
func (a *AlertRules) saveSamples(ctx context.Context, pfs, samples []string) error {
	if len(pfs) == 0 {
		return nil
	}
	if _, err := a.db.Exec(ctx, `
with u as (select * from unnest($1::text[], $2::text[]) as u(portfolio_id, samples)),
del as (
  delete from alert_value_samples v using u where v.portfolio_id = u.portfolio_id and u.samples = ''
)
insert into alert_value_samples (portfolio_id, samples, updated_at)
select portfolio_id, samples::jsonb, now() from u where samples <> ''
on conflict (portfolio_id) do update set samples = excluded.samples, updated_at = excluded.updated_at`, pfs, samples); err != nil {
		return fmt.Errorf("readmodel: save alert value samples: %w", err)
	}
	return nil
}

// StateMarks implements pricing.StateMarker: the current mark of each of keys
// ("" for a key that has none yet).
func (a *AlertRules) StateMarks(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := a.db.Query(ctx, `select key, token from alert_state_marks where key = any($1::text[])`, keys)
	if err != nil {
		return nil, fmt.Errorf("readmodel: alert state marks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, tok string
		if err := rows.Scan(&k, &tok); err != nil {
			return nil, fmt.Errorf("readmodel: alert state marks: %w", err)
		}
		out[k] = tok
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: alert state marks: %w", err)
	}
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	return out, nil
}

// ClaimStateMarks implements pricing.StateMarker: in one statement it sets the
// mark of each key in expected to token where the mark still is expected[key]
// ("" meaning none), and returns the keys whose mark had moved (not claimed).
func (a *AlertRules) ClaimStateMarks(ctx context.Context, expected map[string]string, token string) ([]string, error) {
	if len(expected) == 0 {
		return nil, nil
	}
	keys, olds := make([]string, 0, len(expected)), make([]string, 0, len(expected))
	for k, o := range expected {
		keys, olds = append(keys, k), append(olds, o)
	}
	rows, err := a.db.Query(ctx, `
with u as (select * from unnest($1::text[], $2::text[]) as u(key, old)),
upd as (
  update alert_state_marks m set token = $3, changed_by = pg_current_xact_id() from u
   where m.key = u.key and u.old <> '' and m.token = u.old
  returning m.key
),
ins as (
  insert into alert_state_marks (key, token) select key, $3 from u where old = ''
  on conflict (key) do nothing
  returning key
)
select key from upd union all select key from ins`, keys, olds, token)
	if err != nil {
		return nil, fmt.Errorf("readmodel: claim alert state marks: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("readmodel: claim alert state marks: %w", err)
	}
	got := make(map[string]bool, len(claimed))
	for _, k := range claimed {
		got[k] = true
	}
	var lost []string
	for _, k := range keys {
		if !got[k] {
			lost = append(lost, k)
		}
	}
	return lost, nil
}

// RecordFirings implements pricing.FiringRecorder: it adds firings to their
// owners' history in one statement; a firing key already recorded is left as it
// is (a re-processed batch fires under the same keys). Firings without an owner
// are skipped.
func (a *AlertRules) RecordFirings(ctx context.Context, firings []alerts.Firing) error {
	var keys, rules, users, kinds, syms, pfs, obs, thr []string
	var at []time.Time
	for _, f := range firings {
		if !uuid.Valid(f.UserID) {
			continue
		}
		keys, rules, users, kinds = append(keys, f.Key), append(rules, f.RuleID), append(users, f.UserID), append(kinds, string(f.Kind))
		syms, pfs, obs, thr = append(syms, f.Symbol), append(pfs, f.PortfolioID), append(obs, f.Observed.String()), append(thr, f.Threshold.String())
		at = append(at, f.At.UTC())
	}
	if len(keys) == 0 {
		return nil
	}
	if _, err := a.db.Exec(ctx, `
insert into alert_history (firing_key, rule_id, user_id, kind, symbol, portfolio_id, observed, threshold, fired_at)
select * from unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[], $9::timestamptz[])
on conflict (firing_key) do nothing`, keys, rules, users, kinds, syms, pfs, obs, thr, at); err != nil {
		return fmt.Errorf("readmodel: record alert firings: %w", err)
	}
	return nil
}

func decodeAlertRule(def, state string) (AlertRule, error) {
	var r AlertRule
	if err := json.Unmarshal([]byte(def), &r.Rule); err != nil {
		return AlertRule{}, fmt.Errorf("readmodel: alert rule definition: %w", err)
	}
	if state != "" {
		if err := json.Unmarshal([]byte(state), &r.State); err != nil {
			return AlertRule{}, fmt.Errorf("readmodel: alert rule state: %w", err)
		}
	}
	r.State = r.Rule.EffectiveState(r.State)
	return r, nil
}
