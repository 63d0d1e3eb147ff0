-- The user service's settings live on the profile row (shared/domain/user): the
-- profile already follows Supabase Auth for e-mail and display name; these are
-- the user's own choices. notification_preferences is notify.Preferences as
-- JSON. email_confirmed_at follows auth.users, phone_verified_at is set when
-- the user confirms the code sent to their phone (phone_code_* hold the pending
-- code's hash and expiry; never the code itself).

-- Local clusters only (0001 made a minimal auth.users; Supabase's always has
-- encrypted_password): the columns of Supabase's auth.users that the local
-- Supabase Auth stand-in (shared/devtools/tokenissuer) and this project use, and
-- its refresh tokens. Nothing changes on Supabase.
do $local_auth$
begin
  if not exists (select 1 from information_schema.columns
                  where table_schema = 'auth' and table_name = 'users' and column_name = 'encrypted_password') then
    alter table auth.users
      add column encrypted_password text,
      add column email_confirmed_at timestamptz,
      add column phone              text,
      add column phone_confirmed_at timestamptz,
      add column last_sign_in_at    timestamptz,
      add column raw_app_meta_data  jsonb not null default '{"provider":"email","providers":["email"]}'::jsonb,
      add column is_anonymous       boolean not null default false;
    create unique index users_email_key on auth.users (lower(email)) where email is not null;
    create table auth.refresh_tokens (
      id         bigserial primary key,
      token      text not null unique,
      user_id    uuid not null references auth.users (id) on delete cascade,
      session_id uuid not null,
      parent     text,
      revoked    boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index refresh_tokens_session_idx on auth.refresh_tokens (session_id);
  end if;
end
$local_auth$;

alter table public.profiles
  add column time_zone                text not null default 'UTC',
  add column locale                   text not null default 'en-US',
  add column base_currency            text not null default 'USD',
  add column phone                    text,
  add column phone_verified_at        timestamptz,
  add column phone_code_hash          text,
  add column phone_code_expires_at    timestamptz,
  add column phone_code_attempts      int not null default 0,
  add column email_confirmed_at       timestamptz,
  add column notification_preferences jsonb not null
    default '{"channels":["websocket"],"digest":"off","weeklySummary":true}';

create or replace function public.readmodel_sync_profile() returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $fn$
begin
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

do $trigger$
begin
  drop trigger if exists readmodel_sync_profile on auth.users;
  create trigger readmodel_sync_profile
    after insert or update of email, email_confirmed_at, raw_user_meta_data on auth.users
    for each row execute function public.readmodel_sync_profile();
  update public.profiles p set email_confirmed_at = u.email_confirmed_at from auth.users u where u.id = p.user_id;
exception when insufficient_privilege then
  raise warning 'readmodel: no trigger on auth.users (%): profiles will not follow Supabase Auth', sqlerrm;
end
$trigger$;
