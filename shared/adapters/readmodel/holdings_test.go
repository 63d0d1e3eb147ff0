package readmodel_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
)

// Value, computed in Go from PortfolioHoldings, LatestPrices and the live rates,
// equals the SQL valuation (ValuationsHolding) on random portfolios, currencies
// (USD and EUR bases; positions recorded in USD, EUR, GBp, GBP and CHF, or
// before currencies were ("": the base), quoted in their currency, a unit of
// it (GBp for GBP) or another altogether (unpriced); no CHF rate) and prices;
// a pair's tick touches the portfolios that need it; and the holding marks move
// exactly when the positions they cover change.
func TestValueInGoEqualsSQLAndMarksMove(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	syms := []string{"AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"}
	quoted := map[string]string{"AAA": "USD", "BBB": "USD", "CCC": "GBp", "DDD": "USD", "EEE": "EUR", "GGG": "CHF"} // FFF has no price
	recorded := []string{"", "USD", "EUR", "GBp", "GBP", "CHF"}
	for i := range 40 {
		cur := []string{"USD", "USD", "EUR"}[i%3]
		if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, archived, created_at, updated_at, version)
values ($1, $2::uuid, 'p', $3, 'fifo', $4, now(), now(), $5)`, fmt.Sprintf("p%02d", i), rmtest.UserA, cur, i%7 == 6, 1+i); err != nil {
			t.Fatal(err)
		}
		for _, s := range syms {
			if rng.IntN(2) == 0 {
				continue
			}
			qty := decimal.New(rng.Int64N(100000), -int32(rng.IntN(4)))
			if rng.IntN(6) == 0 {
				qty = decimal.Zero
			}
			rc := recorded[rng.IntN(len(recorded))]
			if rng.IntN(2) == 0 { // half as quoted, so that most positions are priced
				rc = quoted[s]
			}
			lc, _ := currency.Settlement(rc)
			if _, err := pool.Exec(ctx, `insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees, taxes, dividends, version,
  currency, local_currency, local_cost_basis)
values ($1, $2, $3::uuid, $4::numeric, $5::numeric, 0, 0, 0, 0, 0, 1, $6, $7, $8::numeric)`, fmt.Sprintf("p%02d", i), s, rmtest.UserA, qty.String(),
				decimal.New(rng.Int64N(1e9), -2).String(), rc, lc, decimal.New(rng.Int64N(1e9), -2).String()); err != nil {
				t.Fatal(err)
			}
		}
	}
	var lps []readmodel.LatestPrice
	for i, s := range slices.Concat(syms[:5], syms[6:]) {
		cur := quoted[s]
		at := t0.Add(time.Duration(rng.IntN(3)) * time.Second)
		if i == 0 {
			at = t0.Add(-48 * time.Hour) // AAA stopped trading: it leads no portfolio that holds another
		}
		lps = append(lps, readmodel.LatestPrice{Symbol: s, Price: decimal.New(rng.Int64N(1e7), -3), Currency: cur,
			AsOf: at, Source: "simulated"})
	}
	lps = append(lps,
		readmodel.LatestPrice{Symbol: "EURUSD=X", Price: decimal.RequireFromString("1.0856"), Currency: "USD", AsOf: t0.Add(-time.Minute), Source: "simulated"},
		readmodel.LatestPrice{Symbol: "GBPUSD=X", Price: decimal.RequireFromString("1.2712"), Currency: "USD", AsOf: t0.Add(time.Hour), Source: "simulated"})
	if _, err := readmodel.UpsertLatestPrices(ctx, pool, lps); err != nil {
		t.Fatal(err)
	}

	batch := []string{"AAA", "CCC", "FFF", "GBPUSD=X"}
	want, err := readmodel.ValuationsHolding(ctx, pool, batch)
	if err != nil {
		t.Fatal(err)
	}
	holders, err := readmodel.HoldersOf(ctx, pool, batch)
	if err != nil {
		t.Fatal(err)
	}
	var touched []string
	for _, ps := range holders {
		for _, p := range ps {
			if !slices.Contains(touched, p) {
				touched = append(touched, p)
			}
		}
	}
	needs, err := readmodel.RateNeeds(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	rateHolders := 0
	for p, currencies := range needs {
		if slices.Contains(currencies, "GBP") && !slices.Contains(touched, p) {
			touched = append(touched, p)
			rateHolders++
		}
	}
	hs, err := readmodel.PortfolioHoldings(ctx, pool, touched)
	if err != nil {
		t.Fatal(err)
	}
	prices, err := readmodel.LatestPrices(ctx, pool, append(syms, "EURUSD=X", "GBPUSD=X"))
	if err != nil {
		t.Fatal(err)
	}
	var got []readmodel.PortfolioValuation
	for _, id := range touched {
		if h := hs[id]; !h.Archived {
			got = append(got, readmodel.Value(id, h, prices, readmodel.NewLiveRates(prices)))
		}
	}
	slices.SortFunc(got, func(a, b readmodel.PortfolioValuation) int { return strings.Compare(a.PortfolioID, b.PortfolioID) })
	if len(got) != len(want) || len(want) < 10 {
		t.Fatalf("%d valuations in Go, %d in SQL", len(got), len(want))
	}
	ledByOther := 0
	for i := range want {
		w, g := want[i], got[i]
		holdsAAA := slices.ContainsFunc(hs[w.PortfolioID].Positions, func(p readmodel.HeldPosition) bool { return p.Symbol == "AAA" })
		if holdsAAA && w.FirstSymbol != "AAA" && w.FirstSymbol != "" {
			ledByOther++
		}
		if g.PortfolioID != w.PortfolioID || g.UserID != w.UserID || g.Currency != w.Currency || g.Version != w.Version ||
			!g.MarketValue.Equal(w.MarketValue) || !g.CostBasis.Equal(w.CostBasis) || !g.UnrealizedPnL.Equal(w.UnrealizedPnL) ||
			!g.AsOf.Equal(w.AsOf) || g.NewestSymbol != w.NewestSymbol || g.FirstSymbol != w.FirstSymbol || !slices.Equal(g.Unpriced, w.Unpriced) ||
			!g.CurrencyEffect.Equal(w.CurrencyEffect) {
			t.Fatalf("%s:\n  go  %+v\n  sql %+v", w.PortfolioID, g, w)
		}
	}

	if ledByOther == 0 {
		t.Fatalf("no portfolio holding the stale AAA is led by another symbol: %+v", want)
	}
	var converted, unpricedCHF, pairNewest, effect bool
	for _, w := range want {
		converted = converted || w.Currency == "EUR" && !w.MarketValue.IsZero()
		unpricedCHF = unpricedCHF || slices.Contains(w.Unpriced, "GGG")
		pairNewest = pairNewest || w.NewestSymbol == "GBPUSD=X"
		effect = effect || !w.CurrencyEffect.IsZero()
	}
	// The prices in another currency than a position's trades leave it
	// unpriced; a pound position priced in pence counts.
	var mismatched, pence int
	for _, w := range want {
		for _, p := range hs[w.PortfolioID].Positions {
			traded := cmp.Or(p.Currency, w.Currency)
			cur, ok := quoted[p.Symbol]
			settleP, _ := currency.Settlement(cur)
			settleT, _ := currency.Settlement(traded)
			switch {
			case ok && settleP != settleT:
				mismatched++
				if !slices.Contains(w.Unpriced, p.Symbol) {
					t.Fatalf("%s: %s traded in %s, quoted in %s, is priced: %+v", w.PortfolioID, p.Symbol, traded, cur, w)
				}
			case ok && cur != traded:
				pence++
				if slices.Contains(w.Unpriced, p.Symbol) {
					t.Fatalf("%s: %s traded in %s, quoted in %s, is unpriced: %+v", w.PortfolioID, p.Symbol, traded, cur, w)
				}
			}
		}
	}
	if rateHolders == 0 || !converted || !unpricedCHF || !pairNewest || !effect || mismatched == 0 || pence == 0 {
		t.Fatalf("the data does not exercise the rates: %d touched by GBPUSD=X alone, converted %v, GGG unpriced %v, pair newest %v, currency effect %v, "+
			"%d priced in another currency, %d in a unit of theirs", rateHolders, converted, unpricedCHF, pairNewest, effect, mismatched, pence)
	}

	// Marks: a trade in p00's AAA moves hp:p00 and hs:AAA only.
	keys := []string{"hp:p00", "hp:p01", "hs:AAA", "hs:BBB"}
	before, err := readmodel.HoldingMarks(ctx, pool, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into positions (portfolio_id, symbol, user_id, quantity, cost_basis, average_price, realized_pnl, fees, taxes, dividends, version)
values ('p00', 'AAA', $1::uuid, 7, 70, 10, 0, 0, 0, 0, 99)
on conflict (portfolio_id, symbol) do update set quantity = excluded.quantity, version = excluded.version`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	after, _ := readmodel.HoldingMarks(ctx, pool, keys)
	if after["hp:p00"] == before["hp:p00"] || after["hs:AAA"] == before["hs:AAA"] || after["hp:p00"] == "" {
		t.Fatalf("marks did not move: %v → %v", before, after)
	}
	if after["hp:p01"] != before["hp:p01"] || after["hs:BBB"] != before["hs:BBB"] {
		t.Fatalf("unrelated marks moved: %v → %v", before, after)
	}
	// Archiving moves the portfolio's mark; deleting a position moves both.
	if _, err := pool.Exec(ctx, `update portfolios set archived = true where id = 'p01'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `delete from positions where portfolio_id = 'p00' and symbol = 'AAA'`); err != nil {
		t.Fatal(err)
	}
	last, _ := readmodel.HoldingMarks(ctx, pool, keys)
	if last["hp:p01"] == after["hp:p01"] || last["hp:p00"] == after["hp:p00"] || last["hs:AAA"] == after["hs:AAA"] || last["hs:BBB"] != after["hs:BBB"] {
		t.Fatalf("marks after archive and delete: %v → %v", after, last)
	}
	// A rebuild's truncate moves every mark (a consumer then reloads all it holds),
	// and the change feed shows it.
	_, cursor, err := readmodel.HoldingMarkChanges(ctx, pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `truncate positions`); err != nil {
		t.Fatal(err)
	}
	moved, _ := readmodel.HoldingMarks(ctx, pool, keys)
	feed, _, err := readmodel.HoldingMarkChanges(ctx, pool, cursor)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if moved[k] == last[k] || moved[k] == "" || feed[k] != moved[k] {
			t.Fatalf("%s after truncate: mark %q → %q, feed %q", k, last[k], moved[k], feed[k])
		}
	}
}

// The marks' change feed never misses a mark moved by a transaction that
// commits after a read, however early it began, and leaves the reader's own
// claims out.
func TestMarkFeedSeesLateCommits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	store := readmodel.NewAlertRules(pool)
	if _, err := pool.Exec(ctx, `insert into holding_marks (key, token) values ('hs:LATE', 'y')`); err != nil {
		t.Fatal(err)
	}
	none, cursor, err := readmodel.HoldingMarkChanges(ctx, pool, 0)
	if err != nil || len(none) != 0 || cursor == 0 {
		t.Fatalf("first read: %v, cursor %d, %v", none, cursor, err)
	}
	// A transaction takes its ID, moves a mark and stays open across two reads.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `update holding_marks set token = 'late', changed_by = pg_current_xact_id() where key = 'hs:LATE'`); err != nil {
		t.Fatal(err)
	}
	// Meanwhile another one commits.
	if _, err := pool.Exec(ctx, `insert into holding_marks (key, token) values ('hs:NEW', 'n')`); err != nil {
		t.Fatal(err)
	}
	got, cursor, err := readmodel.HoldingMarkChanges(ctx, pool, cursor)
	if err != nil {
		t.Fatal(err)
	}
	// (Marks already seen may come back while other transactions of the cluster
	// hold the snapshot's xmin back; a reader compares tokens.)
	if got["hs:NEW"] != "n" || got["hs:LATE"] == "late" {
		t.Fatalf("before the late commit: %v", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, err = readmodel.HoldingMarkChanges(ctx, pool, cursor); err != nil {
		t.Fatal(err)
	}
	if got["hs:LATE"] != "late" {
		t.Fatalf("the late commit was missed: %v", got)
	}
	// The alert marks' feed leaves out the reader's own claims, not others'.
	_, acursor, err := store.StateMarkChanges(ctx, 0, "mine-")
	if err != nil {
		t.Fatal(err)
	}
	if lost, err := store.ClaimStateMarks(ctx, map[string]string{"s:AAA": "", "s:BBB": ""}, "mine-1"); err != nil || len(lost) != 0 {
		t.Fatalf("claim: lost %v, %v", lost, err)
	}
	if lost, err := store.ClaimStateMarks(ctx, map[string]string{"s:BBB": "mine-1"}, "theirs-1"); err != nil || len(lost) != 0 {
		t.Fatalf("claim: lost %v, %v", lost, err)
	}
	agot, _, err := store.StateMarkChanges(ctx, acursor, "mine-")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := agot["s:AAA"]; ok || agot["s:BBB"] != "theirs-1" {
		t.Fatalf("alert marks feed: %v", agot)
	}
}

// Value's int64 path and its decimal fallback agree with plain decimal sums, for
// huge values, many scales and negative costs.
func TestValueExactAcrossScales(t *testing.T) {
	d := decimal.RequireFromString
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	prices := map[string]readmodel.LatestPrice{}
	for i, px := range []string{"1.5", "0.000001", "123456.789", "9999999999.99", "3", "0.1234567"} {
		prices[fmt.Sprintf("S%d", i)] = readmodel.LatestPrice{Price: d(px), Currency: "USD", AsOf: t0}
	}
	for name, qtys := range map[string][]string{
		"small":            {"10", "2.5"},
		"six scales":       {"1", "0.1", "0.01", "0.001", "0.0001", "0.00001"},
		"huge quantity":    {"123456789012345678901234.5", "1"},
		"product overflow": {"9223372036", "1", "1", "1", "1", "99999999999"},
		"sum overflow":     {"900000000000000", "900000000000000", "1", "1", "1", "1"},
	} {
		h := &readmodel.Holdings{Currency: "USD"}
		want, wantCB := decimal.Zero, decimal.Zero
		for i, q := range qtys {
			sym := fmt.Sprintf("S%d", i)
			cb := d(q).Mul(d("-1.01"))
			h.Positions = append(h.Positions, readmodel.HeldPosition{Symbol: sym, Quantity: d(q), CostBasis: cb})
			want, wantCB = want.Add(d(q).Mul(prices[sym].Price)), wantCB.Add(cb)
		}
		v := readmodel.Value("p", h, prices, nil)
		if !v.MarketValue.Equal(want) || !v.CostBasis.Equal(wantCB) || !v.UnrealizedPnL.Equal(want.Sub(wantCB)) {
			t.Errorf("%s: value %s cost %s, want %s and %s", name, v.MarketValue, v.CostBasis, want, wantCB)
		}
		// The same positions held in a EUR portfolio, traded and their local cost
		// in dollars: converted at USD→EUR = round(1 / 1.0856, 12) = 0.921149594694.
		rate := d("0.921149594694")
		h.Currency = "EUR"
		wantCE := decimal.Zero
		for i := range h.Positions {
			p := &h.Positions[i]
			p.Currency, p.LocalCurrency, p.LocalCostBasis = "USD", "USD", p.CostBasis.Mul(d("1.1"))
			wantCE = wantCE.Add(p.LocalCostBasis.Mul(rate).Sub(p.CostBasis))
		}
		v = readmodel.Value("p", h, prices, readmodel.NewLiveRates(map[string]readmodel.LatestPrice{
			"EURUSD=X": {Symbol: "EURUSD=X", Price: d("1.0856"), Currency: "USD", AsOf: t0}}))
		if want := want.Mul(rate); !v.MarketValue.Equal(want) || !v.CostBasis.Equal(wantCB) || !v.UnrealizedPnL.Equal(want.Sub(wantCB)) ||
			!v.CurrencyEffect.Equal(wantCE) {
			t.Errorf("%s in euros: value %s cost %s currency effect %s, want %s, %s and %s", name, v.MarketValue, v.CostBasis, v.CurrencyEffect,
				want, wantCB, wantCE)
		}
	}
}

// PositionValues values each position ValueAt prices, in the base, and leaves
// out those it does not: their sum is the valuation's market value.
func TestPositionValuesSumToTheValuation(t *testing.T) {
	d := decimal.RequireFromString
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	h := &readmodel.Holdings{Currency: "USD", Positions: []readmodel.HeldPosition{
		{Symbol: "AAPL", Quantity: d("10"), CostBasis: d("1000"), Currency: "USD"},
		{Symbol: "VOD.L", Quantity: d("1000"), CostBasis: d("900"), Currency: "GBp", LocalCurrency: "GBP", LocalCostBasis: d("700")},
		{Symbol: "SAP.DE", Quantity: d("3"), CostBasis: d("500"), Currency: "EUR", LocalCurrency: "EUR", LocalCostBasis: d("450")},
		{Symbol: "NONE", Quantity: d("5"), CostBasis: d("50"), Currency: "USD"},
		{Symbol: "7203.T", Quantity: d("100"), CostBasis: d("1500"), Currency: "JPY", LocalCurrency: "JPY", LocalCostBasis: d("220000")},
	}}
	prices := map[string]readmodel.LatestPrice{
		"AAPL":     {Symbol: "AAPL", Price: d("190.5"), Currency: "USD", AsOf: t0},
		"VOD.L":    {Symbol: "VOD.L", Price: d("72.3"), Currency: "GBp", AsOf: t0},
		"SAP.DE":   {Symbol: "SAP.DE", Price: d("180.25"), Currency: "EUR", AsOf: t0},
		"7203.T":   {Symbol: "7203.T", Price: d("2500"), Currency: "JPY", AsOf: t0}, // no JPY rate: unpriced
		"GBPUSD=X": {Symbol: "GBPUSD=X", Price: d("1.27"), Currency: "USD", AsOf: t0},
		"EURUSD=X": {Symbol: "EURUSD=X", Price: d("1.0856"), Currency: "USD", AsOf: t0},
	}
	at := make([]*readmodel.LatestPrice, len(h.Positions))
	for k, p := range h.Positions {
		if lp, ok := prices[p.Symbol]; ok {
			at[k] = &lp
		}
	}
	rates := readmodel.NewLiveRates(prices)
	v := readmodel.ValueAt("p", h, at, rates)
	got := readmodel.PositionValues(h, at, rates)
	want := map[string]string{"AAPL": "1905", "VOD.L": "918.21", "SAP.DE": "587.0382"}
	sum := decimal.Zero
	for _, pv := range got {
		if w, ok := want[pv.Symbol]; !ok || !pv.Value.Equal(d(w)) {
			t.Errorf("%s valued %s, want %s", pv.Symbol, pv.Value, w)
		}
		sum = sum.Add(pv.Value)
	}
	if len(got) != len(want) || !sum.Equal(v.MarketValue) {
		t.Fatalf("position values %+v sum to %s, the valuation is %s (unpriced %v)", got, sum, v.MarketValue, v.Unpriced)
	}
}
