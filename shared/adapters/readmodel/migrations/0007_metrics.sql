-- Analytics read models, written by the analytics function (stream and schedules)
-- and read by the API's /performance, /risk, /rebalancing and /history routes.

-- One row per portfolio and day: the analytics.Report over the whole history up to
-- as_of, as JSON, with the key figures copied into columns for listings and
-- alerts. A recomputation of the same day replaces the row (idempotent per
-- portfolio and day) unless the stored row reflects a newer aggregate version.
-- scheduled is true when a daily or weekly run wrote the row: those use the
-- session's closes, and a retried run skips the portfolios it already did.
-- Figures are float8 (return-series analytics, see shared/analytics); money is
-- numeric. Retention: the weekly run thins rows older than a year to the last of
-- each month (readmodel.PruneMetrics), a few kilobytes per portfolio and day
-- being ~15 GB a year at 10,000 portfolios.
create table public.portfolio_metrics (
  portfolio_id     text not null,
  as_of            date not null,
  user_id          uuid not null,
  version          bigint not null,
  scheduled        boolean not null default false,
  benchmark        text not null,
  market_value     numeric not null,
  twr              float8,
  mwr              float8,
  volatility       float8,
  sharpe           float8,
  sortino          float8,
  max_drawdown     float8,
  current_drawdown float8,
  var95            float8,
  hhi              float8,
  largest_weight   float8,
  report           jsonb not null,
  computed_at      timestamptz not null,
  primary key (portfolio_id, as_of)
);
create index portfolio_metrics_user_id_idx on public.portfolio_metrics (user_id);

-- The daily value series a report was computed from (performance.Series), one row
-- per portfolio, rewritten with each recomputation. It is what makes a custom
-- /performance range and /history cheap: one indexed row instead of rebuilding the
-- series from every transaction and every close of every holding. Arrays, not a
-- row per day: 20 years are 7,305 days, read in one TOASTed row in about a
-- millisecond, where 7,305 rows cost several; the whole series is rewritten
-- anyway whenever a back-dated trade or a void changes its past.
create table public.portfolio_series (
  portfolio_id text primary key,
  user_id      uuid not null,
  version      bigint not null,
  first_day    date not null,
  start_value  float8 not null,
  "values"     float8[] not null,
  inflows      float8[] not null,
  outflows     float8[] not null,
  cash_account boolean not null,
  computed_at  timestamptz not null
);
create index portfolio_series_user_id_idx on public.portfolio_series (user_id);

-- The latest rebalancing recommendation per portfolio (weekly run): the
-- rebalance.Plan as JSON, for the targets set at that version.
create table public.portfolio_rebalancing (
  portfolio_id text primary key,
  user_id      uuid not null,
  as_of        date not null,
  version      bigint not null,
  plan         jsonb not null,
  computed_at  timestamptz not null
);
create index portfolio_rebalancing_user_id_idx on public.portfolio_rebalancing (user_id);

-- Where each scheduled run stands per portfolio and mode (daily, weekly): the
-- last day and aggregate version it completed, and its last failure. A run pages
-- through the portfolios not yet done for its day (keyset on id), so a retried or
-- resumed run skips what it finished, and a portfolio that failed (reason set,
-- attempts counted) is simply not done: the next run retries it while the others
-- proceed. A success clears the failure.
create table public.analytics_status (
  portfolio_id  text not null,
  mode          text not null,
  done_day      date,
  done_version  bigint,
  failed_day    date,
  reason        text,
  attempts      integer not null default 0,
  updated_at    timestamptz not null default now(),
  primary key (portfolio_id, mode)
);
create index analytics_status_failed_idx on public.analytics_status (mode, portfolio_id) where reason is not null;

do $rls$
declare
  t text;
begin
  foreach t in array array['portfolio_metrics', 'portfolio_series', 'portfolio_rebalancing', 'analytics_status'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on table public.%I from anon, authenticated', t);
  end loop;
  foreach t in array array['portfolio_metrics', 'portfolio_series', 'portfolio_rebalancing'] loop
    execute format('grant select on table public.%I to authenticated', t);
    execute format('create policy %I on public.%I for select to authenticated using ((select auth.uid()) = user_id)',
                   t || '_select_own', t);
  end loop;
end
$rls$;
-- analytics_status: RLS on and no policy (operators and the service role only).

