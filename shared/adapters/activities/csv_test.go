package activities_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
)

func TestCSV(t *testing.T) {
	in := "\uFEFFDate,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note\n" +
		"2024-01-02,AAPL,YAHOO,USD,150.25,10,buy,4.95,\n" +
		"\n" +
		"2024-01-10T00:00:00.000Z,AAPL,YAHOO,USD,170.1,-4,SELL,-1,\"sold, partly\"\n" +
		"2024-02-15,AAPL,YAHOO,USD,0.24,10,dividend,0,\n" +
		"2024-03-01,,MANUAL,USD,0,0,FEE,2.5,custody\n"
	r, err := activities.ParseCSV(strings.NewReader(in), "a.csv")
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, txStrings(r), []string{
		`0 2024-01-02 BUY "AAPL" q=10 p=150.25 a=0 fee=4.95 tax=0 USD`,
		// Ghostfolio reads quantity, price and fee as absolute values.
		`1 2024-01-10 SELL "AAPL" q=4 p=170.1 a=0 fee=1 tax=0 USD note="sold, partly"`,
		`2 2024-02-15 DIVIDEND "AAPL" q=0 p=0 a=2.4 fee=0 tax=0 USD`,
		`3 2024-03-01 FEE "" q=0 p=0 a=2.5 fee=0 tax=0 USD note="custody"`,
	})
	if got := r.Line(1); got != 4 {
		t.Errorf("Line(1) = %d, want 4 (the blank line counts)", got)
	}

	semi := "date;symbol;currency;unitPrice;quantity;type;fee;tax;amount;ratio\n" +
		"2024-01-02;;EUR;;;DEPOSIT;;;1000;\n" +
		"2024-01-03;SAP;EUR;100;5;BUY;1;0.5;;\n" +
		"2024-01-04;SAP;EUR;;;SPLIT;;;;3:1\n"
	r, err = activities.ParseCSV(strings.NewReader(semi), "b.csv")
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, txStrings(r), []string{
		`0 2024-01-02 DEPOSIT "" q=0 p=0 a=1000 fee=0 tax=0 EUR`,
		`1 2024-01-03 BUY "SAP" q=5 p=100 a=0 fee=1 tax=0.5 EUR`,
		`2 2024-01-04 SPLIT "SAP" q=0 p=0 a=0 fee=0 tax=0 EUR 3:1`,
	})
}

func TestCSVMalformed(t *testing.T) {
	const head = "Date,Code,Currency,Price,Quantity,Action,Fee\n"
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", `a.csv: empty file: want a CSV header (e.g. Date,Code,DataSource,Currency,Price,Quantity,Action,Fee)`},
		{"no date column", "Code,Currency,Action\n", `a.csv: line 1: no "date" column in the header (e.g. Date,Code,DataSource,Currency,Price,Quantity,Action,Fee)`},
		{"two price columns", "Date,Price,Value,Action,Currency\n", `a.csv: line 1: two columns give "unitPrice" (the second is "Value")`},
		{"field count", head + "2024-01-02,X,USD,1,1,BUY\n", `a.csv: activity 0 (line 2): 6 fields, but the header has 7`},
		{"bad quote", head + "2024-01-02,\"X,USD,1,1,BUY,0\n", `a.csv: activity 0 (line 2): invalid CSV at line 2: extraneous or missing " in quoted-field`},
		{"bad number", head + "2024-01-02,X,USD,1.2.3,1,BUY,0\n", `a.csv: activity 0 (line 2): "unitPrice": "1.2.3" is not a decimal number`},
		{"negative tax", "Date,Code,Currency,Price,Quantity,Action,Tax\n2024-01-02,X,USD,1,1,BUY,-1\n", `a.csv: activity 0 (line 2): "tax": -1 must not be negative`},
		{"bad date", head + "2024-01-02,X,USD,1,1,BUY,0\n02.01.2024,X,USD,1,1,BUY,0\n", `a.csv: activity 1 (line 3): "date": invalid date: "02.01.2024" is not YYYY-MM-DD`},
		{"void", head + "2024-01-02,X,USD,1,1,VOID,0\n", `a.csv: activity 0 (line 2): "type": VOID is not supported in CSV files`},
		{"liability", head + "2024-01-02,X,USD,1,1,LIABILITY,0\n", `a.csv: activity 0 (line 2): "type": LIABILITY is not supported (Ghostfolio valuables and liabilities are not tracked)`},
		{"symbol in two currencies", head + "2024-01-02,X,USD,1,1,BUY,0\n2024-01-02,Y,CHF,1,1,BUY,0\n2024-01-03,X,CHF,1,1,SELL,0\n", `a.csv: activity 2 (line 4): X trades in USD (activity 0, line 2), not CHF`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := activities.ParseCSV(strings.NewReader(c.in), "a.csv")
			if got := fmt.Sprint(err); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
