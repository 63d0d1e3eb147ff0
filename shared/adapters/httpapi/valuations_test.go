package httpapi_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// The intraday valuations the prices function records are served a page at a
// time, oldest first, to their owner only.
func TestValuationsArePagedToTheirOwner(t *testing.T) {
	t.Parallel()
	f := newFullAPI(t)
	id := f.createPortfolio(alice, "v-1")
	f.project(id)
	base := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var rows []readmodel.Valuation
	for i := range 5 {
		rows = append(rows, readmodel.Valuation{PortfolioID: id, UserID: alice, AsOf: base.Add(time.Duration(i) * time.Minute),
			MarketValue: decimal.NewFromInt(int64(1000 + i)), CostBasis: decimal.NewFromInt(900), UnrealizedPnL: decimal.NewFromInt(int64(100 + i))})
	}
	if _, err := f.valuations.InsertValuations(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	p := "/portfolios/" + id + "/valuations?"
	q := url.Values{"from": {base.Format(time.RFC3339)}, "to": {base.Add(time.Hour).Format(time.RFC3339)}, "limit": {"3"}}
	first := f.do(alice, "GET", p+q.Encode(), "")
	f.expect(first, 200, "")
	items := first.body["items"].([]any)
	if len(items) != 3 || items[0].(map[string]any)["marketValue"] != "1000" || items[2].(map[string]any)["unrealizedPnL"] != "102" {
		t.Fatalf("first page %v", first.body)
	}
	next, ok := first.body["nextFrom"].(string)
	if !ok {
		t.Fatalf("a full page without nextFrom: %v", first.body)
	}
	q.Set("from", next)
	second := f.do(alice, "GET", p+q.Encode(), "")
	f.expect(second, 200, "")
	if items := second.body["items"].([]any); len(items) != 2 || items[0].(map[string]any)["marketValue"] != "1003" || second.body["nextFrom"] != nil {
		t.Fatalf("second page %v", second.body)
	}
	f.expect(f.do(bob, "GET", p+q.Encode(), ""), 404, "not_found")
	for _, bad := range []string{"from=yesterday", "from=2026-03-02T16:00:00Z&to=2026-03-02T15:00:00Z", "limit=0"} {
		f.expect(f.do(alice, "GET", p+bad, ""), 400, "bad_request")
	}
}
