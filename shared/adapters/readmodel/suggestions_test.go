package readmodel_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// The backfill offers over the owner's pool; the API decides as the caller
// (its own login, RLS on): the owner reads and decides its suggestions,
// another user neither sees nor decides them, the API's role inserts none, and
// Supabase's Data API role (authenticated) only reads.
func TestSuggestionsAsTheCaller(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, dsn := rmtest.DB(t)
	callerDB, _ := readmodeltest.API(t, dsn)
	putHolder(t, pool, suggestions.Holder{PortfolioID: "pa", UserID: rmtest.UserA, BaseCurrency: "USD", LotMethod: portfolio.FIFO,
		Transactions: []portfolio.Transaction{{ID: "t1", Seq: portfolio.SeqOf(2, 0), Type: portfolio.Buy, Date: calendar.MustNew(2024, 1, 2),
			Symbol: "AAPL", Quantity: decimal.RequireFromString("10"), Price: decimal.RequireFromString("10"), Currency: "USD"}}})
	split := market.CorporateAction{Kind: market.ActionSplit, Symbol: "AAPL", Date: calendar.MustNew(2024, 6, 10),
		SplitFrom: decimal.NewFromInt(1), SplitTo: decimal.NewFromInt(4), Source: "polygon"}
	offerer := suggestions.NewOfferer(readmodel.NewSuggestions(pool), suggestions.Options{Now: func() time.Time { return time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC) }})
	if n, err := offerer.Offer(ctx, []market.CorporateAction{split}); err != nil || n != 1 {
		t.Fatalf("offer: %d %v", n, err)
	}
	id := suggestions.IDFor("pa", "AAPL", market.ActionSplit, split.Date)

	api := readmodel.NewSuggestions(callerDB)
	if list, err := api.List(ctx, rmtest.UserB, "pa", suggestions.Pending); err != nil || len(list) != 0 {
		t.Errorf("B lists %+v (%v)", list, err)
	}
	if _, err := api.Dismiss(ctx, rmtest.UserB, "pa", id); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("B dismisses: %v", err)
	}
	if err := api.Complete(ctx, rmtest.UserB, "pa", id, "tx-b", 9); err == nil {
		t.Error("B completed A's suggestion")
	}
	list, err := api.List(ctx, rmtest.UserA, "pa", suggestions.Pending)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Transaction.Ratio != (portfolio.Ratio{New: 4, Old: 1}) {
		t.Fatalf("A lists %+v (%v)", list, err)
	}
	if _, err := api.Claim(ctx, rmtest.UserA, "pa", id); err != nil {
		t.Fatal(err)
	}
	if err := api.Complete(ctx, rmtest.UserA, "pa", id, "tx-a", 3); err != nil {
		t.Fatal(err)
	}
	if sg, err := api.Claim(ctx, rmtest.UserA, "pa", id); err != nil || sg.TransactionID != "tx-a" || sg.Version != 3 {
		t.Errorf("claim after complete: %+v %v", sg, err)
	}
	if _, err := api.Propose(ctx, list); err == nil {
		t.Error("the API's role inserted a suggestion")
	}
	asRole(t, pool, "authenticated", rmtest.UserA, func(tx pgx.Tx) {
		if n, err := count(t, tx, `select count(*) from suggestions`); err != nil || n != 1 {
			t.Errorf("authenticated reads %d of its own (%v)", n, err)
		}
		if _, err := tx.Exec(ctx, `update suggestions set status = 'pending'`); err == nil {
			t.Error("authenticated (the Data API) updated a suggestion")
		}
	})
}
