-- The read models (docs/architecture.md §3). Every projected row records the aggregate version it
-- reflects; the projector only ever moves a row forward.
--
-- Money and quantities are numeric without a declared scale: values are stored
-- exactly as the domain computed them (decimal strings in, decimal strings out).
-- Absent values (a dividend has no quantity) are NULL, not zero.
--
-- Row Level Security: the API roles read through policies of the form
-- (select auth.uid()) = user_id (the sub-select makes the call once per
-- statement, not once per row), with user_id indexed on every table. Nobody but the
-- owner (the projector's role) writes.

create table public.profiles (
  user_id      uuid primary key,
  email        text,
  display_name text,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now()
);

create table public.portfolios (
  id            text primary key,
  user_id       uuid not null,
  name          text not null,
  description   text not null default '',
  base_currency text not null,
  lot_method    text not null,
  archived      boolean not null default false,
  archived_at   timestamptz,
  created_at    timestamptz not null,
  updated_at    timestamptz not null,
  -- The aggregate version this row reflects: the projection checkpoint.
  version       bigint not null
);
create index portfolios_user_id_idx on public.portfolios (user_id, created_at, id);

create table public.transactions (
  transaction_id text primary key,
  portfolio_id   text not null,
  user_id        uuid not null,
  seq            bigint not null,
  type           text not null,
  trade_date     date not null,
  symbol         text,
  quantity       numeric,
  price          numeric,
  amount         numeric,
  fee            numeric not null default 0,
  tax            numeric not null default 0,
  currency       text not null,
  ratio          text,
  note           text,
  voided         boolean not null default false,
  void_reason    text,
  voided_at      timestamptz,
  recorded_at    timestamptz not null,
  -- The version of the event that last changed the row (its recording, or its void).
  version        bigint not null
);
create index transactions_user_id_idx on public.transactions (user_id);
-- Keyset pagination (newest first) and the projector's replay-order read.
create unique index transactions_portfolio_date_seq_idx on public.transactions (portfolio_id, trade_date, seq);

create table public.positions (
  portfolio_id  text not null,
  symbol        text not null,
  user_id       uuid not null,
  quantity      numeric not null, -- 0 once closed; closed positions are kept
  cost_basis    numeric not null,
  average_price numeric not null, -- 0 when nothing is held
  realized_pnl  numeric not null,
  fees          numeric not null,
  taxes         numeric not null,
  dividends     numeric not null,
  -- The version of the last event that changed this symbol's history.
  version       bigint not null,
  primary key (portfolio_id, symbol)
);
create index positions_user_id_idx on public.positions (user_id);

create table public.portfolio_totals (
  portfolio_id text primary key,
  user_id      uuid not null,
  cash         numeric not null,
  realized_pnl numeric not null,
  fees         numeric not null,
  taxes        numeric not null,
  dividends    numeric not null,
  interest     numeric not null,
  cost_basis   numeric not null,
  charges      numeric not null,
  deposits     numeric not null,
  withdrawals  numeric not null,
  -- The version of the last event that changed the portfolio's transactions.
  version      bigint not null
);
create index portfolio_totals_user_id_idx on public.portfolio_totals (user_id);

create table public.targets (
  portfolio_id text not null,
  symbol       text not null,
  user_id      uuid not null,
  weight       numeric not null,
  drift_band   numeric not null,
  version      bigint not null, -- of the TargetAllocationSet event
  primary key (portfolio_id, symbol)
);
create index targets_user_id_idx on public.targets (user_id);

-- Latest quote per symbol, written by the live-prices feature. Market data, not
-- user data: any signed-in user may read it.
create table public.latest_prices (
  symbol   text primary key,
  price    numeric not null,
  currency text not null,
  as_of    timestamptz not null,
  source   text not null
);

-- The projection checkpoint of every aggregate in the event table: the version up
-- to which its events have been applied. Kept apart from portfolios so that an
-- aggregate the projector does not know (another aggregate type sharing the table,
-- or a type from a newer build) still advances, instead of leaving a permanent gap.
-- For a portfolio it equals portfolios.version.
create table public.projection_checkpoints (
  aggregate_id text primary key,
  version      bigint not null,
  updated_at   timestamptz not null -- the timestamp of the event at that version
);

-- Events the projector could not apply (poison items, gaps), for operators. A
-- retried delivery updates its row.
create table public.projection_failures (
  aggregate_id text not null,
  version      bigint not null,
  event_type   text not null default '',
  reason       text not null,
  attempts     integer not null default 1,
  first_seen   timestamptz not null default now(),
  last_seen    timestamptz not null default now(),
  primary key (aggregate_id, version)
);

-- Row Level Security on every table of the public schema. Supabase's default
-- privileges give the API roles every right on new tables; here they get only what
-- they need, and the policies decide which rows.
do $rls$
declare
  t text;
begin
  foreach t in array array['profiles', 'portfolios', 'transactions', 'positions', 'portfolio_totals',
                           'targets', 'latest_prices', 'projection_checkpoints', 'projection_failures'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on table public.%I from anon, authenticated', t);
  end loop;
  foreach t in array array['profiles', 'portfolios', 'transactions', 'positions', 'portfolio_totals', 'targets'] loop
    execute format('grant select on table public.%I to authenticated', t);
    execute format('create policy %I on public.%I for select to authenticated using ((select auth.uid()) = user_id)',
                   t || '_select_own', t);
  end loop;
end
$rls$;

grant select on table public.latest_prices to authenticated;
create policy latest_prices_select_authenticated on public.latest_prices
  for select to authenticated using (true);
-- projection_checkpoints, projection_failures: RLS on and no policy, so only the owner (and service_role,
-- which bypasses RLS on Supabase) reads it.
