package activities_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// refusedLines renders Result.Refused one error a line, in file order.
func refusedLines(r *activities.Result) []string {
	out := make([]string, 0, len(r.Refused))
	for _, e := range r.Refused {
		out = append(out, e.Error())
	}
	return out
}

// TestParseAllReportsEveryActivity: ParseAll refuses each activity in error
// and reads on, so one pass names them all; what the later activities are
// checked against (ids, a symbol's currency) holds only the activities kept;
// the kept ones are what Parse would give for the file without the refused.
func TestParseAllReportsEveryActivity(t *testing.T) {
	in := `{"activities":[
  {"id":"a","date":"2024-01-02","type":"BUY","symbol":"AAPL","quantity":10,"unitPrice":150,"currency":"USD"},
  {"id":"b","date":"2024-01-03","type":"BUY","symbol":"MSFT","quantity":"x","unitPrice":370,"currency":"USD","note":"read to its end"},
  {"id":"a","date":"2024-01-04","type":"BUY","symbol":"NVDA","quantity":1,"unitPrice":500,"currency":"USD"},
  42,
  {"date":"2024-01-05","type":"BUY","symbol":"AAPL","quantity":1,"unitPrice":150,"currency":"EUR"},
  {"date":"2024-01-06","type":"SELL","symbol":"AAPL","quantity":1,"quantity":2,"unitPrice":150,"currency":"USD"},
  {"type":"VOID","voids":"b","reason":"b was refused: nothing to void"},
  {"id":"c","date":"2024-01-07","type":"HODL","symbol":"AAPL","currency":"USD"},
  {"id":"c","date":"2024-01-08","type":"DIVIDEND","symbol":"AAPL","amount":"2.4","currency":"USD"},
  {"id":"d","date":"2024-01-09","type":"DEPOSIT","amount":"100","currency":"USD"},
  {"type":"VOID","voids":"d","reason":"booked twice"}
]}`
	r, err := activities.ParseAll(strings.NewReader(in), "f.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, refusedLines(r), []string{
		`f.json: activity 1 (line 3): "quantity": "x" is not a decimal number`,
		`f.json: activity 2 (line 4): "id": duplicate id "a" (activity 0, line 2, has it)`,
		`f.json: activity 3 (line 5): an activity must be an object, not a number`,
		`f.json: activity 4 (line 6): AAPL trades in USD (activity 0, line 2), not EUR`,
		`f.json: activity 5 (line 7): duplicate key "quantity"`,
		`f.json: activity 6 (line 8): "voids": no earlier activity has id "b"`,
		`f.json: activity 7 (line 9): "type": unknown type "HODL" (want BUY, SELL, DIVIDEND, INTEREST, FEE, DEPOSIT, WITHDRAWAL, SPLIT, CONVERSION or VOID)`,
	})
	// "c" was refused with its activity, so the next "c" is the first.
	sameLines(t, txStrings(r), []string{
		`0 2024-01-02 BUY "AAPL" q=10 p=150 a=0 fee=0 tax=0 USD id=a`,
		`8 2024-01-08 DIVIDEND "AAPL" q=0 p=0 a=2.4 fee=0 tax=0 USD id=c`,
	})
	if r.Activities != 11 || r.Voided != 1 || r.Line(9) != 11 {
		t.Errorf("activities %d, voided %d, line of 9 %d", r.Activities, r.Voided, r.Line(9))
	}
	if by, ok := r.VoidedBy(9); !ok || by != 10 {
		t.Errorf("VoidedBy(9) = %d, %v", by, ok)
	}
	if target, ok := r.Voids(10); !ok || target != 9 {
		t.Errorf("Voids(10) = %d, %v", target, ok)
	}
	if _, ok := r.Voids(6); ok {
		t.Error("a refused VOID voids something")
	}
	if !errors.Is(r.Refused[3], portfolio.ErrCurrencyMismatch) || !errors.Is(r.Refused[3], activities.ErrInvalidFile) {
		t.Errorf("the currency refusal lost its sentinels: %v", r.Refused[3])
	}

	// Parse stops at the first.
	if _, err := activities.Parse(strings.NewReader(in), "f.json"); err == nil || err.Error() != `f.json: activity 1 (line 3): "quantity": "x" is not a decimal number` {
		t.Errorf("Parse: %v", err)
	}
}

// TestParseAllEnds: invalid JSON, the structure and too many activities still
// end the read (no boundary of the next activity is known, or it is refused
// whole).
func TestParseAllEnds(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"invalid JSON in an activity", `{"activities":[{"date":"2024-01-02","type":"BUY",}]}`, `f.json: activity 0 (line 1): invalid JSON at line 1: `},
		{"not an array", `{"activities":{}}`, `f.json: line 1: "activities" must be an array, not an object`},
		{"too many", `{"activities":[{"type":"X"},{"type":"X"},{"type":"X"}]}`, `f.json: line 1: more than 2 activities`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := activities.ParseAll(strings.NewReader(c.in), "f.json", 2)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want %s...", err, c.want)
			}
			if c.name == "too many" && !errors.Is(err, activities.ErrTooManyActivities) {
				t.Errorf("%v is not ErrTooManyActivities", err)
			}
		})
	}
}

func TestParseAllCSV(t *testing.T) {
	in := "Date,Code,Currency,Price,Quantity,Action,Fee\n" +
		"2024-01-02,AAPL,USD,150,10,BUY,0\n" +
		"2024-01-03,AAPL,USD,150,1,BUY\n" +
		"2024-01-04,\"AAPL,USD,150,1,BUY,0\n" +
		"2024-01-05,AAPL,USD,1.2.3,1,BUY,0\n" +
		"2024-01-06,AAPL,USD,160,4,SELL,1\n"
	r, err := activities.ParseAllCSV(strings.NewReader(in), "a.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := refusedLines(r)
	if len(got) < 2 || got[0] != `a.csv: activity 1 (line 3): 6 fields, but the header has 7` ||
		!strings.HasPrefix(got[1], `a.csv: activity 2 (line 4): invalid CSV at line `) {
		t.Fatalf("refused %q", got)
	}
	// The unterminated quote runs to the end of the file: the reader finds no
	// row after it, and what it kept is the first.
	sameLines(t, txStrings(r), []string{`0 2024-01-02 BUY "AAPL" q=10 p=150 a=0 fee=0 tax=0 USD`})

	closed := strings.Replace(in, `"AAPL,`, `AAPL",`, 1)
	r, err = activities.ParseAllCSV(strings.NewReader(closed), "a.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, refusedLines(r), []string{
		`a.csv: activity 1 (line 3): 6 fields, but the header has 7`,
		`a.csv: activity 2 (line 4): invalid CSV at line 4: bare " in non-quoted-field`,
		`a.csv: activity 3 (line 5): "unitPrice": "1.2.3" is not a decimal number`,
	})
	sameLines(t, txStrings(r), []string{
		`0 2024-01-02 BUY "AAPL" q=10 p=150 a=0 fee=0 tax=0 USD`,
		`4 2024-01-06 SELL "AAPL" q=4 p=160 a=0 fee=1 tax=0 USD`,
	})
	var many strings.Builder
	many.WriteString("Date,Code,Currency,Price,Quantity,Action,Fee\n")
	for i := range 4 {
		fmt.Fprintf(&many, "2024-01-0%d,X,USD,1,1,BUY,0\n", i+1)
	}
	if _, err := activities.ParseAllCSV(strings.NewReader(many.String()), "a.csv", 3); !errors.Is(err, activities.ErrTooManyActivities) {
		t.Errorf("4 rows read with a bound of 3: %v", err)
	}
}
