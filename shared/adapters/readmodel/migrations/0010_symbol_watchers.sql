-- Who watches a symbol without holding it: a WebSocket connection that subscribed
-- to symbols. The prices consumer pushes each batch's quotes to the connections
-- subscribed to them, but finds connections through their users, and knew only
-- the users holding a ticked symbol. The ws function records a row per (symbol,
-- connection) on subscribe and removes it on unsubscribe; a closed connection's
-- rows stay until their expiry (the connection's, at most 2 h) and are pruned by
-- the prices consumer. A stale row costs a look-up of its user's connections,
-- never a delivery: the connections table's subscriptions decide those.
-- Service role only.
create table public.symbol_watchers (
  symbol        text not null,
  connection_id text not null,
  user_id       uuid not null,
  expires_at    timestamptz not null,
  primary key (symbol, connection_id)
);
create index symbol_watchers_connection_idx on public.symbol_watchers (connection_id);
create index symbol_watchers_expires_at_idx on public.symbol_watchers (expires_at);
-- Every user-owned table is indexed by user (an account deletion, the RLS checks).
create index symbol_watchers_user_id_idx on public.symbol_watchers (user_id);
alter table public.symbol_watchers enable row level security;
revoke all on table public.symbol_watchers from anon, authenticated;
