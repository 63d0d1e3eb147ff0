package suggestions_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

const owner = "0a0a0a0a-0000-4000-8000-00000000000a"

// TestAcceptAForeignDividendAsksTheCommandServiceForTheRate: a USD dividend
// offered to a EUR portfolio holding USD shares is accepted as the owner
// recording it would: the transaction goes to the command service without an
// fxRate, for it to look the pay date's rate up. A command service that finds
// none (here: one wired with no rates at all) refuses it with
// fx_rate_required, nothing is recorded, and the suggestion is pending again,
// to accept once the rate is known.
func TestAcceptAForeignDividendAsksTheCommandServiceForTheRate(t *testing.T) {
	ctx := context.Background()
	events := eventstore.NewMemory()
	commands := command.New(events, command.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	res, err := commands.Create(ctx, command.Request{UserID: owner, CommandID: "create"}, portfolio.CreatePortfolio{Name: "eur", BaseCurrency: "EUR", LotMethod: portfolio.FIFO})
	if err != nil {
		t.Fatal(err)
	}
	pid := res.AggregateID
	buy := portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2024, time.January, 2), Symbol: "AAPL", Quantity: decimal.NewFromInt(10),
		Price: decimal.NewFromInt(180), Currency: "USD", FXRate: decimal.RequireFromString("0.91")}
	bought, err := commands.Execute(ctx, command.Request{AggregateID: pid, UserID: owner}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		_, err := p.RecordTransaction(buy, meta)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	holdings := memstore.NewHoldings()
	holdings.Put(suggestions.Holder{PortfolioID: pid, UserID: owner, BaseCurrency: "EUR", LotMethod: portfolio.FIFO,
		Transactions: []portfolio.Transaction{bought.Events[0].Data.(*portfolio.TransactionRecorded).Transaction}})
	store := memstore.NewSuggestions(holdings)
	ex, pay := calendar.MustNew(2024, time.May, 10), calendar.MustNew(2024, time.May, 16)
	offerer := suggestions.NewOfferer(store, suggestions.Options{Now: func() time.Time { return time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC) },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if n, err := offerer.Offer(ctx, []market.CorporateAction{{Kind: market.ActionDividend, Symbol: "AAPL", Date: ex, PayDate: &pay,
		CashAmount: decimal.RequireFromString("0.25"), Currency: "USD", Source: "fake"}}); err != nil || n != 1 {
		t.Fatalf("offered %d: %v", n, err)
	}
	id := suggestions.IDFor(pid, "AAPL", market.ActionDividend, ex)
	_, err = suggestions.NewDecisions(store, commands).Accept(ctx, suggestions.AcceptRequest{UserID: owner, PortfolioID: pid, SuggestionID: id})
	if !errors.Is(err, portfolio.ErrFXRateRequired) {
		t.Fatalf("accept with no rate to be found: %v, want fx_rate_required", err)
	}
	list, err := store.List(ctx, owner, pid, suggestions.Pending)
	if err != nil || len(list) != 1 {
		t.Fatalf("pending after the refusal: %+v %v", list, err)
	}
	// 10 × 0.25 = 2.5 USD on the pay date, no rate of its own.
	if tx := list[0].Transaction; tx.Type != portfolio.Dividend || tx.Currency != "USD" || !tx.Amount.Equal(decimal.RequireFromString("2.5")) ||
		tx.Date != pay || !tx.FXRate.IsZero() {
		t.Errorf("suggested %+v", tx)
	}
	if all, _ := events.Events(ctx, pid, 1, 0); len(all) != 2 {
		t.Errorf("%d events, want the creation and the buy only", len(all))
	}
}
