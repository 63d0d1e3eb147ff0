package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// A portfolio's symbols are served to its owner only, each with why it is the
// portfolio's and where its history stands: null before the backfill records
// it, the filled range once it fills.
func TestPortfolioSymbolsToTheirOwner(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	id := f.createPortfolio(alice, "s-1")
	f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"100"}`)
	f.project(id)
	from, to := calendar.MustNew(2024, 1, 2), calendar.MustNew(2026, 2, 27)
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	if err := f.setHistories(context.Background(), []market.HistoryStatus{
		{Symbol: "AAPL", State: market.HistoryFilling, NeededFrom: from, FilledFrom: &to, FilledTo: &to, Source: "polygon", UpdatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	r := f.do(alice, "GET", "/portfolios/"+id+"/symbols", "")
	f.expect(r, 200, "")
	items, _ := r.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("items %v", r.body)
	}
	aapl, spy := items[0].(map[string]any), items[1].(map[string]any)
	h, _ := aapl["history"].(map[string]any)
	if aapl["symbol"] != "AAPL" || render(aapl["roles"]) != `["held","traded"]` || h["state"] != "filling" || h["neededFrom"] != "2024-01-02" ||
		h["filledFrom"] != "2026-02-27" || h["filledTo"] != "2026-02-27" || h["source"] != "polygon" || h["updatedAt"] != "2026-03-02T15:00:00Z" {
		t.Errorf("AAPL %v", aapl)
	}
	if v, present := spy["history"]; spy["symbol"] != "SPY" || render(spy["roles"]) != `["benchmark"]` || !present || v != nil {
		t.Errorf("the default benchmark, not recorded yet: %v", spy)
	}
	f.expect(f.do(bob, "GET", "/portfolios/"+id+"/symbols", ""), 404, "not_found")
}

func render(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
