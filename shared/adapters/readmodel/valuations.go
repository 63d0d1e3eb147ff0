package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// The valuations read model (migration 0006) keeps each PortfolioValueCalculated
// the prices consumer computes: a portfolio's value over time, for charts. The
// events are not appended to the event table: prices are facts from outside, not
// decisions (docs/architecture.md §1), and a revaluation is derived from them and the
// positions, so it can always be recomputed; the event table stays the record of
// what users decided.

// Valuation is one row of valuations: the data of a PortfolioValueCalculated
// event (the domain's type, which the analytics job's port carries).
type Valuation = portfolio.Valuation

// MaxValuationsPage bounds ValuationHistory's limit.
const MaxValuationsPage = 5000

// InsertValuations records vals in one statement. A row whose (portfolio, as_of)
// is already recorded is left as it is, so a re-processed batch, which values its
// portfolios at the same as_of, inserts nothing twice. It returns the rows
// inserted.
func InsertValuations(ctx context.Context, db PriceDB, vals []Valuation) (int64, error) {
	if len(vals) == 0 {
		return 0, nil
	}
	n := len(vals)
	pfs, users, mv, cb, pnl, unpriced := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n),
		make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	at := make([]time.Time, 0, n)
	for _, v := range vals {
		up := "[]"
		if len(v.Unpriced) > 0 {
			// JSON, not a delimiter: symbols are free text, and unnest cannot take
			// a ragged text[][].
			b, err := json.Marshal(v.Unpriced)
			if err != nil {
				return 0, fmt.Errorf("readmodel: insert valuations: %w", err)
			}
			up = string(b)
		}
		pfs, users, at = append(pfs, v.PortfolioID), append(users, v.UserID), append(at, v.AsOf.UTC())
		mv, cb, pnl, unpriced = append(mv, v.MarketValue.String()), append(cb, v.CostBasis.String()), append(pnl, v.UnrealizedPnL.String()), append(unpriced, up)
	}
	tag, err := db.Exec(ctx, `
insert into valuations (portfolio_id, user_id, as_of, market_value, cost_basis, unrealized_pnl, unpriced)
select u.p, u.u, u.a, u.mv, u.cb, u.pnl,
       case when u.up = '[]' then '{}'::text[] else array(select jsonb_array_elements_text(u.up::jsonb)) end
  from unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::numeric[], $5::numeric[], $6::numeric[], $7::text[])
       as u(p, u, a, mv, cb, pnl, up)
on conflict (portfolio_id, as_of) do nothing`, pfs, users, at, mv, cb, pnl, unpriced)
	if err != nil {
		return 0, fmt.Errorf("readmodel: insert valuations: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ValuationHistory returns userID's valuations of portfolioID with from ≤ as_of <
// to, oldest first, at most limit (clamped to [1, MaxValuationsPage]) rows: the
// chart series. Another user's portfolio yields nothing.
func ValuationHistory(ctx context.Context, db PriceDB, userID, portfolioID string, from, to time.Time, limit int) ([]Valuation, error) {
	limit = max(1, min(limit, MaxValuationsPage))
	rows, err := db.Query(ctx, `
select to_char(as_of at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), market_value::text, cost_basis::text,
       unrealized_pnl::text, unpriced
  from valuations
 where portfolio_id = $1 and user_id = $2::uuid and as_of >= $3 and as_of < $4
 order by as_of
 limit $5`, portfolioID, userID, from.UTC(), to.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("readmodel: valuation history: %w", err)
	}
	defer rows.Close()
	out := []Valuation{}
	for rows.Next() {
		v := Valuation{PortfolioID: portfolioID, UserID: userID}
		var at, mv, cb, pnl string
		if err := rows.Scan(&at, &mv, &cb, &pnl, &v.Unpriced); err != nil {
			return nil, fmt.Errorf("readmodel: valuation history: %w", err)
		}
		if v.AsOf, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, fmt.Errorf("readmodel: valuation history: %w", err)
		}
		for _, f := range []struct {
			s string
			d *decimal.Decimal
		}{{mv, &v.MarketValue}, {cb, &v.CostBasis}, {pnl, &v.UnrealizedPnL}} {
			if *f.d, err = decimal.NewFromString(f.s); err != nil {
				return nil, fmt.Errorf("readmodel: valuation history: %w", err)
			}
		}
		if len(v.Unpriced) == 0 {
			v.Unpriced = nil
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: valuation history: %w", err)
	}
	return out, nil
}

// PruneValuations thins the valuations with from ≤ as_of < before to the last one
// of each portfolio and UTC day, deleting at most limit rows (limit ≤ 0: no
// bound), and returns the rows deleted. Run over the days that just passed the
// retention, it keeps the table at "every intraday value for the retention, then
// one a day". The window is found through a BRIN index on as_of and each row's
// successor through the primary key, so the cost follows the window, not the
// table; the bound spreads a large day over several calls.
func PruneValuations(ctx context.Context, db PriceDB, from, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		limit = -1
	}
	tag, err := db.Exec(ctx, `
delete from valuations d
 using (
   select v.portfolio_id, v.as_of
     from valuations v
    where v.as_of >= $1 and v.as_of < $2
      and exists (
        select 1 from valuations w
         where w.portfolio_id = v.portfolio_id and w.as_of > v.as_of
           and w.as_of < date_trunc('day', v.as_of at time zone 'UTC') at time zone 'UTC' + interval '1 day')
    limit case when $3::int < 0 then null else $3::int end
 ) x
 where d.portfolio_id = x.portfolio_id and d.as_of = x.as_of`,
		from.UTC(), before.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("readmodel: prune valuations: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Holdings is what valuing a portfolio needs: its owner, base currency, version,
// whether it is archived, and its open positions.
type Holdings struct {
	UserID    string
	Currency  string
	Version   int64
	Archived  bool
	Positions []HeldPosition
}

// HeldPosition is one open position. CostBasis is in the portfolio's base
// currency (at each buy's own rate); Currency is the currency it trades in as
// recorded (GBp for a London listing in pence; "" for a row projected before
// positions had one: the base), and LocalCostBasis its cost in LocalCurrency,
// the currency it settles in (GBP; PortfolioHoldings reads it only when that is
// not the base, where it is the cost basis).
type HeldPosition struct {
	Symbol         string
	Quantity       decimal.Decimal
	CostBasis      decimal.Decimal
	Currency       string
	LocalCurrency  string
	LocalCostBasis decimal.Decimal
	// Quantity and CostBasis as int64 coefficients, when PortfolioHoldings
	// loaded them: Value's fast path without per-call conversions.
	q, cb fixedDec
}

// tradingCurrency is the currency p trades in, base when it was never recorded.
func (p *HeldPosition) tradingCurrency(base string) string {
	if p.Currency == "" {
		return base
	}
	return p.Currency
}

// RateCurrencies are the currencies (ISO, quote units as their settlement
// currency) whose rates valuing h takes: none when every position trades in
// the base, else the base and each other one. Sorted, without repeats.
func (h *Holdings) RateCurrencies() []string {
	var out []string
	for k := range h.Positions {
		settle, _ := currency.Settlement(h.Positions[k].tradingCurrency(h.Currency))
		if settle != h.Currency && !slices.Contains(out, settle) {
			out = append(out, settle)
		}
	}
	if len(out) > 0 {
		out = append(out, h.Currency)
		slices.Sort(out)
	}
	return out
}

// HoldingMarks returns the current mark of each of keys from holding_marks
// ("hs:" + symbol, "hp:" + portfolio ID; "" for a key without one). A mark moves
// whenever the positions it covers change (migration 0006's triggers).
func HoldingMarks(ctx context.Context, db PriceDB, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `select key, token from holding_marks where key = any($1::text[])`, keys)
	if err != nil {
		return nil, fmt.Errorf("readmodel: holding marks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, t string
		if err := rows.Scan(&k, &t); err != nil {
			return nil, fmt.Errorf("readmodel: holding marks: %w", err)
		}
		out[k] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: holding marks: %w", err)
	}
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	return out, nil
}

// HoldersOf returns, for each of symbols, the portfolios with an open position in
// it (none: absent from the map).
func HoldersOf(ctx context.Context, db PriceDB, symbols []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(symbols) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `select symbol, portfolio_id from positions where symbol = any($1::text[]) and quantity <> 0`, symbols)
	if err != nil {
		return nil, fmt.Errorf("readmodel: holders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, p string
		if err := rows.Scan(&s, &p); err != nil {
			return nil, fmt.Errorf("readmodel: holders: %w", err)
		}
		out[s] = append(out[s], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: holders: %w", err)
	}
	return out, nil
}

// PortfolioHoldings returns the holdings of portfolioIDs (an unknown ID is
// absent from the map).
func PortfolioHoldings(ctx context.Context, db PriceDB, portfolioIDs []string) (map[string]*Holdings, error) {
	out := map[string]*Holdings{}
	if len(portfolioIDs) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `
select pf.id, pf.user_id::text, pf.base_currency, pf.version, pf.archived,
       coalesce(p.symbol, ''), coalesce(p.quantity::text, ''), coalesce(p.cost_basis::text, ''),
       coalesce(p.currency, ''), coalesce(p.local_currency, ''), coalesce(p.local_cost_basis::text, '0')
  from portfolios pf
  left join positions p on p.portfolio_id = pf.id and p.quantity <> 0
 where pf.id = any($1::text[])`, portfolioIDs)
	if err != nil {
		return nil, fmt.Errorf("readmodel: portfolio holdings: %w", err)
	}
	defer rows.Close()
	currencies := map[string]string{}
	for rows.Next() {
		var id, user, cur, sym, qty, cb, lcb string
		var version int64
		var archived bool
		p := HeldPosition{}
		if err := rows.Scan(&id, &user, &cur, &version, &archived, &sym, &qty, &cb, &p.Currency, &p.LocalCurrency, &lcb); err != nil {
			return nil, fmt.Errorf("readmodel: portfolio holdings: %w", err)
		}
		h := out[id]
		if h == nil {
			h = &Holdings{UserID: user, Currency: cur, Version: version, Archived: archived}
			out[id] = h
		}
		if sym == "" {
			continue
		}
		p.Symbol = sym
		// What a warm container keeps of 200,000 positions: one string per
		// currency, and a local cost only where it differs from the base one.
		p.Currency, p.LocalCurrency = internString(currencies, p.Currency), internString(currencies, p.LocalCurrency)
		if p.LocalCurrency != "" && p.LocalCurrency != cur {
			if p.LocalCostBasis, err = decimal.NewFromString(lcb); err != nil {
				return nil, fmt.Errorf("readmodel: portfolio holdings: %w", err)
			}
		}
		if p.Quantity, err = decimal.NewFromString(qty); err != nil {
			return nil, fmt.Errorf("readmodel: portfolio holdings: %w", err)
		}
		if p.CostBasis, err = decimal.NewFromString(cb); err != nil {
			return nil, fmt.Errorf("readmodel: portfolio holdings: %w", err)
		}
		p.q, p.cb = fixedOf(p.Quantity), fixedOf(p.CostBasis)
		h.Positions = append(h.Positions, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: portfolio holdings: %w", err)
	}
	return out, nil
}

// internString returns the copy of s that seen keeps, so that the positions of
// a warm cache share one string per currency.
func internString(seen map[string]string, s string) string {
	if k, ok := seen[s]; ok {
		return k
	}
	seen[s] = s
	return s
}

// RateNeeds returns the portfolios (not archived; of portfolioIDs, or all when
// nil) that hold a position recorded in another currency than their base, each
// with the currencies whose rates valuing it takes (Holdings.RateCurrencies):
// the holders of those currencies' USD pairs.
func RateNeeds(ctx context.Context, db PriceDB, portfolioIDs []string) (map[string][]string, error) {
	rows, err := db.Query(ctx, `
select p.portfolio_id, pf.base_currency, array_agg(distinct p.currency order by p.currency)
  from positions p join portfolios pf on pf.id = p.portfolio_id and not pf.archived
 where p.quantity <> 0 and p.currency <> '' and p.currency <> pf.base_currency
   and ($1::text[] is null or p.portfolio_id = any($1::text[]))
 group by p.portfolio_id, pf.base_currency`, portfolioIDs)
	if err != nil {
		return nil, fmt.Errorf("readmodel: rate needs: %w", err)
	}
	out := map[string][]string{}
	var id, base string
	var currencies []string
	if _, err := pgx.ForEachRow(rows, []any{&id, &base, &currencies}, func() error {
		h := Holdings{Currency: base, Positions: make([]HeldPosition, len(currencies))}
		for i, c := range currencies {
			h.Positions[i].Currency = c
		}
		if need := h.RateCurrencies(); len(need) > 0 {
			out[id] = need
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("readmodel: rate needs: %w", err)
	}
	return out, nil
}

// LatestPrices returns the latest_prices rows of symbols (a symbol without a
// price is absent).
func LatestPrices(ctx context.Context, db PriceDB, symbols []string) (map[string]LatestPrice, error) {
	out := make(map[string]LatestPrice, len(symbols))
	if len(symbols) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `select symbol, price::text, currency, as_of, source from latest_prices where symbol = any($1::text[])`, symbols)
	if err != nil {
		return nil, fmt.Errorf("readmodel: latest prices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p LatestPrice
		var px string
		if err := rows.Scan(&p.Symbol, &px, &p.Currency, &p.AsOf, &p.Source); err != nil {
			return nil, fmt.Errorf("readmodel: latest prices: %w", err)
		}
		if p.Price, err = decimal.NewFromString(px); err != nil {
			return nil, fmt.Errorf("readmodel: latest prices: %w", err)
		}
		p.AsOf = p.AsOf.UTC()
		p.fixed = fixedOf(p.Price)
		out[p.Symbol] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("readmodel: latest prices: %w", err)
	}
	return out, nil
}

// Value is ValuationsHolding's valuation of one portfolio, computed from its
// holdings, the latest prices and the live rates instead of in SQL: a position
// counts when its symbol has a price in its trading currency (or in a unit of
// the same settlement currency: a GBp price for a GBP position, converted
// exactly; another currency altogether is another listing, as ValuePositions
// decides) and that currency has a rate into the portfolio's base (none in
// rates, or rates nil: unpriced, never at 1); its value is quantity × price ×
// that rate (which makes pence pounds). AsOf is the newest price or pair quote
// used (NewestSymbol its symbol, the smallest on a tie: a pair's when the rate
// moved last), FirstSymbol the smallest priced symbol whose price is within
// LeadStaleness of the newest price used; Unpriced is sorted. CurrencyEffect
// sums, over the priced positions that settle in another currency, local cost
// basis × today's rate − cost basis (lots.Valuation's split). The sums are
// exact: those in the base in int64 coefficients per exponent while they fit
// (no allocation, the common case), the rest in decimals.
func Value(portfolioID string, h *Holdings, prices map[string]LatestPrice, rates *LiveRates) PortfolioValuation {
	at := make([]*LatestPrice, len(h.Positions))
	for k, p := range h.Positions {
		if lp, ok := prices[p.Symbol]; ok {
			at[k] = &lp
		}
	}
	return ValueAt(portfolioID, h, at, rates)
}

// ValueAt is Value with the prices given by position: prices[k] is the latest
// price of h.Positions[k]'s symbol, nil when it has none. A caller valuing many
// portfolios over few symbols resolves each symbol once instead of once per
// position.
func ValueAt(portfolioID string, h *Holdings, prices []*LatestPrice, rates *LiveRates) PortfolioValuation {
	v := PortfolioValuation{PortfolioID: portfolioID, UserID: h.UserID, Currency: h.Currency, Version: h.Version}
	var mv, cb fixedSum
	exact := true
	// The positions priced in another currency, summed per currency and
	// converted once (r × Σ q·p is Σ q·p·r exactly); and, for the currency
	// effect, those settling in another currency, local cost and cost basis per
	// currency.
	var foreign, local currencySums
	var newestPrice time.Time
	stamp := func(at time.Time, symbol string) {
		if at.After(v.AsOf) || (at.Equal(v.AsOf) && symbol < v.NewestSymbol) {
			v.AsOf, v.NewestSymbol = at, symbol
		}
	}
	for k := range h.Positions {
		p, lp := &h.Positions[k], prices[k]
		if lp == nil {
			v.Unpriced = append(v.Unpriced, p.Symbol)
			continue
		}
		trading := p.tradingCurrency(h.Currency)
		price, pf := lp.Price, lp.fixed
		if lp.Currency != trading { // rare: a unit of it (GBp for GBP), or another listing
			var ok bool
			if price, pf, ok = priceInTrading(lp, trading); !ok {
				v.Unpriced = append(v.Unpriced, p.Symbol)
				continue
			}
		}
		if trading == h.Currency {
			if exact {
				exact = mv.addProduct(p.q.or(p.Quantity), pf.or(price)) && cb.add(p.cb.or(p.CostBasis))
			}
		} else {
			r := rates.rate(trading, h.Currency)
			if !r.ok {
				v.Unpriced = append(v.Unpriced, p.Symbol)
				continue
			}
			foreign.addProduct(trading, p.q.or(p.Quantity), pf.or(price), p.Quantity, price)
			if exact {
				exact = cb.add(p.cb.or(p.CostBasis))
			}
			if r.symbol != "" {
				stamp(r.asOf, r.symbol)
			}
		}
		if p.LocalCurrency != "" && p.LocalCurrency != h.Currency && rates.rate(p.LocalCurrency, h.Currency).ok {
			local.addAmounts(p.LocalCurrency, fixedOf(p.LocalCostBasis), p.LocalCostBasis, p.cb.or(p.CostBasis), p.CostBasis)
		}
		stamp(lp.AsOf, p.Symbol)
		if lp.AsOf.After(newestPrice) {
			newestPrice = lp.AsOf
		}
	}
	for k := range h.Positions {
		if lp := prices[k]; lp != nil && !lp.AsOf.Before(newestPrice.Add(-LeadStaleness)) &&
			(v.FirstSymbol == "" || h.Positions[k].Symbol < v.FirstSymbol) && priced(h, &h.Positions[k], lp, rates) {
			v.FirstSymbol = h.Positions[k].Symbol
		}
	}
	converted := foreign.convert(rates, h.Currency)
	if local.n > 0 {
		v.CurrencyEffect = local.convert(rates, h.Currency).Sub(local.second())
	}
	if exact {
		v.MarketValue, v.CostBasis = mv.decimal(), cb.decimal()
		if pnl, ok := fixedDifference(&mv, &cb); ok && foreign.n == 0 {
			v.UnrealizedPnL = pnl
		} else {
			v.MarketValue = v.MarketValue.Add(converted)
			v.UnrealizedPnL = v.MarketValue.Sub(v.CostBasis)
		}
	} else {
		v.MarketValue, v.CostBasis = converted, decimal.Zero
		for k := range h.Positions {
			if p, lp := &h.Positions[k], prices[k]; lp != nil && priced(h, p, lp, rates) {
				if trading := p.tradingCurrency(h.Currency); trading == h.Currency {
					price, _, _ := priceInTrading(lp, trading)
					v.MarketValue = v.MarketValue.Add(p.Quantity.Mul(price))
				}
				v.CostBasis = v.CostBasis.Add(p.CostBasis)
			}
		}
		v.UnrealizedPnL = v.MarketValue.Sub(v.CostBasis)
	}
	slices.Sort(v.Unpriced)
	return v
}

// PositionValues values each position of h that ValueAt prices, in the base
// currency (quantity × price, × the rate from its trading currency), with the
// prices given by position as for ValueAt; the positions it leaves unpriced are
// left out. Their sum is ValueAt's market value up to the rounding of the
// conversions (ValueAt converts a currency's sum once).
func PositionValues(h *Holdings, prices []*LatestPrice, rates *LiveRates) []market.PositionValue {
	out := make([]market.PositionValue, 0, len(h.Positions))
	for k := range h.Positions {
		p, lp := &h.Positions[k], prices[k]
		if lp == nil {
			continue
		}
		trading := p.tradingCurrency(h.Currency)
		price := lp.Price
		if lp.Currency != trading {
			var ok bool
			if price, _, ok = priceInTrading(lp, trading); !ok {
				continue
			}
		}
		v := p.Quantity.Mul(price)
		if trading != h.Currency {
			r := rates.rate(trading, h.Currency)
			if !r.ok {
				continue
			}
			v = v.Mul(r.value)
		}
		out = append(out, market.PositionValue{Symbol: p.Symbol, Value: v})
	}
	return out
}

// currencySums keeps, per currency, a sum of products or amounts (first) and a
// second sum of amounts: in int64 coefficients while they fit (no allocation),
// then in decimals. A portfolio has few currencies: two are kept in place,
// more go to a slice.
type currencySums struct {
	n     int
	inl   [2]currencySum
	spill []currencySum
}

type currencySum struct {
	currency      string
	first, second fixedSum
	exact         bool
	firstD        decimal.Decimal // when not exact: the sums in decimals
	secondD       decimal.Decimal
}

func (s *currencySums) at(currency string) *currencySum {
	for i := range min(s.n, len(s.inl)) {
		if s.inl[i].currency == currency {
			return &s.inl[i]
		}
	}
	for i := range s.spill {
		if s.spill[i].currency == currency {
			return &s.spill[i]
		}
	}
	var c *currencySum
	if s.n < len(s.inl) {
		c = &s.inl[s.n]
	} else {
		s.spill = append(s.spill, currencySum{})
		c = &s.spill[len(s.spill)-1]
	}
	s.n++
	c.currency, c.exact = currency, true
	return c
}

// addProduct adds q × p to currency's first sum.
func (s *currencySums) addProduct(currency string, qf, pf fixedDec, q, p decimal.Decimal) {
	sum := s.at(currency)
	if sum.exact {
		if sum.first.addProduct(qf, pf) {
			return
		}
		sum.spill()
	}
	sum.firstD = sum.firstD.Add(q.Mul(p))
}

// addAmounts adds a to currency's first sum and c to its second.
func (s *currencySums) addAmounts(currency string, af fixedDec, a decimal.Decimal, cf fixedDec, c decimal.Decimal) {
	sum := s.at(currency)
	if sum.exact {
		first, second := sum.first, sum.second
		if first.add(af) && second.add(cf) {
			sum.first, sum.second = first, second
			return
		}
		sum.spill() // the sums before this addition
	}
	sum.firstD, sum.secondD = sum.firstD.Add(a), sum.secondD.Add(c)
}

// spill moves the int64 sums to decimals (one did not fit).
func (c *currencySum) spill() {
	c.exact, c.firstD, c.secondD = false, c.first.decimal(), c.second.decimal()
}

func (c *currencySum) totals() (first, second decimal.Decimal) {
	if c.exact {
		return c.first.decimal(), c.second.decimal()
	}
	return c.firstD, c.secondD
}

func (s *currencySums) each(f func(c *currencySum)) {
	for i := range min(s.n, len(s.inl)) {
		f(&s.inl[i])
	}
	for i := range s.spill {
		f(&s.spill[i])
	}
}

// convert is Σ first sum × the rate of its currency into base (every currency
// added has one).
func (s *currencySums) convert(rates *LiveRates, base string) decimal.Decimal {
	out := decimal.Zero
	s.each(func(c *currencySum) {
		first, _ := c.totals()
		out = out.Add(first.Mul(rates.rate(c.currency, base).value))
	})
	return out
}

// second is Σ second sum over the currencies.
func (s *currencySums) second() decimal.Decimal {
	out := decimal.Zero
	s.each(func(c *currencySum) {
		_, second := c.totals()
		out = out.Add(second)
	})
	return out
}

// priced reports whether p, priced at lp, counts in h's valuation: lp is in
// p's trading currency or a unit of its settlement currency, and that currency
// is the base or rates convert it.
func priced(h *Holdings, p *HeldPosition, lp *LatestPrice, rates *LiveRates) bool {
	trading := p.tradingCurrency(h.Currency)
	return sameSettlement(lp.Currency, trading) && (trading == h.Currency || rates.rate(trading, h.Currency).ok)
}

// priceInTrading is lp's price in the trading currency (priceIn), with its
// int64 form when it is lp's own (not computed: the zero fixedDec), and false
// when lp is in another currency altogether.
func priceInTrading(lp *LatestPrice, trading string) (decimal.Decimal, fixedDec, bool) {
	if lp.Currency == trading {
		return lp.Price, lp.fixed, true
	}
	price, ok := priceIn(*lp, trading)
	return price, fixedDec{}, ok
}

// sameSettlement reports whether a price in a is one in b, or in a unit of b's
// settlement currency (priceIn converts it).
func sameSettlement(a, b string) bool {
	if a == b {
		return true
	}
	as, _ := currency.Settlement(a)
	bs, _ := currency.Settlement(b)
	return as == bs
}

// fixedSum adds decimals as int64 coefficients, one running sum per exponent (a
// portfolio's quantities and prices have few distinct scales). An operation
// reports false when a value or a sum does not fit; the caller then falls back to
// decimals.
type fixedSum struct {
	n    int
	exps [4]int32
	sums [4]int64
}

// fixedDec is a decimal as an int64 coefficient and exponent; ok is false when
// the coefficient does not fit, set when it was computed.
type fixedDec struct {
	c       int64
	e       int32
	ok, set bool
}

func fixedOf(d decimal.Decimal) fixedDec {
	if d.NumDigits() > 18 { // 10^18 < 2^63
		return fixedDec{set: true}
	}
	return fixedDec{c: d.CoefficientInt64(), e: d.Exponent(), ok: true, set: true}
}

// or returns f, or d converted when f was never computed.
func (f fixedDec) or(d decimal.Decimal) fixedDec {
	if f.set {
		return f
	}
	return fixedOf(d)
}

func (f *fixedSum) add(d fixedDec) bool {
	return d.ok && f.addCoef(d.c, d.e)
}

func (f *fixedSum) addProduct(a, b fixedDec) bool {
	if !a.ok || !b.ok {
		return false
	}
	ca, ea, cb, eb := a.c, a.e, b.c, b.e
	neg := (ca < 0) != (cb < 0)
	hi, lo := bits.Mul64(absU(ca), absU(cb))
	if hi != 0 || lo > math.MaxInt64 {
		return false
	}
	c := int64(lo)
	if neg {
		c = -c
	}
	return f.addCoef(c, ea+eb)
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-x) // -MinInt64 wraps to 2^63, which is right as a uint64
	}
	return uint64(x)
}

func (f *fixedSum) addCoef(c int64, e int32) bool {
	for i := range f.n {
		if f.exps[i] == e {
			s := f.sums[i] + c
			if (c > 0 && s < f.sums[i]) || (c < 0 && s > f.sums[i]) {
				return false
			}
			f.sums[i] = s
			return true
		}
	}
	if f.n == len(f.exps) {
		return false
	}
	f.exps[f.n], f.sums[f.n] = e, c
	f.n++
	return true
}

func (f *fixedSum) decimal() decimal.Decimal {
	if c, e, ok := f.aligned(); ok {
		return decimal.New(c, e)
	}
	out := decimal.New(f.sums[0], f.exps[0])
	for i := 1; i < f.n; i++ {
		out = out.Add(decimal.New(f.sums[i], f.exps[i]))
	}
	return out
}

// aligned returns the sum as one coefficient at the smallest exponent (what
// decimal additions of the parts give), and false when that does not fit.
func (f *fixedSum) aligned() (int64, int32, bool) {
	if f.n == 0 {
		return 0, 0, true
	}
	e := f.exps[0]
	for i := 1; i < f.n; i++ {
		e = min(e, f.exps[i])
	}
	var c int64
	for i := range f.n {
		part, ok := scaleCoef(f.sums[i], f.exps[i]-e)
		if !ok {
			return 0, 0, false
		}
		s := c + part
		if (part > 0 && s < c) || (part < 0 && s > c) {
			return 0, 0, false
		}
		c = s
	}
	return c, e, true
}

// scaleCoef returns c·10^shift (shift ≥ 0), and false when it does not fit.
func scaleCoef(c int64, shift int32) (int64, bool) {
	for ; shift > 0; shift-- {
		if c > math.MaxInt64/10 || c < math.MinInt64/10 {
			return 0, false
		}
		c *= 10
	}
	return c, true
}

// fixedDifference is a − b as a decimal at the smaller exponent (as
// decimal.Sub gives it), when both sums and the difference fit in int64.
func fixedDifference(a, b *fixedSum) (decimal.Decimal, bool) {
	ac, ae, ok := a.aligned()
	if !ok {
		return decimal.Decimal{}, false
	}
	bc, be, ok := b.aligned()
	if !ok {
		return decimal.Decimal{}, false
	}
	e := min(ae, be)
	if ac, ok = scaleCoef(ac, ae-e); !ok {
		return decimal.Decimal{}, false
	}
	if bc, ok = scaleCoef(bc, be-e); !ok {
		return decimal.Decimal{}, false
	}
	d := ac - bc
	if (bc < 0 && d < ac) || (bc > 0 && d > ac) {
		return decimal.Decimal{}, false
	}
	return decimal.New(d, e), true
}

// ValuationsPage is a page of a portfolio's intraday valuations, oldest first.
type ValuationsPage struct {
	PortfolioID string
	Items       []Valuation
	// More is set when the page is full: the next page starts after the last item.
	More bool
}

// Valuations returns userID's valuations of portfolioID with from ≤ as_of < to
// (ValuationHistory), or portfolio.ErrNotFound when the portfolio is not the user's.
func (q *Queries) Valuations(ctx context.Context, userID, portfolioID string, from, to time.Time, limit int) (ValuationsPage, error) {
	if !isUUID(userID) {
		return ValuationsPage{}, portfolio.ErrNotFound
	}
	db := asCaller(q.db, userID)
	var one int
	err := db.QueryRow(ctx, `select 1 from portfolios where id = $1 and user_id = $2::uuid`, portfolioID, userID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return ValuationsPage{}, portfolio.ErrNotFound
	}
	if err != nil {
		return ValuationsPage{}, fmt.Errorf("readmodel: valuations: %w", err)
	}
	limit = max(1, min(limit, MaxValuationsPage))
	items, err := ValuationHistory(ctx, db, userID, portfolioID, from, to, limit)
	if err != nil {
		return ValuationsPage{}, err
	}
	return ValuationsPage{PortfolioID: portfolioID, Items: items, More: len(items) == limit}, nil
}
