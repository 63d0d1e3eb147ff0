package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// WatchLister is the ingest's complete watch list (readmodel.IngestStore,
// memquery.WatchList), quotes in USD.
type WatchLister interface {
	WatchList(ctx context.Context, now time.Time) ([]market.WatchedSymbol, error)
}

var _ WatchLister = readmodel.IngestStore{}

// WatchListSubject is a watch list under test and the stores it reads, fed as
// their writers feed them: portfolio events as the projection applies them,
// alert rules and WebSocket watches through their stores.
type WatchListSubject struct {
	List  WatchLister
	Apply func(t *testing.T, events []portfolio.Event)
	Rules interface {
		Create(ctx context.Context, userID string, rule alerts.Rule) (readmodel.AlertRule, error)
		Delete(ctx context.Context, userID, id string) error
	}
	Watchers WatcherStore
}

// RunWatchList runs the watch list's suite; newSubject returns empty stores.
func RunWatchList(t *testing.T, newSubject func(t *testing.T) WatchListSubject) {
	run(t, newSubject, []testCase[WatchListSubject]{
		{"EveryReasonAndWhatDropsOut", testWatchList},
		{"ConversionsIncomingCurrency", testWatchListConversions},
	})
}

// testWatchList: portfolios built from the real aggregate's events, alert rules
// (a paused one needs nothing quoted)
// and WebSocket watches; the watch list names each needed symbol once with all
// its reasons (the USD pair of every currency a portfolio needs: its base and
// the currency each transaction settles in, GBP for a London listing in GBp),
// and a symbol drops out when its last reason goes: a position sold out, a
// portfolio archived (its holdings, benchmark and FX pairs), a transaction
// voided, a rule deleted, a watch unsubscribed or expired.
func testWatchList(t *testing.T, s WatchListSubject) {
	ctx := t.Context()
	now := t0
	list := func() string {
		t.Helper()
		got, err := s.List.WatchList(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, w := range got {
			fmt.Fprintf(&b, "%s%v ", w.Symbol, w.Reasons)
		}
		return strings.TrimSpace(b.String())
	}
	if got := list(); got != "" {
		t.Fatalf("empty stores: %q", got)
	}

	// pu (USD, benchmark VTI) holds AAPL, MSFT and VUSA.L (in pence); pe
	// (EUR, the default benchmark SPY) holds SAP.
	pu := rmtest.NewHistory(t, "pu", UserA, portfolio.FIFO)
	pu.Tx(rmtest.Buy("2024-01-02", "AAPL", "10", "100", "0"))
	pu.Tx(rmtest.Buy("2024-01-02", "MSFT", "5", "300", "0"))
	vusa := rmtest.Buy("2024-01-02", "VUSA.L", "10", "7000", "0")
	vusa.Currency, vusa.FXRate = "GBp", rmtest.Dec("1.27")
	vusaID := pu.Tx(vusa)
	pu.Settings("VTI", false, "0")
	pe := rmtest.NewHistoryIn(t, "pe", UserB, portfolio.FIFO, "EUR")
	sap := rmtest.Buy("2024-01-02", "SAP", "3", "150", "0")
	sap.Currency = "EUR"
	pe.Tx(sap)
	s.Apply(t, slices.Concat(pu.Events, pe.Events))
	for _, r := range []alerts.Rule{
		{ID: "t", Kind: alerts.KindPriceAbove, Symbol: "TSLA", Threshold: rmtest.Dec("500")},
		{ID: "a", Kind: alerts.KindPriceBelow, Symbol: "AAPL", Threshold: rmtest.Dec("50")},
		{ID: "p", Kind: alerts.KindPriceAbove, Symbol: "IBM", Threshold: rmtest.Dec("500"), PausedAt: now}, // paused: not quoted for it
	} {
		if _, err := s.Rules.Create(ctx, UserA, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []struct {
		conn    string
		symbols []string
		until   time.Time
	}{
		{"c1", []string{"NVDA", "VTI"}, now.Add(time.Hour)},
		{"c2", []string{"AMD"}, now.Add(-time.Second)}, // a connection closed and expired
		{"c3", []string{"ORCL"}, now.Add(2 * time.Hour)},
	} {
		if err := s.Watchers.Watch(ctx, w.conn, UserB, w.symbols, w.until); err != nil {
			t.Fatal(err)
		}
	}
	want := "AAPL[held alert] EURUSD=X[fx] GBPUSD=X[fx] MSFT[held] NVDA[watched] ORCL[watched] SAP[held] SPY[benchmark] TSLA[alert] VTI[benchmark watched] VUSA.L[held]"
	if got := list(); got != want {
		t.Fatalf("watch list\n got %s\nwant %s", got, want)
	}

	// What nobody needs any more drops out; what still has a reason stays with
	// the reasons it has left.
	soldFrom, archivedFrom := len(pu.Events), len(pe.Events)
	pu.Tx(rmtest.Sell("2024-02-01", "MSFT", "5", "310", "0"))
	pu.Void(vusaID, "typo")
	pe.Archive()
	s.Apply(t, slices.Concat(pu.Events[soldFrom:], pe.Events[archivedFrom:]))
	if err := s.Rules.Delete(ctx, UserA, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.Watchers.Unwatch(ctx, "c3", UserB, []string{"ORCL"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour) // c1's watches expire
	if got, want := list(), "AAPL[held alert] VTI[benchmark]"; got != want {
		t.Fatalf("after selling out MSFT, voiding the VUSA.L buy, archiving pe, deleting the TSLA rule, unwatching ORCL and c1 expiring:\n got %s\nwant %s", got, want)
	}
}

// testWatchListConversions: a conversion's incoming currency needs its pair
// (its cash is in it); a voided one does not.
func testWatchListConversions(t *testing.T, s WatchListSubject) {
	pc := rmtest.NewHistory(t, "pc", UserA, portfolio.FIFO)
	pc.Settings("SPY", false, "0")
	pc.Tx(portfolio.Transaction{Type: portfolio.Deposit, Date: rmtest.D("2024-01-02"), Amount: rmtest.Dec("1000"), Currency: "USD"})
	pc.Tx(portfolio.Transaction{Type: portfolio.Conversion, Date: rmtest.D("2024-01-02"), Amount: rmtest.Dec("100"), Currency: "USD",
		ToAmount: rmtest.Dec("90"), ToCurrency: "CHF"})
	yen := pc.Tx(portfolio.Transaction{Type: portfolio.Conversion, Date: rmtest.D("2024-01-03"), Amount: rmtest.Dec("100"), Currency: "USD",
		ToAmount: rmtest.Dec("15000"), ToCurrency: "JPY"})
	pc.Void(yen, "wrong currency")
	s.Apply(t, pc.Events)
	got, err := s.List.WatchList(t.Context(), t0)
	if err != nil || fmt.Sprint(got) != "[{CHFUSD=X [fx]} {SPY [benchmark]}]" {
		t.Fatalf("watch list %v, %v; want CHFUSD=X for the conversion into francs, nothing for the voided one into yen", got, err)
	}
}
