package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// PortfolioSymbolView is one symbol of a portfolio: why it is the portfolio's
// (held now, traded in a transaction that is not voided, the benchmark), where
// its history stands (nil until the backfill records the symbol) and the time
// and source of its latest price (nil and "" without one).
type PortfolioSymbolView struct {
	Symbol                  string
	Held, Traded, Benchmark bool
	History                 *market.HistoryStatus
	PriceAsOf               *time.Time
	PriceSource             string
}

// PortfolioSymbolsView is a portfolio's symbols, sorted.
type PortfolioSymbolsView struct {
	PortfolioID string
	Symbols     []PortfolioSymbolView
	AsOfVersion int64
}

// PortfolioSymbols returns the symbols of one of the user's portfolios with
// their history status and latest price, in one statement, or
// portfolio.ErrNotFound.
func (q *Queries) PortfolioSymbols(ctx context.Context, userID, portfolioID string) (PortfolioSymbolsView, error) {
	if !isUUID(userID) {
		return PortfolioSymbolsView{}, portfolio.ErrNotFound
	}
	rows, err := asCaller(q.db, userID).Query(ctx, `
with pf as (
  select id, benchmark, version from portfolios where id = $1 and user_id = $2::uuid
), syms (symbol, traded, benchmark) as (
  select t.symbol, true, false
    from transactions t join pf on t.portfolio_id = pf.id
   where t.user_id = $2::uuid and not t.voided and t.symbol is not null and t.symbol <> ''
  union all
  select benchmark, false, true from pf where benchmark <> ''
), agg as (
  select symbol, bool_or(traded) as traded, bool_or(benchmark) as benchmark from syms group by symbol
)
select pf.version, a.symbol, a.traded, a.benchmark, coalesce(p.quantity <> 0, false),
       h.state, h.needed_from::text, h.filled_from::text, h.filled_to::text, coalesce(h.reason, ''), coalesce(h.source, ''), h.updated_at,
       lp.as_of, coalesce(lp.source, '')
  from pf
  left join agg a on true
  left join positions p on p.portfolio_id = pf.id and p.symbol = a.symbol
  left join symbol_history h on h.symbol = a.symbol
  left join latest_prices lp on lp.symbol = a.symbol
 order by a.symbol`, portfolioID, userID)
	if err != nil {
		return PortfolioSymbolsView{}, fmt.Errorf("readmodel: portfolio symbols: %w", err)
	}
	defer rows.Close()
	v := PortfolioSymbolsView{PortfolioID: portfolioID, Symbols: []PortfolioSymbolView{}}
	found := false
	for rows.Next() {
		found = true
		var symbol, state, needed, from, to *string
		var reason, source, priceSource string
		var updatedAt, priceAsOf *time.Time
		var sv PortfolioSymbolView
		var traded, bench *bool
		var held bool
		if err := rows.Scan(&v.AsOfVersion, &symbol, &traded, &bench, &held, &state, &needed, &from, &to, &reason, &source, &updatedAt,
			&priceAsOf, &priceSource); err != nil {
			return PortfolioSymbolsView{}, fmt.Errorf("readmodel: portfolio symbols: %w", err)
		}
		if symbol == nil {
			continue // a portfolio without symbols
		}
		sv = PortfolioSymbolView{Symbol: *symbol, Held: held, Traded: *traded, Benchmark: *bench, PriceSource: priceSource}
		if priceAsOf != nil {
			at := priceAsOf.UTC()
			sv.PriceAsOf = &at
		}
		if state != nil {
			h := market.HistoryStatus{Symbol: sv.Symbol, State: market.HistoryState(*state), Reason: reason, Source: source, UpdatedAt: updatedAt.UTC()}
			var err error
			if h.NeededFrom, err = calendar.Parse(*needed); err != nil {
				return PortfolioSymbolsView{}, fmt.Errorf("readmodel: portfolio symbols: %w", err)
			}
			if h.FilledFrom, err = parseDatePtr(from); err != nil {
				return PortfolioSymbolsView{}, fmt.Errorf("readmodel: portfolio symbols: %w", err)
			}
			if h.FilledTo, err = parseDatePtr(to); err != nil {
				return PortfolioSymbolsView{}, fmt.Errorf("readmodel: portfolio symbols: %w", err)
			}
			sv.History = &h
		}
		v.Symbols = append(v.Symbols, sv)
	}
	if err := rows.Err(); err != nil {
		return PortfolioSymbolsView{}, fmt.Errorf("readmodel: portfolio symbols: %w", err)
	}
	if !found {
		return PortfolioSymbolsView{}, portfolio.ErrNotFound
	}
	return v, nil
}
