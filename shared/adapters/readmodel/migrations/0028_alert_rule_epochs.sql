-- A rule deleted and created again under the same ID starts its arming epochs
-- above the last one its history recorded. Firing keys are
-- '<rule ID>#<epoch>' and the history outlives its rules, so a new rule of an
-- old ID starting at epoch 0 fired under keys already recorded: its firings
-- were not recorded (insert on conflict do nothing), and no notification went
-- out (the outbox is fed by inserts into alert_history). Keys already recorded
-- stay as they are. A new rule's state is its first epoch, {"epoch": n}, when
-- its ID has a history (none otherwise: armed at epoch 0).
--
-- Security invoker: the API creates rules as the caller, who reads their own
-- history (a rule ID is scoped by its user, so its history is theirs).
create function public.alert_rules_first_epoch() returns trigger
  language plpgsql set search_path = public as $$
begin
  if new.state is null then
    select case when e.last is null then null else jsonb_build_object('epoch', e.last + 1) end into new.state
      from (select max(substring(h.firing_key from '#([0-9]+)$')::numeric) as last
              from public.alert_history h
             where h.user_id = new.user_id and h.rule_id = new.id) e;
  end if;
  return new;
end
$$;
revoke all on function public.alert_rules_first_epoch() from public;
create trigger alert_rules_first_epoch before insert on public.alert_rules
  for each row execute function public.alert_rules_first_epoch();
