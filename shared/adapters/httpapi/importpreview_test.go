package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
)

// previewOf decodes a 200 preview.
func previewOf(t *testing.T, r response) httpapi.ImportPreviewResponse {
	t.Helper()
	var out httpapi.ImportPreviewResponse
	if r.status != 200 {
		t.Fatalf("preview answered %d %s", r.status, r.raw)
	}
	if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// previewLines renders each row as "index line status: message | type symbol quantity".
func previewLines(p httpapi.ImportPreviewResponse) []string {
	out := make([]string, 0, len(p.Rows))
	for _, row := range p.Rows {
		s := fmt.Sprintf("%d %d %s", row.Index, row.Line, row.Status)
		if row.Message != "" {
			s += ": " + row.Message
		}
		if tx := row.Transaction; tx != nil {
			s += fmt.Sprintf(" | %s %s %s %s", tx.Type, tx.Symbol, tx.Quantity+tx.Amount, tx.FXRate)
		}
		if row.Voids != nil {
			s += fmt.Sprintf(" voids %d", *row.Voids)
		}
		if row.VoidedBy != nil {
			s += fmt.Sprintf(" voided by %d", *row.VoidedBy)
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestImportPreviewReportsEveryRow: on DynamoDB Local, the preview names
// every refused row (the file's rules, the portfolio's, each row against the
// accepted rows before it and the portfolio's own history), writes nothing,
// and the file with its refused rows removed imports as previewed; CSV
// likewise; what refuses a whole file answers as the import does.
func TestImportPreviewReportsEveryRow(t *testing.T) {
	t.Parallel()
	a := newCommandAPI(t)
	id := a.createPortfolio(alice, "k-preview")
	p := "/portfolios/" + id
	a.expect(a.do(alice, "POST", p+"/transactions", `{"type":"BUY","date":"2024-01-02","symbol":"MSFT","quantity":"5","price":"370"}`), 201, "")

	file := `{"activities":[
  {"id":"a","date":"2024-01-03","type":"BUY","symbol":"AAPL","quantity":10,"unitPrice":185,"fee":1,"currency":"USD"},
  {"id":"b","date":"2024-01-04","type":"BUY","symbol":"NVDA","quantity":"ten","unitPrice":480,"currency":"USD"},
  {"id":"c","date":"2024-01-05","type":"SELL","symbol":"NVDA","quantity":1,"unitPrice":490,"currency":"USD"},
  {"id":"d","date":"2024-01-08","type":"SELL","symbol":"AAPL","quantity":15,"unitPrice":190,"currency":"USD"},
  {"id":"e","date":"2024-01-09","type":"SELL","symbol":"MSFT","quantity":5,"unitPrice":380,"currency":"USD"},
  {"id":"f","date":"2024-01-10","type":"DEPOSIT","amount":"100","currency":"USD"},
  {"type":"VOID","voids":"f","reason":"booked twice"},
  {"date":"2024-01-11","type":"SELL","symbol":"AAPL","quantity":10,"unitPrice":195,"currency":"USD"}
]}`
	before := a.do(alice, "GET", p+"/events", "")
	preview := previewOf(t, a.do(alice, "POST", p+"/import/preview", file))
	sameRows(t, previewLines(preview), []string{
		`0 2 ok | BUY AAPL 10`,
		`1 3 error: "quantity": "ten" is not a decimal number`,
		`2 4 error: insufficient holdings: selling 1 NVDA on 2024-01-05, but 0 held then | SELL NVDA 1`,
		`3 5 error: insufficient holdings: selling 15 AAPL on 2024-01-08, but 10 held then | SELL AAPL 15`,
		`4 6 ok | SELL MSFT 5`,
		`5 7 ok voided by 6`,
		`6 8 ok voids 5`,
		`7 9 ok | SELL AAPL 10`,
	})
	if preview.Valid != 5 || preview.Invalid != 3 {
		t.Errorf("valid %d, invalid %d; want 5, 3", preview.Valid, preview.Invalid)
	}
	if after := a.do(alice, "GET", p+"/events", ""); after.raw != before.raw {
		t.Fatalf("the preview wrote events: %s", after.raw)
	}
	// The import of the file refuses it (its first refused row), and the file
	// without the rows the preview refused imports.
	a.expect(a.do(alice, "POST", p+"/import", file), 422, "import_rejected")
	var kept []string
	for i, line := range strings.Split(file, "\n") {
		if i != 2 && i != 3 && i != 4 {
			kept = append(kept, line)
		}
	}
	fixed := strings.Join(kept, "\n")
	if again := previewOf(t, a.do(alice, "POST", p+"/import/preview", fixed)); again.Invalid != 0 {
		t.Fatalf("the fixed file previews %v", previewLines(again))
	}
	imported := a.do(alice, "POST", p+"/import", fixed)
	a.expect(imported, 201, "")
	if imported.data()["imported"] != float64(3) {
		t.Fatalf("import answered %s", imported.raw)
	}
	// Against the portfolio as it now stands: AAPL is sold out; a row in
	// euros needs a rate (no closes here) before anything else is checked.
	csv := "Date,Code,Currency,Price,Quantity,Action,Fee\n" +
		"2024-02-01,AAPL,USD,180,3,SELL,0\n" +
		"2024-02-01,AAPL,USD,180,3\n" +
		"2024-02-02,MSFT,EUR,400,1,BUY,0\n" +
		"2024-02-03,AMZN,USD,150,2,BUY,0.5\n"
	preview = previewOf(t, a.do(alice, "POST", p+"/import/preview", csv, "Content-Type", "text/csv"))
	sameRows(t, previewLines(preview), []string{
		`0 2 error: insufficient holdings: selling 3 AAPL on 2024-02-01, but 0 held then | SELL AAPL 3`,
		`1 3 error: 5 fields, but the header has 7`,
		`2 4 error: fx rate required: no EUR→USD rate is known for 2024-02-02; give the transaction's fxRate (USD per EUR) | BUY MSFT 1`,
		`3 5 ok | BUY AMZN 2`,
	})

	// Whole-file refusals answer as the import's.
	a.expect(a.do(alice, "POST", p+"/import/preview", `{"activities":[]}`), 422, "import_rejected")
	a.expect(a.do(alice, "POST", p+"/import/preview", `{"activities":[{"date":"2024-01-02",}]}`), 422, "import_rejected")
	a.expect(a.do(alice, "POST", p+"/import/preview", "garbage", "Content-Type", "text/plain"), 415, "unsupported_media_type")
	many := func(n int, row string) string {
		rows := make([]string, n)
		for i := range rows {
			rows[i] = row
		}
		return `{"activities":[` + strings.Join(rows, ",") + `]}`
	}
	deposit := `{"date":"2024-03-01","type":"DEPOSIT","amount":"1","currency":"USD"}`
	if big := previewOf(t, a.do(alice, "POST", p+"/import/preview", many(1000, deposit))); big.Valid != 1000 {
		t.Errorf("1,000 deposits: %d valid", big.Valid)
	}
	a.expect(a.do(alice, "POST", p+"/import/preview", many(1001, deposit)), 413, "payload_too_large")
	a.expect(a.do(alice, "POST", p+"/import/preview", many(1001, `{"type":"HODL"}`)), 413, "payload_too_large")
	a.expect(a.do(alice, "POST", p+"/import/preview", many(2001, `{"type":"HODL"}`)), 413, "payload_too_large")
	a.expect(a.do(alice, "POST", p+"/archive", `{}`), 200, "")
	a.expect(a.do(alice, "POST", p+"/import/preview", many(1, deposit)), 422, "portfolio_archived")
	// Even when the file's rules refuse every row, the portfolio is checked.
	a.expect(a.do(alice, "POST", p+"/import/preview", many(2, `{"type":"HODL"}`)), 422, "portfolio_archived")
}

// TestImportPreviewLooksUpRates: a row in another currency than the base
// without fxRate gets the rate of its date from the daily closes, shown in
// the preview; a row without one is refused naming the pair, and the rows
// after it are still checked. On the in-memory stores and on PostgreSQL.
func TestImportPreviewLooksUpRates(t *testing.T) {
	t.Parallel()
	for name, newAPI := range map[string]func(t *testing.T) *fullAPI{
		"memory":   newFullAPI,
		"postgres": func(t *testing.T) *fullAPI { return newPostgresAPI(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newAPI(t)
			if err := f.market(t.Context(), nil, []readmodel.DailyClose{
				{Symbol: "EURUSD=X", Day: rmtest.D("2024-01-02"), Close: rmtest.Dec("1.10"), AsOf: time.Date(2024, 1, 2, 22, 0, 0, 0, time.UTC), Source: "test"},
			}); err != nil {
				t.Fatal(err)
			}
			r := f.do(alice, "POST", "/portfolios", `{"name":"Euro","baseCurrency":"EUR"}`, "Idempotency-Key", "fx-preview")
			f.expect(r, 201, "")
			p := "/portfolios/" + r.data()["id"].(string)
			file := `{"activities":[
  {"date":"2024-01-03","type":"BUY","symbol":"AAPL","quantity":10,"unitPrice":150,"fee":1,"currency":"USD"},
  {"date":"2024-01-04","type":"BUY","symbol":"7203.T","quantity":100,"unitPrice":2500,"fee":0,"currency":"JPY"},
  {"date":"2024-01-05","type":"SELL","symbol":"7203.T","quantity":100,"unitPrice":2600,"fee":0,"currency":"JPY","fxRate":"0.0063"},
  {"date":"2024-01-05","type":"SELL","symbol":"AAPL","quantity":4,"unitPrice":155,"fee":0,"currency":"USD"}
]}`
			sameRows(t, previewLines(previewOf(t, f.do(alice, "POST", p+"/import/preview", file))), []string{
				`0 2 ok | BUY AAPL 10 0.909090909091`,
				`1 3 error: fx rate required: no JPY→EUR rate is known for 2024-01-04; give the transaction's fxRate (EUR per JPY) | BUY 7203.T 100`,
				`2 4 error: insufficient holdings: selling 100 7203.T on 2024-01-05, but 0 held then | SELL 7203.T 100 0.0063`,
				`3 5 ok | SELL AAPL 4 0.909090909091`,
			})
		})
	}
}
