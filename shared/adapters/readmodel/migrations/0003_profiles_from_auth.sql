-- Profiles are not projected from the event store: they follow Supabase Auth.
-- A trigger on auth.users keeps public.profiles in step (Supabase's documented
-- pattern), and existing users are copied once here.

create function public.readmodel_sync_profile() returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $fn$
begin
  insert into public.profiles (user_id, email, display_name)
  values (new.id, new.email, nullif(new.raw_user_meta_data ->> 'display_name', ''))
  on conflict (user_id) do update
    set email = excluded.email,
        display_name = coalesce(excluded.display_name, public.profiles.display_name),
        updated_at = now();
  return new;
end
$fn$;

revoke all on function public.readmodel_sync_profile() from public, anon, authenticated;

-- Supabase manages the auth schema; should a project's role not be allowed to
-- add the trigger, the migration still applies and says so (profiles then need
-- another writer).
do $trigger$
begin
  create trigger readmodel_sync_profile
    after insert or update of email, raw_user_meta_data on auth.users
    for each row execute function public.readmodel_sync_profile();
  insert into public.profiles (user_id, email, display_name)
  select id, email, nullif(raw_user_meta_data ->> 'display_name', '')
  from auth.users
  on conflict (user_id) do nothing;
exception when insufficient_privilege then
  raise warning 'readmodel: no trigger on auth.users (%): profiles will not follow Supabase Auth', sqlerrm;
end
$trigger$;
