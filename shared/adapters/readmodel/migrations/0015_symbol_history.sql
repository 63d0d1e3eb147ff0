-- Where each symbol's backfill of daily closes stands (the backfill function,
-- shared/app/history). A row per symbol some read model needs history of: the
-- symbols of transactions and the benchmarks of the portfolios not archived, from
-- the portfolio's first trade; the symbols of alert rules and live WebSocket
-- watches, over a default lookback; the currency pairs of portfolios whose base
-- currency is not the quotes' (readmodel.SymbolHistory.Reconcile derives them on
-- every run). needed_from only moves back: a symbol needed further back than it
-- was goes back to pending for the days it lacks.
--
-- state: pending (nothing fetched yet), filling (some fetched), complete (every
-- day from needed_from asked for; filled_from may be later when the provider's
-- history starts later), failed (reason says why; retried with backoff).
-- filled_from..filled_to are the days asked for so far, one contiguous range
-- extended a chunk at a time (newest first), so a run that stopped resumes where
-- it was. next_attempt_at is when a run may take the row: a run claiming it moves
-- it past its own deadline (a lease: no other run fetches the symbol meanwhile),
-- and a failure moves it by the backoff. completed_at is when the last backfill
-- completed: the analytics function recomputes the portfolios computed before it.
-- priority 0 is a symbol a portfolio needs (its trades, its benchmark, its pair)
-- or an operator asked for, 1 one only an alert rule or a live watch needs: runs
-- take every due 0 first, so that watches (any user may open them) never hold
-- back the history of a portfolio. actions_checked_at is when the symbol's
-- corporate actions were last asked for (null: due, as on completion): a complete
-- symbol is asked again every day, so the dividends and splits after its backfill
-- are offered too, and at once when a transaction on it was recorded since
-- (last_traded_at, kept by the reconcile): a new holder is offered the past ones.
create table public.symbol_history (
  symbol          text primary key,
  state           text not null check (state in ('pending', 'filling', 'complete', 'failed')),
  needed_from     date not null,
  filled_from     date,
  filled_to       date,
  attempts        integer not null default 0,
  reason          text,
  source          text,
  next_attempt_at timestamptz not null,
  updated_at      timestamptz not null,
  completed_at    timestamptz,
  priority        smallint not null default 0 check (priority in (0, 1)),
  actions_checked_at timestamptz,
  last_traded_at  timestamptz,
  check ((filled_from is null) = (filled_to is null) and (filled_from is null or filled_from <= filled_to))
);
-- The runs' pick: the rows due, a portfolio's first, failed ones after the
-- others, then oldest first.
create index symbol_history_due_idx on public.symbol_history (priority, (state = 'failed'), next_attempt_at, symbol) where state <> 'complete';
-- The analytics refresh: the backfills completed lately.
create index symbol_history_completed_at_idx on public.symbol_history (completed_at) where completed_at is not null;

-- Market data, not user data, as daily_closes (0004): any signed-in user may read
-- it (the API's GET /portfolios/{id}/symbols reads the rows of the portfolio's
-- symbols), nobody but the owner writes. It tells no more than daily_closes
-- does: which symbols somebody needs.
alter table public.symbol_history enable row level security;
revoke all on table public.symbol_history from anon, authenticated;
grant select on table public.symbol_history to authenticated;
create policy symbol_history_select_authenticated on public.symbol_history
  for select to authenticated using (true);
-- The analytics refresh looks transactions up by symbol.
create index transactions_symbol_idx on public.transactions (symbol) where symbol is not null;
