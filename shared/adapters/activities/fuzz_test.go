package activities_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// FuzzParseActivities: no input panics; every accepted transaction passes Validate,
// is in the base currency and in replay order; every error is one line; reading in
// small chunks (buffer refills everywhere) changes nothing.
//
//	go test -run '^$' -fuzz FuzzParseActivities -fuzztime 60s ./shared/adapters/activities/
func FuzzParseActivities(f *testing.F) {
	for _, seed := range []string{
		ghostfolioExport,
		`{"activities":[{"id":"a","date":"2024-01-02","type":"DEPOSIT","amount":"100","currency":"USD"},` +
			`{"date":"2024-01-03","type":"BUY","symbol":"X","quantity":1.5,"unitPrice":"10","fee":1e-2,"tax":0,"currency":"USD"},` +
			`{"date":"2024-01-03","type":"SPLIT","symbol":"X","ratio":"3:2","currency":"USD"},` +
			`{"date":"2024-01-04T10:00:00+02:00","type":"DIVIDEND","symbol":"X","quantity":1,"unitPrice":0.5,"currency":"USD"},` +
			`{"date":"2024-01-05","type":"FEE","fee":"2","currency":"USD","note":"\u00e9"},` +
			`{"type":"VOID","voids":"a","reason":"r"}]}`,
		`{"activities":[]}`,
		`{"activities":[{"date":"2024-01-02","type":"WITHDRAWAL","quantity":1,"unitPrice":5,"currency":"CHF"}],"x":[{"y":null}]}`,
		`{"activities":[{"date":"2024-01-02","type":"SELL","symbol":"X","quantity":-1,"unitPrice":1,"currency":"USD"}]}`,
		`{"activities":[{"type":"VOID","voids":"x"}]}`,
		`{"activities":[{"date":"2024-01-02","type":"ITEM"}]}`,
		`{"activities":[{"date":"2024-01-02","type":"INTEREST","amount":1e-18,"currency":"USD"}]}`,
		`{"activities":[1,"a",null,true,{}]}`,
		`{"activities":{}}`,
		`[{"activities":[]}]`,
		"\uFEFF{\"activities\":[]}",
		`{"activities":[{"note":"\ud800\udc00\ud800"}]}`,
		``,
		`{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := activities.Parse(strings.NewReader(string(data)), "f.json")
		n := 1
		if len(data) > 0 {
			n += int(data[len(data)-1]) % 13
		}
		r1, err1 := activities.Parse(chunkReader{strings.NewReader(string(data)), n}, "f.json")
		if (err == nil) != (err1 == nil) || err != nil && err.Error() != err1.Error() {
			t.Fatalf("chunked reads disagree: %v vs %v", err, err1)
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			if !errors.Is(err, activities.ErrInvalidFile) {
				t.Fatalf("error %v is not ErrInvalidFile", err)
			}
			return
		}
		if len(r.Transactions) != len(r1.Transactions) {
			t.Fatalf("chunked reads disagree: %d vs %d transactions", len(r.Transactions), len(r1.Transactions))
		}
		for i := range r.Transactions {
			tx := &r.Transactions[i]
			if err := tx.Validate(); err != nil {
				t.Fatalf("accepted an invalid transaction: %v", err)
			}
			if !slices.Contains(r.Currencies, tx.Currency) {
				t.Fatalf("currency %s not among the file's %v", tx.Currency, r.Currencies)
			}
			if r.Line(tx.Seq) < 1 {
				t.Fatalf("no line for seq %d", tx.Seq)
			}
			if i > 0 && portfolio.CompareForReplay(&r.Transactions[i-1], tx) >= 0 {
				t.Fatalf("not in replay order at %d", i)
			}
			if txString(*tx) != txString(r1.Transactions[i]) {
				t.Fatalf("chunked reads disagree: %s vs %s", txString(*tx), txString(r1.Transactions[i]))
			}
		}
	})
}

// FuzzParseCSV: as FuzzParseActivities, for the CSV reader.
func FuzzParseCSV(f *testing.F) {
	for _, seed := range []string{
		"Date,Code,DataSource,Currency,Price,Quantity,Action,Fee\n2024-01-02,AAPL,YAHOO,USD,150.25,10,BUY,4.95\n2024-01-03,AAPL,YAHOO,USD,151,-5,SELL,-1\n",
		"date;symbol;currency;amount;type;ratio\n2024-01-02;;EUR;100;DEPOSIT;\n2024-01-03;X;EUR;;SPLIT;2:1\n",
		"Date,Currency,Action\n\"2024-01-02\",USD,\"FEE\"\n",
		"",
		"\uFEFFdate,type,currency,fee\n2024-01-02,fee,USD,1e-3\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := activities.ParseCSV(strings.NewReader(string(data)), "f.csv")
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !errors.Is(err, activities.ErrInvalidFile) {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		for i := range r.Transactions {
			tx := &r.Transactions[i]
			if err := tx.Validate(); err != nil {
				t.Fatalf("accepted an invalid transaction: %v", err)
			}
			if !slices.Contains(r.Currencies, tx.Currency) || r.Line(tx.Seq) < 1 {
				t.Fatalf("bad transaction %+v", tx)
			}
			if i > 0 && portfolio.CompareForReplay(&r.Transactions[i-1], tx) >= 0 {
				t.Fatalf("not in replay order at %d", i)
			}
		}
	})
}
