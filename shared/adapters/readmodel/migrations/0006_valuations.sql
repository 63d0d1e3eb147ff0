-- Portfolio valuations over time, and what the portfolio alert rules need.

-- The prices consumer reads the portfolio rules (value_drop; the analytics
-- function the risk and rebalance ones) of the portfolios a batch touched, by
-- portfolio and kind: O(rules of those portfolios), never a scan of every rule.
create index alert_rules_portfolio_idx on public.alert_rules (portfolio_id, kind) where portfolio_id <> '';

-- A mark per alert key ('s:' || symbol for price rules, 'p:' || portfolio_id for
-- portfolio rules) that changes whenever the key's rules or their saved state do.
-- The prices consumer keeps rules, compiled, and their state in memory between
-- batches; per batch it reads the marks of the keys it is about to evaluate and
-- reloads only those whose mark moved (another container saved their state, or a
-- rule was created or deleted), then claims the marks of the keys whose state it
-- saves (pricing.StateMarker). The trigger below moves the mark on every rule
-- change; state writes are claimed by the writer. Service role only.
create table public.alert_state_marks (
  key   text primary key,
  token text not null
);
alter table public.alert_state_marks enable row level security;
revoke all on table public.alert_state_marks from anon, authenticated;

-- security definer: the rule's writer need not be able to write the marks.
create function public.alert_rules_mark() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    insert into public.alert_state_marks (key, token)
    values (case when old.portfolio_id <> '' then 'p:' || old.portfolio_id else 's:' || old.symbol end, gen_random_uuid()::text)
    on conflict (key) do update set token = excluded.token;
  end if;
  if tg_op in ('UPDATE', 'INSERT') then
    insert into public.alert_state_marks (key, token)
    values (case when new.portfolio_id <> '' then 'p:' || new.portfolio_id else 's:' || new.symbol end, gen_random_uuid()::text)
    on conflict (key) do update set token = excluded.token;
  end if;
  return null;
end
$$;
revoke all on function public.alert_rules_mark() from public;
create trigger alert_rules_mark after insert or delete or update of kind, symbol, portfolio_id, definition
  on public.alert_rules for each row execute function public.alert_rules_mark();

-- The recent values of each portfolio that has value_drop rules (alerts.State's
-- Values: a monotonic deque, at most the longest window of its rules). It is the
-- engine's memory between batches, shared by every value_drop rule of the
-- portfolio; no user reads it, so RLS is on with no policy (service role only).
create table public.alert_value_samples (
  portfolio_id text primary key,
  samples      jsonb not null,
  updated_at   timestamptz not null default now()
);
alter table public.alert_value_samples enable row level security;
revoke all on table public.alert_value_samples from anon, authenticated;

-- One row per PortfolioValueCalculated: the portfolio's value each time a batch of
-- ticks revalued it (the event's data; see events/schemas). as_of is the newest
-- price used, so a re-processed batch computes the same as_of and inserts nothing
-- (on conflict do nothing). market_value and cost_basis cover the same priced open
-- positions; unrealized_pnl = market_value − cost_basis; unpriced lists the open
-- positions without a price in the base currency.
--
-- Retention: intraday rows older than 7 days are thinned to the last row of each
-- UTC day by readmodel.PruneValuations (the prices consumer runs it, bounded, over
-- the days that just aged out, at most every few minutes), so charts keep a
-- daily series forever and an intraday one for a week. With quotes every minute
-- that is about 390 rows per portfolio per trading day, 2,000 per portfolio in
-- all plus one a day.
create table public.valuations (
  portfolio_id   text not null,
  user_id        uuid not null,
  as_of          timestamptz not null,
  market_value   numeric not null,
  cost_basis     numeric not null,
  unrealized_pnl numeric not null,
  unpriced       text[] not null default '{}',
  primary key (portfolio_id, as_of)
);
create index valuations_user_id_idx on public.valuations (user_id);
-- Pruning finds a day's rows by time across portfolios; rows arrive in time
-- order, so a BRIN index serves it for almost no write cost.
create index valuations_as_of_brin on public.valuations using brin (as_of);

alter table public.valuations enable row level security;
revoke all on table public.valuations from anon, authenticated;
grant select on table public.valuations to authenticated;
create policy valuations_select_own on public.valuations
  for select to authenticated using ((select auth.uid()) = user_id);

-- Marks of the holdings the prices consumer values from memory: 'hs:' || symbol
-- moves when a position in that symbol changes (who holds it), 'hp:' ||
-- portfolio_id when one of the portfolio's positions or the portfolio itself
-- does. Per batch the consumer reads the marks of the ticked symbols and of the
-- portfolios holding them, and reloads only what moved; revaluing 10,000
-- portfolios in SQL on every batch costs about half a second. Statement-level
-- triggers with transition tables: one upsert per projector statement.
create table public.holding_marks (
  key   text primary key,
  token text not null
);
alter table public.holding_marks enable row level security;
revoke all on table public.holding_marks from anon, authenticated;

create function public.positions_mark_new() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  insert into public.holding_marks (key, token)
  select k, gen_random_uuid()::text
    from (select 'hp:' || portfolio_id as k from changed union select 'hs:' || symbol from changed) x
  on conflict (key) do update set token = excluded.token;
  return null;
end
$$;
revoke all on function public.positions_mark_new() from public;
create trigger positions_mark_insert after insert on public.positions
  referencing new table as changed for each statement execute function public.positions_mark_new();
create trigger positions_mark_update after update on public.positions
  referencing new table as changed for each statement execute function public.positions_mark_new();
create trigger positions_mark_delete after delete on public.positions
  referencing old table as changed for each statement execute function public.positions_mark_new();

create function public.portfolios_mark() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  insert into public.holding_marks (key, token)
  select distinct 'hp:' || id, gen_random_uuid()::text from changed
  on conflict (key) do update set token = excluded.token;
  return null;
end
$$;
revoke all on function public.portfolios_mark() from public;
create trigger portfolios_mark_insert after insert on public.portfolios
  referencing new table as changed for each statement execute function public.portfolios_mark();
create trigger portfolios_mark_update after update on public.portfolios
  referencing new table as changed for each statement execute function public.portfolios_mark();

-- A rebuild truncates the read models: every mark goes, and a consumer treats a
-- missing mark as changed, so it reloads whatever it held.
create function public.holding_marks_reset() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  delete from public.holding_marks;
  return null;
end
$$;
revoke all on function public.holding_marks_reset() from public;
create trigger positions_mark_truncate after truncate on public.positions
  for each statement execute function public.holding_marks_reset();
create trigger portfolios_mark_truncate after truncate on public.portfolios
  for each statement execute function public.holding_marks_reset();

-- The positions projected before this migration get their marks.
insert into public.holding_marks (key, token)
select k, gen_random_uuid()::text
  from (select 'hp:' || portfolio_id as k from public.positions
        union select 'hs:' || symbol from public.positions
        union select 'hp:' || id from public.portfolios) x
on conflict (key) do nothing;
