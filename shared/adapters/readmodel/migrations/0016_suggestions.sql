-- Corporate actions offered as suggested transactions (shared/app/suggestions):
-- the backfill stores one row per portfolio that held the symbol at the close
-- before the action, and the owner accepts it (the transaction is then recorded
-- through the command service, and its ID kept here) or dismisses it. One row
-- per (portfolio, symbol, kind, date), whatever its status: an action offered
-- again stores nothing, and a dismissed one is never offered again.
--
-- The proposed transaction is kept field by field (tx_*), exact: numerics
-- without a declared scale, the ratio as text ("4:1"). held is the quantity the
-- portfolio held at the close before date, per_share a dividend's cash per
-- share (NULL for a split).
create table public.suggestions (
  id              text primary key,
  portfolio_id    text not null,
  user_id         uuid not null,
  symbol          text not null,
  kind            text not null check (kind in ('split', 'dividend')),
  date            date not null,
  pay_date        date,
  held            numeric not null,
  per_share       numeric,
  tx_type         text not null,
  tx_date         date not null,
  tx_amount       numeric,
  tx_ratio        text,
  tx_currency     text not null,
  tx_note         text not null default '',
  source          text not null,
  status          text not null default 'pending' check (status in ('pending', 'accepted', 'dismissed')),
  created_at      timestamptz not null default now(),
  decided_at      timestamptz,
  transaction_id  text,
  -- The portfolio's version after the accepted transaction.
  tx_version      bigint,
  unique (portfolio_id, symbol, kind, date)
);
-- The listing (a portfolio's suggestions of one status) and the RLS checks.
create index suggestions_portfolio_status_idx on public.suggestions (portfolio_id, status, date desc);
create index suggestions_user_id_idx on public.suggestions (user_id);

-- Offer reads the active transactions of one symbol across portfolios.
create index transactions_symbol_portfolio_idx on public.transactions (symbol, portfolio_id) where not voided;

-- The owner may read its suggestions; the API (tracker_api, as the caller, see
-- 0013) decides them: the status and what an accept recorded, nothing else.
-- Only the owner's role (the backfill) inserts.
alter table public.suggestions enable row level security;
revoke all on table public.suggestions from anon, authenticated;
grant select on table public.suggestions to authenticated;
create policy suggestions_select_own on public.suggestions
  for select to authenticated using ((select auth.uid()) = user_id);

grant update (status, decided_at, transaction_id, tx_version) on table public.suggestions to tracker_api;
create policy suggestions_decide_own on public.suggestions
  for update to tracker_api using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
