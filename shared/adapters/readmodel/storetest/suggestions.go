package storetest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// SuggestionStore is the store of suggested transactions: the offers' side and
// the owner's decisions.
type SuggestionStore interface {
	suggestions.OfferStore
	suggestions.DecisionStore
}

// SuggestionSubject is a suggestion store and the hook that seeds the
// portfolios and transactions its offers read.
type SuggestionSubject struct {
	Store SuggestionStore
	// Hold records a portfolio (not archived) and its active transactions, as
	// the projection would.
	Hold func(t *testing.T, h suggestions.Holder)
}

// RunSuggestions runs the suggestion store's suite; newSubject returns an
// empty store.
func RunSuggestions(t *testing.T, newSubject func(t *testing.T) SuggestionSubject) {
	run(t, newSubject, []testCase[SuggestionSubject]{
		{"HandCheckedOffers", testSuggestionsHandChecked},
		{"DividendAfterAnUnrecordedSplit", testSuggestionsDividendAfterSplit},
		{"DecisionsAndOwnership", testSuggestionsDecisions},
		{"OfferRaceStoresOnce", testSuggestionsOfferRace},
		{"AcceptRaceRecordsOnce", testSuggestionsAcceptRace},
		{"ClaimAndDismissRaceOneSideWins", testSuggestionsClaimDismissRace},
	})
}

// suggestionsNow is the suite's today: every action is in the past.
var suggestionsNow = time.Date(2024, 12, 2, 12, 0, 0, 0, time.UTC)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// held seeds portfolioID of userID (USD) with txs, numbered in order.
func held(t *testing.T, sub SuggestionSubject, userID, portfolioID string, txs ...portfolio.Transaction) {
	t.Helper()
	for i := range txs {
		txs[i].ID, txs[i].Seq, txs[i].Currency = uuid.New(), portfolio.SeqOf(int64(i+2), 0), "USD"
	}
	sub.Hold(t, suggestions.Holder{PortfolioID: portfolioID, UserID: userID, BaseCurrency: "USD", LotMethod: portfolio.FIFO, Transactions: txs})
}

func buy(date, symbol, qty string) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Buy, Date: day(date), Symbol: symbol, Quantity: dec(qty), Price: dec("10")}
}

func sell(date, symbol, qty string) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Sell, Date: day(date), Symbol: symbol, Quantity: dec(qty), Price: dec("12")}
}

func newOfferer(store suggestions.OfferStore) *suggestions.Offerer {
	return suggestions.NewOfferer(store, suggestions.Options{Now: func() time.Time { return suggestionsNow }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
}

func split4for1(symbol, date string) market.CorporateAction {
	return market.CorporateAction{Kind: market.ActionSplit, Symbol: symbol, Date: day(date), SplitFrom: dec("1"), SplitTo: dec("4"), Source: "fake"}
}

func dividend(symbol, exDate, payDate, cash string) market.CorporateAction {
	pay := day(payDate)
	return market.CorporateAction{Kind: market.ActionDividend, Symbol: symbol, Date: day(exDate), PayDate: &pay, CashAmount: dec(cash), Currency: "USD", Source: "fake"}
}

func pending(t *testing.T, s SuggestionStore, userID, portfolioID string) []suggestions.Suggestion {
	t.Helper()
	list, err := s.List(t.Context(), userID, portfolioID, suggestions.Pending)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// testSuggestionsHandChecked: the cases checked by hand.
func testSuggestionsHandChecked(t *testing.T, sub SuggestionSubject) {
	ctx, s := t.Context(), sub.Store
	held(t, sub, UserA, "split", buy("2024-01-02", "AAPL", "10"))
	held(t, sub, UserA, "dividend", buy("2024-01-02", "KO", "30"))
	held(t, sub, UserA, "sold-before", buy("2024-01-02", "KO", "30"), sell("2024-03-13", "KO", "30"))
	held(t, sub, UserA, "sold-on-ex-date", buy("2024-01-02", "KO", "30"), sell("2024-03-14", "KO", "30"))
	held(t, sub, UserA, "bought-on-ex-date", buy("2024-03-14", "KO", "30"))
	recorded := portfolio.Transaction{Type: portfolio.Dividend, Date: day("2024-04-02"), Symbol: "KO", Amount: dec("7.5")}
	held(t, sub, UserB, "recorded", buy("2024-01-02", "KO", "30"), recorded)
	held(t, sub, UserB, "split-recorded", buy("2024-01-02", "AAPL", "10"),
		portfolio.Transaction{Type: portfolio.Split, Date: day("2024-06-10"), Symbol: "AAPL", Ratio: portfolio.Ratio{New: 4, Old: 1}})

	actions := []market.CorporateAction{split4for1("AAPL", "2024-06-10"), dividend("KO", "2024-03-14", "2024-04-01", "0.25")}
	n, err := newOfferer(s).Offer(ctx, actions)
	if err != nil {
		t.Fatal(err)
	}
	// Bought 10 AAPL, then a 4:1 split: SPLIT 4:1 on the execution date.
	if got := pending(t, s, UserA, "split"); len(got) != 1 || got[0].Transaction.Type != portfolio.Split ||
		got[0].Transaction.Ratio != (portfolio.Ratio{New: 4, Old: 1}) || got[0].Transaction.Date != day("2024-06-10") || !got[0].Held.Equal(dec("10")) {
		t.Errorf("split: %+v, want SPLIT 4:1 on 2024-06-10 of 10 held", got)
	}
	// $0.25 with 30 held at the ex-date: DIVIDEND 7.50 (0.25 × 30), on the pay date.
	if got := pending(t, s, UserA, "dividend"); len(got) != 1 || got[0].Transaction.Type != portfolio.Dividend ||
		!got[0].Transaction.Amount.Equal(dec("7.50")) || got[0].Transaction.Date != day("2024-04-01") ||
		!got[0].Held.Equal(dec("30")) || !got[0].PerShare.Equal(dec("0.25")) || got[0].Transaction.Currency != "USD" ||
		got[0].Status != suggestions.Pending || got[0].Source != "fake" || got[0].PayDate == nil || *got[0].PayDate != day("2024-04-01") {
		t.Errorf("dividend: %+v, want DIVIDEND 7.50 on 2024-04-01", got)
	}
	// Sold the day before the ex-date: nothing held at the close before it.
	if got := pending(t, s, UserA, "sold-before"); len(got) != 0 {
		t.Errorf("sold before the ex-date: %+v", got)
	}
	// Sold on the ex-date: still held at the close before, so paid.
	if got := pending(t, s, UserA, "sold-on-ex-date"); len(got) != 1 || !got[0].Transaction.Amount.Equal(dec("7.5")) {
		t.Errorf("sold on the ex-date: %+v, want DIVIDEND 7.50", got)
	}
	// Bought on the ex-date: not a holder of record.
	if got := pending(t, s, UserA, "bought-on-ex-date"); len(got) != 0 {
		t.Errorf("bought on the ex-date: %+v", got)
	}
	// Already recorded (a dividend a day after the pay date, a split on the day): nothing.
	if got := pending(t, s, UserB, "recorded"); len(got) != 0 {
		t.Errorf("dividend already recorded: %+v", got)
	}
	if got := pending(t, s, UserB, "split-recorded"); len(got) != 0 {
		t.Errorf("split already recorded: %+v", got)
	}
	if n != 3 {
		t.Errorf("offer stored %d, want 3", n)
	}
	// Offered again: nothing new. Dismissed: never offered again.
	if n, err := newOfferer(s).Offer(ctx, actions); err != nil || n != 0 {
		t.Errorf("offered again: %d new (%v)", n, err)
	}
	id := suggestions.IDFor("dividend", "KO", market.ActionDividend, day("2024-03-14"))
	if _, err := s.Dismiss(ctx, UserA, "dividend", id); err != nil {
		t.Fatal(err)
	}
	if n, err := newOfferer(s).Offer(ctx, actions); err != nil || n != 0 {
		t.Errorf("offered after a dismiss: %d new (%v)", n, err)
	}
	if got := pending(t, s, UserA, "dividend"); len(got) != 0 {
		t.Errorf("dismissed, yet pending: %+v", got)
	}
	dismissed, err := s.List(ctx, UserA, "dividend", suggestions.Dismissed)
	if err != nil || len(dismissed) != 1 || dismissed[0].ID != id || dismissed[0].DecidedAt.IsZero() {
		t.Errorf("dismissed list: %+v (%v)", dismissed, err)
	}
}

// testSuggestionsDividendAfterSplit: a dividend after a provider's split the
// owner has not recorded is paid on the split shares (10 bought, 4:1, $0.25:
// 40 × 0.25 = 10.00); a future action waits.
func testSuggestionsDividendAfterSplit(t *testing.T, sub SuggestionSubject) {
	ctx, s := t.Context(), sub.Store
	held(t, sub, UserA, "p", buy("2024-01-02", "AAPL", "10"))
	future := dividend("AAPL", "2024-12-20", "2025-01-10", "0.30")
	n, err := newOfferer(s).Offer(ctx, []market.CorporateAction{future, dividend("AAPL", "2024-08-01", "2024-08-15", "0.25"), split4for1("AAPL", "2024-06-10")})
	if err != nil || n != 2 {
		t.Fatalf("offered %d (%v), want the split and the past dividend", n, err)
	}
	got := pending(t, s, UserA, "p")
	if len(got) != 2 || got[0].Kind != market.ActionDividend || !got[0].Transaction.Amount.Equal(dec("10")) || !got[0].Held.Equal(dec("40")) ||
		got[1].Kind != market.ActionSplit {
		t.Errorf("got %+v, want DIVIDEND 10.00 on 40 shares, then the SPLIT", got)
	}
}

// testSuggestionsDecisions: a dismiss and an accept are final, each repeatable;
// another user sees nothing and decides nothing.
func testSuggestionsDecisions(t *testing.T, sub SuggestionSubject) {
	ctx, s := t.Context(), sub.Store
	held(t, sub, UserA, "p", buy("2024-01-02", "AAPL", "10"), buy("2024-01-02", "KO", "30"))
	if _, err := newOfferer(s).Offer(ctx, []market.CorporateAction{split4for1("AAPL", "2024-06-10"), dividend("KO", "2024-03-14", "2024-04-01", "0.25")}); err != nil {
		t.Fatal(err)
	}
	splitID := suggestions.IDFor("p", "AAPL", market.ActionSplit, day("2024-06-10"))
	divID := suggestions.IDFor("p", "KO", market.ActionDividend, day("2024-03-14"))
	for _, probe := range []struct{ user, portfolio, id string }{
		{UserB, "p", splitID}, {UserA, "other", splitID}, {UserA, "p", "no-such-id"}, {"not-a-uuid", "p", splitID},
	} {
		if list, err := s.List(ctx, probe.user, probe.portfolio, suggestions.Pending); probe.id == splitID && (err != nil || len(list) != 0) {
			t.Errorf("%+v lists %+v (%v)", probe, list, err)
		}
		if _, err := s.Claim(ctx, probe.user, probe.portfolio, probe.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("%+v claims: %v", probe, err)
		}
		if _, err := s.Dismiss(ctx, probe.user, probe.portfolio, probe.id); !errors.Is(err, portfolio.ErrNotFound) {
			t.Errorf("%+v dismisses: %v", probe, err)
		}
	}
	// Dismissed: again is the same; a claim is refused.
	for range 2 {
		if sg, err := s.Dismiss(ctx, UserA, "p", divID); err != nil || sg.Status != suggestions.Dismissed {
			t.Fatalf("dismiss: %+v %v", sg, err)
		}
	}
	if _, err := s.Claim(ctx, UserA, "p", divID); !errors.Is(err, suggestions.ErrDismissed) {
		t.Errorf("claim of a dismissed one: %v", err)
	}
	// Claimed: released when its transaction was not recorded, completed when it was.
	sg, err := s.Claim(ctx, UserA, "p", splitID)
	if err != nil || sg.Status != suggestions.Accepted || sg.TransactionID != "" || sg.DecidedAt.IsZero() {
		t.Fatalf("claim: %+v %v", sg, err)
	}
	if err := s.Release(ctx, UserA, "p", splitID); err != nil {
		t.Fatal(err)
	}
	if got := pending(t, s, UserA, "p"); len(got) != 1 || got[0].ID != splitID || !got[0].DecidedAt.IsZero() {
		t.Fatalf("released: %+v", got)
	}
	if _, err := s.Claim(ctx, UserA, "p", splitID); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, UserA, "p", splitID, "tx-1", 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, UserA, "p", splitID); err != nil { // recorded: stays accepted
		t.Fatal(err)
	}
	if _, err := s.Dismiss(ctx, UserA, "p", splitID); !errors.Is(err, suggestions.ErrAccepted) {
		t.Errorf("dismiss of an accepted one: %v", err)
	}
	sg, err = s.Claim(ctx, UserA, "p", splitID)
	if err != nil || sg.TransactionID != "tx-1" || sg.Version != 7 || sg.Status != suggestions.Accepted ||
		sg.Transaction.Ratio != (portfolio.Ratio{New: 4, Old: 1}) || sg.Transaction.Note == "" {
		t.Errorf("claim again: %+v %v", sg, err)
	}
	accepted, err := s.List(ctx, UserA, "p", suggestions.Accepted)
	if err != nil || len(accepted) != 1 || accepted[0].ID != splitID {
		t.Errorf("accepted list: %+v %v", accepted, err)
	}
}

// testSuggestionsOfferRace: backfills offering one action at once store one
// suggestion between them.
func testSuggestionsOfferRace(t *testing.T, sub SuggestionSubject) {
	held(t, sub, UserA, "p", buy("2024-01-02", "KO", "30"))
	var stored atomic.Int64
	race(racers, func(i int) {
		n, err := newOfferer(sub.Store).Offer(context.Background(), []market.CorporateAction{dividend("KO", "2024-03-14", "2024-04-01", "0.25")})
		if err != nil {
			t.Errorf("offer %d: %v", i, err)
		}
		stored.Add(int64(n))
	})
	if stored.Load() != 1 || len(pending(t, sub.Store, UserA, "p")) != 1 {
		t.Errorf("%d stored, want 1", stored.Load())
	}
}

// testSuggestionsAcceptRace: accepts of one suggestion at once record its
// transaction once, through the command service; a later accept answers it
// again without writing; another user's accept finds no suggestion.
func testSuggestionsAcceptRace(t *testing.T, sub SuggestionSubject) {
	ctx := t.Context()
	events := eventstore.NewMemory()
	commands := command.New(events, command.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	res, err := commands.Create(ctx, command.Request{UserID: UserA, CommandID: "create"}, portfolio.CreatePortfolio{Name: "p", BaseCurrency: "USD", LotMethod: portfolio.FIFO})
	if err != nil {
		t.Fatal(err)
	}
	pid := res.AggregateID
	bought, err := commands.Execute(ctx, command.Request{AggregateID: pid, UserID: UserA}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		_, err := p.RecordTransaction(portfolio.Transaction{Type: portfolio.Buy, Date: day("2024-01-02"), Symbol: "AAPL", Quantity: dec("10"), Price: dec("10"), Currency: "USD"}, meta)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	held(t, sub, UserA, pid, bought.Events[0].Data.(*portfolio.TransactionRecorded).Transaction)
	if _, err := newOfferer(sub.Store).Offer(ctx, []market.CorporateAction{split4for1("AAPL", "2024-06-10")}); err != nil {
		t.Fatal(err)
	}
	id := suggestions.IDFor(pid, "AAPL", market.ActionSplit, day("2024-06-10"))
	decisions := suggestions.NewDecisions(sub.Store, commands)
	if _, err := decisions.Accept(ctx, suggestions.AcceptRequest{UserID: UserB, PortfolioID: pid, SuggestionID: id}); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("another user's accept: %v", err)
	}
	txIDs := make([]string, racers)
	race(racers, func(i int) {
		acc, err := decisions.Accept(context.Background(), suggestions.AcceptRequest{UserID: UserA, PortfolioID: pid, SuggestionID: id})
		if err != nil {
			t.Errorf("accept %d: %v", i, err)
			return
		}
		txIDs[i] = acc.Transaction.ID
	})
	all, err := events.Events(ctx, pid, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var splits []portfolio.Transaction
	for _, e := range all {
		if rec, ok := e.Data.(*portfolio.TransactionRecorded); ok && rec.Type == portfolio.Split {
			splits = append(splits, rec.Transaction)
		}
	}
	if len(splits) != 1 || splits[0].Ratio != (portfolio.Ratio{New: 4, Old: 1}) || splits[0].Date != day("2024-06-10") {
		t.Fatalf("recorded %+v, want one SPLIT 4:1", splits)
	}
	if slices.ContainsFunc(txIDs, func(s string) bool { return s != splits[0].ID }) {
		t.Errorf("accepts answered %v, want %s each", txIDs, splits[0].ID)
	}
	again, err := decisions.Accept(ctx, suggestions.AcceptRequest{UserID: UserA, PortfolioID: pid, SuggestionID: id})
	if err != nil || !again.Replayed || again.Transaction.ID != splits[0].ID || again.Version != int64(len(all)) {
		t.Errorf("accept again: %+v %v, want the recorded split at version %d", again, err, len(all))
	}
	if after, _ := events.Events(ctx, pid, 1, 0); len(after) != len(all) {
		t.Errorf("accept again wrote %d events", len(after)-len(all))
	}
}

// testSuggestionsClaimDismissRace: accepts and dismisses of one suggestion at
// once: one side wins, every decision of the other is refused, and the row
// says who won.
func testSuggestionsClaimDismissRace(t *testing.T, sub SuggestionSubject) {
	s := sub.Store
	held(t, sub, UserA, "p", buy("2024-01-02", "KO", "30"))
	if _, err := newOfferer(s).Offer(t.Context(), []market.CorporateAction{dividend("KO", "2024-03-14", "2024-04-01", "0.25")}); err != nil {
		t.Fatal(err)
	}
	id := suggestions.IDFor("p", "KO", market.ActionDividend, day("2024-03-14"))
	var claimed, dismissed atomic.Int64
	race(racers, func(i int) {
		var err error
		if i%2 == 0 {
			if _, err = s.Claim(context.Background(), UserA, "p", id); err == nil {
				claimed.Add(1)
			} else if !errors.Is(err, suggestions.ErrDismissed) {
				t.Errorf("claim %d: %v", i, err)
			}
			return
		}
		if _, err = s.Dismiss(context.Background(), UserA, "p", id); err == nil {
			dismissed.Add(1)
		} else if !errors.Is(err, suggestions.ErrAccepted) {
			t.Errorf("dismiss %d: %v", i, err)
		}
	})
	want := suggestions.Accepted
	if dismissed.Load() > 0 {
		want = suggestions.Dismissed
	}
	if (claimed.Load() > 0) == (dismissed.Load() > 0) {
		t.Fatalf("%d claims and %d dismisses succeeded: one side must win", claimed.Load(), dismissed.Load())
	}
	list, err := s.List(t.Context(), UserA, "p", want)
	if err != nil || len(list) != 1 {
		t.Errorf("%s: %+v (%v)", want, list, err)
	}
}
