package activities_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/benchdata"
	"github.com/shopspring/decimal"
)

// ghostfolioExport is shaped like Ghostfolio's export (apps/api/src/app/export):
// meta, accounts, platforms, tags, assetProfiles and user around the activities,
// which carry keys we ignore (accountId, comment, dataSource, tags).
const ghostfolioExport = `{
  "meta": {"date": "2024-07-01T08:00:00.000Z", "version": "2.90.0"},
  "accounts": [{"balance": 0, "balances": [], "comment": null, "currency": "USD", "id": "acc-1", "isExcluded": false, "name": "Broker", "platformId": null, "tags": []}],
  "assetProfiles": [],
  "platforms": [],
  "tags": [],
  "activities": [
    {
      "accountId": "acc-1", "comment": null, "fee": 4.95, "id": "f1", "quantity": 10,
      "type": "BUY", "unitPrice": 150.25, "currency": "USD", "dataSource": "YAHOO",
      "date": "2024-01-02T00:00:00.000Z", "symbol": "AAPL", "tags": []
    },
    {
      "accountId": "acc-1", "comment": "Q1", "fee": 0, "id": "f2", "quantity": 10,
      "type": "DIVIDEND", "unitPrice": 0.24, "currency": "USD", "dataSource": "YAHOO",
      "date": "2024-02-15T00:00:00.000Z", "symbol": "AAPL", "tags": ["t1"]
    },
    {
      "accountId": "acc-1", "comment": null, "fee": 2.5, "id": "f3", "quantity": 0,
      "type": "FEE", "unitPrice": 0, "currency": "USD", "dataSource": "MANUAL",
      "date": "2024-03-01T00:00:00.000Z", "symbol": "", "tags": []
    },
    {
      "accountId": "acc-1", "comment": null, "fee": 0, "id": "f4", "quantity": 1,
      "type": "INTEREST", "unitPrice": 3.1, "currency": "USD", "dataSource": "MANUAL",
      "date": "2024-03-31T00:00:00.000Z", "symbol": "Cash interest", "tags": []
    },
    {
      "accountId": "acc-1", "comment": null, "fee": 1, "id": "f5", "quantity": "4",
      "type": "SELL", "unitPrice": "170.1", "currency": "USD", "dataSource": "YAHOO",
      "date": "2024-01-10", "symbol": "AAPL", "tags": []
    }
  ],
  "user": {"settings": {"currency": "USD", "performanceCalculationType": "ROAI"}}
}`

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func parse(t *testing.T, in string) *activities.Result {
	t.Helper()
	r, err := activities.Parse(strings.NewReader(in), "test.json")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

// txString renders the fields a test cares about.
func txString(tx portfolio.Transaction) string {
	s := fmt.Sprintf("%d %s %s %q q=%s p=%s a=%s fee=%s tax=%s %s", tx.Seq, tx.Date, tx.Type, tx.Symbol,
		tx.Quantity, tx.Price, tx.Amount, tx.Fee, tx.Tax, tx.Currency)
	if tx.Type == portfolio.Split {
		s += " " + tx.Ratio.String()
	}
	if !tx.FXRate.IsZero() {
		s += " fx=" + tx.FXRate.String()
	}
	if tx.Type == portfolio.Conversion {
		s += " to=" + tx.ToAmount.String() + " " + tx.ToCurrency
	}
	if tx.ID != "" {
		s += " id=" + tx.ID
	}
	if tx.Note != "" {
		s += fmt.Sprintf(" note=%q", tx.Note)
	}
	return s
}

func txStrings(r *activities.Result) []string {
	var out []string
	for _, tx := range r.Transactions {
		out = append(out, txString(tx))
	}
	return out
}

func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestGhostfolioExport(t *testing.T) {
	r := parse(t, ghostfolioExport)
	sameLines(t, txStrings(r), []string{
		"0 2024-01-02 BUY \"AAPL\" q=10 p=150.25 a=0 fee=4.95 tax=0 USD id=f1",
		"4 2024-01-10 SELL \"AAPL\" q=4 p=170.1 a=0 fee=1 tax=0 USD id=f5",
		// DIVIDEND: amount = quantity × unitPrice = 10 × 0.24.
		"1 2024-02-15 DIVIDEND \"AAPL\" q=0 p=0 a=2.4 fee=0 tax=0 USD id=f2",
		// FEE: the charge is in "fee"; it becomes the amount.
		"2 2024-03-01 FEE \"\" q=0 p=0 a=2.5 fee=0 tax=0 USD id=f3",
		// INTEREST: 1 × 3.1.
		"3 2024-03-31 INTEREST \"Cash interest\" q=0 p=0 a=3.1 fee=0 tax=0 USD id=f4",
	})
	if !slices.Equal(r.Currencies, []string{"USD"}) || r.Activities != 5 || r.Voided != 0 {
		t.Errorf("got %s", r)
	}
	if got := r.Line(4); got != 28 {
		t.Errorf("Line(4) = %d, want 28", got)
	}
	for _, tx := range r.Transactions {
		if err := tx.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestOwnFormat(t *testing.T) {
	in := `{"activities":[
{"id":"d1","date":"2024-01-02","type":"DEPOSIT","amount":"10000","currency":"EUR","note":"salary"},
{"id":"b1","date":"2024-01-03","type":"buy","symbol":"SAP","quantity":"10","unitPrice":"150","fee":"1.5","tax":"0.3","currency":"EUR"},
{"id":"s1","date":"2024-01-03","type":"SPLIT","symbol":"SAP","ratio":"2:1","currency":"EUR"},
{"id":"v0","date":"2024-01-04","type":"DIVIDEND","symbol":"SAP","amount":"12.5","tax":"3.3","currency":"EUR"},
{"id":"v1","date":"2024-01-04","type":"DIVIDEND","symbol":"SAP","amount":"12.5","quantity":"50","unitPrice":"0.25","currency":"EUR"},
{"type":"VOID","voids":"v0","reason":"duplicate","id":"x1","date":"2024-02-01","note":"oops"},
{"id":"w1","date":"2024-01-05","type":"WITHDRAWAL","quantity":1,"unitPrice":100,"currency":"EUR"},
{"id":"f1","date":"2024-01-05","type":"FEE","symbol":"SAP","amount":"2","fee":"2","currency":"EUR"}
]}`
	r := parse(t, in)
	sameLines(t, txStrings(r), []string{
		`0 2024-01-02 DEPOSIT "" q=0 p=0 a=10000 fee=0 tax=0 EUR id=d1 note="salary"`,
		// The split sorts before the same day's buy (file order puts it after).
		`2 2024-01-03 SPLIT "SAP" q=0 p=0 a=0 fee=0 tax=0 EUR 2:1 id=s1`,
		`1 2024-01-03 BUY "SAP" q=10 p=150 a=0 fee=1.5 tax=0.3 EUR id=b1`,
		`4 2024-01-04 DIVIDEND "SAP" q=0 p=0 a=12.5 fee=0 tax=0 EUR id=v1`,
		`6 2024-01-05 WITHDRAWAL "" q=0 p=0 a=100 fee=0 tax=0 EUR id=w1`,
		`7 2024-01-05 FEE "SAP" q=0 p=0 a=2 fee=0 tax=0 EUR id=f1`,
	})
	if !slices.Equal(r.Currencies, []string{"EUR"}) || r.Activities != 8 || r.Voided != 1 {
		t.Errorf("got %s", r)
	}
	if got := r.Line(5); got != 7 {
		t.Errorf("Line(5) = %d, want 7", got)
	}
}

// A Ghostfolio export of a European's account: each activity carries its own
// currency (a London ETF in GBp, as Ghostfolio writes pence), and the file says
// nothing of a base currency: every currency is kept as written.
func TestGhostfolioExportSeveralCurrencies(t *testing.T) {
	r := parse(t, `{"meta":{"version":"2.90.0"},"activities":[
{"id":"g1","date":"2024-01-02T00:00:00.000Z","type":"BUY","symbol":"AAPL","quantity":10,"unitPrice":185.64,"fee":1,"currency":"USD","dataSource":"YAHOO"},
{"id":"g2","date":"2024-01-03T00:00:00.000Z","type":"BUY","symbol":"VUSA.L","quantity":20,"unitPrice":7125.5,"fee":0,"currency":"GBp","dataSource":"YAHOO"},
{"id":"g3","date":"2024-01-04T00:00:00.000Z","type":"BUY","symbol":"SAP.DE","quantity":5,"unitPrice":140.1,"fee":2,"currency":"EUR","dataSource":"YAHOO"},
{"id":"g4","date":"2024-02-15T00:00:00.000Z","type":"DIVIDEND","symbol":"AAPL","quantity":10,"unitPrice":0.24,"fee":0,"currency":"USD","dataSource":"YAHOO"}
],"user":{"settings":{"currency":"EUR"}}}`)
	sameLines(t, txStrings(r), []string{
		`0 2024-01-02 BUY "AAPL" q=10 p=185.64 a=0 fee=1 tax=0 USD id=g1`,
		`1 2024-01-03 BUY "VUSA.L" q=20 p=7125.5 a=0 fee=0 tax=0 GBp id=g2`,
		`2 2024-01-04 BUY "SAP.DE" q=5 p=140.1 a=0 fee=2 tax=0 EUR id=g3`,
		`3 2024-02-15 DIVIDEND "AAPL" q=0 p=0 a=2.4 fee=0 tax=0 USD id=g4`,
	})
	if !slices.Equal(r.Currencies, []string{"EUR", "GBp", "USD"}) {
		t.Errorf("currencies %v", r.Currencies)
	}
}

// Our JSON carries a transaction's recorded rate (fxRate) and CONVERSION, in JSON
// and in CSV alike.
func TestOwnFormatRatesAndConversion(t *testing.T) {
	r := parse(t, `{"activities":[
{"id":"d1","date":"2024-01-02","type":"DEPOSIT","amount":"10000","currency":"EUR"},
{"id":"c1","date":"2024-01-02","type":"CONVERSION","amount":"4000","currency":"EUR","toAmount":"4400","toCurrency":"USD","fee":"2"},
{"id":"b1","date":"2024-01-03","type":"BUY","symbol":"AAPL","quantity":"10","unitPrice":"185","currency":"USD","fxRate":"0.9057"}
]}`)
	want := []string{
		`0 2024-01-02 DEPOSIT "" q=0 p=0 a=10000 fee=0 tax=0 EUR id=d1`,
		`1 2024-01-02 CONVERSION "" q=0 p=0 a=4000 fee=2 tax=0 EUR to=4400 USD id=c1`,
		`2 2024-01-03 BUY "AAPL" q=10 p=185 a=0 fee=0 tax=0 USD fx=0.9057 id=b1`,
	}
	sameLines(t, txStrings(r), want)
	if !slices.Equal(r.Currencies, []string{"EUR", "USD"}) {
		t.Errorf("currencies %v", r.Currencies)
	}
	c, err := activities.ParseCSV(strings.NewReader("id,date,type,symbol,quantity,unitPrice,amount,fee,currency,toAmount,toCurrency,fxRate\n"+
		"d1,2024-01-02,DEPOSIT,,,,10000,,EUR,,,\n"+
		"c1,2024-01-02,CONVERSION,,,,4000,2,EUR,4400,USD,\n"+
		"b1,2024-01-03,BUY,AAPL,10,185,,,USD,,,0.9057\n"), "a.csv")
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, txStrings(c), want)
	for _, bad := range []struct{ in, want string }{
		{`{"date":"2024-01-02","type":"CONVERSION","amount":1,"currency":"EUR"}`, `CONVERSION needs "amount" of "currency" out and "toAmount" of "toCurrency" in`},
		{`{"date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"EUR","toAmount":1,"toCurrency":"USD"}`, `only CONVERSION takes "toAmount" and "toCurrency", not DEPOSIT`},
		{`{"date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD","fxRate":"-0.9"}`, `"fxRate": -0.9 must not be negative`},
		{`{"date":"2024-01-02","type":"CONVERSION","amount":1,"currency":"GBp","toAmount":1,"toCurrency":"USD"}`, `invalid transaction: CONVERSION is between two cash currencies (ISO codes such as EUR and USD), not "GBp" and "USD"`},
	} {
		_, err := activities.Parse(strings.NewReader(`{"activities":[`+"\n"+bad.in+"\n]}"), "t.json")
		if want := "t.json: activity 0 (line 2): " + bad.want; err == nil || err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`10`, "10"},
		{`"10"`, "10"},
		{`0.1`, "0.1"},
		{`"0.10000000000000000000"`, "0.1"},
		{`1e-7`, "0.0000001"},
		{`"1E+2"`, "100"},
		{`1.5e2`, "150"},
		{`123456789012345.123456789012345678`, "123456789012345.123456789012345678"},
		{`0.000000000000000001`, "0.000000000000000001"},
		{`999999999999999`, "999999999999999"},
		{`0.30000000000000004`, "0.30000000000000004"}, // as written, not as a float64 reads it
	} {
		in := `{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":` + c.in + `,"unitPrice":1,"currency":"USD"}]}`
		r := parse(t, in)
		if got := r.Transactions[0].Quantity; !got.Equal(dec(c.want)) || got.String() != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
}

// TestMalformed: every kind of bad input gives one line naming the file, the
// activity and its line, and what is wrong. (cmd/tracker checks the same messages
// and exit code 2 through the CLI.)
func TestMalformed(t *testing.T) {
	const pre = `{"activities":[` + "\n"
	const ok = `{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`
	act := func(s string) string { return pre + s + "\n]}" }
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", `t.json: empty file: want an object {"activities":[...]}`},
		{"blank", " \n\t\n", `t.json: empty file: want an object {"activities":[...]}`},
		{"not JSON", "date,symbol,close\n", `t.json: line 1: not JSON: want an object {"activities":[...]}, found 'd'`},
		{"array", "\n[]", `t.json: line 2: the top level is an array: want an object {"activities":[...]}`},
		{"string", `"x"`, `t.json: line 1: the top level is a string: want an object {"activities":[...]}`},
		{"truncated top", `{"activities":[]`, `t.json: line 1: truncated JSON: the file ends before the top-level object is closed`},
		{"truncated array", pre + ok + ",\n", `t.json: line 3: truncated JSON: the file ends before the "activities" array is closed`},
		{"truncated activity", pre + ok + ",\n{\"date\":\"2024-", `t.json: activity 1 (line 3): truncated JSON: the file ends inside a string`},
		{"truncated member", pre + `{"date":"2024-01-02",` + "\n", `t.json: activity 0 (line 2): truncated JSON: the file ends inside this activity`},
		{"bad syntax", act(`{"date":"2024-01-02"` + "\n" + `"type":"BUY"}`), `t.json: activity 0 (line 2): invalid JSON at line 3: expected ',' or '}' after an object member, found a string`},
		{"trailing comma", act(ok + `,`), `t.json: line 3: invalid JSON: trailing comma before ']'`},
		{"trailing comma in activity", act(`{"date":"2024-01-02",}`), `t.json: activity 0 (line 2): invalid JSON at line 2: trailing comma before '}'`},
		{"garbage after", `{"activities":[]} x`, `t.json: line 1: unexpected 'x' after the top-level object`},
		{"missing activities", `{"meta":{}}`, `t.json: line 1: no "activities" in the top-level object (want an object {"activities":[...]})`},
		{"activities twice", `{"activities":[],"activities":[]}`, `t.json: line 1: "activities" appears twice`},
		{"activities not array", `{"activities":{"a":1}}`, `t.json: line 1: "activities" must be an array, not an object`},
		{"activities null", `{"activities":null}`, `t.json: line 1: "activities" must be an array, not null`},
		{"activity not object", act(`[1]`), `t.json: activity 0 (line 2): an activity must be an object, not an array`},
		{"missing type", act(`{"date":"2024-01-02"}`), `t.json: activity 0 (line 2): missing "type"`},
		{"unknown type", act(`{"date":"2024-01-02","type":"SWAP"}`), `t.json: activity 0 (line 2): "type": unknown type "SWAP" (want BUY, SELL, DIVIDEND, INTEREST, FEE, DEPOSIT, WITHDRAWAL, SPLIT, CONVERSION or VOID)`},
		{"item", act(`{"date":"2024-01-02","type":"ITEM"}`), `t.json: activity 0 (line 2): "type": ITEM is not supported (Ghostfolio valuables and liabilities are not tracked)`},
		{"liability", act(`{"date":"2024-01-02","type":"liability"}`), `t.json: activity 0 (line 2): "type": LIABILITY is not supported (Ghostfolio valuables and liabilities are not tracked)`},
		{"type not string", act(`{"type":1}`), `t.json: activity 0 (line 2): "type": must be a string, not a number`},
		{"missing date", act(`{"type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): missing "date"`},
		{"null date", act(`{"date":null,"type":"BUY"}`), `t.json: activity 0 (line 2): missing "date"`},
		{"bad date", act(`{"date":"2024-02-30","type":"BUY"}`), `t.json: activity 0 (line 2): "date": invalid date: "2024-02-30" does not exist`},
		{"date format", act(`{"date":"02/01/2024","type":"BUY"}`), `t.json: activity 0 (line 2): "date": invalid date: "02/01/2024" is not YYYY-MM-DD`},
		{"datetime format", act(`{"date":"2024-01-02 10:00","type":"BUY"}`), `t.json: activity 0 (line 2): "date": invalid date: "2024-01-02 10:00" is neither YYYY-MM-DD nor an RFC 3339 date-time`},
		{"missing currency", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1}`), `t.json: activity 0 (line 2): missing "currency"`},
		{"unknown currency", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"UDS"}`), `t.json: activity 0 (line 2): invalid transaction: unknown currency "UDS" (want an ISO 4217 code such as USD, or GBp for prices in pence)`},
		{"symbol in two currencies", act(ok + ",\n" + `{"date":"2024-01-02","type":"SELL","symbol":"X","quantity":1,"unitPrice":1,"currency":"EUR"}`), `t.json: activity 1 (line 3): X trades in USD (activity 0, line 2), not EUR`},
		{"negative quantity", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":-1,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": -1 must not be negative`},
		{"negative dividend", act(`{"date":"2024-01-02","type":"DIVIDEND","symbol":"X","quantity":-1,"unitPrice":-1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": -1 must not be negative`},
		{"zero quantity", act(`{"date":"2024-01-02","type":"SELL","symbol":"X","quantity":0,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: SELL quantity 0 must be positive`},
		{"zero price", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":"0.00","currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: BUY price 0 must be positive`},
		{"missing price", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: BUY price 0 must be positive`},
		{"zero dividend", act(`{"date":"2024-01-02","type":"DIVIDEND","symbol":"X","quantity":10,"unitPrice":0,"currency":"USD"}`), `t.json: activity 0 (line 2): DIVIDEND needs an "amount", or "quantity" and "unitPrice" with a positive product`},
		{"zero fee", act(`{"date":"2024-01-02","type":"FEE","fee":0,"currency":"USD"}`), `t.json: activity 0 (line 2): FEE needs a positive "fee"`},
		{"fee with price", act(`{"date":"2024-01-02","type":"FEE","fee":1,"quantity":1,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): FEE carries its charge in "fee"; quantity × unitPrice must be 0, not 1`},
		{"fee and amount", act(`{"date":"2024-01-02","type":"FEE","fee":1,"amount":2,"currency":"USD"}`), `t.json: activity 0 (line 2): FEE has both "fee" 1 and "amount" 2`},
		{"amount disagrees", act(`{"date":"2024-01-02","type":"DIVIDEND","symbol":"X","quantity":10,"unitPrice":1,"amount":9,"currency":"USD"}`), `t.json: activity 0 (line 2): "amount" 9 differs from quantity × unitPrice = 10`},
		{"amount on buy", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"amount":1,"currency":"USD"}`), `t.json: activity 0 (line 2): BUY takes "quantity" and "unitPrice", not "amount"`},
		{"buy without symbol", act(`{"date":"2024-01-02","type":"BUY","quantity":1,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: BUY needs a symbol`},
		{"deposit with symbol", act(`{"date":"2024-01-02","type":"DEPOSIT","symbol":"X","amount":1,"currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: DEPOSIT takes no symbol`},
		{"non-numeric", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":"12,5","unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": "12,5" is not a decimal number`},
		{"number as bool", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":true,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": must be a number or a numeric string, not a boolean`},
		{"leading zero", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":01,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": "01" is not a decimal number`},
		{"hex", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":"0x10","unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": "0x10" is not a decimal number`},
		{"NaN", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":"NaN","unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": "NaN" is not a decimal number`},
		{"huge exponent", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1e99999,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "quantity": "1e99999" is out of range`},
		{"too large", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1e15,"currency":"USD"}`), `t.json: activity 0 (line 2): "unitPrice": "1e15" is too large (at most 15 integer digits)`},
		{"too many places", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"fee":1e-19,"currency":"USD"}`), `t.json: activity 0 (line 2): "fee": "1e-19" has more than 18 decimal places`},
		{"missing ratio", act(`{"date":"2024-01-02","type":"SPLIT","symbol":"X","currency":"USD"}`), `t.json: activity 0 (line 2): SPLIT needs a "ratio" ("N:D", e.g. "2:1")`},
		{"bad ratio", act(`{"date":"2024-01-02","type":"SPLIT","symbol":"X","ratio":"2-1","currency":"USD"}`), `t.json: activity 0 (line 2): "ratio": invalid transaction: split ratio "2-1" is not N:D with positive whole numbers`},
		{"zero ratio", act(`{"date":"2024-01-02","type":"SPLIT","symbol":"X","ratio":"0:1","currency":"USD"}`), `t.json: activity 0 (line 2): "ratio": invalid transaction: split ratio "0:1" is not N:D with positive whole numbers`},
		{"identity ratio", act(`{"date":"2024-01-02","type":"SPLIT","symbol":"X","ratio":"3:3","currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: split ratio 3:3 changes nothing`},
		{"ratio on buy", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"ratio":"2:1","currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: only SPLIT takes a ratio`},
		{"duplicate key", act(`{"date":"2024-01-02","date":"2024-01-03"}`), `t.json: activity 0 (line 2): duplicate key "date"`},
		{"duplicate id", act(`{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD"},` + "\n\n" + `{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD"}`), `t.json: activity 1 (line 4): "id": duplicate id "a" (activity 0, line 2, has it)`},
		{"void unknown id", act(ok + ",\n" + `{"type":"VOID","voids":"nope"}`), `t.json: activity 1 (line 3): "voids": no earlier activity has id "nope"`},
		{"void later id", act(`{"type":"VOID","voids":"a"},` + "\n" + `{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD"}`), `t.json: activity 0 (line 2): "voids": no earlier activity has id "a"`},
		{"void twice", act(`{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD"},` + "\n" + `{"type":"VOID","voids":"a"},` + "\n" + `{"type":"VOID","voids":"a"}`), `t.json: activity 2 (line 4): "voids": activity 0 (id "a") is already voided by activity 1 (line 3)`},
		{"void a void", act(`{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD"},` + "\n" + `{"id":"v","type":"VOID","voids":"a"},` + "\n" + `{"type":"VOID","voids":"v"}`), `t.json: activity 2 (line 4): "voids": activity 1 (id "v") is itself a VOID and cannot be voided`},
		{"void without target", act(`{"type":"VOID","reason":"x"}`), `t.json: activity 0 (line 2): VOID needs "voids": the id of the activity it cancels`},
		{"void with quantity", act(`{"type":"VOID","voids":"a","quantity":1}`), `t.json: activity 0 (line 2): VOID takes only "voids", "reason", "id", "date" and "note", not "quantity"`},
		{"control char", act("{\"note\":\"a\tb\"}"), `t.json: activity 0 (line 2): invalid JSON at line 2: control character 0x09 inside a string (escape it)`},
		{"bad escape", act(`{"note":"a\qb"}`), `t.json: activity 0 (line 2): invalid JSON at line 2: invalid escape \q in a string`},
		{"bad literal", act(`{"note":nul}`), `t.json: activity 0 (line 2): invalid JSON at line 2: invalid literal (expected "null")`},
		{"bad skipped number", act(`{"x":1.}`), `t.json: activity 0 (line 2): invalid JSON at line 2: invalid number "1."`},
		{"long symbol", act(`{"date":"2024-01-02","type":"BUY","symbol":"` + strings.Repeat("A", 33) + `","quantity":1,"unitPrice":1,"currency":"USD"}`), `t.json: activity 0 (line 2): invalid transaction: symbol "` + strings.Repeat("A", 33) + `" must be at most 32 characters without surrounding spaces`},
		{"huge string", act(`{"note":"` + strings.Repeat("x", 5000) + `"}`), `t.json: activity 0 (line 2): invalid JSON at line 2: string is longer than 4096 bytes`},
		{"deep nesting", act(`{"x":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`), `t.json: activity 0 (line 2): invalid JSON at line 2: nesting deeper than 256 levels`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := activities.Parse(strings.NewReader(c.in), "t.json")
			if err == nil {
				t.Fatalf("no error, want %s", c.want)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("message has more than one line")
			}
			if !errors.Is(err, activities.ErrInvalidFile) {
				t.Errorf("not ErrInvalidFile")
			}
		})
	}
}

func TestErrorSentinels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{`{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":0,"unitPrice":1,"currency":"USD"}]}`, portfolio.ErrInvalidTransaction},
		{`{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"},{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"GBp"}]}`, portfolio.ErrCurrencyMismatch},
		{`{"activities":[{"type":"VOID","voids":"x"}]}`, portfolio.ErrNotFound},
		{`{"activities":[{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD"},{"type":"VOID","voids":"a"},{"type":"VOID","voids":"a"}]}`, portfolio.ErrAlreadyVoided},
		{`{"activities":[{"date":"2024-01-32"}]}`, calendar.ErrInvalidDate},
	} {
		_, err := activities.Parse(strings.NewReader(c.in), "t.json")
		if !errors.Is(err, c.want) || !errors.Is(err, activities.ErrInvalidFile) {
			t.Errorf("%s: got %v, want %v", c.in, err, c.want)
		}
	}
}

func TestReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(`{"activities":[`+"\n"), iotest.ErrReader(errors.New("disk on fire")))
	_, err := activities.Parse(r, "t.json")
	if got, want := fmt.Sprint(err), "t.json: line 2: read failed: disk on fire"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestSmallReads parses with one byte per Read, so every token straddles a buffer
// boundary somewhere, and with a byte order mark.
func TestSmallReads(t *testing.T) {
	in := "\uFEFF" + strings.Replace(ghostfolioExport, `"comment": "Q1"`, `"comment": "Q1 \u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t", "note": "\ud83d\ude00\u00e9\ud800x"`, 1)
	want := parse(t, in)
	got, err := activities.Parse(iotest.OneByteReader(strings.NewReader(in)), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, txStrings(got), txStrings(want))
	if n := want.Transactions[2].Note; n != "😀é\uFFFDx" {
		t.Errorf("note %q", n)
	}
}

// TestSortMatchesDomain: the parser's replay order is portfolio.SortForReplay's.
func TestSortMatchesDomain(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		var b strings.Builder
		b.WriteString(`{"activities":[`)
		n := 1 + rnd.IntN(200)
		for i := range n {
			if i > 0 {
				b.WriteString(",\n")
			}
			d := calendar.MustNew(2024, 1, 1).AddDays(rnd.IntN(10)).String()
			if rnd.IntN(4) == 0 {
				fmt.Fprintf(&b, `{"date":%q,"type":"SPLIT","symbol":"S","ratio":"2:1","currency":"USD"}`, d)
			} else {
				fmt.Fprintf(&b, `{"date":%q,"type":"DEPOSIT","amount":%d,"currency":"USD"}`, d, i+1)
			}
		}
		b.WriteString("]}")
		r := parse(t, b.String())
		want := slices.Clone(r.Transactions)
		slices.SortFunc(want, func(a, b portfolio.Transaction) int { return int(a.Seq - b.Seq) })
		portfolio.SortForReplay(want)
		if !slices.EqualFunc(r.Transactions, want, func(a, b portfolio.Transaction) bool { return a.Seq == b.Seq }) {
			t.Fatalf("order differs from portfolio.SortForReplay for\n%s", b.String())
		}
	}
}

func TestParseFile(t *testing.T) {
	_, err := activities.ParseFile("testdata/does-not-exist.json")
	if got, want := fmt.Sprint(err), "testdata/does-not-exist.json: cannot open: no such file or directory"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestBenchdata: the generated data set parses; VOIDs remove what they name.
func TestBenchdata(t *testing.T) {
	d := benchdata.Generate(benchdata.Small())
	var buf bytes.Buffer
	if err := d.WriteActivities(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := activities.Parse(&buf, "bench.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.Config
	if r.Activities != cfg.Activities || r.Voided != cfg.Voids || len(r.Transactions) != cfg.Activities-2*cfg.Voids {
		t.Errorf("got %s", r)
	}
	for _, tx := range r.Transactions {
		if err := tx.Validate(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoragePaths: the result does not depend on how the transactions were stored
// (sized from the input's length, overflowing into chunks, or chunks only).
func TestStoragePaths(t *testing.T) {
	for _, n := range []int{0, 1, 100, 3000} {
		var b strings.Builder
		b.WriteString(`{"activities":[`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			d := calendar.MustNew(2024, 1, 1).AddDays((n - i) % 37).String() // not in date order
			switch {
			case i%50 == 49:
				fmt.Fprintf(&b, `{"type":"VOID","voids":"%d"}`, i-7)
			case i%10 == 3:
				fmt.Fprintf(&b, `{"id":"%d","date":%q,"type":"SPLIT","symbol":"S","ratio":"2:1","currency":"USD"}`, i, d)
			default:
				fmt.Fprintf(&b, `{"id":"%d","date":%q,"type":"DEPOSIT","amount":%d,"currency":"USD"}`, i, d, i+1)
			}
		}
		b.WriteString("]}")
		in := b.String()
		want := parse(t, in) // sized from the length (the compact records overflow it)
		got, err := activities.Parse(iotest.OneByteReader(strings.NewReader(in)), "test.json")
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, txStrings(got), txStrings(want))
		padded := strings.Replace(in, `{"activities":[`, `{"pad":"`+strings.Repeat("x", 4000)+`","activities":[`, 1)
		got = parse(t, padded) // sized far too large
		sameLines(t, txStrings(got), txStrings(want))
		if want.Voided != n/50 || len(want.Transactions) != n-2*(n/50) {
			t.Errorf("n=%d: got %s", n, want)
		}
		for i := 1; i < len(want.Transactions); i++ {
			if portfolio.CompareForReplay(&want.Transactions[i-1], &want.Transactions[i]) >= 0 {
				t.Fatalf("n=%d: not in replay order at %d", n, i)
			}
		}
	}
}

// chunkReader returns at most n bytes per Read, so buffer refills fall everywhere.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// TestChunkBoundaries: reads of every small size give the same result.
func TestChunkBoundaries(t *testing.T) {
	in := strings.Replace(ghostfolioExport, `"comment": "Q1"`, `"comment": "Q1 \u00e9\ud83d\ude00 \"q\"", "note": "\ud83d\ude00\u00e9\ud800x"`, 1)
	want := txStrings(parse(t, in))
	for n := 1; n <= 80; n++ {
		got, err := activities.Parse(chunkReader{strings.NewReader(in), n}, "test.json")
		if err != nil {
			t.Fatalf("chunks of %d: %v", n, err)
		}
		if g := txStrings(got); !slices.Equal(g, want) {
			t.Fatalf("chunks of %d: got\n\t%s", n, strings.Join(g, "\n\t"))
		}
	}
}

// A trade voided in the file stops deciding its symbol's currency: the next
// valid trade does (here none is left, so a buy in dollars is fine).
func TestVoidedTradeFreesItsSymbolsCurrency(t *testing.T) {
	in := `{"activities":[
{"id":"a1","date":"2024-01-02","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":150,"currency":"EUR"},
{"date":"2024-01-03","type":"VOID","voids":"a1","reason":"wrong currency"},
{"date":"2024-01-03","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":160,"currency":"USD"}]}`
	r, err := activities.Parse(strings.NewReader(in), "t.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Transactions) != 1 || r.Transactions[0].Currency != "USD" {
		t.Fatalf("transactions %+v", r.Transactions)
	}
	// A second trade still valid keeps deciding it.
	in = `{"activities":[
{"id":"a1","date":"2024-01-02","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":150,"currency":"EUR"},
{"date":"2024-01-02","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":150,"currency":"EUR"},
{"date":"2024-01-03","type":"VOID","voids":"a1","reason":"duplicate"},
{"date":"2024-01-03","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":160,"currency":"USD"}]}`
	if _, err := activities.Parse(strings.NewReader(in), "t.json"); !errors.Is(err, portfolio.ErrCurrencyMismatch) {
		t.Fatalf("a dollar buy after a still-valid euro buy: err = %v", err)
	}
}
