-- Symbols a market-data provider says do not exist. A trade on such a symbol is
-- accepted (a ticker the provider does not list may still be the user's truth:
-- an unlisted fund, a typo the user will void), but its position carries a
-- warning in the API instead of a price: with a real quote source nothing
-- prices it, and nothing pretends to. The ingest flags a symbol when the quote
-- provider answers not-found and clears the flag when a valid quote arrives;
-- the history backfill flags it when the history provider does not know it.
-- One row per symbol: the flag, the provider that said so, its words, when.
create table public.symbol_flags (
  symbol     text primary key,
  flag       text not null check (flag in ('unknown')),
  source     text not null,
  reason     text not null,
  flagged_at timestamptz not null
);

-- Market data, not user data: any signed-in user may read it, nobody but the owner writes.
alter table public.symbol_flags enable row level security;
revoke all on table public.symbol_flags from anon, authenticated;
grant select on table public.symbol_flags to authenticated;
create policy symbol_flags_select_authenticated on public.symbol_flags
  for select to authenticated using (true);
