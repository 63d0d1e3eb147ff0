-- Least privilege for the internet-facing functions (api, ws).
--
-- They log in as a role of their own that owns nothing and holds no privilege
-- (readmodel.EnsureAPILogin creates it from their DSN); its one membership is
-- tracker_api, and every statement they run is preceded, in the same
-- transaction, by `set local role tracker_api` with the caller's JWT claims
-- (readmodel.CallerDB). Row Level Security then applies to everything they do:
-- a query that forgot its `where user_id` still sees only the caller's rows, and
-- a login that resets its role reaches nothing.
--
-- tracker_api is `authenticated` (it inherits exactly what a signed-in user may
-- read) plus the few writes the API makes for the caller: alert rules, their
-- acknowledgements, symbol watches. Those writes are granted to tracker_api and
-- not to authenticated because Supabase's Data API (PostgREST) lets any
-- signed-in user act as authenticated: a write granted there would bypass the
-- API's validation, ownership checks and quotas. PostgREST cannot switch to
-- tracker_api (its authenticator role is no member), and nobody logs in as it.

-- Roles are cluster-wide: several databases of one local cluster may be migrated
-- at once (0001 does the same).
do $role$
begin
  if not exists (select 1 from pg_roles where rolname = 'tracker_api') then
    begin
      create role tracker_api nologin inherit;
    exception when duplicate_object or unique_violation then
      null;
    end;
  end if;
end
$role$;

do $member$
begin
  grant authenticated to tracker_api;
exception when unique_violation then
  null; -- granted meanwhile by another database's migration
end
$member$;

-- Alert rules: the API creates and deletes the caller's. Column grants: the
-- engine's state and the creation time are not the caller's to set.
grant insert (id, user_id, kind, symbol, portfolio_id, definition) on table public.alert_rules to tracker_api;
grant delete on table public.alert_rules to tracker_api;
create policy alert_rules_insert_own on public.alert_rules
  for insert to tracker_api with check ((select auth.uid()) = user_id);
create policy alert_rules_delete_own on public.alert_rules
  for delete to tracker_api using ((select auth.uid()) = user_id);

-- Alert history: the caller acknowledges its own firings, and changes nothing else.
grant update (acknowledged_at) on table public.alert_history to tracker_api;
create policy alert_history_acknowledge_own on public.alert_history
  for update to tracker_api using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);

-- Symbol watches (0010): the ws function records and removes the caller's. A
-- watch is an upsert on (symbol, connection), which reads the row it meets, and
-- an unwatch a delete by connection: both need the select policy.
grant select, delete on table public.symbol_watchers to tracker_api;
grant insert (symbol, connection_id, user_id, expires_at), update (user_id, expires_at)
  on table public.symbol_watchers to tracker_api;
create policy symbol_watchers_select_own on public.symbol_watchers
  for select to tracker_api using ((select auth.uid()) = user_id);
create policy symbol_watchers_insert_own on public.symbol_watchers
  for insert to tracker_api with check ((select auth.uid()) = user_id);
create policy symbol_watchers_update_own on public.symbol_watchers
  for update to tracker_api using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy symbol_watchers_delete_own on public.symbol_watchers
  for delete to tracker_api using ((select auth.uid()) = user_id);

-- schema_migrations is created by the migrator before any migration runs, so it
-- got Supabase's default privileges (every right for anon, authenticated and
-- service_role, RLS or not: TRUNCATE ignores RLS). Only its owner needs it.
revoke all on table public.schema_migrations from public, anon, authenticated, service_role;
