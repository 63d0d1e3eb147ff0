package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
)

// TestPositionsCarryWeightsAndTheDaysChange: each priced position has its
// weight, and its change since the last close before its price's day (New
// York), not today's close the live ticks write; a position without such a
// close has a weight only; the totals sum the day's changes. On the
// in-memory stores and on PostgreSQL.
func TestPositionsCarryWeightsAndTheDaysChange(t *testing.T) {
	t.Parallel()
	for name, newAPI := range map[string]func(t *testing.T) *fullAPI{
		"memory":   newFullAPI,
		"postgres": func(t *testing.T) *fullAPI { return newPostgresAPI(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newAPI(t)
			// 11:00 in New York on Tuesday 2 July; Monday's closes are the previous ones.
			now := time.Date(2024, 7, 2, 15, 0, 0, 0, time.UTC)
			closed := time.Date(2024, 7, 1, 20, 0, 0, 0, time.UTC)
			if err := f.market(t.Context(), []readmodel.LatestPrice{
				{Symbol: "AAPL", Price: rmtest.Dec("110"), Currency: "USD", AsOf: now, Source: "test"},
				{Symbol: "MSFT", Price: rmtest.Dec("290"), Currency: "USD", AsOf: now, Source: "test"},
				{Symbol: "NVDA", Price: rmtest.Dec("500"), Currency: "USD", AsOf: now, Source: "test"},
			}, []readmodel.DailyClose{
				{Symbol: "AAPL", Day: rmtest.D("2024-06-28"), Close: rmtest.Dec("95"), AsOf: closed.AddDate(0, 0, -3), Source: "test"},
				{Symbol: "AAPL", Day: rmtest.D("2024-07-01"), Close: rmtest.Dec("100"), AsOf: closed, Source: "test"},
				{Symbol: "AAPL", Day: rmtest.D("2024-07-02"), Close: rmtest.Dec("110"), AsOf: now, Source: "test"}, // today's, from the ticks
				{Symbol: "MSFT", Day: rmtest.D("2024-06-28"), Close: rmtest.Dec("280"), AsOf: closed.AddDate(0, 0, -3), Source: "test"},
			}); err != nil {
				t.Fatal(err)
			}
			id := f.createPortfolio(alice, "day-change")
			f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"100"}`)
			f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"MSFT","quantity":"10","price":"300"}`)
			f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"NVDA","quantity":"1","price":"500"}`)
			f.record(alice, id, `{"type":"BUY","date":"2024-01-02","symbol":"TSLA","quantity":"1","price":"200"}`)
			f.record(alice, id, `{"type":"SELL","date":"2024-01-03","symbol":"TSLA","quantity":"1","price":"210"}`)
			f.project(id)
			r := f.do(alice, "GET", "/portfolios/"+id+"/positions", "")
			f.expect(r, 200, "")
			var body httpapi.PositionsResponse
			if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
				t.Fatal(err)
			}
			str := func(d any) string {
				b, _ := json.Marshal(d)
				return string(b)
			}
			got := map[string]string{}
			for _, p := range body.Positions {
				got[p.Symbol] = str(p.Weight) + " " + str(p.PreviousClose) + " " + str(p.PreviousCloseDate) + " " + str(p.DayChange) + " " + str(p.DayChangeRatio)
			}
			// Values 1100, 2900, 500 of 4500. AAPL: 1100 − 1100 × 100/110 = 100;
			// MSFT (Friday's close, over the weekend): 2900 − 2900 × 280/290 = 100.
			for sym, want := range map[string]string{
				"AAPL": `"0.244444" "100" "2024-07-01" "100" "0.1"`,
				"MSFT": `"0.644444" "280" "2024-06-28" "100" "0.035714"`,
				"NVDA": `"0.111111" null null null null`,
				"TSLA": `null null null null null`,
			} {
				if got[sym] != want {
					t.Errorf("%s: %s, want %s", sym, got[sym], want)
				}
			}
			// 200 on 1000 + 2800 at the previous closes.
			if d, ratio := str(body.Totals.DayChange), str(body.Totals.DayChangeRatio); d != `"200"` || ratio != `"0.052632"` {
				t.Errorf("totals: day change %s, ratio %s", d, ratio)
			}
		})
	}
}
