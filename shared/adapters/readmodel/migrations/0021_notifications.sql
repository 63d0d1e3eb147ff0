-- The notifier's outbox, deliveries and their attempts (docs/architecture.md,
-- "Notifications").
--
-- Producers write to the outbox in the transaction that records what happened:
-- every alert firing by a trigger on alert_history (so the prices consumer and
-- the analytics job need nothing new, and a re-processed batch, which records
-- nothing new under the same firing key, queues nothing twice), a weekly summary
-- or a phone code by an insert of their own. source_key de-duplicates.
create table public.notification_outbox (
  id          bigserial primary key,
  user_id     uuid not null,
  source      text not null,         -- 'alert' | 'weekly_summary' | 'phone_code'
  source_key  text not null unique,  -- the firing key; 'weekly_summary:<user>:<day>'; 'phone_code:<user>:<n>'
  payload     jsonb not null,
  created_at  timestamptz not null default now(),
  planned_at  timestamptz            -- set once the notifier has made its deliveries
);
create index notification_outbox_unplanned_idx on public.notification_outbox (id) where planned_at is null;
create index notification_outbox_user_idx on public.notification_outbox (user_id);

create function public.notification_outbox_from_alert() returns trigger
  language plpgsql
  as $fn$
begin
  insert into public.notification_outbox (user_id, source, source_key, payload, created_at)
  values (new.user_id, 'alert', new.firing_key,
          jsonb_build_object('firingKey', new.firing_key, 'ruleId', new.rule_id, 'kind', new.kind,
                             'symbol', new.symbol, 'portfolioId', new.portfolio_id,
                             'observed', new.observed::text, 'threshold', new.threshold::text,
                             'firedAt', new.fired_at),
          new.fired_at)
  on conflict (source_key) do nothing;
  return new;
end
$fn$;

create trigger notification_outbox_from_alert
  after insert on public.alert_history
  for each row execute function public.notification_outbox_from_alert();

-- One delivery per outbox entry and channel. status: pending (due at
-- next_attempt_at), held (quiet hours or a digest: due at next_attempt_at, sent
-- with the user's other held ones), sending (claimed until lease_until), sent,
-- failed (gave up, or refused for good), suppressed (bounced, complained or
-- unsubscribed address), skipped (no verified address). source and summary
-- are the outbox entry's, without its secrets (a phone code's code), for the
-- user's history: the user reads deliveries, never the outbox. held_until is
-- set when the plan held it (a digest's part, held again on a retry).
create table public.notification_deliveries (
  id              bigserial primary key,
  outbox_id       bigint not null references public.notification_outbox (id) on delete cascade,
  user_id         uuid not null,
  source          text not null,
  summary         jsonb not null default '{}',
  channel         text not null,
  status          text not null,
  address         text,
  held_until      timestamptz,
  attempts        int not null default 0,
  next_attempt_at timestamptz not null default now(),
  lease_until     timestamptz,
  digest_id       text,
  provider_id     text,
  last_error      text,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  sent_at         timestamptz,
  unique (outbox_id, channel)
);
create index notification_deliveries_due_idx on public.notification_deliveries (next_attempt_at)
  where status in ('pending', 'held', 'sending');
create index notification_deliveries_user_idx on public.notification_deliveries (user_id, created_at desc, id desc);

-- Every attempt, for the history and the operator.
create table public.notification_attempts (
  id           bigserial primary key,
  delivery_id  bigint not null references public.notification_deliveries (id) on delete cascade,
  user_id      uuid not null,
  attempted_at timestamptz not null default now(),
  outcome      text not null,  -- 'sent' | 'retry' | 'failed'
  error        text
);
create index notification_attempts_delivery_idx on public.notification_attempts (delivery_id, id);
create index notification_attempts_user_idx on public.notification_attempts (user_id);

-- Addresses that bounced or complained: nothing more is sent to them. Keyed by
-- the address (lower case), not the user: a new owner of the address is safe too.
create table public.email_suppressions (
  address    text primary key,
  reason     text not null,   -- 'bounce' | 'complaint'
  detail     text,
  created_at timestamptz not null default now()
);

-- Every unsubscribe (a link followed, one click): what it turned off and when.
-- The notifier treats a user with one as unsubscribed from e-mail until their
-- preferences ask for e-mail again (a rule naming e-mail does not override it).
create table public.notification_unsubscribes (
  id         bigserial primary key,
  user_id    uuid not null,
  scope      text not null,  -- 'email'
  created_at timestamptz not null default now()
);
create index notification_unsubscribes_user_idx on public.notification_unsubscribes (user_id);

do $rls$
declare
  t text;
begin
  foreach t in array array['notification_outbox', 'notification_deliveries', 'notification_attempts', 'email_suppressions',
                           'notification_unsubscribes'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on table public.%I from anon, authenticated', t);
  end loop;
  foreach t in array array['notification_deliveries', 'notification_attempts'] loop
    execute format('grant select on table public.%I to authenticated', t);
    execute format('create policy %I on public.%I for select to authenticated using ((select auth.uid()) = user_id)',
                   t || '_select_own', t);
  end loop;
end
$rls$;

-- The public unsubscribe route runs in the api function as the user the
-- signed token names (readmodel.CallerDB): it may turn e-mail off in that
-- user's preferences and record the unsubscribe, nothing else.
grant update (notification_preferences, updated_at) on table public.profiles to tracker_api;
create policy profiles_unsubscribe_tracker_api on public.profiles
  for update to tracker_api using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
grant insert (user_id, scope, created_at) on table public.notification_unsubscribes to tracker_api;
grant usage on sequence public.notification_unsubscribes_id_seq to tracker_api;
create policy notification_unsubscribes_insert_tracker_api on public.notification_unsubscribes
  for insert to tracker_api with check ((select auth.uid()) = user_id);
