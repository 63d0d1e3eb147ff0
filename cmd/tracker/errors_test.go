package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestBadActivityFiles: every kind of malformed activity file ends calc with exit
// code 2 and exactly one line on stderr naming the file, the activity and its line,
// and what is wrong. Nothing goes to stdout.
func TestBadActivityFiles(t *testing.T) {
	const prices = "date,symbol,close\n2024-01-02,X,10\n"
	const pre = `{"activities":[` + "\n"
	const ok = `{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`
	act := func(s string) string { return pre + s + "\n]}" }
	buy := func(extra string) string {
		return act(`{"date":"2024-01-02","type":"BUY","symbol":"X","currency":"USD",` + extra + `}`)
	}
	for _, c := range []struct{ name, file, in, want string }{
		{"not JSON", "a.json", "date,type\n2024-01-02,BUY\n", `a.json: line 1: not JSON: want an object {"activities":[...]}, found 'd'`},
		{"truncated", "a.json", pre + ok + ",\n" + `{"date":"2024-01-02","type":"BU`, `a.json: activity 1 (line 3): truncated JSON: the file ends inside a string`},
		{"truncated array", "a.json", pre + ok, `a.json: line 2: truncated JSON: the file ends before the "activities" array is closed`},
		{"syntax", "a.json", act(`{"date" "2024-01-02"}`), `a.json: activity 0 (line 2): invalid JSON at line 2: expected ':' after an object key, found a string`},
		{"not an object", "a.json", `["activities"]`, `a.json: line 1: the top level is an array: want an object {"activities":[...]}`},
		{"missing activities", "a.json", `{"meta":{"version":"2.90.0"},"user":{}}`, `a.json: line 1: no "activities" in the top-level object (want an object {"activities":[...]})`},
		{"activities not an array", "a.json", `{"activities":"none"}`, `a.json: line 1: "activities" must be an array, not a string`},
		{"activity not an object", "a.json", act(`"BUY"`), `a.json: activity 0 (line 2): an activity must be an object, not a string`},
		{"year 0", "a.json", act(`{"date":"0000-01-01","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`), `a.json: activity 0 (line 2): invalid transaction: date 0000-01-01 is outside 1900-01-01 to 9999-12-31`},
		{"date before 1900", "a.json", act(`{"date":"1899-12-31","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`), `a.json: activity 0 (line 2): invalid transaction: date 1899-12-31 is outside 1900-01-01 to 9999-12-31`},
		{"date far ahead", "a.json", act(`{"date":"9999-12-31","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`), fmt.Sprintf(`a.json: activity 0 (line 2): invalid transaction: date 9999-12-31 is after %s (at most 1 year from today)`, portfolio.MaxTradeDate(time.Now()))},
		{"huge split", "a.json", act(ok + ",\n" + `{"date":"2024-01-03","type":"SPLIT","symbol":"X","ratio":"9223372036854775807:1","currency":"USD"}`), `a.json: activity 1 (line 3): invalid transaction: split ratio 9223372036854775807:1: each side must be at most 1000000`},
		{"unknown type", "a.json", act(`{"date":"2024-01-02","type":"TRANSFER"}`), `a.json: activity 0 (line 2): "type": unknown type "TRANSFER" (want BUY, SELL, DIVIDEND, INTEREST, FEE, DEPOSIT, WITHDRAWAL, SPLIT, CONVERSION or VOID)`},
		{"ghostfolio ITEM", "a.json", act(`{"date":"2024-01-02","type":"ITEM","symbol":"Car","quantity":1,"unitPrice":9000,"currency":"USD"}`), `a.json: activity 0 (line 2): "type": ITEM is not supported (Ghostfolio valuables and liabilities are not tracked)`},
		{"missing date", "a.json", act(`{"type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}`), `a.json: activity 0 (line 2): missing "date"`},
		{"invalid date", "a.json", act(ok + ",\n" + `{"date":"2024-13-01","type":"BUY"}`), `a.json: activity 1 (line 3): "date": invalid date: "2024-13-01" does not exist`},
		{"negative quantity", "a.json", buy(`"quantity":"-3","unitPrice":1`), `a.json: activity 0 (line 2): "quantity": -3 must not be negative`},
		{"zero quantity", "a.json", buy(`"quantity":0,"unitPrice":1`), `a.json: activity 0 (line 2): invalid transaction: BUY quantity 0 must be positive`},
		{"zero price", "a.json", buy(`"quantity":1,"unitPrice":0`), `a.json: activity 0 (line 2): invalid transaction: BUY price 0 must be positive`},
		{"negative fee", "a.json", buy(`"quantity":1,"unitPrice":1,"fee":-0.5`), `a.json: activity 0 (line 2): "fee": -0.5 must not be negative`},
		{"non-numeric", "a.json", buy(`"quantity":"ten","unitPrice":1`), `a.json: activity 0 (line 2): "quantity": "ten" is not a decimal number`},
		{"number as object", "a.json", buy(`"quantity":{"value":1},"unitPrice":1`), `a.json: activity 0 (line 2): "quantity": must be a number or a numeric string, not an object`},
		{"exponent out of range", "a.json", buy(`"quantity":1,"unitPrice":1e308`), `a.json: activity 0 (line 2): "unitPrice": "1e308" is too large (at most 15 integer digits)`},
		{"huge exponent", "a.json", buy(`"quantity":1,"unitPrice":1e-5000`), `a.json: activity 0 (line 2): "unitPrice": "1e-5000" is out of range`},
		{"huge value", "a.json", buy(`"quantity":1,"unitPrice":"12345678901234567890"`), `a.json: activity 0 (line 2): "unitPrice": "12345678901234567890" is too large (at most 15 integer digits)`},
		{"too precise", "a.json", buy(`"quantity":"0.0000000000000000001","unitPrice":1`), `a.json: activity 0 (line 2): "quantity": "0.0000000000000000001" has more than 18 decimal places`},
		{"bad ratio", "a.json", act(`{"date":"2024-01-02","type":"SPLIT","symbol":"X","ratio":"two for one","currency":"USD"}`), `a.json: activity 0 (line 2): "ratio": invalid transaction: split ratio "two for one" is not N:D with positive whole numbers`},
		{"duplicate key", "a.json", buy(`"quantity":1,"unitPrice":1,"currency":"USD"`), `a.json: activity 0 (line 2): duplicate key "currency"`},
		{"unknown currency", "a.json", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"usd"}`), `a.json: activity 0 (line 2): invalid transaction: unknown currency "usd" (want an ISO 4217 code such as USD, or GBp for prices in pence)`},
		// Since issue 16 an activity may be in any currency (GBp is pence); one in
		// another currency than the base needs its rate, from --fx or its fxRate.
		{"foreign without --fx", "a.json", act(`{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"GBp"}`), `a.json: activity 0 (line 2): fx rate required: the activity is in GBp and the base is USD, but no --fx file gives the GBP→USD rate of 2024-01-02 (or give the activity an fxRate)`},
		{"fxRate in the base", "a.json", act(`{"date":"2024-01-02","type":"DEPOSIT","amount":1,"currency":"USD","fxRate":"1.1"}`), `a.json: activity 0 (line 2): currency mismatch: fxRate 1.1 given for an activity in USD, the base currency`},
		{"symbol in two currencies", "a.json", act(ok + ",\n" + `{"date":"2024-01-03","type":"SELL","symbol":"X","quantity":1,"unitPrice":1,"currency":"EUR"}`), `a.json: activity 1 (line 3): X trades in USD (activity 0, line 2), not EUR`},
		{"duplicate id", "a.json", act(`{"id":"t1",` + ok[1:] + ",\n" + `{"id":"t1",` + ok[1:]), `a.json: activity 1 (line 3): "id": duplicate id "t1" (activity 0, line 2, has it)`},
		{"void of unknown id", "a.json", act(ok + ",\n" + `{"type":"VOID","voids":"t9","reason":"typo"}`), `a.json: activity 1 (line 3): "voids": no earlier activity has id "t9"`},
		{"void twice", "a.json", act(`{"id":"t1",` + ok[1:] + ",\n" + `{"type":"VOID","voids":"t1"},` + "\n" + `{"type":"VOID","voids":"t1"}`), `a.json: activity 2 (line 4): "voids": activity 0 (id "t1") is already voided by activity 1 (line 3)`},
		{"oversell", "a.json", act(ok + ",\n" + `{"date":"2024-01-03","type":"SELL","symbol":"X","quantity":2,"unitPrice":1,"currency":"USD"}`), `a.json: activity 1 (line 3): insufficient holdings: selling 2 X on 2024-01-03, but only 1 held`},
		{"missing file", "", "", `nope.json: cannot open: no such file or directory`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			writeFile(t, ".", "p.csv", prices)
			file := "nope.json"
			if c.file != "" {
				file = writeFile(t, ".", c.file, c.in)
			}
			code, out, errOut := runCLI(t, "calc", "--activities", file, "--prices", "p.csv")
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if want := c.want + "\n"; errOut != want {
				t.Errorf("stderr\n%q\nwant\n%q", errOut, want)
			}
		})
	}
}

// TestBadFlagsAndPrices: bad flags, a bad prices file and a bad --as-of exit 2 with
// one line.
func TestBadFlagsAndPrices(t *testing.T) {
	t.Chdir(t.TempDir())
	writeFile(t, ".", "a.json", `{"activities":[{"date":"2024-01-02","type":"BUY","symbol":"X","quantity":1,"unitPrice":1,"currency":"USD"}]}`)
	writeFile(t, ".", "p.csv", "date,symbol,close\n2024-01-02,X,10\n")
	writeFile(t, ".", "bad.csv", "date,symbol,close\n2024-01-02,X,10\n2024-01-03,X,ten\n")
	writeFile(t, ".", "fx-pair.csv", "date,from,to,rate\n2024-01-02,EUR,UDS,1.1\n")
	writeFile(t, ".", "fx-twice.csv", "2024-01-02,EUR,USD,1.1\n2024-01-02,EUR,USD,1.1\n2024-01-02,EUR,USD,1.2\n")
	writeFile(t, ".", "fx-unordered.csv", "2024-01-02,EUR,USD,1.1\n2024-01-03,EUR,USD,1.2\n2024-01-02,GBP,USD,1.3\n2024-01-02,EUR,USD,1.15\n")
	writeFile(t, ".", "fx-rate.csv", "date,from,to,rate\n2024-01-02,EUR,USD,0\n")
	writeFile(t, ".", "fx-tiny.csv", "2024-01-02,EUR,USD,1e-20000000\n") // inverting it took seconds
	writeFile(t, ".", "fx-fields.csv", "2024-01-02,EUR,USD\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `tracker: no command (want one of: calc, benchdata, migrate, replay, quotas-backfill; see tracker help)`},
		{[]string{"frobnicate"}, `tracker: unknown command "frobnicate" (want one of: calc, benchdata, migrate, replay, quotas-backfill)`},
		{[]string{"calc"}, `tracker calc: --activities is required (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json"}, `tracker calc: --prices is required (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--as-of", "2024-02-30"}, `tracker calc: --as-of: invalid date: "2024-02-30" does not exist (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--as-of", "2023-12-31"}, `tracker calc: --as-of 2023-12-31 is before the first activity (2024-01-02, in a.json)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--lot-method", "lifo"}, `tracker calc: --lot-method: "lifo" is not fifo or average (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--currency", "USD"}, `tracker calc: flag provided but not defined: -currency (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "extra"}, `tracker calc: unexpected argument "extra" (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "missing.csv"}, `missing.csv: cannot open: no such file or directory`},
		{[]string{"calc", "--activities", "a.json", "--prices", "bad.csv"}, `bad.csv:3: close "ten" is not a decimal number`},
		{[]string{"calc", "--activities", "a.json", "--prices", "a.json"}, `a.json:1: want 3 fields date,symbol,close, got 6`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--base-currency", "usd"}, `tracker calc: --base-currency: "usd" is not an ISO 4217 code such as USD or EUR (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--base-currency", "GBp"}, `tracker calc: --base-currency: "GBp" is not an ISO 4217 code such as USD or EUR (see tracker calc -h)`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "missing.csv"}, `missing.csv: cannot open: no such file or directory`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx-pair.csv"}, `fx-pair.csv:2: rate EUR→UDS: want two ISO 4217 codes such as EUR and USD`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx-twice.csv"}, `fx-twice.csv:3: EUR→USD on 2024-01-02 is given twice: 1.1 (line 1) and 1.2`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx-unordered.csv"}, `fx-unordered.csv:4: EUR→USD on 2024-01-02 is given twice: 1.1 (line 1) and 1.15`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx-rate.csv"}, `fx-rate.csv:2: rate 0 of EUR→USD is not between 0.0000001 and 10000000 with at most 30 decimal places`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx-tiny.csv"}, `fx-tiny.csv:1: rate 1e-20000000 of EUR→USD is not between 0.0000001 and 10000000 with at most 30 decimal places`},
		{[]string{"calc", "--activities", "a.json", "--prices", "p.csv", "--fx", "fx-fields.csv"}, `fx-fields.csv:1: want 4 fields date,from,to,rate, got 3`},
		{[]string{"benchdata"}, `tracker benchdata: --dir is required (see tracker benchdata -h)`},
	} {
		code, out, errOut := runCLI(t, c.args...)
		if code != 2 || out != "" || errOut != c.want+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr\n%q\nwant\n%q", c.args, code, out, errOut, c.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"calc", "-h"}, {"benchdata", "--help"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: tracker") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// A file with no activities is an empty portfolio: every figure is zero, with a
// warning, not a refusal.
func TestEmptyActivitiesFile(t *testing.T) {
	for name, in := range map[string]string{"no bytes": "", "empty list": `{"activities":[]}`, "header only": "Date,Type,Symbol,Quantity,UnitPrice,Fee,Currency\n"} {
		t.Run(name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			writeFile(t, ".", "p.csv", "date,symbol,close\n2024-01-02,X,10\n")
			file := "a.json"
			if strings.HasPrefix(in, "Date") {
				file = "a.csv"
			}
			writeFile(t, ".", file, in)
			code, out, errOut := runCLI(t, "calc", "--activities", file, "--prices", "p.csv")
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, want := range []string{`"asOf": "2024-01-02"`, `"holdings": []`, `"marketValue": "0"`, `"cash": "0"`, `"twr": "0.00000000"`, "holds no activities"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %s:\n%s", want, out)
				}
			}
		})
	}
}
