-- Alert rules and the history of their firings.
--
-- Why Postgres and not the event log: rules are user settings, not portfolio
-- decisions with an audit trail. The prices consumer reads them by symbol on every
-- batch of ticks, which an indexed table serves in one query; replaying events to
-- find them would not. Their engine state (alerts.RuleState) is kept with them,
-- written after each batch.
--
-- definition is the alerts.Rule as JSON (decimals as strings); kind, symbol and
-- portfolio_id are copied out of it for the indexes and the listings.
create table public.alert_rules (
  id           text primary key,
  user_id      uuid not null,
  kind         text not null,
  symbol       text not null default '',
  portfolio_id text not null default '',
  definition   jsonb not null,
  state        jsonb,
  created_at   timestamptz not null default now()
);

create index alert_rules_symbol_idx on public.alert_rules (symbol) where portfolio_id = '';
create index alert_rules_user_id_idx on public.alert_rules (user_id, created_at, id);

-- One row per firing, de-duplicated on the firing key ("<rule ID>#<epoch>"): a
-- re-processed batch fires under the same key and records nothing new. Rows
-- outlive their rule (the history is what happened).
create table public.alert_history (
  firing_key      text primary key,
  rule_id         text not null,
  user_id         uuid not null,
  kind            text not null,
  symbol          text not null default '',
  portfolio_id    text not null default '',
  observed        numeric not null,
  threshold       numeric not null,
  fired_at        timestamptz not null,
  acknowledged_at timestamptz
);

create index alert_history_user_id_idx on public.alert_history (user_id, fired_at desc, firing_key desc);

alter table public.alert_rules enable row level security;
alter table public.alert_history enable row level security;
revoke all on table public.alert_rules from anon, authenticated;
revoke all on table public.alert_history from anon, authenticated;
grant select on table public.alert_rules to authenticated;
grant select on table public.alert_history to authenticated;
create policy alert_rules_select_own on public.alert_rules
  for select to authenticated using ((select auth.uid()) = user_id);
create policy alert_history_select_own on public.alert_history
  for select to authenticated using ((select auth.uid()) = user_id);
