-- Alert rules their owners edit and pause (issue 17).
--
-- active mirrors the definition's pausedAt (alerts.Rule.Active) so that the
-- evaluators' indexes hold only the rules they evaluate: a paused rule costs the
-- prices consumer nothing. A rule with conditions keeps its first condition's
-- kind and symbol in the columns (all of its conditions are on that key).
alter table public.alert_rules add column active boolean not null default true;

drop index public.alert_rules_symbol_idx;
create index alert_rules_symbol_idx on public.alert_rules (symbol) where portfolio_id = '' and active;
drop index public.alert_rules_portfolio_idx;
create index alert_rules_portfolio_idx on public.alert_rules (portfolio_id, kind) where portfolio_id <> '' and active;

-- The API edits the caller's rules (PATCH, pause, resume): the definition and
-- the columns copied out of it. Not the owner, the portfolio, the creation time
-- or the engine's state: an edit that restarts the rule stamps the definition's
-- restartedAt instead, and the evaluators read a state saved before it as
-- restarted (alerts.Rule.EffectiveState).
grant insert (active) on table public.alert_rules to tracker_api;
grant update (kind, symbol, definition, active) on table public.alert_rules to tracker_api;
create policy alert_rules_update_own on public.alert_rules
  for update to tracker_api using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
