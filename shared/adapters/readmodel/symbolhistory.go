package readmodel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// SymbolHistory is the per-symbol backfill records (migration 0015): the
// backfill's store (history.Store) and the analytics refresh's look-up of the
// portfolios computed before a backfill of theirs completed.
type SymbolHistory struct{ db PriceDB }

// NewSymbolHistory returns the store on db (the owner's pool).
func NewSymbolHistory(db PriceDB) *SymbolHistory { return &SymbolHistory{db: db} }

var _ history.Store = (*SymbolHistory)(nil)

// neededSymbols derives, from the read models, every symbol whose history is
// needed and from when ($1 the quote currency, $2 the lookback's first day, $3
// the earliest day, $4 now): the symbols of the transactions and the benchmark of
// every portfolio not archived, from its first trade; the currency pair of every
// currency such a portfolio needs other than the quotes' (its base, the currency
// each active transaction settles in, GBP for GBp, and each conversion's
// incoming one; market.FXPair{Base: code, Quote: quote}.Symbol(), "EURUSD=X",
// spelled in SQL), from its first trade (a portfolio's transactions are read
// again for their currencies only when the first pass saw one in another
// currency: a book in the quotes' currency costs no second scan); the
// symbols of alert rules and live watches, over the lookback. A symbol longer
// than a symbol may be (a benchmark is free text) is nobody's to fetch. Its
// priority is 0 when a portfolio needs it, else 1 (an alert's or a watch's);
// last_traded_at is when its latest active transaction was recorded.
var neededSymbols = `
with firsts as (
  select p.id, p.base_currency, p.benchmark, min(t.trade_date) as first_trade,
         bool_or(t.currency <> $1 or t.to_currency is not null) as foreign
    from portfolios p
    join transactions t on t.portfolio_id = p.id and not t.voided
   where not p.archived
   group by p.id
), needs (symbol, from_day, priority, traded_at) as (
  select t.symbol, f.first_trade, 0, t.recorded_at
    from firsts f
    join transactions t on t.portfolio_id = f.id and not t.voided
   where t.symbol is not null and t.symbol <> ''
  union all
  select f.benchmark, f.first_trade, 0, null from firsts f where f.benchmark <> ''
  union all
  select f.base_currency || $1 || '=X', f.first_trade, 0, null from firsts f where f.base_currency <> $1
  union all
  select distinct c.code || $1 || '=X', f.first_trade, 0, null::timestamptz
    from firsts f
    join transactions t on t.portfolio_id = f.id and not t.voided
    cross join lateral (values (` + settleSQL("t.currency") + `), (t.to_currency)) c(code)
   where f.foreign and c.code <> $1 and c.code ~ '^[A-Z]{3}$'
  union all
  select a.symbol, $2::date, 1, null from alert_rules a where a.symbol <> ''
  union all
  select w.symbol, $2::date, 1, null from symbol_watchers w where w.expires_at > $4
), needed as (
  select symbol, greatest(min(from_day), $3::date) as needed_from, min(priority) as priority,
         max(traded_at) as last_traded_at
    from needs
   where length(symbol) <= ` + maxSymbolLenSQL + `
   group by symbol
)`

const maxSymbolLenSQL = "32"

// upsertNeed records the symbols of "needed" (now is the parameter numbered
// now): a new symbol is pending, due at once; one needed further back than
// recorded goes back to pending, due at once, its failures forgotten, unless a
// run holds it (filling, its lease running): that run reads the new day at its
// next step and goes on. The priority follows the needs of the moment, and
// last_traded_at the newest transaction.
func upsertNeed(now string) string {
	return strings.NewReplacer("$now", now+"::timestamptz", "$further", "excluded.needed_from < h.needed_from",
		"$held", "(h.state = 'filling' and h.next_attempt_at > "+now+"::timestamptz)").Replace(`
insert into symbol_history as h (symbol, state, needed_from, priority, last_traded_at, next_attempt_at, updated_at)
select symbol, 'pending', needed_from, priority, last_traded_at, $now, $now from needed
on conflict (symbol) do update
   set needed_from = least(excluded.needed_from, h.needed_from),
       priority = excluded.priority,
       last_traded_at = greatest(excluded.last_traded_at, h.last_traded_at),
       state = case when $further and not $held then 'pending' else h.state end,
       next_attempt_at = case when $further and not $held then $now else h.next_attempt_at end,
       attempts = case when $further then 0 else h.attempts end,
       reason = case when $further then null else h.reason end,
       updated_at = case when $further then $now else h.updated_at end
 where $further or excluded.priority <> h.priority
    or excluded.last_traded_at > coalesce(h.last_traded_at, '-infinity')`)
}

// Reconcile implements history.Store, in one statement.
func (s *SymbolHistory) Reconcile(ctx context.Context, needs history.Needs, now time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, neededSymbols+upsertNeed("$4"), needs.QuoteCurrency, needs.Today.AddDays(-needs.Lookback).String(),
		needs.Earliest.String(), now.UTC())
	if err != nil {
		return 0, fmt.Errorf("readmodel: reconcile symbol history: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Enqueue implements history.Store.
func (s *SymbolHistory) Enqueue(ctx context.Context, symbol string, from calendar.Date, now time.Time) error {
	_, err := s.db.Exec(ctx, `with needed (symbol, needed_from, priority, last_traded_at) as (select $1::text, $2::date, 0, null::timestamptz)`+upsertNeed("$3"),
		symbol, from.String(), now.UTC())
	if err != nil {
		return fmt.Errorf("readmodel: enqueue history of %s: %w", symbol, err)
	}
	return nil
}

// Claim implements history.Store: of the rows due, a portfolio's before an
// alert's or a watch's, one not failed before a failed one's retry, the one due
// longest ago, locked with skip
// locked so that a concurrent claim takes the next one, moved out of reach
// until leaseUntil in the same statement.
func (s *SymbolHistory) Claim(ctx context.Context, now, leaseUntil time.Time) (history.Record, bool, error) {
	rows, err := s.db.Query(ctx, `
update symbol_history h
   set state = 'filling', next_attempt_at = $2, updated_at = $1
  from (select symbol, state from symbol_history
         where state <> 'complete' and next_attempt_at <= $1
         order by priority, state = 'failed', next_attempt_at, symbol
         limit 1
           for update skip locked) c
 where h.symbol = c.symbol
returning h.symbol, c.state, h.needed_from::text, h.filled_from::text, h.filled_to::text, h.attempts`, now.UTC(), leaseUntil.UTC())
	if err != nil {
		return history.Record{}, false, fmt.Errorf("readmodel: claim a symbol history: %w", err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (history.Record, error) {
		var r history.Record
		var state, needed string
		var from, to *string
		if err := row.Scan(&r.Symbol, &state, &needed, &from, &to, &r.Attempts); err != nil {
			return r, err
		}
		r.State = market.HistoryState(state)
		var err error
		if r.NeededFrom, err = calendar.Parse(needed); err != nil {
			return r, err
		}
		if r.FilledFrom, err = parseDatePtr(from); err != nil {
			return r, err
		}
		r.FilledTo, err = parseDatePtr(to)
		return r, err
	})
	if err != nil {
		return history.Record{}, false, fmt.Errorf("readmodel: claim a symbol history: %w", err)
	}
	if len(recs) == 0 {
		return history.Record{}, false, nil
	}
	return recs[0], true, nil
}

func parseDatePtr(s *string) (*calendar.Date, error) {
	if s == nil {
		return nil, nil
	}
	d, err := calendar.Parse(*s)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Progress implements history.Store.
func (s *SymbolHistory) Progress(ctx context.Context, symbol string, from, to calendar.Date, source string, now, leaseUntil time.Time) (calendar.Date, error) {
	rows, err := s.db.Query(ctx, `
update symbol_history
   set state = 'filling', filled_from = least(coalesce(filled_from, $2::date), $2::date),
       filled_to = greatest(coalesce(filled_to, $3::date), $3::date), source = $4, attempts = 0, reason = null,
       next_attempt_at = $6, updated_at = $5
 where symbol = $1
returning needed_from::text`, symbol, from.String(), to.String(), source, now.UTC(), leaseUntil.UTC())
	if err != nil {
		return 0, fmt.Errorf("readmodel: progress of %s: %w", symbol, err)
	}
	days, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("readmodel: progress of %s: %w", symbol, err)
	}
	if len(days) == 0 {
		return 0, fmt.Errorf("readmodel: progress of %s: %w", symbol, errNoHistory)
	}
	return calendar.Parse(days[0])
}

var errNoHistory = errors.New("no such symbol history")

// Complete implements history.Store.
func (s *SymbolHistory) Complete(ctx context.Context, symbol string, plannedFrom calendar.Date, source string, now time.Time) error {
	return s.update(ctx, "complete", symbol, `
update symbol_history
   set state = case when needed_from < $2::date then 'pending' else 'complete' end,
       completed_at = case when needed_from < $2::date then completed_at else $4 end,
       actions_checked_at = case when needed_from < $2::date then actions_checked_at else null end,
       source = $3, attempts = 0, reason = null, next_attempt_at = $4, updated_at = $4
 where symbol = $1`, symbol, plannedFrom.String(), source, now.UTC())
}

// ClaimActions implements history.Store, in one statement: the complete
// row asked for longest ago (never first) among those due (asked before
// before, or before a transaction on the symbol was recorded), locked with
// skip locked so that a concurrent claim takes the next one.
func (s *SymbolHistory) ClaimActions(ctx context.Context, now, before time.Time) (string, bool, error) {
	rows, err := s.db.Query(ctx, `
update symbol_history h
   set actions_checked_at = $1
  from (select symbol from symbol_history
         where state = 'complete' and (actions_checked_at is null or actions_checked_at <= $2 or actions_checked_at < last_traded_at)
         order by actions_checked_at nulls first, symbol
         limit 1
           for update skip locked) c
 where h.symbol = c.symbol
returning h.symbol`, now.UTC(), before.UTC())
	if err != nil {
		return "", false, fmt.Errorf("readmodel: claim the actions of a symbol: %w", err)
	}
	symbols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(symbols) == 0 {
		return "", false, err
	}
	return symbols[0], true, nil
}

// ReleaseActions implements history.Store.
func (s *SymbolHistory) ReleaseActions(ctx context.Context, symbol string) error {
	return s.update(ctx, "release the actions", symbol, `update symbol_history set actions_checked_at = null where symbol = $1`, symbol)
}

// Release implements history.Store.
func (s *SymbolHistory) Release(ctx context.Context, symbol string, at, now time.Time) error {
	return s.update(ctx, "release", symbol, `
update symbol_history
   set state = case when filled_to is null then 'pending' else 'filling' end, next_attempt_at = $2, updated_at = $3
 where symbol = $1`, symbol, at.UTC(), now.UTC())
}

// Fail implements history.Store.
func (s *SymbolHistory) Fail(ctx context.Context, symbol string, f history.Failure, now time.Time) error {
	return s.update(ctx, "fail", symbol, `
update symbol_history
   set state = case when $2 then 'failed' when filled_to is null then 'pending' else 'filling' end,
       attempts = attempts + 1, reason = $3, next_attempt_at = $4, updated_at = $5
 where symbol = $1`, symbol, f.Final, truncate(f.Reason, 1000), f.RetryAt.UTC(), now.UTC())
}

func (s *SymbolHistory) update(ctx context.Context, what, symbol, sql string, args ...any) error {
	tag, err := s.db.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = errNoHistory
	}
	if err != nil {
		return fmt.Errorf("readmodel: %s history of %s: %w", what, symbol, err)
	}
	return nil
}

// Status returns the records of symbols (those recorded), by symbol.
func (s *SymbolHistory) Status(ctx context.Context, symbols []string) (map[string]market.HistoryStatus, error) {
	rows, err := s.db.Query(ctx, `
select symbol, state, needed_from::text, filled_from::text, filled_to::text, coalesce(reason, ''), coalesce(source, ''), updated_at
  from symbol_history where symbol = any($1::text[])`, symbols)
	if err != nil {
		return nil, fmt.Errorf("readmodel: symbol history status: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanHistoryStatus)
	if err != nil {
		return nil, fmt.Errorf("readmodel: symbol history status: %w", err)
	}
	out := make(map[string]market.HistoryStatus, len(list))
	for _, h := range list {
		out[h.Symbol] = h
	}
	return out, nil
}

func scanHistoryStatus(row pgx.CollectableRow) (market.HistoryStatus, error) {
	var h market.HistoryStatus
	var state, needed string
	var from, to *string
	if err := row.Scan(&h.Symbol, &state, &needed, &from, &to, &h.Reason, &h.Source, &h.UpdatedAt); err != nil {
		return h, err
	}
	h.State, h.UpdatedAt = market.HistoryState(state), h.UpdatedAt.UTC()
	var err error
	if h.NeededFrom, err = calendar.Parse(needed); err != nil {
		return h, err
	}
	if h.FilledFrom, err = parseDatePtr(from); err != nil {
		return h, err
	}
	h.FilledTo, err = parseDatePtr(to)
	return h, err
}

// StaleAfterBackfill returns up to limit portfolios (not archived) whose
// analytics were last computed before a backfill of one of their symbols
// completed since since, least recently computed first: a traded symbol, the
// benchmark, or the pair against quoteCurrency (XUSD=X) of a currency the
// figures convert: the base's, a transaction's (its settlement currency: GBP
// for GBp) or a conversion's incoming one. Portfolios never computed are left
// to the stream and the daily run.
func (s *SymbolHistory) StaleAfterBackfill(ctx context.Context, quoteCurrency string, since time.Time, limit int) ([]string, error) {
	units := currency.QuoteUnits()
	settles := make([]string, len(units))
	for i, u := range units {
		settles[i], _ = currency.Settlement(u)
	}
	rows, err := s.db.Query(ctx, `
with done as (
  select symbol, completed_at from symbol_history where completed_at > $2
), done_fx (codes, completed_at) as (
  -- a pair XUSD=X converts X and its quote units (GBp for GBP)
  select array_append(array(select u.code from unnest($4::text[], $5::text[]) u (code, settle) where u.settle = left(d.symbol, 3)),
                      left(d.symbol, 3)),
         d.completed_at
    from done d where d.symbol = left(d.symbol, 3) || $1 || '=X' and left(d.symbol, 3) <> $1
), touched (portfolio_id, completed_at) as (
  select t.portfolio_id, d.completed_at from done d join transactions t on t.symbol = d.symbol and not t.voided
  union all
  select p.id, d.completed_at from done d join portfolios p on p.benchmark = d.symbol
  union all
  select p.id, f.completed_at from done_fx f join portfolios p on p.base_currency = any(f.codes)
  union all
  select t.portfolio_id, f.completed_at from done_fx f
    join transactions t on (t.currency = any(f.codes) or t.to_currency = any(f.codes)) and not t.voided
), latest as (
  select portfolio_id, max(completed_at) as completed_at from touched group by portfolio_id
)
select p.id
  from latest l
  join portfolios p on p.id = l.portfolio_id and not p.archived
  cross join lateral (select m.computed_at as at from portfolio_metrics m where m.portfolio_id = p.id
                       order by m.as_of desc limit 1) c
 where c.at < l.completed_at
 order by c.at, p.id
 limit $3`, quoteCurrency, since.UTC(), limit, units, settles)
	if err != nil {
		return nil, fmt.Errorf("readmodel: portfolios stale after a backfill: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("readmodel: portfolios stale after a backfill: %w", err)
	}
	return ids, nil
}
