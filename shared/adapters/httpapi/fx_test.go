package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/shopspring/decimal"
)

// TestForeignTransactionsThroughTheAPI: a EUR investor records and imports
// (Ghostfolio exports, one in USD, one in GBp) transactions without fxRate;
// each gets the rate of its date from the daily closes, recorded with it; one
// without a rate is refused with fx_rate_required naming the pair and the
// date (an import names the row). The positions are valued in EUR at the
// latest prices in their trading currencies and the live rates, with their
// local figures and the price and currency effects; the cash per currency
// with its value. On the in-memory stores and on PostgreSQL.
func TestForeignTransactionsThroughTheAPI(t *testing.T) {
	t.Parallel()
	for name, newAPI := range map[string]func(t *testing.T) *fullAPI{
		"memory":   newFullAPI,
		"postgres": func(t *testing.T) *fullAPI { return newPostgresAPI(t) },
	} {
		t.Run(name, func(t *testing.T) { t.Parallel(); foreignTransactions(t, newAPI(t)) })
	}
}

func foreignTransactions(t *testing.T, f *fullAPI) {
	live := time.Date(2024, 7, 1, 20, 0, 0, 0, time.UTC)
	if err := f.market(context.Background(), []readmodel.LatestPrice{
		{Symbol: "EURUSD=X", Price: rmtest.Dec("1.08"), Currency: "USD", AsOf: live, Source: "test"},
		{Symbol: "GBPUSD=X", Price: rmtest.Dec("1.25"), Currency: "USD", AsOf: live, Source: "test"},
		{Symbol: "AAPL", Price: rmtest.Dec("190"), Currency: "USD", AsOf: live, Source: "test"},
		{Symbol: "VUSA.L", Price: rmtest.Dec("7600"), Currency: "GBp", AsOf: live, Source: "test"},
	}, []readmodel.DailyClose{
		{Symbol: "EURUSD=X", Day: rmtest.D("2024-01-02"), Close: rmtest.Dec("1.10"), AsOf: live, Source: "test"},
		{Symbol: "EURUSD=X", Day: rmtest.D("2024-01-05"), Close: rmtest.Dec("1.09"), AsOf: live, Source: "test"},
		{Symbol: "GBPUSD=X", Day: rmtest.D("2024-01-02"), Close: rmtest.Dec("1.27"), AsOf: live, Source: "test"},
	}); err != nil {
		t.Fatal(err)
	}
	r := f.do(alice, "POST", "/portfolios", `{"name":"Euro","baseCurrency":"EUR"}`, "Idempotency-Key", "fx-create")
	f.expect(r, 201, "")
	id := r.data()["id"].(string)
	p := "/portfolios/" + id
	f.record(alice, id, `{"type":"DEPOSIT","date":"2024-01-02","amount":"10000","currency":"EUR"}`)

	// USD rows: the 3rd takes the 2nd's close (1/1.10), the 5th its own (1/1.09).
	usd := `{"activities":[
  {"date":"2024-01-03","type":"BUY","symbol":"AAPL","quantity":10,"unitPrice":150,"fee":1,"currency":"USD"},
  {"date":"2024-01-05","type":"DIVIDEND","symbol":"AAPL","quantity":10,"unitPrice":0.5,"fee":0,"currency":"USD"}
]}`
	f.expect(f.do(alice, "POST", p+"/import", usd), 201, "")
	// GBp: pence, whose rate is per pound, through USD: 1.27 × 1/1.10.
	gbp := `{"activities":[{"date":"2024-01-04","type":"BUY","symbol":"VUSA.L","quantity":100,"unitPrice":7000,"fee":0,"currency":"GBp"}]}`
	f.expect(f.do(alice, "POST", p+"/import", gbp), 201, "")
	// A rate given is kept.
	f.record(alice, id, `{"type":"DEPOSIT","date":"2024-01-08","amount":"500","currency":"USD","fxRate":"0.95"}`)

	// No JPY pair: refused, naming the pair and the date, alone or as a row.
	refused := f.do(alice, "POST", p+"/transactions", `{"type":"BUY","date":"2024-01-04","symbol":"7203.T","quantity":"100","price":"2500","currency":"JPY"}`)
	f.expect(refused, 422, httpapi.CodeFXRateRequired)
	details, _ := refused.body["error"].(map[string]any)["details"].(map[string]any)
	if details["field"] != "fxRate" || details["from"] != "JPY" || details["to"] != "EUR" || details["date"] != "2024-01-04" ||
		!strings.Contains(refused.raw, "JPY→EUR") {
		t.Errorf("fx_rate_required without the pair and date: %s", refused.raw)
	}
	jpy := `{"activities":[
  {"date":"2024-01-03","type":"BUY","symbol":"MSFT","quantity":1,"unitPrice":370,"fee":0,"currency":"USD"},
  {"date":"2024-01-04","type":"BUY","symbol":"7203.T","quantity":100,"unitPrice":2500,"fee":0,"currency":"JPY"}
]}`
	// The row without a rate is named, with its pair; nothing is imported
	// (the transactions below are the five recorded).
	r = f.do(alice, "POST", p+"/import", jpy)
	f.expect(r, 422, httpapi.CodeImportRejected)
	if !strings.Contains(r.raw, "JPY→EUR") {
		t.Errorf("an import with a JPY row: %s", r.raw)
	}

	f.project(id)
	page := f.do(alice, "GET", p+"/transactions?limit=100", "")
	f.expect(page, 200, "")
	rates := map[string]string{}
	for _, it := range page.body["items"].([]any) {
		m := it.(map[string]any)
		rate, _ := m["fxRate"].(string)
		rates[m["type"].(string)+" "+m["currency"].(string)+" "+m["date"].(string)] = rate
	}
	for k, want := range map[string]string{
		"DEPOSIT EUR 2024-01-02": "", "BUY USD 2024-01-03": "0.909090909091", "DIVIDEND USD 2024-01-05": "0.917431192661",
		"BUY GBp 2024-01-04": "1.154545454546", "DEPOSIT USD 2024-01-08": "0.95",
	} {
		if got, ok := rates[k]; !ok || got != want {
			t.Errorf("%s: fxRate %q, want %q (all: %v)", k, got, want, rates)
		}
	}
	if len(rates) != 5 {
		t.Errorf("transactions %v, want the five recorded", rates)
	}

	pos := f.do(alice, "GET", p+"/positions", "")
	f.expect(pos, 200, "")
	var body httpapi.PositionsResponse
	if err := json.Unmarshal([]byte(pos.raw), &body); err != nil {
		t.Fatal(err)
	}
	byS := map[string]httpapi.PositionResponse{}
	for _, q := range body.Positions {
		byS[q.Symbol] = q
	}
	str := func(d *decimal.Decimal) string {
		if d == nil {
			return "nil"
		}
		return d.String()
	}
	// AAPL: 10 × 150 + 1 = $1,501 at 0.909090909091 (1/1.10) = €1,364.545454545591;
	// at 190 and today's 0.925925925926 (1/1.08) it is worth $1,900 = €1,759.2592592594.
	// Its $1,501 cost is €1,389.814814814926 at today's rate: the price effect is
	// 1,759.2592592594 − 1,389.814814814926 = €369.444444444474 (the dollar gain of
	// $399 at today's rate), the currency effect 1,389.814814814926 − 1,364.545454545591
	// = €25.269360269335 (the dollar rose against the euro).
	aapl := byS["AAPL"]
	if str(aapl.PriceEffect) != "369.444444444474" || str(aapl.CurrencyEffect) != "25.269360269335" || str(aapl.UnrealizedPnL) != "394.713804713809" {
		t.Errorf("AAPL effects: price %s, currency %s, unrealized %s", str(aapl.PriceEffect), str(aapl.CurrencyEffect), str(aapl.UnrealizedPnL))
	}
	if aapl.Currency != "USD" || aapl.Local == nil || aapl.Local.Currency != "USD" || aapl.Local.CostBasis.String() != "1501" ||
		str(aapl.Local.MarketValue) != "1900" || str(aapl.Local.UnrealizedPnL) != "399" || str(aapl.FXRate) != "0.925925925926" ||
		str(aapl.MarketValue) != "1759.2592592594" || aapl.CostBasis.String() != "1364.545454545591" ||
		// Its income in dollars: the $1 fee and the $5 dividend (10 × 0.5), nothing excluded.
		aapl.Local.Fees.String() != "1" || aapl.Local.Dividends.String() != "5" || !aapl.Local.Taxes.IsZero() || aapl.Local.Excluded != 0 {
		t.Errorf("AAPL %s", render(aapl))
	}
	// VUSA.L: 100 × 7000p = £7,000; worth 100 × 7600p = £7,600 at 1.25/1.08.
	vusa := byS["VUSA.L"]
	if vusa.Currency != "GBp" || vusa.Local == nil || vusa.Local.Currency != "GBP" || vusa.Local.CostBasis.String() != "7000" ||
		str(vusa.Local.MarketValue) != "7600" || str(vusa.FXRate) != "1.157407407408" || str(vusa.MarketPrice) != "7600" {
		t.Errorf("VUSA.L %s", render(vusa))
	}
	total := decimal.Decimal{}
	for _, q := range []httpapi.PositionResponse{aapl, vusa} {
		if q.PriceEffect == nil || q.CurrencyEffect == nil || !q.PriceEffect.Add(*q.CurrencyEffect).Equal(*q.UnrealizedPnL) || q.CurrencyEffect.IsZero() {
			t.Errorf("%s: effects %s + %s, unrealized %s", q.Symbol, str(q.PriceEffect), str(q.CurrencyEffect), str(q.UnrealizedPnL))
		}
		total = total.Add(*q.MarketValue)
	}
	tot := body.Totals
	var cur []string
	for _, b := range tot.CashBalances {
		cur = append(cur, b.Currency+"="+b.Amount.String()+"@"+str(b.FXRate))
	}
	// EUR 10,000; USD −1,501 + 5 + 500 = −996 at 1/1.08; GBP −7,000 at 1.25/1.08.
	if got := strings.Join(cur, " "); got != "EUR=10000@1 GBP=-7000@1.157407407408 USD=-996@0.925925925926" || tot.CashValue == nil ||
		!tot.MarketValue.Equal(total) || len(tot.Unpriced) != 0 {
		t.Errorf("totals: balances %s, cash value %s, market value %s (want %s), unpriced %v", got, str(tot.CashValue), tot.MarketValue, total, tot.Unpriced)
	}
}
