-- The user service (shared/app/users; docs/architecture.md §11, "The user
-- service"): the caller's own profile row through the API's role, and the
-- erasure of a user (DELETE /me).
--
-- Profiles: the API reads and changes the caller's own row (RLS), and creates it
-- when the trigger on auth.users could not (first GET /me). The pending phone
-- code's columns are the API's to write, never a signed-in user's through the
-- Data API (hence tracker_api, not authenticated; 0013 says why). Reading is
-- authenticated's select-own (0002). Column grants: e-mail and its
-- confirmation follow Supabase Auth; the API sets them only on the row it
-- makes from Auth.
grant insert (user_id, email, display_name, email_confirmed_at, time_zone, locale, base_currency,
              notification_preferences, created_at, updated_at) on table public.profiles to tracker_api;
grant update (display_name, time_zone, locale, base_currency, notification_preferences, phone, phone_verified_at,
              phone_code_hash, phone_code_expires_at, phone_code_attempts, updated_at) on table public.profiles to tracker_api;
create policy profiles_insert_own on public.profiles
  for insert to tracker_api with check ((select auth.uid()) = user_id);
create policy profiles_update_own on public.profiles
  for update to tracker_api using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);

-- The phone code goes out through the notifier's outbox (source 'phone_code');
-- the API inserts the caller's (created_at by the service's clock, which bounds
-- how many an hour from them), and reads them back.
grant select, insert (user_id, source, source_key, payload, created_at) on table public.notification_outbox to tracker_api;
grant usage on sequence public.notification_outbox_id_seq to tracker_api;
create policy notification_outbox_phone_code_own on public.notification_outbox
  for insert to tracker_api with check ((select auth.uid()) = user_id and source = 'phone_code');
create policy notification_outbox_select_own on public.notification_outbox
  for select to tracker_api using ((select auth.uid()) = user_id);

-- Erased users: a tombstone per user whose data DELETE /me erased, checked by
-- the projector (an event of that user still in the stream projects nothing),
-- by GET /me (no profile re-created from Supabase Auth) and by the profile
-- trigger on auth.users. It holds the user's ID and when, nothing else.
create table public.erased_users (
  user_id   uuid primary key,
  erased_at timestamptz not null default now()
);
alter table public.erased_users enable row level security;
revoke all on table public.erased_users from anon, authenticated;

-- erase_begin: the first step of an erasure, the caller's tombstone (idempotent).
-- security definer and auth.uid(): the API's role may erase only its caller.
create function public.erase_begin() returns timestamptz
  language plpgsql security definer set search_path = '' as $fn$
declare
  v_user uuid := auth.uid();
  v_at   timestamptz;
begin
  if v_user is null then
    raise exception 'erase_begin: no caller' using errcode = '42501';
  end if;
  insert into public.erased_users (user_id) values (v_user) on conflict (user_id) do nothing;
  select erased_at into v_at from public.erased_users where user_id = v_user;
  return v_at;
end
$fn$;

-- erased_at: when the caller's erasure began, NULL if never.
create function public.erased_at() returns timestamptz
  language sql stable security definer set search_path = '' as $fn$
  select erased_at from public.erased_users where user_id = auth.uid()
$fn$;

-- erase_read_models deletes every row of the caller (a tombstone must exist):
-- every table with a user_id, those reached through the caller's portfolios
-- (portfolio_id, aggregate_id), with a row per table and how many it deleted.
-- p_portfolios adds the portfolio IDs the event store knows that the read model
-- may not yet (an unprojected creation); an ID that is another user's portfolio
-- is ignored. The portfolios' projection locks are taken first (the projector's,
-- in its order), so a projection in flight commits before and is deleted here,
-- and one after sees the tombstone. readmodel's erasure test holds the list to
-- information_schema: a new table with user_id or portfolio_id fails it until it
-- is added here (create or replace in a new migration).
create function public.erase_read_models(p_portfolios text[]) returns table (store text, erased bigint)
  language plpgsql security definer set search_path = '' as $fn$
declare
  v_user uuid := auth.uid();
  v_ids  text[];
  v_n    bigint;
begin
  if v_user is null then
    raise exception 'erase_read_models: no caller' using errcode = '42501';
  end if;
  if not exists (select 1 from public.erased_users where user_id = v_user) then
    raise exception 'erase_read_models: call erase_begin first' using errcode = '55000';
  end if;
  select coalesce(array_agg(id order by id collate "C"), '{}') into v_ids
    from (select p.id from public.portfolios p where p.user_id = v_user
          union
          select u.id from unnest(coalesce(p_portfolios, '{}')) as u(id)
           where not exists (select 1 from public.portfolios p where p.id = u.id and p.user_id <> v_user)) x;
  perform count(pg_advisory_xact_lock(hashtextextended(id, 7))) from unnest(v_ids) as u(id);
  -- Projected while we waited for the locks: theirs too (their projector now sees the tombstone).
  select coalesce(array_agg(distinct id), '{}') into v_ids
    from (select unnest(v_ids) as id union select p.id from public.portfolios p where p.user_id = v_user) x;

  delete from public.notification_attempts where user_id = v_user;
  get diagnostics v_n = row_count; store := 'notification_attempts'; erased := v_n; return next;
  delete from public.notification_deliveries where user_id = v_user;
  get diagnostics v_n = row_count; store := 'notification_deliveries'; erased := v_n; return next;
  delete from public.notification_outbox where user_id = v_user;
  get diagnostics v_n = row_count; store := 'notification_outbox'; erased := v_n; return next;
  -- The notifier's record of unsubscribes (its branch of 0021 adds the table).
  if to_regclass('public.notification_unsubscribes') is not null then
    execute 'delete from public.notification_unsubscribes where user_id = $1' using v_user;
    get diagnostics v_n = row_count; store := 'notification_unsubscribes'; erased := v_n; return next;
  end if;
  delete from public.alert_history where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'alert_history'; erased := v_n; return next;
  delete from public.alert_rules where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'alert_rules'; erased := v_n; return next;
  delete from public.alert_value_samples where portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'alert_value_samples'; erased := v_n; return next;
  delete from public.symbol_watchers where user_id = v_user;
  get diagnostics v_n = row_count; store := 'symbol_watchers'; erased := v_n; return next;
  delete from public.suggestions where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'suggestions'; erased := v_n; return next;
  delete from public.valuations where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'valuations'; erased := v_n; return next;
  delete from public.portfolio_metrics where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'portfolio_metrics'; erased := v_n; return next;
  delete from public.portfolio_series where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'portfolio_series'; erased := v_n; return next;
  delete from public.portfolio_rebalancing where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'portfolio_rebalancing'; erased := v_n; return next;
  delete from public.analytics_status where portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'analytics_status'; erased := v_n; return next;
  delete from public.targets where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'targets'; erased := v_n; return next;
  delete from public.cash_balances where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'cash_balances'; erased := v_n; return next;
  delete from public.positions where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'positions'; erased := v_n; return next;
  delete from public.portfolio_totals where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'portfolio_totals'; erased := v_n; return next;
  delete from public.transactions where user_id = v_user or portfolio_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'transactions'; erased := v_n; return next;
  delete from public.portfolios where user_id = v_user or id = any(v_ids);
  get diagnostics v_n = row_count; store := 'portfolios'; erased := v_n; return next;
  delete from public.projection_failures where aggregate_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'projection_failures'; erased := v_n; return next;
  delete from public.projection_checkpoints where aggregate_id = any(v_ids);
  get diagnostics v_n = row_count; store := 'projection_checkpoints'; erased := v_n; return next;
  delete from public.profiles where user_id = v_user;
  get diagnostics v_n = row_count; store := 'profiles'; erased := v_n; return next;
  -- The marks the deletes above moved ('p:'/'hp:' and the portfolio ID) stay: the
  -- prices consumer's caches learn from them that the rules and holdings are gone.
end
$fn$;

revoke all on function public.erase_begin(), public.erased_at(), public.erase_read_models(text[]) from public, anon, authenticated;
grant execute on function public.erase_begin(), public.erased_at(), public.erase_read_models(text[]) to tracker_api;

-- The profile trigger on auth.users re-creates no profile of an erased user (an
-- update of the Auth user between the read models' erasure and its own).
create or replace function public.readmodel_sync_profile() returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $fn$
begin
  if exists (select 1 from public.erased_users where user_id = new.id) then
    return new;
  end if;
  insert into public.profiles (user_id, email, display_name, email_confirmed_at)
  values (new.id, new.email, nullif(new.raw_user_meta_data ->> 'display_name', ''), new.email_confirmed_at)
  on conflict (user_id) do update
    set email = excluded.email,
        display_name = coalesce(excluded.display_name, public.profiles.display_name),
        email_confirmed_at = excluded.email_confirmed_at,
        updated_at = now();
  return new;
end
$fn$;

-- Writers that may hold an erased user's data while the erasure runs, and write
-- it after: a firing of a rule the prices consumer still had in memory, an
-- analytics computation or a weekly summary in flight, a suggestion of the
-- backfill. Their rows of an erased user are dropped on insert (the tombstone is
-- a primary-key look-up; these tables are written per portfolio or per firing,
-- not per tick). Valuations, written per tick, are left to a second DELETE /me.
create function public.drop_rows_of_erased_users() returns trigger
  language plpgsql security definer set search_path = '' as $fn$
begin
  if exists (select 1 from public.erased_users where user_id = new.user_id) then
    return null;
  end if;
  return new;
end
$fn$;
revoke all on function public.drop_rows_of_erased_users() from public, anon, authenticated;

do $erased$
declare
  t text;
begin
  foreach t in array array['alert_history', 'notification_outbox', 'portfolio_metrics', 'portfolio_series',
                           'portfolio_rebalancing', 'suggestions'] loop
    execute format('create trigger %I before insert on public.%I for each row execute function public.drop_rows_of_erased_users()',
                   t || '_of_erased_users', t);
  end loop;
end
$erased$;
