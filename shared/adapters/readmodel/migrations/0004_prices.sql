-- Daily closes, written by the prices function (the last tick of each exchange day)
-- and by the ingest function's backfill (providers' daily bars).
--
-- Why Postgres and not the DynamoDB prices table: the readers are analytics
-- (time-weighted returns, volatility, drawdown, value history), which read many
-- symbols × many days at once, joined to the positions and transactions that live
-- here, set-based in one query. DynamoDB keeps only the latest quote per symbol,
-- the hot key-value read.
--
-- day is the exchange's calendar day (America/New_York for US listings). as_of is
-- the time of the price that is the close so far: a write only replaces a row with
-- an older as_of, so a late or duplicate tick never overwrites a newer close.
create table public.daily_closes (
  symbol text not null,
  day    date not null,
  close  numeric not null,
  as_of  timestamptz not null,
  source text not null,
  primary key (symbol, day)
);

-- Market data, not user data: any signed-in user may read it, nobody but the owner writes.
alter table public.daily_closes enable row level security;
revoke all on table public.daily_closes from anon, authenticated;
grant select on table public.daily_closes to authenticated;
create policy daily_closes_select_authenticated on public.daily_closes
  for select to authenticated using (true);

-- The ingest watch list and the valuation of the portfolios holding a ticked symbol
-- look positions up by symbol.
create index positions_symbol_idx on public.positions (symbol) where quantity <> 0;
