-- Change feeds over the marks of migration 0006, so that a prices consumer reads
-- only the marks that moved since its last batch instead of the marks of every key
-- it is about to use (20,000 keys a batch at 10,000 portfolios).
--
-- Each mark row carries the ID of the transaction that last moved it. A reader
-- asks for the rows with changed_by >= the xmin of the snapshot of its previous
-- read: every transaction that had not committed by then has an ID at or above
-- that xmin (it was running, or it started later), so no commit is missed, however
-- late it lands; a few rows already seen come back and are ignored. Sequences
-- would not do: their values are taken in one order and committed in another.
-- xid8 does not wrap around.
alter table public.alert_state_marks add column changed_by xid8 not null default pg_current_xact_id();
alter table public.holding_marks add column changed_by xid8 not null default pg_current_xact_id();
create index alert_state_marks_changed_by_idx on public.alert_state_marks (changed_by);
create index holding_marks_changed_by_idx on public.holding_marks (changed_by);

-- The writers of 0006, moving changed_by with the token (an insert takes the
-- column's default).
create or replace function public.alert_rules_mark() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    insert into public.alert_state_marks (key, token)
    values (case when old.portfolio_id <> '' then 'p:' || old.portfolio_id else 's:' || old.symbol end, gen_random_uuid()::text)
    on conflict (key) do update set token = excluded.token, changed_by = excluded.changed_by;
  end if;
  if tg_op in ('UPDATE', 'INSERT') then
    insert into public.alert_state_marks (key, token)
    values (case when new.portfolio_id <> '' then 'p:' || new.portfolio_id else 's:' || new.symbol end, gen_random_uuid()::text)
    on conflict (key) do update set token = excluded.token, changed_by = excluded.changed_by;
  end if;
  return null;
end
$$;

create or replace function public.positions_mark_new() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  insert into public.holding_marks (key, token)
  select k, gen_random_uuid()::text
    from (select 'hp:' || portfolio_id as k from changed union select 'hs:' || symbol from changed) x
  on conflict (key) do update set token = excluded.token, changed_by = excluded.changed_by;
  return null;
end
$$;

create or replace function public.portfolios_mark() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  insert into public.holding_marks (key, token)
  select distinct 'hp:' || id, gen_random_uuid()::text from changed
  on conflict (key) do update set token = excluded.token, changed_by = excluded.changed_by;
  return null;
end
$$;

-- A rebuild's truncate used to delete every mark; a feed cannot show a deletion,
-- so it now moves every mark instead, and each consumer reloads what it holds.
create or replace function public.holding_marks_reset() returns trigger
  language plpgsql security definer set search_path = public as $$
begin
  update public.holding_marks set token = gen_random_uuid()::text, changed_by = pg_current_xact_id();
  return null;
end
$$;
