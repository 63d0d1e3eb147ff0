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
-- Service role only: the API reads a portfolio's rows through the policy below.
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
  check ((filled_from is null) = (filled_to is null) and (filled_from is null or filled_from <= filled_to))
);
-- The runs' pick: the rows due, oldest first.
create index symbol_history_due_idx on public.symbol_history (next_attempt_at, symbol) where state <> 'complete';
-- The analytics refresh: the backfills completed lately.
create index symbol_history_completed_at_idx on public.symbol_history (completed_at) where completed_at is not null;

alter table public.symbol_history enable row level security;
revoke all on table public.symbol_history from anon, authenticated;
-- The API (GET /portfolios/{id}/symbols) reads, as the caller, the histories of
-- the symbols the caller trades or benchmarks against, and no other: which
-- symbols other users need is theirs. The subqueries run under the caller's own
-- Row Level Security, so they see the caller's rows only.
grant select on table public.symbol_history to tracker_api;
create policy symbol_history_select_own on public.symbol_history
  for select to tracker_api using (
    exists (select 1 from public.transactions t where t.symbol = symbol_history.symbol)
    or exists (select 1 from public.portfolios p where p.benchmark = symbol_history.symbol));
-- The refresh and the portfolio's symbols look transactions up by symbol.
create index if not exists transactions_symbol_idx on public.transactions (symbol) where symbol is not null;
