-- Notifications, after review: held deliveries follow the profile; one unsubscribe per user and scope.
--
-- A held delivery (quiet hours, a digest) waits for days with the address and
-- timing of its plan; the user may change them meanwhile. A change of the
-- profile's address, its verification, the time zone or the notification
-- preferences marks the user's held deliveries for a new plan: the notifier
-- claims them at once, re-resolves the address and the channels from the
-- profile as it is, and sends, skips or holds them again (until the time the
-- current preferences give).
alter table public.notification_deliveries add column replan boolean not null default false;
create index notification_deliveries_replan_idx on public.notification_deliveries (user_id) where replan;

create function public.notification_deliveries_replan() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  update public.notification_deliveries
     set replan = true
   where user_id = new.user_id and status = 'held' and not replan;
  return new;
end
$$;
revoke all on function public.notification_deliveries_replan() from public;
create trigger profiles_notification_replan
  after update of email, email_confirmed_at, phone, phone_verified_at, time_zone, notification_preferences on public.profiles
  for each row
  when (old.email is distinct from new.email or old.email_confirmed_at is distinct from new.email_confirmed_at
        or old.phone is distinct from new.phone or old.phone_verified_at is distinct from new.phone_verified_at
        or old.time_zone is distinct from new.time_zone
        or old.notification_preferences is distinct from new.notification_preferences)
  execute function public.notification_deliveries_replan();

-- One unsubscribe row per user and scope (the public route is idempotent:
-- the first time stays), no longer a row per POST.
delete from public.notification_unsubscribes u
 using public.notification_unsubscribes v
 where u.user_id = v.user_id and u.scope = v.scope and u.id > v.id;
alter table public.notification_unsubscribes add constraint notification_unsubscribes_user_scope_key unique (user_id, scope);
