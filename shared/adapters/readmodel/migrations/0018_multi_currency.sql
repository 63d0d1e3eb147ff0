-- Multi-currency portfolios (docs/architecture.md §7). A transaction keeps its
-- own currency and the rate of its date to the portfolio's base (fx_rate, null
-- when it is in the base); a CONVERSION its incoming side (to_amount,
-- to_currency). Money in positions and portfolio_totals is in the base currency
-- at each transaction's own rate; a position also keeps its figures in the
-- currency its trades settle in (local_*) and the currency it trades in
-- (currency: GBp for a London listing in pence, local_currency GBP). Cash is kept
-- per currency in cash_balances. Rows written before this migration are of
-- single-currency portfolios: their local figures are their base figures.
alter table public.transactions
  add column fx_rate     numeric,
  add column to_amount   numeric,
  add column to_currency text;

alter table public.positions
  add column currency           text not null default '',
  add column local_currency     text not null default '',
  add column local_cost_basis   numeric not null default 0,
  add column local_realized_pnl numeric not null default 0;

update public.positions p
   set currency = pf.base_currency, local_currency = pf.base_currency,
       local_cost_basis = p.cost_basis, local_realized_pnl = p.realized_pnl
  from public.portfolios pf
 where pf.id = p.portfolio_id;

create table public.cash_balances (
  portfolio_id text not null,
  currency     text not null,
  user_id      uuid not null,
  amount       numeric not null,
  -- The version of the last event that changed the portfolio's transactions.
  version      bigint not null,
  primary key (portfolio_id, currency)
);
create index cash_balances_user_id_idx on public.cash_balances (user_id);

alter table public.cash_balances enable row level security;
revoke all on table public.cash_balances from anon, authenticated;
grant select on table public.cash_balances to authenticated;
create policy cash_balances_select_own on public.cash_balances
  for select to authenticated using ((select auth.uid()) = user_id);

-- Existing single-currency portfolios: their one balance is the totals' cash.
insert into public.cash_balances (portfolio_id, currency, user_id, amount, version)
select t.portfolio_id, pf.base_currency, t.user_id, t.cash, t.version
  from public.portfolio_totals t join public.portfolios pf on pf.id = t.portfolio_id
on conflict do nothing;
