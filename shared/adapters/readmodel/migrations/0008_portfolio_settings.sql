-- A portfolio's analytics settings (AnalyticsSettingsChanged): the benchmark of
-- beta and alpha, whether rebalancing trades whole shares only, and the minimum
-- trade value in the base currency. The defaults are the domain's for a portfolio
-- that never set them (portfolio.DefaultAnalyticsSettings), so existing rows need
-- no backfill. The projector writes them with the rest of the row, version-guarded.
alter table public.portfolios
  add column benchmark       text    not null default 'SPY',
  add column whole_shares    boolean not null default false,
  add column min_trade_value numeric not null default 0;
