package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// PriceDB is what the price functions need: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type PriceDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// LatestPrice is one row of latest_prices.
type LatestPrice struct {
	Symbol   string
	Price    decimal.Decimal
	Currency string
	AsOf     time.Time
	Source   string
	fixed    fixedDec // Price as an int64 coefficient when LatestPrices read it (Value's fast path)
}

// DailyClose is market.DailyClose, one row of daily_closes.
type DailyClose = market.DailyClose

// UpsertLatestPrices writes prices in one statement, newer wins: a row is only
// replaced by a price with a later as_of, so a late or duplicate tick changes
// nothing. Several prices of one symbol are reduced to the newest first (one
// INSERT … ON CONFLICT may not touch a row twice). It returns the rows written.
func UpsertLatestPrices(ctx context.Context, db PriceDB, prices []LatestPrice) (int64, error) {
	newest := map[string]int{}
	for i, p := range prices {
		if j, ok := newest[p.Symbol]; !ok || p.AsOf.After(prices[j].AsOf) {
			newest[p.Symbol] = i
		}
	}
	if len(newest) == 0 {
		return 0, nil
	}
	n := len(newest)
	syms, px, cur, at, src := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]time.Time, 0, n), make([]string, 0, n)
	for _, i := range sortedIndexes(newest) {
		p := prices[i]
		syms, px, cur, at, src = append(syms, p.Symbol), append(px, p.Price.String()), append(cur, p.Currency), append(at, p.AsOf.UTC()), append(src, p.Source)
	}
	tag, err := db.Exec(ctx, `
insert into latest_prices as lp (symbol, price, currency, as_of, source)
select * from unnest($1::text[], $2::numeric[], $3::text[], $4::timestamptz[], $5::text[])
on conflict (symbol) do update
   set price = excluded.price, currency = excluded.currency, as_of = excluded.as_of, source = excluded.source
 where lp.as_of < excluded.as_of`, syms, px, cur, at, src)
	if err != nil {
		return 0, fmt.Errorf("readmodel: upsert latest prices: %w", err)
	}
	return tag.RowsAffected(), nil
}

// UpsertDailyCloses writes closes in one statement with the same newer-wins rule
// per (symbol, day), reducing duplicates in closes to the newest first.
func UpsertDailyCloses(ctx context.Context, db PriceDB, closes []DailyClose) (int64, error) {
	type key struct {
		s string
		d calendar.Date
	}
	newest := map[key]int{}
	for i, c := range closes {
		k := key{c.Symbol, c.Day}
		if j, ok := newest[k]; !ok || c.AsOf.After(closes[j].AsOf) {
			newest[k] = i
		}
	}
	if len(newest) == 0 {
		return 0, nil
	}
	idx := sortedIndexes(newest)
	n := len(idx)
	syms, days, px, at, src := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]time.Time, 0, n), make([]string, 0, n)
	for _, i := range idx {
		c := closes[i]
		syms, days, px, at, src = append(syms, c.Symbol), append(days, c.Day.String()), append(px, c.Close.String()), append(at, c.AsOf.UTC()), append(src, c.Source)
	}
	tag, err := db.Exec(ctx, `
insert into daily_closes as dc (symbol, day, close, as_of, source)
select * from unnest($1::text[], $2::date[], $3::numeric[], $4::timestamptz[], $5::text[])
on conflict (symbol, day) do update
   set close = excluded.close, as_of = excluded.as_of, source = excluded.source
 where dc.as_of < excluded.as_of`, syms, days, px, at, src)
	if err != nil {
		return 0, fmt.Errorf("readmodel: upsert daily closes: %w", err)
	}
	return tag.RowsAffected(), nil
}

// DailyCloses returns symbol's closes for the days from..to inclusive, oldest first.
func DailyCloses(ctx context.Context, db PriceDB, symbol string, from, to calendar.Date) ([]DailyClose, error) {
	rows, err := db.Query(ctx, `
select day::text, close::text, to_char(as_of at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), source
  from daily_closes where symbol = $1 and day between $2::date and $3::date order by day`, symbol, from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("readmodel: daily closes: %w", err)
	}
	defer rows.Close()
	var out []DailyClose
	for rows.Next() {
		var day, px, at, src string
		if err := rows.Scan(&day, &px, &at, &src); err != nil {
			return nil, fmt.Errorf("readmodel: daily closes: %w", err)
		}
		c := DailyClose{Symbol: symbol, Source: src}
		if c.Day, err = calendar.Parse(day); err != nil {
			return nil, err
		}
		if c.Close, err = decimal.NewFromString(px); err != nil {
			return nil, err
		}
		if c.AsOf, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LatestPriceOf returns symbol's row of latest_prices, or false.
func LatestPriceOf(ctx context.Context, db PriceDB, symbol string) (LatestPrice, bool, error) {
	rows, err := db.Query(ctx, `
select price::text, currency, to_char(as_of at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), source
  from latest_prices where symbol = $1`, symbol)
	if err != nil {
		return LatestPrice{}, false, fmt.Errorf("readmodel: latest price: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return LatestPrice{}, false, rows.Err()
	}
	var px, at string
	p := LatestPrice{Symbol: symbol}
	if err := rows.Scan(&px, &p.Currency, &at, &p.Source); err != nil {
		return LatestPrice{}, false, err
	}
	if p.Price, err = decimal.NewFromString(px); err != nil {
		return LatestPrice{}, false, err
	}
	if p.AsOf, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return LatestPrice{}, false, err
	}
	return p, true, rows.Err()
}

// AlertSymbols is every symbol an active alert rule watches, sorted (the
// ingest's watch list reads them in its own statement, WatchList). A paused
// rule's symbols are not fetched for it (migration 0022).
func AlertSymbols(ctx context.Context, db PriceDB) ([]string, error) {
	// A rule with conditions has its first one's symbol in the column, and may
	// name others (the weights of a portfolio's positions).
	rows, err := db.Query(ctx, `
select symbol from (
  select symbol from alert_rules where active
  union
  select c->>'symbol' from alert_rules r, jsonb_array_elements(r.definition->'conditions') c where r.active
) s where symbol <> '' order by symbol`)
	if err != nil {
		return nil, fmt.Errorf("readmodel: alert symbols: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// SymbolsHeldBy returns the symbols of the open positions of portfolioIDs,
// sorted: the records a failed portfolio alert must have re-delivered.
func SymbolsHeldBy(ctx context.Context, db PriceDB, portfolioIDs []string) ([]string, error) {
	if len(portfolioIDs) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, `select distinct symbol from positions where portfolio_id = any($1::text[]) and quantity <> 0 order by symbol`, portfolioIDs)
	if err != nil {
		return nil, fmt.Errorf("readmodel: symbols held: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PortfolioValuation is market.PortfolioValuation (the prices consumer's port
// carries it).
type PortfolioValuation = market.PortfolioValuation

// LeadStaleness: see market.PortfolioValuation.FirstSymbol.
const LeadStaleness = market.LeadStaleness

// ValuationsHolding values, in one query, every portfolio (not archived) with an
// open position in one of symbols, or needing the rate of a currency whose USD
// pair is among symbols (RateNeeds). It is what the positions view computes per
// portfolio, done set-based for all the portfolios a batch of ticks touched, and
// what Value computes in Go (the same rates: the pairs' latest quotes, inverse
// and cross through USD rounded to currency.InverseScale places as
// currency.Rates does; a position's rate is its trading currency's, and a price
// in another settlement currency leaves it unpriced: tprice is the price in the
// trading currency, pence made pounds or pounds pence as priceIn does).
func ValuationsHolding(ctx context.Context, db PriceDB, symbols []string) ([]PortfolioValuation, error) {
	if len(symbols) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, `
with fx as (
  select substr(symbol, 1, 3) as code, symbol, price, as_of from latest_prices
   where symbol ~ '^[A-Z]{3}USD=X$' and symbol <> 'USDUSD=X' and price > 0
), needs as (
  select distinct p.portfolio_id, pf.base_currency as base, `+settleSQL("p.currency")+` as code
    from positions p join portfolios pf on pf.id = p.portfolio_id
   where p.quantity <> 0 and p.currency <> '' and `+settleSQL("p.currency")+` <> pf.base_currency
), touched as (
  select portfolio_id from positions where symbol = any($1::text[]) and quantity <> 0
  union
  select portfolio_id from needs where code || 'USD=X' = any($1::text[]) or base || 'USD=X' = any($1::text[])
), held as (
  select pf.id, pf.user_id, pf.base_currency as base, pf.version, p.symbol, p.quantity, p.cost_basis,
         coalesce(nullif(p.currency, ''), pf.base_currency) as tcur,
         p.local_currency, p.local_cost_basis, lp.price, lp.as_of, lp.currency as pcur
    from touched t
    join portfolios pf on pf.id = t.portfolio_id and not pf.archived
    join positions p on p.portfolio_id = pf.id and p.quantity <> 0
    left join latest_prices lp on lp.symbol = p.symbol
), rated as (
  select h.*, r.rate, r.f_sym, r.f_at, r.b_sym, r.b_at, l.rate as local_rate,
         h.price is not null and r.rate is not null
           and (h.pcur = h.tcur or `+settleSQL("h.pcur")+` = `+settleSQL("h.tcur")+`) as priced,
         h.price * case when h.pcur = h.tcur then 1
                        when h.pcur = any($3::text[]) and not h.tcur = any($3::text[]) then 0.01
                        when h.tcur = any($3::text[]) and not h.pcur = any($3::text[]) then 100
                        else 1 end as tprice
    from held h
    left join lateral (`+rateSQL("h.tcur", "h.base")+`) r on true
    left join lateral (`+rateSQL("h.local_currency", "h.base")+`) l on true
), stamps as (
  select r.id, st.sym, st.at
    from rated r cross join lateral (values (r.symbol, r.as_of), (r.f_sym, r.f_at), (r.b_sym, r.b_at)) st(sym, at)
   where r.priced and st.at is not null
), newest as (
  select id, max(at) as at, (array_agg(sym order by at desc, sym))[1] as sym from stamps group by id
), lead as (
  select id, symbol, as_of, max(as_of) over (partition by id) as newest_price from rated where priced
)
select r.id, r.user_id::text, r.base, r.version,
       coalesce(sum(r.quantity * r.tprice * r.rate) filter (where r.priced), 0)::text,
       coalesce(sum(r.cost_basis) filter (where r.priced), 0)::text,
       coalesce((select to_char(n.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') from newest n where n.id = r.id), ''),
       coalesce((select n.sym from newest n where n.id = r.id), ''),
       coalesce(string_agg(r.symbol, ',' order by r.symbol) filter (where not r.priced), ''),
       coalesce((select min(l.symbol) from lead l where l.id = r.id and l.as_of >= l.newest_price - $2::interval), ''),
       coalesce(sum(r.local_cost_basis * r.local_rate - r.cost_basis)
                  filter (where r.priced and r.local_currency <> '' and r.local_currency <> r.base and r.local_rate is not null), 0)::text
  from rated r
 group by r.id, r.user_id, r.base, r.version
 order by r.id`, symbols, fmt.Sprintf("%d seconds", int64(LeadStaleness/time.Second)), quoteUnits)
	if err != nil {
		return nil, fmt.Errorf("readmodel: valuations: %w", err)
	}
	defer rows.Close()
	var out []PortfolioValuation
	for rows.Next() {
		var v PortfolioValuation
		var mv, cb, at, newest, unpriced, ce string
		if err := rows.Scan(&v.PortfolioID, &v.UserID, &v.Currency, &v.Version, &mv, &cb, &at, &newest, &unpriced, &v.FirstSymbol, &ce); err != nil {
			return nil, fmt.Errorf("readmodel: valuations: %w", err)
		}
		if v.MarketValue, err = decimal.NewFromString(mv); err != nil {
			return nil, fmt.Errorf("readmodel: valuations: %w", err)
		}
		if v.CostBasis, err = decimal.NewFromString(cb); err != nil {
			return nil, fmt.Errorf("readmodel: valuations: %w", err)
		}
		if v.CurrencyEffect, err = decimal.NewFromString(ce); err != nil {
			return nil, fmt.Errorf("readmodel: valuations: %w", err)
		}
		v.UnrealizedPnL = v.MarketValue.Sub(v.CostBasis)
		if at != "" {
			if v.AsOf, err = time.Parse(time.RFC3339Nano, at); err != nil {
				return nil, fmt.Errorf("readmodel: valuations: %w", err)
			}
			v.NewestSymbol = newest
		}
		if unpriced != "" {
			v.Unpriced = strings.Split(unpriced, ",")
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// quoteUnits are the currency codes that quote in a hundredth of their
// settlement currency (currency.Settlement), for the SQL below.
var quoteUnits = []string{"GBp", "GBX", "ZAc", "ZAC", "ILA"}

// settleSQL is SQL for the settlement currency of the currency code expr
// (currency.Settlement: GBp → GBP).
func settleSQL(expr string) string {
	var b strings.Builder
	b.WriteString("(case " + expr)
	for _, u := range quoteUnits {
		settle, _ := currency.Settlement(u)
		fmt.Fprintf(&b, " when '%s' then '%s'", u, settle)
	}
	b.WriteString(" else " + expr + " end)")
	return b.String()
}

// rateSQL is a subquery, over the CTE fx (the positive quotes of the USD pairs by
// currency), of one row: rate, the live rate from the currency code from into
// base as currency.Rates derives it (null when there is none), and the pair
// quotes it uses (f_sym, f_at: from's; b_sym, b_at: base's; null when not used).
func rateSQL(from, base string) string {
	settle := settleSQL(from)
	return `
select case when s.code = ` + base + ` then 1
            when ` + base + ` = 'USD' then f.price
            when s.code = 'USD' then round(1 / b.price, ` + inverseScale + `)
            else round(f.price * round(1 / b.price, ` + inverseScale + `), ` + inverseScale + `)
       end * s.unit as rate,
       case when s.code <> ` + base + ` then f.symbol end as f_sym, case when s.code <> ` + base + ` then f.as_of end as f_at,
       case when s.code <> ` + base + ` then b.symbol end as b_sym, case when s.code <> ` + base + ` then b.as_of end as b_at
  from (select ` + settle + ` as code,
               case when ` + from + ` = any('{` + strings.Join(quoteUnits, ",") + `}'::text[]) then 0.01 else 1 end as unit) s
  left join fx f on f.code = s.code
  left join fx b on b.code = ` + base

}

var inverseScale = fmt.Sprint(currency.InverseScale)

func sortedIndexes[K comparable](m map[K]int) []int {
	idx := make([]int, 0, len(m))
	for _, i := range m {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}
