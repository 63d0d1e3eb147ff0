-- A position's fees, taxes and gross dividends in its settlement currency
-- (local_currency), beside its cost basis and realized P&L there (0018), and how
-- many of the symbol's dividends, fees and taxes settled in another currency:
-- those are in the base figures only (the lot book has no rate to convert them).
-- Rows written before this migration of a position settling in the portfolio's
-- base take their base figures, as 0018 did for cost; the others are rewritten
-- when their portfolio is next projected.
alter table public.positions
  add column local_fees      numeric not null default 0,
  add column local_taxes     numeric not null default 0,
  add column local_dividends numeric not null default 0,
  add column local_excluded  integer not null default 0;

update public.positions p
   set local_fees = p.fees, local_taxes = p.taxes, local_dividends = p.dividends
  from public.portfolios pf
 where pf.id = p.portfolio_id and p.local_currency = pf.base_currency;
