package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// fakeActions is a corporate-action provider as the backfill sees one
// (marketdata.CorporateActionProvider): the actions it knows, by symbol.
type fakeActions map[string][]market.CorporateAction

func (fakeActions) Name() string { return "fake" }

func (f fakeActions) CorporateActions(_ context.Context, symbol string, from, to calendar.Date) ([]market.CorporateAction, error) {
	var out []market.CorporateAction
	for _, a := range f[symbol] {
		if !a.Date.Before(from) && !a.Date.After(to) {
			out = append(out, a)
		}
	}
	return out, nil
}

// backfill does what the backfill does with a symbol's actions: fetch them from
// the provider and offer them.
func (f *fullAPI) backfill(provider fakeActions, symbols ...string) int {
	f.t.Helper()
	offerer := suggestions.NewOfferer(f.offers, suggestions.Options{
		Now:    func() time.Time { return time.Date(2024, 12, 2, 0, 0, 0, 0, time.UTC) },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	total := 0
	for _, symbol := range symbols {
		actions, err := provider.CorporateActions(context.Background(), symbol, calendar.MustNew(2024, 1, 1), calendar.MustNew(2024, 12, 1))
		if err != nil {
			f.t.Fatal(err)
		}
		n, err := offerer.Offer(context.Background(), actions)
		if err != nil {
			f.t.Fatal(err)
		}
		total += n
	}
	return total
}

// On the in-memory stores, and on DynamoDB Local and PostgreSQL: the
// projector writes the transactions the offer reads (over the owner's pool),
// and the API decides through its own login, as the caller, RLS on.
func TestSuggestionsAreOfferedThenAcceptedOrDismissedByTheOwner(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		testSuggestionsLifecycle(t, newFullAPI(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testSuggestionsLifecycle(t, newPostgresAPI(t))
	})
}

func testSuggestionsLifecycle(t *testing.T, f *fullAPI) {
	id := f.createPortfolio(bob, "sugg-1")
	p := "/portfolios/" + id
	f.record(bob, id, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"180"}`)
	f.record(bob, id, `{"type":"BUY","date":"2024-01-02","symbol":"KO","quantity":"30","price":"60"}`)
	f.project(id)
	pay := calendar.MustNew(2024, 4, 1)
	provider := fakeActions{
		"AAPL": {{Kind: market.ActionSplit, Symbol: "AAPL", Date: calendar.MustNew(2024, 6, 10), SplitFrom: decimal.NewFromInt(1), SplitTo: decimal.NewFromInt(4), Source: "fake"}},
		"KO":   {{Kind: market.ActionDividend, Symbol: "KO", Date: calendar.MustNew(2024, 3, 14), PayDate: &pay, CashAmount: decimal.RequireFromString("0.25"), Currency: "USD", Source: "fake"}},
	}
	if n := f.backfill(provider, "AAPL", "KO"); n != 2 {
		t.Fatalf("offered %d, want the split and the dividend", n)
	}

	list := f.do(bob, "GET", p+"/suggestions", "")
	f.expect(list, 200, "")
	items := list.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("pending: %s", list.raw)
	}
	// Newest first: the 4:1 split after buying 10, then $0.25 on 30 held at the ex-date = 7.5.
	split, div := items[0].(map[string]any), items[1].(map[string]any)
	splitTx, divTx := split["transaction"].(map[string]any), div["transaction"].(map[string]any)
	if split["kind"] != "split" || split["held"] != "10" || splitTx["type"] != "SPLIT" || splitTx["ratio"] != "4:1" || splitTx["date"] != "2024-06-10" ||
		div["kind"] != "dividend" || div["held"] != "30" || div["perShare"] != "0.25" || divTx["type"] != "DIVIDEND" || divTx["amount"] != "7.5" ||
		divTx["date"] != "2024-04-01" || div["status"] != "pending" || div["payDate"] != "2024-04-01" {
		t.Fatalf("pending: %s", list.raw)
	}
	splitID, divID := split["id"].(string), div["id"].(string)

	// Accepted: recorded as POST /transactions records it, once.
	acc := f.do(bob, "POST", p+"/suggestions/"+splitID+"/accept", "")
	f.expect(acc, 201, "")
	txID := acc.data()["transactionId"].(string)
	if acc.data()["type"] != "SPLIT" || acc.data()["ratio"] != "4:1" || acc.body["version"] != float64(4) || acc.headers["Etag"] != `"4"` || acc.body["replayed"] != false {
		t.Fatalf("accept: %s %v", acc.raw, acc.headers)
	}
	again := f.do(bob, "POST", p+"/suggestions/"+splitID+"/accept", "")
	f.expect(again, 200, "")
	if again.data()["transactionId"] != txID || again.body["replayed"] != true || again.body["version"] != float64(4) {
		t.Fatalf("accept again: %s", again.raw)
	}
	f.project(id)
	pos := f.do(bob, "GET", p+"/positions", "")
	f.expect(pos, 200, "")
	if aapl := pos.body["positions"].([]any)[0].(map[string]any); aapl["symbol"] != "AAPL" || aapl["quantity"] != "40" {
		t.Fatalf("positions after the split: %s", pos.raw)
	}
	txs := f.do(bob, "GET", p+"/transactions", "")
	if n := len(txs.body["items"].([]any)); n != 3 {
		t.Fatalf("%d transactions, want the two buys and one split: %s", n, txs.raw)
	}

	// Dismissed: final, and never offered again.
	dis := f.do(bob, "POST", p+"/suggestions/"+divID+"/dismiss", "")
	f.expect(dis, 200, "")
	if dis.body["status"] != "dismissed" || dis.body["decidedAt"] == nil {
		t.Fatalf("dismiss: %s", dis.raw)
	}
	f.expect(f.do(bob, "POST", p+"/suggestions/"+divID+"/dismiss", ""), 200, "")
	f.expect(f.do(bob, "POST", p+"/suggestions/"+divID+"/accept", ""), 409, "suggestion_dismissed")
	f.expect(f.do(bob, "POST", p+"/suggestions/"+splitID+"/dismiss", ""), 409, "suggestion_accepted")
	if n := f.backfill(provider, "AAPL", "KO"); n != 0 {
		t.Fatalf("offered %d again", n)
	}
	if pending := f.do(bob, "GET", p+"/suggestions", ""); len(pending.body["items"].([]any)) != 0 {
		t.Fatalf("pending after the decisions: %s", pending.raw)
	}
	accepted := f.do(bob, "GET", p+"/suggestions?status=accepted", "")
	f.expect(accepted, 200, "")
	if items := accepted.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["transactionId"] != txID {
		t.Fatalf("accepted: %s", accepted.raw)
	}
	f.expect(f.do(bob, "GET", p+"/suggestions?status=maybe", ""), 400, "bad_request")

	// Anyone else: the 404 of an unknown portfolio or suggestion.
	unknown := f.do(bob, "POST", p+"/suggestions/no-such-suggestion/accept", "")
	f.expect(unknown, 404, "not_found")
	for _, r := range []response{
		f.do(alice, "GET", p+"/suggestions", ""),
		f.do(alice, "POST", p+"/suggestions/"+divID+"/accept", ""),
		f.do(alice, "POST", p+"/suggestions/"+divID+"/dismiss", ""),
	} {
		if r.status != 404 || r.raw != unknown.raw {
			t.Errorf("alice on bob's suggestions: %d %s, want %s", r.status, r.raw, unknown.raw)
		}
	}
}

// A sale before the ex-date leaves nothing to suggest; a dividend already
// recorded is not suggested again.
func TestSuggestionsSkipWhatWasNotHeldOrIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	sold := f.createPortfolio(bob, "sugg-sold")
	f.record(bob, sold, `{"type":"BUY","date":"2024-01-02","symbol":"KO","quantity":"30","price":"60"}`)
	f.record(bob, sold, `{"type":"SELL","date":"2024-03-13","symbol":"KO","quantity":"30","price":"61"}`)
	recorded := f.createPortfolio(bob, "sugg-recorded")
	f.record(bob, recorded, `{"type":"BUY","date":"2024-01-02","symbol":"KO","quantity":"30","price":"60"}`)
	f.record(bob, recorded, `{"type":"DIVIDEND","date":"2024-04-01","symbol":"KO","amount":"7.50"}`)
	f.project(sold, recorded)
	pay := calendar.MustNew(2024, 4, 1)
	provider := fakeActions{"KO": {{Kind: market.ActionDividend, Symbol: "KO", Date: calendar.MustNew(2024, 3, 14), PayDate: &pay,
		CashAmount: decimal.RequireFromString("0.25"), Currency: "USD", Source: "fake"}}}
	if n := f.backfill(provider, "KO"); n != 0 {
		t.Fatalf("offered %d, want none", n)
	}
	for _, id := range []string{sold, recorded} {
		r := f.do(bob, "GET", "/portfolios/"+id+"/suggestions", "")
		f.expect(r, 200, "")
		if len(r.body["items"].([]any)) != 0 {
			t.Errorf("%s: %s", id, r.raw)
		}
	}
}
