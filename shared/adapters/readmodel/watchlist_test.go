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
// (transactions.to_currency) needs its pair; a voided one does not. The rows are
// written directly: the projector of this branch does not write to_currency
// yet (the contract suite covers the rest, through the projector).
func TestWatchListConversionsIncomingCurrency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	if _, err := pool.Exec(ctx, `
insert into portfolios (id, user_id, name, base_currency, lot_method, archived, created_at, updated_at, version, benchmark)
values ('pc', $1::uuid, 'p', 'USD', 'FIFO', false, now(), now(), 1, 'SPY');
insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, amount, currency, to_amount, to_currency, voided, recorded_at, version)
values ('c1', 'pc', $1::uuid, 1, 'conversion', '2024-01-02', 100, 'USD', 90, 'CHF', false, now(), 1),
       ('c2', 'pc', $1::uuid, 2, 'conversion', '2024-01-03', 100, 'USD', 15000, 'JPY', true, now(), 2)`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	got, err := readmodel.IngestStore{DB: pool}.WatchList(ctx, time.Now())
	if err != nil || fmt.Sprint(got) != "[{CHFUSD=X [fx]} {SPY [benchmark]}]" {
		t.Fatalf("watch list %v, %v; want CHFUSD=X for the conversion into francs, nothing for the voided one into yen", got, err)
	}
}
