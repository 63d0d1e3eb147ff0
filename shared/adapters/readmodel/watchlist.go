package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// watchListSQL is every (symbol, reason) the ingest must quote, one row per pair:
// open positions of portfolios not archived, active alert rules on a symbol, the
// benchmark of every portfolio not archived, live WebSocket watches (unexpired
// at $1) and, as 'fx', every currency a portfolio not archived needs that is
// not the quotes' currency ($2): its base and every currency its cash has moved
// in (cash_balances: the settlement currency of each active transaction that
// moves money, GBP for GBp, and each conversion's incoming one; a few rows per
// portfolio, where reading the transactions for their currencies took 100–230 ms
// at 500,000 of them), which Go turns into its pair's symbol. A symbol no row
// names any more drops out on its own: nothing is stored about the list.
var watchListSQL = `
select distinct symbol, reason from (
  select p.symbol, 'held' as reason
    from positions p join portfolios pf on pf.id = p.portfolio_id
   where p.quantity <> 0 and not pf.archived
  union all
  select symbol, 'alert' from alert_rules where symbol <> '' and active
  union all
  select benchmark, 'benchmark' from portfolios where not archived and benchmark <> ''
  union all
  select symbol, 'watched' from symbol_watchers where expires_at > $1
  union all
  select c.code, 'fx' from (
    select base_currency as code from portfolios where not archived
    union
    select cb.currency from cash_balances cb join portfolios pf on pf.id = cb.portfolio_id and not pf.archived
  ) c where c.code <> $2 and c.code ~ '^[A-Z]{3}$'
) needed
order by symbol, reason`

// WatchList returns the symbols the ingest quotes, each with every reason it is
// needed (market.WatchReasons order), sorted by symbol; quoteCurrency is the
// currency prices are quoted in (USD): a currency a portfolio needs (its base,
// its transactions' settlement currencies, its conversions' incoming ones) other
// than that needs the pair CODE→quoteCurrency (market.FXPair, "EURUSD=X": with
// USD quotes, market.USDPair). One statement.
func WatchList(ctx context.Context, db PriceDB, now time.Time, quoteCurrency string) ([]market.WatchedSymbol, error) {
	rows, err := db.Query(ctx, watchListSQL, now.UTC(), quoteCurrency)
	if err != nil {
		return nil, fmt.Errorf("readmodel: watch list: %w", err)
	}
	type need struct{ symbol, reason string }
	needs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (need, error) {
		var n need
		return n, r.Scan(&n.symbol, &n.reason)
	})
	if err != nil {
		return nil, fmt.Errorf("readmodel: watch list: %w", err)
	}
	bySymbol := map[string][]market.WatchReason{}
	for _, n := range needs {
		symbol, reason := n.symbol, market.WatchReason(n.reason)
		if reason == market.WatchFX {
			symbol = market.FXPair{Base: symbol, Quote: quoteCurrency}.Symbol()
		}
		bySymbol[symbol] = append(bySymbol[symbol], reason)
	}
	return WatchedSymbols(bySymbol), nil
}

// WatchedSymbols turns symbol → reasons into the watch list: sorted by symbol,
// each symbol's reasons once, in market.WatchReasons order.
func WatchedSymbols(bySymbol map[string][]market.WatchReason) []market.WatchedSymbol {
	list := make([]market.WatchedSymbol, 0, len(bySymbol))
	for symbol, reasons := range bySymbol {
		ordered := make([]market.WatchReason, 0, len(reasons))
		for _, r := range market.WatchReasons {
			if slices.Contains(reasons, r) {
				ordered = append(ordered, r)
			}
		}
		list = append(list, market.WatchedSymbol{Symbol: symbol, Reasons: ordered})
	}
	slices.SortFunc(list, func(a, b market.WatchedSymbol) int { return strings.Compare(a.Symbol, b.Symbol) })
	return list
}
