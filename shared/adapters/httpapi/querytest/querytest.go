// Package querytest is the contract suite of the API's query stores, the ports
// httpapi.PortfolioReads (portfolios and positions), httpapi.TransactionReads
// (transactions), httpapi.ValuationReads (intraday valuations) and
// httpapi.SymbolReads (a portfolio's symbols and their history). Every implementation runs it: readmodel.Queries over the API's
// own login, fed by the projector (shared/adapters/readmodel), and the in-memory
// memquery.Store (shared/adapters/readmodel/memquery). What only SQL can show,
// Row Level Security and the least privilege of the API's login, is tested in
// shared/adapters/readmodel.
//
// The suite feeds a store the portfolio events the real aggregate decides
// (rmtest.History) and latest prices, and checks what the queries answer; the
// lot engine, run on the aggregate's transactions, is the oracle for positions.
package querytest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/shopspring/decimal"
)

// Fixture is one empty store under test and how the suite feeds it.
type Fixture struct {
	Portfolios   httpapi.PortfolioReads
	Transactions httpapi.TransactionReads
	// Apply projects events, as the stream delivers them: in version order per
	// aggregate, possibly again. It may fail when another Apply of the same
	// events runs concurrently, as long as one of them wins.
	Apply func(ctx context.Context, events []portfolio.Event) error
	// SetLatestPrices records latest prices, newer wins.
	SetLatestPrices func(ctx context.Context, prices []readmodel.LatestPrice) error
	Valuations      httpapi.ValuationReads
	// InsertValuations records valuations as the prices use case does.
	InsertValuations func(ctx context.Context, vals []readmodel.Valuation) (int64, error)
	// Symbols reads a portfolio's symbols with their backfill status.
	Symbols httpapi.SymbolReads
	// SetHistories records symbols' backfill records as the backfill writes
	// them (replacing theirs).
	SetHistories func(ctx context.Context, hs []market.HistoryStatus) error
	// Flags flags the symbols a market-data provider does not know
	// (readmodel.SymbolFlags).
	Flags SymbolFlagger
	// SetDailyCloses records daily closes (those of currency pairs are the
	// rates a position falls back on without a live quote), newer wins.
	SetDailyCloses func(ctx context.Context, closes []readmodel.DailyClose) error
}

// SymbolFlagger flags and clears symbols a provider does not know.
type SymbolFlagger interface {
	FlagUnknown(ctx context.Context, symbol, source, reason string) error
	ClearUnknown(ctx context.Context, symbol string) error
}

// Run runs every test of the suite, each on a fresh fixture.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	t.Run("PortfoliosAndPositions", func(t *testing.T) { t.Parallel(); testPortfolios(t, newFixture(t)) })
	t.Run("Transactions", func(t *testing.T) { t.Parallel(); testTransactions(t, newFixture(t)) })
	t.Run("ConcurrentDeliveries", func(t *testing.T) { t.Parallel(); testConcurrentDeliveries(t, newFixture(t)) })
	t.Run("Valuations", func(t *testing.T) { t.Parallel(); testValuations(t, newFixture(t)) })
	t.Run("PortfolioSymbols", func(t *testing.T) { t.Parallel(); testPortfolioSymbols(t, newFixture(t)) })
	t.Run("UnknownSymbolWarnings", func(t *testing.T) { t.Parallel(); testUnknownSymbolWarnings(t, newFixture(t)) })
	t.Run("MultiCurrency", func(t *testing.T) { t.Parallel(); testMultiCurrency(t, newFixture(t)) })
}

// testUnknownSymbolWarnings: a position in a symbol the provider does not know
// carries the unknown_symbol warning, in every portfolio holding it, open or
// closed, with the provider's latest words; the others carry none, and clearing
// the flag (a valid quote arrived) removes it.
func testUnknownSymbolWarnings(t *testing.T, f Fixture) {
	ctx := t.Context()
	a := rmtest.NewHistory(t, "pw", rmtest.UserA, portfolio.FIFO)
	a.Tx(rmtest.Buy("2024-02-01", "XYZQ", "3", "10", ""))
	a.Tx(rmtest.Buy("2024-02-01", "AAPL", "1", "100", ""))
	b := rmtest.NewHistory(t, "pw2", rmtest.UserB, portfolio.FIFO)
	b.Tx(rmtest.Buy("2024-02-01", "XYZQ", "2", "10", ""))
	b.Tx(rmtest.Sell("2024-02-02", "XYZQ", "2", "11", ""))
	applyInBatches(t, f, slices.Concat(a.Events, b.Events), 3)
	warnings := func(user, id string) map[string][]readmodel.PositionWarning {
		t.Helper()
		pos, err := f.Portfolios.Positions(ctx, user, id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]readmodel.PositionWarning{}
		for _, p := range pos.Positions {
			if p.Warnings != nil {
				out[p.Symbol] = p.Warnings
			}
		}
		return out
	}
	if w := warnings(rmtest.UserA, "pw"); len(w) != 0 {
		t.Fatalf("warnings before any flag: %v", w)
	}
	if err := f.Flags.FlagUnknown(ctx, "XYZQ", "polygon", "NOT_FOUND"); err != nil {
		t.Fatal(err)
	}
	if err := f.Flags.FlagUnknown(ctx, "XYZQ", "finnhub", "no quote for symbol (all fields zero)"); err != nil {
		t.Fatal(err)
	}
	want := readmodel.UnknownSymbolWarning("XYZQ", "finnhub", "no quote for symbol (all fields zero)")
	for _, c := range []struct{ user, id string }{{rmtest.UserA, "pw"}, {rmtest.UserB, "pw2"}} {
		w := warnings(c.user, c.id)
		if len(w) != 1 || len(w["XYZQ"]) != 1 || w["XYZQ"][0] != want || want.Code != readmodel.WarningUnknownSymbol {
			t.Errorf("%s: warnings %v, want XYZQ's %v only", c.id, w, want)
		}
	}
	if err := f.Flags.ClearUnknown(ctx, "XYZQ"); err != nil {
		t.Fatal(err)
	}
	if err := f.Flags.ClearUnknown(ctx, "NEVERFLAGGED"); err != nil {
		t.Fatal(err)
	}
	if w := warnings(rmtest.UserA, "pw"); len(w) != 0 {
		t.Fatalf("warnings after the flag was cleared: %v", w)
	}
}

// histories are the suite's portfolios: A's realistic FIFO one (pa: archived,
// renamed, two voids, a split, targets set twice), A's small average-cost one
// (pa2: no targets, new settings) and B's realistic one (pb).
type histories struct{ a, a2, b *rmtest.History }

func newHistories(t *testing.T) histories {
	h := histories{a: rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO), a2: rmtest.NewHistory(t, "pa2", rmtest.UserA, portfolio.AverageCost),
		b: rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.FIFO)}
	h.a2.Tx(rmtest.Buy("2024-02-01", "AAPL", "3", "100", ""))
	h.a2.Settings("VTI", true, "50.00")
	return h
}

func (h histories) events() []portfolio.Event {
	return slices.Concat(h.a.Events, h.a2.Events, h.b.Events)
}

// applyInBatches feeds events n at a time, as the stream's batches do.
func applyInBatches(t *testing.T, f Fixture, events []portfolio.Event, n int) {
	t.Helper()
	for start := 0; start < len(events); start += n {
		if err := f.Apply(t.Context(), events[start:min(start+n, len(events))]); err != nil {
			t.Fatalf("apply events %d..: %v", start, err)
		}
	}
}

// render is a view as text, for comparing answers.
func render(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testPortfolios(t *testing.T, f Fixture) {
	ctx := t.Context()
	h := newHistories(t)
	applyInBatches(t, f, h.events(), 5)
	at := time.Date(2024, 7, 1, 20, 0, 0, 123456000, time.UTC)
	if err := f.SetLatestPrices(ctx, []readmodel.LatestPrice{
		{Symbol: "AAPL", Price: rmtest.Dec("190.5"), Currency: "USD", AsOf: at, Source: "test"},
		{Symbol: "VTI", Price: rmtest.Dec("270"), Currency: "EUR", AsOf: at, Source: "test"},
	}); err != nil {
		t.Fatal(err)
	}
	// An older price changes nothing.
	if err := f.SetLatestPrices(ctx, []readmodel.LatestPrice{{Symbol: "AAPL", Price: rmtest.Dec("1"), Currency: "USD", AsOf: at.Add(-time.Hour), Source: "late"}}); err != nil {
		t.Fatal(err)
	}
	q := f.Portfolios

	// Portfolios: the caller's, oldest first; a user ID is a UUID in any case.
	for _, user := range []string{rmtest.UserA, strings.ToUpper(rmtest.UserA)} {
		list, err := q.ListPortfolios(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range list {
			ids = append(ids, p.ID)
		}
		if !slices.Equal(ids, []string{"pa", "pa2"}) {
			t.Fatalf("portfolios of %s: %v", user, ids)
		}
	}
	for _, user := range []string{"not-a-uuid", "", "0c0c0c0c-0000-4000-8000-00000000000c"} {
		if l, err := q.ListPortfolios(ctx, user); err != nil || l == nil || len(l) != 0 {
			t.Errorf("portfolios of %q: %v %v, want an empty list", user, l, err)
		}
	}
	pv, err := q.GetPortfolio(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	first, last := h.a.Events[0], h.a.Events[len(h.a.Events)-1]
	if pv.ID != "pa" || pv.Name != "Renamed pa" || pv.Description != "renamed" || pv.BaseCurrency != "USD" || pv.LotMethod != portfolio.FIFO ||
		!pv.Archived || pv.ArchivedAt == nil || !pv.ArchivedAt.Equal(last.Timestamp) || pv.Version != h.a.P.Version() ||
		!pv.CreatedAt.Equal(first.Timestamp) || !pv.UpdatedAt.Equal(last.Timestamp) || pv.CreatedAt.Location() != time.UTC {
		t.Errorf("portfolio pa %+v", pv)
	}
	if s := pv.Settings; s.Benchmark != "SPY" || s.WholeShares || !s.MinTradeValue.IsZero() {
		t.Errorf("pa's settings %+v, want the defaults", s)
	}
	if p2, err := q.GetPortfolio(ctx, rmtest.UserA, "pa2"); err != nil || p2.Archived || p2.ArchivedAt != nil || p2.LotMethod != portfolio.AverageCost ||
		p2.Settings.Benchmark != "VTI" || !p2.Settings.WholeShares || p2.Settings.MinTradeValue.String() != "50" {
		t.Errorf("portfolio pa2 %+v %v", p2, err)
	}
	for _, c := range []struct{ user, id string }{{rmtest.UserA, "pb"}, {rmtest.UserA, "nope"}, {"x", "pa"}, {rmtest.UserB, "pa"}} {
		if _, err := q.GetPortfolio(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("GetPortfolio(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
		if _, err := q.Positions(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("Positions(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
		if _, err := q.Targets(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("Targets(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
	}

	// Positions: what the lot engine computes, valued where a price in the
	// portfolio's currency exists.
	pos, err := q.Positions(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	if pos.PortfolioID != "pa" || pos.AsOfVersion != h.a.P.Version() || pos.BaseCurrency != "USD" {
		t.Errorf("positions of pa: %s %d %s", pos.PortfolioID, pos.AsOfVersion, pos.BaseCurrency)
	}
	book := lotEngine(t, h.a)
	var syms []string
	for _, p := range pos.Positions {
		syms = append(syms, p.Symbol)
		want, _ := book.Position(p.Symbol)
		if !p.Quantity.Equal(want.Quantity) || !p.CostBasis.Equal(want.CostBasis) || !p.AveragePrice.Equal(want.AveragePrice()) ||
			!p.RealizedPnL.Equal(want.RealizedPnL) || !p.Fees.Equal(want.Fees) || !p.Taxes.Equal(want.Taxes) || !p.Dividends.Equal(want.Dividends) {
			t.Errorf("%s: %+v, the lot engine says %+v", p.Symbol, p, want)
		}
	}
	// MSFT's buy was voided but a FEE on it stays: a closed position. GOOG's
	// only transaction was voided: no position.
	if want := []string{"AAPL", "MSFT", "VTI"}; !slices.Equal(syms, want) {
		t.Fatalf("symbols %v, want %v", syms, want)
	}
	byS := map[string]readmodel.PositionView{}
	for _, p := range pos.Positions {
		byS[p.Symbol] = p
	}
	aapl := byS["AAPL"]
	if str(aapl.MarketPrice) != "190.5" || str(aapl.MarketValue) != "6858" || str(aapl.UnrealizedPnL) != rmtest.Dec("6858").Sub(aapl.CostBasis).String() ||
		aapl.PriceSource != "test" || aapl.PriceAsOf == nil || !aapl.PriceAsOf.Equal(at) || aapl.PriceAsOf.Location() != time.UTC {
		t.Errorf("AAPL %+v", aapl)
	}
	if m := byS["MSFT"]; m.MarketValue != nil || m.MarketPrice != nil || !m.Quantity.IsZero() {
		t.Errorf("closed MSFT valued: %+v", m)
	}
	if v := byS["VTI"]; v.MarketPrice != nil || v.Quantity.IsZero() {
		t.Errorf("VTI valued at a EUR price: %+v", v)
	}
	sum := book.Summary()
	tot := pos.Totals
	if !slices.Equal(tot.Unpriced, []string{"VTI"}) || tot.MarketValue.String() != "6858" || tot.UnrealizedPnL.String() != str(aapl.UnrealizedPnL) ||
		!tot.Cash.Equal(sum.Cash) || !tot.RealizedPnL.Equal(sum.RealizedPnL) || !tot.Fees.Equal(sum.Fees) || !tot.Taxes.Equal(sum.Taxes) ||
		!tot.Dividends.Equal(sum.Dividends) || !tot.Interest.Equal(sum.Interest) || !tot.CostBasis.Equal(sum.CostBasis) ||
		!tot.Charges.Equal(sum.Charges) || !tot.Deposits.Equal(sum.Deposits) || !tot.Withdrawals.Equal(sum.Withdrawals) {
		t.Errorf("totals %+v, the lot engine says %+v", tot, sum)
	}
	// The totals' version is the last event that changed the transactions (the
	// withdrawal: a rename, targets and the archive follow it).
	if want := lastTransactionVersion(h.a); tot.Version != want {
		t.Errorf("totals version %d, want %d", tot.Version, want)
	}
	if want := lastVersionTouching(h.a, "AAPL"); aapl.Version != want {
		t.Errorf("AAPL version %d, want %d", aapl.Version, want)
	}
	p2, err := q.Positions(ctx, rmtest.UserA, "pa2")
	if err != nil || len(p2.Positions) != 1 || !p2.Totals.CostBasis.Equal(rmtest.Dec("300")) || str(p2.Positions[0].MarketValue) != "571.5" {
		t.Errorf("pa2 positions %+v, %v", p2, err)
	}
	// A portfolio without transactions has no positions and zero totals.
	empty := rmtest.NewHistory(t, "pe", rmtest.UserB, portfolio.FIFO)
	applyInBatches(t, f, empty.Events, 5)
	if pe, err := q.Positions(ctx, rmtest.UserB, "pe"); err != nil || pe.Positions == nil || len(pe.Positions) != 0 || !pe.Totals.Cash.IsZero() ||
		pe.Totals.Unpriced != nil || pe.AsOfVersion != 1 {
		t.Errorf("empty portfolio's positions %+v, %v", pe, err)
	}

	// Targets: the last allocation set, sorted by symbol.
	tg, err := q.Targets(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	if tg.PortfolioID != "pa" || len(tg.Targets) != 2 || tg.Targets[0].Symbol != "AAPL" || !tg.Targets[0].Weight.Equal(rmtest.Dec("0.6")) ||
		tg.Targets[1].Symbol != "VTI" || !tg.DriftBand.Equal(rmtest.Dec("0.1")) || tg.Version != h.a.P.Version()-1 || tg.AsOfVersion != h.a.P.Version() {
		t.Errorf("targets %+v", tg)
	}
	if tg, err := q.Targets(ctx, rmtest.UserA, "pa2"); err != nil || tg.Targets == nil || len(tg.Targets) != 0 || tg.Version != 0 || !tg.DriftBand.IsZero() {
		t.Errorf("no targets: %+v %v", tg, err)
	}

	// A redelivery of everything, in other batches, changes nothing.
	answers := func() string {
		t.Helper()
		list, err1 := q.ListPortfolios(ctx, rmtest.UserA)
		pos, err2 := q.Positions(ctx, rmtest.UserA, "pa")
		tg, err3 := q.Targets(ctx, rmtest.UserA, "pa")
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		return render(t, []any{list, pos, tg})
	}
	before := answers()
	applyInBatches(t, f, h.events(), 7)
	if after := answers(); after != before {
		t.Errorf("a redelivery changed the answers:\n%s\n%s", before, after)
	}
}

// str is a decimal's text, or "nil".
func str(d *decimal.Decimal) string {
	if d == nil {
		return "nil"
	}
	return d.String()
}

// lotEngine replays h's active transactions through the lot engine.
func lotEngine(t *testing.T, h *rmtest.History) *lots.Book {
	t.Helper()
	txs, err := h.P.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	portfolio.SortForReplay(txs)
	book := lots.New(h.P.LotMethod(), h.P.BaseCurrency())
	for i := range txs {
		if err := book.Apply(&txs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return book
}

// lastTransactionVersion is the version of h's last event that recorded or
// voided a transaction.
func lastTransactionVersion(h *rmtest.History) int64 {
	var v int64
	for _, e := range h.Events {
		switch e.Data.(type) {
		case *portfolio.TransactionRecorded, *portfolio.TransactionsImported, *portfolio.TransactionVoided:
			v = e.Version
		}
	}
	return v
}

// lastVersionTouching is the version of h's last event that recorded or voided
// a transaction of symbol.
func lastVersionTouching(h *rmtest.History, symbol string) int64 {
	var v int64
	for _, e := range h.Events {
		switch d := e.Data.(type) {
		case *portfolio.TransactionRecorded:
			if d.Symbol == symbol {
				v = e.Version
			}
		case *portfolio.TransactionVoided:
			if d.Voided.Symbol == symbol {
				v = e.Version
			}
		}
	}
	return v
}

func testTransactions(t *testing.T, f Fixture) {
	ctx := t.Context()
	h := newHistories(t)
	applyInBatches(t, f, h.events(), 5)
	q := f.Transactions
	for _, c := range []struct{ user, id string }{{rmtest.UserA, "pb"}, {rmtest.UserA, "nope"}, {"x", "pa"}, {rmtest.UserB, "pa"}} {
		if _, err := q.Transactions(ctx, c.user, c.id, readmodel.TransactionFilter{}, "", 10); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("Transactions(%s, %s): %v, want ErrNotFound", c.user, c.id, err)
		}
	}

	// Pages of 4, newest first, with and without the voided ones.
	active, err := h.a.P.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	for _, voided := range []bool{false, true} {
		var got []readmodel.TransactionView
		cursor := ""
		for pages := 0; ; pages++ {
			page, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{IncludeVoided: voided}, cursor, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > 4 || page.AsOfVersion != h.a.P.Version() || pages > 10 || (page.NextCursor != "" && len(page.Items) != 4) {
				t.Fatalf("page of %d items, asOf %d, cursor %q", len(page.Items), page.AsOfVersion, page.NextCursor)
			}
			got = append(got, page.Items...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		want := len(active)
		if voided {
			want += 2
		}
		if len(got) != want {
			t.Fatalf("includeVoided=%v: %d transactions, want %d", voided, len(got), want)
		}
		for i := 1; i < len(got); i++ {
			if p, c := got[i-1], got[i]; p.Date < c.Date || (p.Date == c.Date && p.Seq <= c.Seq) {
				t.Fatalf("not newest first at %d: %v/%d then %v/%d", i, p.Date, p.Seq, c.Date, c.Seq)
			}
		}
	}

	// Filters.
	from, to := rmtest.D("2024-02-01"), rmtest.D("2024-04-30")
	for _, c := range []struct {
		f    readmodel.TransactionFilter
		want int
	}{
		{readmodel.TransactionFilter{Symbol: "AAPL"}, 6},
		{readmodel.TransactionFilter{Type: portfolio.Dividend}, 1},
		{readmodel.TransactionFilter{From: &from, To: &to}, 5}, // buy, sell, dividend, split, interest
		{readmodel.TransactionFilter{From: &to, To: &from}, 0},
		{readmodel.TransactionFilter{Symbol: "GOOG"}, 0},
		{readmodel.TransactionFilter{Symbol: "GOOG", IncludeVoided: true}, 1},
		{readmodel.TransactionFilter{Symbol: "aapl"}, 0},
	} {
		page, err := q.Transactions(ctx, rmtest.UserA, "pa", c.f, "", 100)
		if err != nil || len(page.Items) != c.want || page.NextCursor != "" {
			t.Errorf("filter %+v: %d items, cursor %q, err %v; want %d", c.f, len(page.Items), page.NextCursor, err, c.want)
		}
	}

	// One transaction's view: every field, as recorded.
	page, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{Type: portfolio.Split}, "", 0)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("split: %+v %v", page, err)
	}
	split := page.Items[0]
	rec, _, err := h.a.P.Transaction(split.ID)
	if err != nil {
		t.Fatal(err)
	}
	recordedAt := eventOf(h.a, portfolio.VersionOfSeq(rec.Seq)).Timestamp
	if split.Ratio != "4:1" || split.Symbol != "AAPL" || split.Date != calendar.Date(rmtest.D("2024-04-01")) || split.Voided || split.PortfolioID != "pa" ||
		split.Seq != rec.Seq || split.Currency != "USD" || !split.Quantity.IsZero() || !split.Amount.IsZero() || split.VoidedAt != nil ||
		!split.RecordedAt.Equal(recordedAt) || split.RecordedAt.Location() != time.UTC || split.Version != portfolio.VersionOfSeq(rec.Seq) {
		t.Errorf("split view %+v", split)
	}
	page, err = q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{Symbol: "MSFT", IncludeVoided: true, Type: portfolio.Buy}, "", 10)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("voided MSFT buy: %+v %v", page, err)
	}
	msft := page.Items[0]
	void := voidOf(h.a, msft.ID)
	if !msft.Voided || msft.VoidReason != "entered twice" || msft.VoidedAt == nil || !msft.VoidedAt.Equal(void.Timestamp) || msft.Version != void.Version ||
		msft.Quantity.String() != "5" || msft.Price.String() != "300" || !msft.Fee.IsZero() || msft.Ratio != "" {
		t.Errorf("voided view %+v", msft)
	}

	// Cursors: one from another page position continues there; others are refused.
	all, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{IncludeVoided: true}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	mid := all.Items[5]
	rest, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{IncludeVoided: true}, readmodel.TransactionCursor(mid.Date, mid.Seq), 100)
	if err != nil || len(rest.Items) != len(all.Items)-6 || rest.Items[0].ID != all.Items[6].ID {
		t.Errorf("from the 6th: %d items, %v", len(rest.Items), err)
	}
	for _, bad := range []string{"x", "MTox", "MTpub3Q6MQ", "!!"} {
		if _, err := q.Transactions(ctx, rmtest.UserA, "pa", readmodel.TransactionFilter{}, bad, 10); !errors.Is(err, readmodel.ErrInvalidCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	// A portfolio without transactions has an empty page.
	if p, err := q.Transactions(ctx, rmtest.UserA, "pa2", readmodel.TransactionFilter{Symbol: "NONE"}, "", 0); err != nil || p.Items == nil || len(p.Items) != 0 ||
		p.NextCursor != "" || p.AsOfVersion != h.a2.P.Version() {
		t.Errorf("empty page %+v %v", p, err)
	}
}

func eventOf(h *rmtest.History, version int64) portfolio.Event {
	for _, e := range h.Events {
		if e.Version == version {
			return e
		}
	}
	return portfolio.Event{}
}

func voidOf(h *rmtest.History, txID string) portfolio.Event {
	for _, e := range h.Events {
		if d, ok := e.Data.(*portfolio.TransactionVoided); ok && d.TransactionID == txID {
			return e
		}
	}
	return portfolio.Event{}
}

// testConcurrentDeliveries: the same events delivered by several writers at
// once are applied exactly once (a losing writer may fail; a later delivery
// then finds everything applied).
func testConcurrentDeliveries(t *testing.T, f Fixture) {
	ctx := t.Context()
	h := rmtest.Realistic(t, "pc", rmtest.UserA, portfolio.AverageCost)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = f.Apply(ctx, h.Events) })
	}
	wg.Wait()
	if errors.Join(errs...) != nil && !slices.ContainsFunc(errs, func(err error) bool { return err == nil }) {
		t.Fatalf("no writer won: %v", errs)
	}
	applyInBatches(t, f, h.Events, len(h.Events))
	page, err := f.Transactions.Transactions(ctx, rmtest.UserA, "pc", readmodel.TransactionFilter{IncludeVoided: true}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := h.P.TransactionsRecorded(); len(page.Items) != n {
		t.Errorf("%d transactions after concurrent deliveries, want %d", len(page.Items), n)
	}
	pos, err := f.Portfolios.Positions(ctx, rmtest.UserA, "pc")
	if err != nil {
		t.Fatal(err)
	}
	sum := lotEngine(t, h).Summary()
	if !pos.Totals.Cash.Equal(sum.Cash) || !pos.Totals.CostBasis.Equal(sum.CostBasis) || pos.AsOfVersion != h.P.Version() {
		t.Errorf("totals after concurrent deliveries %+v, the lot engine says %+v", pos.Totals, sum)
	}
}

// testValuations: a portfolio's valuations are answered to its owner only, a
// page at a time, oldest first, within [from, to); a full page says there may
// be more.
func testValuations(t *testing.T, f Fixture) {
	ctx := t.Context()
	h := newHistories(t)
	applyInBatches(t, f, h.events(), 7)
	base := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var rows []readmodel.Valuation
	for i := range 5 {
		rows = append(rows, readmodel.Valuation{PortfolioID: "pa2", UserID: rmtest.UserA, AsOf: base.Add(time.Duration(i) * time.Minute),
			MarketValue: decimal.NewFromInt(int64(1000 + i)), CostBasis: decimal.NewFromInt(900), UnrealizedPnL: decimal.NewFromInt(int64(100 + i))})
	}
	// One of B's portfolio, in the same range.
	rows = append(rows, readmodel.Valuation{PortfolioID: "pb", UserID: rmtest.UserB, AsOf: base, MarketValue: decimal.NewFromInt(7), CostBasis: decimal.NewFromInt(7), UnrealizedPnL: decimal.Zero})
	if _, err := f.InsertValuations(ctx, rows); err != nil {
		t.Fatal(err)
	}
	values := func(p readmodel.ValuationsPage) []string {
		var out []string
		for _, v := range p.Items {
			out = append(out, v.AsOf.UTC().Format("15:04")+"="+v.MarketValue.String()+"/"+v.UnrealizedPnL.String())
		}
		return out
	}
	first, err := f.Valuations.Valuations(ctx, rmtest.UserA, "pa2", base, base.Add(time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := values(first), []string{"15:00=1000/100", "15:01=1001/101", "15:02=1002/102"}; !slices.Equal(got, want) || !first.More || first.PortfolioID != "pa2" {
		t.Fatalf("first page %v more %v, want %v and more", got, first.More, want)
	}
	// The next page starts after the last item; the bound to is excluded.
	second, err := f.Valuations.Valuations(ctx, rmtest.UserA, "pa2", first.Items[2].AsOf.Add(time.Microsecond), base.Add(4*time.Minute), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := values(second), []string{"15:03=1003/103"}; !slices.Equal(got, want) || second.More {
		t.Fatalf("second page %v more %v, want %v and no more", got, second.More, want)
	}
	// Another user's portfolio, a user ID that is not a UUID, a portfolio that
	// does not exist: not found.
	for _, c := range [][2]string{{rmtest.UserB, "pa2"}, {rmtest.UserA, "pb"}, {"not-a-uuid", "pa2"}, {rmtest.UserA, "nope"}} {
		if _, err := f.Valuations.Valuations(ctx, c[0], c[1], base, base.Add(time.Hour), 3); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("user %s, portfolio %s: %v, want not found", c[0], c[1], err)
		}
	}
	// The owner in upper case is the same user; an empty range is an empty page.
	if p, err := f.Valuations.Valuations(ctx, strings.ToUpper(rmtest.UserA), "pa2", base, base.Add(time.Hour), 100); err != nil || len(p.Items) != 5 || p.More {
		t.Errorf("owner in upper case: %v, %v", values(p), err)
	}
	if p, err := f.Valuations.Valuations(ctx, rmtest.UserA, "pa2", base.Add(time.Hour), base.Add(2*time.Hour), 3); err != nil || len(p.Items) != 0 || p.More {
		t.Errorf("empty range: %v, %v", values(p), err)
	}
}

// testPortfolioSymbols: a portfolio's symbols are those of its transactions
// that are not voided and its benchmark, each with why (held now, traded,
// benchmark), its backfill record when there is one (none yet is nil) and its
// latest price's time and source; another user's portfolio is not found.
func testPortfolioSymbols(t *testing.T, f Fixture) {
	ctx := t.Context()
	h := newHistories(t)
	applyInBatches(t, f, h.events(), 7)
	at := time.Date(2024, 7, 1, 20, 0, 0, 123456000, time.UTC)
	if err := f.SetLatestPrices(ctx, []readmodel.LatestPrice{{Symbol: "AAPL", Price: rmtest.Dec("190.5"), Currency: "USD", AsOf: at, Source: "simulated"}}); err != nil {
		t.Fatal(err)
	}
	from, to := calendar.MustNew(2024, 1, 2), calendar.MustNew(2024, 6, 28)
	updated := time.Date(2024, 7, 1, 12, 0, 0, 654321000, time.UTC)
	if err := f.SetHistories(ctx, []market.HistoryStatus{
		{Symbol: "AAPL", State: market.HistoryComplete, NeededFrom: from, FilledFrom: &from, FilledTo: &to, Source: "polygon", UpdatedAt: updated},
		{Symbol: "SPY", State: market.HistoryFailed, NeededFrom: from, Reason: "refused: 403", Source: "polygon", UpdatedAt: updated},
		{Symbol: "GOOG", State: market.HistoryPending, NeededFrom: from, UpdatedAt: updated},
	}); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Symbol                  string
		Held, Traded, Benchmark bool
		State, Filled, Source   string
		Price                   string
	}
	rows := func(v readmodel.PortfolioSymbolsView) []row {
		out := []row{}
		for _, s := range v.Symbols {
			r := row{Symbol: s.Symbol, Held: s.Held, Traded: s.Traded, Benchmark: s.Benchmark}
			if s.History != nil {
				r.State, r.Source = string(s.History.State), s.History.Source
				if s.History.FilledFrom != nil {
					r.Filled = s.History.FilledFrom.String() + ".." + s.History.FilledTo.String()
				}
				if !s.History.UpdatedAt.Equal(updated) || s.History.NeededFrom != from {
					t.Errorf("%s: history %+v", s.Symbol, s.History)
				}
				if s.Symbol == "SPY" && s.History.Reason != "refused: 403" {
					t.Errorf("SPY's reason %q", s.History.Reason)
				}
			}
			if s.PriceAsOf != nil {
				r.Price = s.PriceAsOf.Format(time.RFC3339Nano) + " " + s.PriceSource
			}
			out = append(out, r)
		}
		return out
	}
	aapl := row{Symbol: "AAPL", Held: true, Traded: true, State: "complete", Filled: "2024-01-02..2024-06-28", Source: "polygon",
		Price: "2024-07-01T20:00:00.123456Z simulated"}
	// pa: GOOG's only buy and MSFT's were voided, but MSFT's fee was not;
	// the benchmark is the default.
	v, err := f.Symbols.PortfolioSymbols(ctx, rmtest.UserA, "pa")
	if err != nil {
		t.Fatal(err)
	}
	want := []row{aapl, {Symbol: "MSFT", Traded: true}, {Symbol: "SPY", Benchmark: true, State: "failed", Source: "polygon"},
		{Symbol: "VTI", Held: true, Traded: true}}
	if got := rows(v); render(t, got) != render(t, want) || v.PortfolioID != "pa" || v.AsOfVersion != h.a.P.Version() {
		t.Errorf("pa's symbols (version %d)\n%s\nwant\n%s", v.AsOfVersion, render(t, got), render(t, want))
	}
	v, err = f.Symbols.PortfolioSymbols(ctx, strings.ToUpper(rmtest.UserA), "pa2")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rows(v), []row{aapl, {Symbol: "VTI", Benchmark: true}}; render(t, got) != render(t, want) {
		t.Errorf("pa2's symbols\n%s\nwant\n%s", render(t, got), render(t, want))
	}
	for _, c := range []struct{ user, id string }{{rmtest.UserA, "pb"}, {rmtest.UserB, "pa"}, {"not-a-uuid", "pa"}, {rmtest.UserA, "nope"}} {
		if _, err := f.Symbols.PortfolioSymbols(ctx, c.user, c.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("%s's symbols as %s: %v, want not found", c.id, c.user, err)
		}
	}
}
