-- Supabase compatibility for local clusters (docs/architecture.md §5): the auth schema with
-- auth.users and auth.uid(), and the API roles. On Supabase all of these already
-- exist, and this migration changes nothing there.

do $auth$
begin
  if not exists (select 1 from pg_namespace where nspname = 'auth') then
    create schema auth;

    -- The columns of Supabase's auth.users that this project reads.
    create table auth.users (
      id                 uuid primary key,
      email              text,
      raw_user_meta_data jsonb not null default '{}'::jsonb,
      created_at         timestamptz not null default now(),
      updated_at         timestamptz not null default now()
    );

    -- As on Supabase: the caller's user ID, from the `sub` claim of the request's JWT
    -- (PostgREST sets request.jwt.claims per request); NULL without one.
    create function auth.uid() returns uuid
      language sql stable
      as $fn$
        select nullif(nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub', '')::uuid
      $fn$;
  end if;
end
$auth$;

-- Roles are cluster-wide: several databases of one local cluster may be migrated
-- at once, so a role created meanwhile by another is not an error.
do $roles$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      begin
        if r = 'service_role' then
          execute format('create role %I nologin noinherit bypassrls', r);
        else
          execute format('create role %I nologin noinherit', r);
        end if;
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$roles$;

-- What Supabase grants: the API roles may use the schemas; what they may read is
-- decided per table (grants) and per row (RLS policies).
do $grants$
begin
  if has_schema_privilege('auth', 'create') then -- our own local auth schema
    grant usage on schema auth to anon, authenticated, service_role;
  end if;
end
$grants$;
grant usage on schema public to anon, authenticated, service_role;
