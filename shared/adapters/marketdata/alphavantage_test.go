package marketdata

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

const avGlobalQuoteIBM = `{
    "Global Quote": {
        "01. symbol": "IBM",
        "02. open": "193.4500",
        "03. high": "195.3900",
        "04. low": "192.8700",
        "05. price": "194.6000",
        "06. volume": "4096530",
        "07. latest trading day": "2024-03-04",
        "08. previous close": "193.3000",
        "09. change": "1.3000",
        "10. change percent": "0.6725%"
    }
}`

const avDailyIBM = `{
    "Meta Data": {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes",
        "2. Symbol": "IBM",
        "3. Last Refreshed": "2024-03-04",
        "4. Output Size": "Compact",
        "5. Time Zone": "US/Eastern"
    },
    "Time Series (Daily)": {
        "2024-03-04": {"1. open": "193.4500", "2. high": "195.3900", "3. low": "192.8700", "4. close": "194.6000", "5. volume": "4096530"},
        "2024-03-01": {"1. open": "185.4900", "2. high": "188.3800", "3. low": "185.1800", "4. close": "188.2000", "5. volume": "4018354"},
        "2024-02-29": {"1. open": "186.1500", "2. high": "186.8495", "3. low": "184.6900", "4. close": "185.0300", "5. volume": "6458487"},
        "2024-02-28": {"1. open": "184.6300", "2. high": "185.3700", "3. low": "183.5500", "4. close": "185.3000", "5. volume": "3216340"}
    }
}`

const avInformation = `{"Information": "We have detected your API key as DEMO and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."}`
const avNote = `{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency."}`
const avErrorMessage = `{"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."}`

func TestAlphaVantageGlobalQuote(t *testing.T) {
	clock := &fakeClock{now: testNow} // 2024-03-05 10:00 New York; the quote is from 03-04
	srv := newServer(t, jsonReply(200, avGlobalQuoteIBM))
	q, err := NewAlphaVantage(testOptions(srv.URL, clock)).Quote(context.Background(), "IBM")
	if err != nil {
		t.Fatal(err)
	}
	if q.Price.String() != "194.6" || q.Price.Exponent() != -4 || q.Volume.String() != "4096530" || q.PreviousClose.String() != "193.3" {
		t.Fatalf("%+v", q)
	}
	// Not today's: stamped with that session's close, 16:00 New York = 21:00 UTC (EST).
	if want := time.Date(2024, 3, 4, 21, 0, 0, 0, time.UTC); !q.Timestamp.Equal(want) || q.Timestamp.Location() != time.UTC {
		t.Fatalf("timestamp %s, want %s", q.Timestamp, want)
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	r := srv.request(0)
	if v := r.URL.Query(); v.Get("function") != "GLOBAL_QUOTE" || v.Get("symbol") != "IBM" || v.Get("apikey") != testKey {
		t.Fatalf("query %v", v)
	}

	// A quote of today is stamped with the fetch time.
	clock2 := &fakeClock{now: time.Date(2024, 3, 4, 18, 0, 0, 0, time.UTC)}
	srv2 := newServer(t, jsonReply(200, avGlobalQuoteIBM))
	q, err = NewAlphaVantage(testOptions(srv2.URL, clock2)).Quote(context.Background(), "IBM")
	if err != nil || !q.Timestamp.Equal(clock2.now) {
		t.Fatalf("%v %v", q.Timestamp, err)
	}
}

func TestAlphaVantageDaily(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, avDailyIBM))
	bars, err := NewAlphaVantage(testOptions(srv.URL, clock)).DailyBars(context.Background(), "IBM",
		calendar.MustNew(2024, 2, 29), calendar.MustNew(2024, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 3 {
		t.Fatalf("%d bars", len(bars))
	}
	wantDates := []string{"2024-02-29", "2024-03-01", "2024-03-04"}
	for i, b := range bars {
		if b.Date.String() != wantDates[i] || b.Source != SourceAlphaVantage || b.Symbol != "IBM" {
			t.Fatalf("bar %d: %+v", i, b)
		}
	}
	if bars[0].High.String() != "186.8495" || bars[2].Close.String() != "194.6" || bars[1].Volume.String() != "4018354" {
		t.Fatalf("%+v", bars)
	}
	if v := srv.request(0).URL.Query(); v.Get("function") != "TIME_SERIES_DAILY" || v.Get("outputsize") != "compact" {
		t.Fatalf("query %v", v)
	}
	// Far back: the full history is needed.
	srv2 := newServer(t, jsonReply(200, avDailyIBM))
	if _, err := NewAlphaVantage(testOptions(srv2.URL, clock)).DailyBars(context.Background(), "IBM",
		calendar.MustNew(2020, 1, 1), calendar.MustNew(2024, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if v := srv2.request(0).URL.Query(); v.Get("outputsize") != "full" {
		t.Fatalf("query %v", v)
	}
	// A range with no sessions is empty, not an error.
	srv3 := newServer(t, jsonReply(200, avDailyIBM))
	bars, err = NewAlphaVantage(testOptions(srv3.URL, clock)).DailyBars(context.Background(), "IBM",
		calendar.MustNew(2024, 3, 2), calendar.MustNew(2024, 3, 3))
	if err != nil || len(bars) != 0 || bars == nil {
		t.Fatalf("%v %v", bars, err)
	}
}

func TestAlphaVantageFailures(t *testing.T) {
	midnight := time.Date(2024, 3, 6, 0, 0, 0, 0, time.UTC).Sub(testNow)
	cases := []struct {
		name       string
		daily      bool
		handler    http.HandlerFunc
		kind       ErrorKind
		hits       int32
		retryAfter time.Duration
	}{
		{"daily limit (Information) is a limit, not data", false, jsonReply(200, avInformation), KindRateLimited, 1, midnight},
		{"daily limit on the series", true, jsonReply(200, avInformation), KindRateLimited, 1, midnight},
		{"per-minute Note", false, jsonReply(200, avNote), KindRateLimited, 1, time.Minute},
		{"premium endpoint is not a limit", true, jsonReply(200, `{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"}`), KindHTTPStatus, 1, 0},
		{"Error Message for an unknown symbol", true, jsonReply(200, avErrorMessage), KindNotFound, 1, 0},
		{"other Error Message", true, jsonReply(200, `{"Error Message": "the parameter apikey is invalid or missing."}`), KindUpstream, 1, 0},
		{"empty Global Quote", false, jsonReply(200, `{"Global Quote": {}}`), KindNotFound, 1, 0},
		{"malformed JSON", false, jsonReply(200, `{"Global Quote": {"05. price": "1`), KindMalformed, 1, 0},
		{"price not a number", false, jsonReply(200, `{"Global Quote": {"05. price": "N/A", "06. volume": "1", "07. latest trading day": "2024-03-04"}}`), KindMalformed, 1, 0},
		{"missing series", true, jsonReply(200, `{"Meta Data": {}}`), KindMalformed, 1, 0},
		{"series bar with low above high", true, jsonReply(200, `{"Time Series (Daily)": {"2024-03-04": {"1. open": "2", "2. high": "1", "3. low": "3", "4. close": "2", "5. volume": "1"}}}`), KindMalformed, 1, 0},
		{"bad series date", true, jsonReply(200, `{"Time Series (Daily)": {"2024-02-30": {"1. open": "2", "2. high": "3", "3. low": "1", "4. close": "2", "5. volume": "1"}}}`), KindMalformed, 1, 0},
		{"null body", false, jsonReply(200, `null`), KindMalformed, 1, 0},
		{"array body", false, jsonReply(200, `[]`), KindMalformed, 1, 0},
		{"502 HTML", true, reply(502, "text/html", badGatewayHTML), KindHTTPStatus, 3, 0},
		{"timeout", false, hang, KindTimeout, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: testNow}
			srv := newServer(t, tc.handler)
			av := NewAlphaVantage(testOptions(srv.URL, clock))
			var err error
			if tc.daily {
				_, err = av.DailyBars(context.Background(), "IBM", calendar.MustNew(2024, 3, 1), calendar.MustNew(2024, 3, 4))
			} else {
				_, err = av.Quote(context.Background(), "IBM")
			}
			e := asMDE(t, err, tc.kind)
			if srv.hits.Load() != tc.hits {
				t.Errorf("%d requests, want %d", srv.hits.Load(), tc.hits)
			}
			if tc.retryAfter != 0 && e.RetryAfter != tc.retryAfter {
				t.Errorf("retry after %s, want %s", e.RetryAfter, tc.retryAfter)
			}
			if e.Provider != SourceAlphaVantage || e.Symbol != "IBM" {
				t.Errorf("%+v", e)
			}
		})
	}
}

func TestAlphaVantageKeyNeverInErrors(t *testing.T) {
	clock := &fakeClock{now: testNow}
	// A provider echoing the request (and so the key) back in its error.
	srv := newServer(t, jsonReply(200, `{"Error Message": "bad request for apikey=`+testKey+`"}`))
	_, err := NewAlphaVantage(testOptions(srv.URL, clock)).Quote(context.Background(), "IBM")
	asMDE(t, err, KindUpstream) // asMDE fails on a leaked key
}
