package marketdata

import (
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// The fuzz targets feed arbitrary bytes to every response parser. The properties:
// no panic, and either a valid value or a *MarketDataError with a kind and a short
// message — never both, never neither.

func checkParseResult(t *testing.T, err *MarketDataError, valid func() error) {
	t.Helper()
	if err != nil {
		if err.Kind == "" || len(err.Message) > maxMessageLen+4 {
			t.Fatalf("bad error %+v", err)
		}
		return
	}
	if e := valid(); e != nil {
		t.Fatalf("accepted an invalid value: %v", e)
	}
}

func FuzzFinnhubQuote(f *testing.F) {
	for _, s := range []string{finnhubAAPL, `{"c":0,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0,"t":0}`, `{"error":"API limit reached."}`,
		`{"c":1e5,"t":1.7e9}`, `{"c":"1","t":"2"}`, badGatewayHTML, `{"c":1,"t":1700000000,"pc":-1}`, `[]`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parseFinnhubQuote(body, "AAPL")
		checkParseResult(t, err, q.Validate)
	})
}

func FuzzFinnhubMessage(f *testing.F) {
	for _, s := range []string{`{"type":"ping"}`, `{"msg":"Invalid symbol X","type":"error"}`,
		`{"data":[{"c":["1","8"],"p":261.74,"s":"AAPL","t":1582641000123,"v":10},{"p":-1,"s":"A","t":1,"v":1}],"type":"trade"}`,
		`{"data":[{"p":1e400,"s":"AAPL","t":1,"v":1}],"type":"trade"}`, `{"data":null,"type":"trade"}`, `{"type":"news"}`, `x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		quotes, errs := parseFinnhubMessage(body)
		for _, q := range quotes {
			if err := q.Validate(); err != nil {
				t.Fatal(err)
			}
			_ = q.Price.String()
		}
		for _, e := range errs {
			if e.Kind == "" {
				t.Fatal("error without kind")
			}
		}
	})
}

func FuzzAlphaVantageQuote(f *testing.F) {
	for _, s := range []string{avGlobalQuoteIBM, avInformation, avNote, avErrorMessage, `{"Global Quote": {}}`, `{"Global Quote": []}`,
		`{"Global Quote": {"05. price": "1e30", "06. volume": "1", "07. latest trading day": "2024-03-04"}}`, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parseAlphaVantageQuote(body, "IBM", testNow)
		checkParseResult(t, err, q.Validate)
	})
}

func FuzzAlphaVantageDaily(f *testing.F) {
	for _, s := range []string{avDailyIBM, avInformation, avErrorMessage, `{"Time Series (Daily)": {}}`,
		`{"Time Series (Daily)": {"2024-03-04": {"1. open": "1"}}}`, `{"Time Series (Daily)": null}`} {
		f.Add([]byte(s))
	}
	from, to := calendar.MustNew(2000, 1, 1), calendar.MustNew(2030, 1, 1)
	f.Fuzz(func(t *testing.T, body []byte) {
		bars, err := parseAlphaVantageDaily(body, "IBM", from, to, testNow)
		checkParseResult(t, err, func() error {
			for i, b := range bars {
				if err := b.Validate(); err != nil {
					return err
				}
				if i > 0 && !bars[i-1].Date.Before(b.Date) {
					t.Fatal("bars not strictly ascending")
				}
			}
			return nil
		})
	})
}

func FuzzPolygonAggs(f *testing.F) {
	for _, s := range []string{polygonAAPL, `{"status":"OK","results":null}`, `{"status":"ERROR","error":"x"}`,
		`{"status":"NOT_AUTHORIZED","message":"y"}`, `{"status":"OK","results":[{"o":1,"h":1,"l":1,"c":1,"t":-5}]}`,
		`{"status":"OK","results":[{"o":1,"h":1,"l":2,"c":1,"t":1673240400000,"v":1e3}]}`, badGatewayHTML} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		bars, err := parsePolygonAggs(body, "AAPL")
		checkParseResult(t, err, func() error {
			for _, b := range bars {
				if err := b.Validate(); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func FuzzReplayLine(f *testing.F) {
	for _, s := range []string{
		`{"symbol":"AAPL","price":"189.98","volume":"100","timestamp":"2024-03-05T14:30:00Z"}`,
		"2024-03-05T14:30:00Z,AAPL,189.98,100", "1709649002500,AAPL,190.01,", `"a,b",c,1`, "1,2,3", `{"price":1e99999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, parse := range []func([]byte, string) (Quote, error){parseReplayJSON, parseReplayCSV} {
			q, err := parse(line, SourceReplay)
			if err == nil {
				if e := q.Validate(); e != nil {
					t.Fatal(e)
				}
				if q.Timestamp.After(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Fatal("timestamp out of range")
				}
				_ = q.Price.String()
			}
		}
	})
}

func FuzzPolygonSnapshot(f *testing.F) {
	for _, s := range []string{
		`{"status":"OK","ticker":{"ticker":"AAPL","updated":1718377183237000000,"day":{"c":190.1,"v":1000},"lastTrade":{"p":190.75,"t":1718377183237000000},"prevDay":{"c":189}}}`,
		`{"status":"OK","ticker":{"min":{"c":1,"t":1718377183237}}}`, `{"status":"OK","ticker":{"day":{"c":2},"updated":-1}}`,
		`{"status":"NOT_AUTHORIZED","message":"You are not entitled to this data."}`, `{"status":"OK"}`, badGatewayHTML,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parsePolygonSnapshot(body, "AAPL")
		checkParseResult(t, err, q.Validate)
	})
}

func FuzzAlphaVantageRate(f *testing.F) {
	for _, s := range []string{
		`{"Realtime Currency Exchange Rate":{"1. From_Currency Code":"EUR","3. To_Currency Code":"USD","5. Exchange Rate":"1.08350000","6. Last Refreshed":"2024-03-05 15:00:01","7. Time Zone":"UTC"}}`,
		`{"Realtime Currency Exchange Rate":{"5. Exchange Rate":"1","6. Last Refreshed":"0001-01-01 00:00:00"}}`,
		`{"Realtime Currency Exchange Rate":{}}`, `{"Note":"Thank you"}`, `{"Information":"This is a premium endpoint."}`, badGatewayHTML,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parseAlphaVantageRate(body, "EURUSD=X", market.FXPair{Base: "EUR", Quote: "USD"}, testNow)
		checkParseResult(t, err, q.Validate)
	})
}
