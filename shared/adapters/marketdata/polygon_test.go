package marketdata

import (
	"context"
	"net/http"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// The documented shape of /v2/aggs/ticker/AAPL/range/1/day/2023-01-09/2023-01-10.
const polygonAAPL = `{
  "adjusted": true,
  "queryCount": 2,
  "request_id": "6a7e466379af0a71039d60cc78e72282",
  "results": [
    {"c": 130.15, "h": 133.41, "l": 129.89, "n": 645365, "o": 130.465, "t": 1673240400000, "v": 70790813, "vw": 131.6292},
    {"c": 130.73, "h": 131.2636, "l": 128.12, "n": 554940, "o": 130.26, "t": 1673326800000, "v": 6.3896155e+07, "vw": 129.822}
  ],
  "resultsCount": 2,
  "status": "OK",
  "ticker": "AAPL"
}`

func TestPolygonDailyBars(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, polygonAAPL))
	from, to := calendar.MustNew(2023, 1, 9), calendar.MustNew(2023, 1, 10)
	bars, err := NewPolygon(testOptions(srv.URL, clock)).DailyBars(context.Background(), "AAPL", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 2 {
		t.Fatalf("%d bars", len(bars))
	}
	// t = 1673240400000 is 2023-01-09 05:00 UTC = midnight New York: the 9th, not the 8th.
	if bars[0].Date != from || bars[1].Date != to {
		t.Fatalf("dates %s %s", bars[0].Date, bars[1].Date)
	}
	if bars[0].Open.String() != "130.465" || bars[0].Volume.String() != "70790813" || bars[1].Volume.String() != "63896155" || bars[1].High.String() != "131.2636" {
		t.Fatalf("%+v", bars)
	}
	for _, b := range bars {
		if err := b.Validate(); err != nil || b.Source != SourcePolygon {
			t.Fatal(b, err)
		}
	}
	r := srv.request(0)
	if r.URL.Path != "/v2/aggs/ticker/AAPL/range/1/day/2023-01-09/2023-01-10" || r.URL.Query().Get("adjusted") != "true" {
		t.Fatalf("request %s", r.URL)
	}
	if r.Header.Get("Authorization") != "Bearer "+testKey || r.URL.Query().Get("apiKey") != "" {
		t.Fatal("the key must travel in the Authorization header")
	}
}

func TestPolygonEmptyResults(t *testing.T) {
	for _, body := range []string{
		`{"ticker":"AAPL","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK","request_id":"x"}`,
		`{"status":"OK","queryCount":0,"resultsCount":0,"adjusted":true,"results":null}`,
		`{"status":"DELAYED","queryCount":0,"resultsCount":0,"adjusted":true,"results":[]}`,
		// An unknown ticker answers just like a range without sessions.
		`{"ticker":"NOPE","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK","request_id":"y"}`,
	} {
		clock := &fakeClock{now: testNow}
		srv := newServer(t, jsonReply(200, body))
		bars, err := NewPolygon(testOptions(srv.URL, clock)).DailyBars(context.Background(), "AAPL", calendar.MustNew(2023, 1, 7), calendar.MustNew(2023, 1, 8))
		if err != nil || bars == nil || len(bars) != 0 {
			t.Fatalf("%s: %v %v", body, bars, err)
		}
	}
}

func TestPolygonFailures(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		kind    ErrorKind
		status  int
		hits    int32
		msg     string
	}{
		{"429 ERROR", jsonReply(429, `{"status":"ERROR","request_id":"a","error":"You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. https://polygon.io/pricing"}`), KindRateLimited, 429, 3, "exceeded the maximum requests"},
		{"ERROR in a 200", jsonReply(200, `{"status":"ERROR","request_id":"a","error":"Could not parse the time parameter: 'from'."}`), KindUpstream, 0, 1, "Could not parse"},
		{"limit ERROR in a 200", jsonReply(200, `{"status":"ERROR","request_id":"a","error":"You've exceeded the maximum requests per minute"}`), KindRateLimited, 0, 1, "exceeded"},
		{"NOT_AUTHORIZED 403", jsonReply(403, `{"status":"NOT_AUTHORIZED","request_id":"b","message":"Your plan doesn't include this data timeframe."}`), KindHTTPStatus, 403, 1, "plan doesn't include"},
		{"bad key 401", jsonReply(401, `{"status":"ERROR","request_id":"c","error":"Unknown API Key"}`), KindHTTPStatus, 401, 1, "Unknown API Key"},
		{"404 page", reply(404, "text/plain", "404 page not found"), KindNotFound, 404, 1, "404 page not found"},
		{"502 HTML", reply(502, "text/html", badGatewayHTML), KindHTTPStatus, 502, 3, "Bad Gateway"},
		{"malformed", jsonReply(200, `{"status":"OK","results":[{"o":1,"h":2`), KindMalformed, 0, 1, ""},
		{"unknown status", jsonReply(200, `{"status":"WHAT"}`), KindMalformed, 0, 1, "unknown status"},
		{"result without close", jsonReply(200, `{"status":"OK","results":[{"o":1,"h":2,"l":1,"t":1673240400000}]}`), KindMalformed, 0, 1, "lacks"},
		{"price not a number", jsonReply(200, `{"status":"OK","results":[{"o":"abc","h":2,"l":1,"c":1,"t":1673240400000}]}`), KindMalformed, 0, 1, ""},
		{"zero price", jsonReply(200, `{"status":"OK","results":[{"o":0,"h":2,"l":1,"c":1,"t":1673240400000}]}`), KindMalformed, 0, 1, "positive"},
		{"timeout", hang, KindTimeout, 0, 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: testNow}
			srv := newServer(t, tc.handler)
			_, err := NewPolygon(testOptions(srv.URL, clock)).DailyBars(context.Background(), "AAPL", calendar.MustNew(2023, 1, 9), calendar.MustNew(2023, 1, 10))
			e := asMDE(t, err, tc.kind)
			if e.Status != tc.status || srv.hits.Load() != tc.hits || !contains(e.Message, tc.msg) {
				t.Fatalf("status %d hits %d message %q", e.Status, srv.hits.Load(), e.Message)
			}
		})
	}
}

func TestPolygonSymbolIsEscaped(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, `{"status":"OK","results":[]}`))
	if _, err := NewPolygon(testOptions(srv.URL, clock)).DailyBars(context.Background(), "BRK.B", calendar.MustNew(2023, 1, 9), calendar.MustNew(2023, 1, 9)); err != nil {
		t.Fatal(err)
	}
	if p := srv.request(0).URL.Path; p != "/v2/aggs/ticker/BRK.B/range/1/day/2023-01-09/2023-01-09" {
		t.Fatal(p)
	}
}
