package readmodel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestWatchListContract runs the watch list's suite on PostgreSQL: the
// projector writes the portfolios, the stores the rules and watches, and one
// statement reads them (memquery.WatchList runs the same suite).
func TestWatchListContract(t *testing.T) {
	t.Parallel()
	storetest.RunWatchList(t, func(t *testing.T) storetest.WatchListSubject {
		pool, _ := rmtest.DB(t)
		proj := rmtest.NewProjector(pool)
		return storetest.WatchListSubject{
			List: readmodel.IngestStore{DB: pool},
			Apply: func(t *testing.T, events []portfolio.Event) {
				t.Helper()
				if _, err := proj.ApplyBatch(t.Context(), events); err != nil {
					t.Fatal(err)
				}
			},
			Rules:    readmodel.NewAlertRules(pool),
			Watchers: readmodel.NewWatchers(pool),
		}
	})
}

// TestWatchListConversionsIncomingCurrency: a conversion's incoming currency
// needs its pair (its cash is in it); a voided one does not.
func TestWatchListConversionsIncomingCurrency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	pc := rmtest.NewHistory(t, "pc", rmtest.UserA, portfolio.FIFO)
	pc.Settings("SPY", false, "0")
	pc.Tx(portfolio.Transaction{Type: portfolio.Deposit, Date: rmtest.D("2024-01-02"), Amount: rmtest.Dec("1000"), Currency: "USD"})
	pc.Tx(portfolio.Transaction{Type: portfolio.Conversion, Date: rmtest.D("2024-01-02"), Amount: rmtest.Dec("100"), Currency: "USD",
		ToAmount: rmtest.Dec("90"), ToCurrency: "CHF"})
	yen := pc.Tx(portfolio.Transaction{Type: portfolio.Conversion, Date: rmtest.D("2024-01-03"), Amount: rmtest.Dec("100"), Currency: "USD",
		ToAmount: rmtest.Dec("15000"), ToCurrency: "JPY"})
	pc.Void(yen, "wrong currency")
	if _, err := rmtest.NewProjector(pool).ApplyBatch(ctx, pc.Events); err != nil {
		t.Fatal(err)
	}
	got, err := readmodel.IngestStore{DB: pool}.WatchList(ctx, time.Now())
	if err != nil || fmt.Sprint(got) != "[{CHFUSD=X [fx]} {SPY [benchmark]}]" {
		t.Fatalf("watch list %v, %v; want CHFUSD=X for the conversion into francs, nothing for the voided one into yen", got, err)
	}
}
