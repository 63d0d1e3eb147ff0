package readmodel_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestWatchListHasEveryReasonAndDropsWhatNobodyNeeds: portfolios built from the
// real aggregate's events (through the projector), alert rules and WebSocket
// watches through their stores; the watch list names each needed symbol once
// with all its reasons, and a symbol drops out when its last reason goes: a
// position sold out, a portfolio archived (its holdings, benchmark and FX pair),
// a rule deleted, a watch unsubscribed or expired.
func TestWatchListHasEveryReasonAndDropsWhatNobodyNeeds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	project := func(events []portfolio.Event) {
		t.Helper()
		if _, err := proj.ApplyBatch(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	list := func() string {
		t.Helper()
		got, err := readmodel.IngestStore{DB: pool}.WatchList(ctx, now)
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
		t.Fatalf("empty read models: %q", got)
	}

	// pu (USD, benchmark VTI) holds AAPL and MSFT; pe (EUR, default benchmark
	// SPY) holds SAP.
	pu := rmtest.NewHistory(t, "pu", rmtest.UserA, portfolio.FIFO)
	pu.Tx(rmtest.Buy("2024-01-02", "AAPL", "10", "100", "0"))
	pu.Tx(rmtest.Buy("2024-01-02", "MSFT", "5", "300", "0"))
	pu.Settings("VTI", false, "0")
	pe := rmtest.NewHistoryIn(t, "pe", rmtest.UserB, portfolio.FIFO, "EUR")
	sap := rmtest.Buy("2024-01-02", "SAP", "3", "150", "0")
	sap.Currency = "EUR"
	pe.Tx(sap)
	project(append(slices.Clone(pu.Events), pe.Events...))

	rules := readmodel.NewAlertRules(pool)
	for _, r := range []alerts.Rule{
		{ID: "t", Kind: alerts.KindPriceAbove, Symbol: "TSLA", Threshold: rmtest.Dec("500")},
		{ID: "a", Kind: alerts.KindPriceBelow, Symbol: "AAPL", Threshold: rmtest.Dec("50")},
	} {
		if _, err := rules.Create(ctx, rmtest.UserA, r); err != nil {
			t.Fatal(err)
		}
	}
	watchers := readmodel.NewWatchers(pool)
	for _, w := range []struct {
		conn    string
		symbols []string
		until   time.Time
	}{
		{"c1", []string{"NVDA", "VTI"}, now.Add(time.Hour)},
		{"c2", []string{"AMD"}, now.Add(-time.Second)}, // a connection closed and expired
		{"c3", []string{"ORCL"}, now.Add(2 * time.Hour)},
	} {
		if err := watchers.Watch(ctx, w.conn, rmtest.UserB, w.symbols, w.until); err != nil {
			t.Fatal(err)
		}
	}
	want := "AAPL[held alert] EURUSD=X[fx] MSFT[held] NVDA[watched] ORCL[watched] SAP[held] SPY[benchmark] TSLA[alert] VTI[benchmark watched]"
	if got := list(); got != want {
		t.Fatalf("watch list\n got %s\nwant %s", got, want)
	}

	// What nobody needs any more drops out; what still has a reason stays with
	// the reasons it has left.
	soldFrom, archivedFrom := len(pu.Events), len(pe.Events)
	pu.Tx(rmtest.Sell("2024-02-01", "MSFT", "5", "310", "0"))
	pe.Archive()
	project(append(slices.Clone(pu.Events[soldFrom:]), pe.Events[archivedFrom:]...))
	if err := rules.Delete(ctx, rmtest.UserA, "t"); err != nil {
		t.Fatal(err)
	}
	if err := watchers.Unwatch(ctx, "c3", rmtest.UserB, []string{"ORCL"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour) // c1's watches expire
	if got, want := list(), "AAPL[held alert] VTI[benchmark]"; got != want {
		t.Fatalf("after selling out MSFT, archiving pe, deleting the TSLA rule, unwatching ORCL and c1 expiring:\n got %s\nwant %s", got, want)
	}
}
