-- The erasure (DELETE /me, docs/architecture.md §11, "The user service"):
-- the portfolios' tombstone.
--
-- Writers keyed by portfolio alone (no user_id for 0023's trigger to check):
-- the scheduled runs' status and the value_drop rules' samples. A run in flight
-- during DELETE /me would re-insert rows of the erased portfolio after the
-- erasure deleted them. erased_portfolios is the portfolios' tombstone (their
-- ID and when, nothing else), recorded as the erasure deletes an erased user's
-- portfolio row; those writers' rows of a tombstoned portfolio are dropped on
-- insert. readmodel's erasure test holds every table with a portfolio_id and
-- no user_id to this guard.
create table public.erased_portfolios (
  portfolio_id text primary key,
  erased_at    timestamptz not null default now()
);
alter table public.erased_portfolios enable row level security;
revoke all on table public.erased_portfolios from anon, authenticated;

create function public.record_erased_portfolio() returns trigger
  language plpgsql security definer set search_path = '' as $fn$
begin
  if exists (select 1 from public.erased_users where user_id = old.user_id) then
    insert into public.erased_portfolios (portfolio_id) values (old.id) on conflict (portfolio_id) do nothing;
  end if;
  return null;
end
$fn$;
revoke all on function public.record_erased_portfolio() from public, anon, authenticated;
create trigger portfolios_erased after delete on public.portfolios
  for each row execute function public.record_erased_portfolio();

create function public.drop_rows_of_erased_portfolios() returns trigger
  language plpgsql security definer set search_path = '' as $fn$
begin
  if exists (select 1 from public.erased_portfolios where portfolio_id = new.portfolio_id) then
    return null;
  end if;
  return new;
end
$fn$;
revoke all on function public.drop_rows_of_erased_portfolios() from public, anon, authenticated;

do $erased$
declare
  t text;
begin
  foreach t in array array['analytics_status', 'alert_value_samples'] loop
    execute format('create trigger %I before insert on public.%I for each row execute function public.drop_rows_of_erased_portfolios()',
                   t || '_of_erased_portfolios', t);
  end loop;
end
$erased$;
