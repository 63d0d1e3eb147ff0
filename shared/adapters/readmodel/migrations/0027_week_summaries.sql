-- The weekly summary (docs/architecture.md §11, "The user service"): each
-- portfolio's summary of the week, stored by the weekly run with its status
-- before the portfolio is marked done, so that the invocation that completes
-- the week (a retry resuming a run cut short, or after a failure) queues every
-- user's summary from what is stored, not from what it computed itself. The
-- row is the portfolio's 'weekly' status row: the erasure deletes it, and
-- 0026's guard drops it for an erased portfolio.
alter table public.analytics_status
  add column summary_day date,
  add column summary     jsonb;
