package marketdata

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// Finnhub's documented /quote answer.
const finnhubAAPL = `{"c":261.74,"d":2.29,"dp":0.8826,"h":263.31,"l":260.68,"o":261.07,"pc":259.45,"t":1582641000}`

func TestFinnhubQuote(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, finnhubAAPL))
	q, err := NewFinnhub(testOptions(srv.URL, clock)).Quote(context.Background(), "AAPL")
	if err != nil {
		t.Fatal(err)
	}
	want := Quote{Symbol: "AAPL", Price: decimal.RequireFromString("261.74"), Volume: decimal.Zero,
		Timestamp: time.Unix(1582641000, 0).UTC(), Source: SourceFinnhub, PreviousClose: decimal.RequireFromString("259.45")}
	if !q.Price.Equal(want.Price) || q.Price.String() != "261.74" || !q.PreviousClose.Equal(want.PreviousClose) ||
		!q.Timestamp.Equal(want.Timestamp) || q.Symbol != "AAPL" || q.Source != SourceFinnhub || !q.Volume.IsZero() {
		t.Fatalf("got %+v, want %+v", q, want)
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	r := srv.request(0)
	if r.URL.Path != "/quote" || r.URL.Query().Get("symbol") != "AAPL" {
		t.Errorf("request %s", r.URL)
	}
	if r.Header.Get("X-Finnhub-Token") != testKey || r.URL.Query().Get("token") != "" {
		t.Errorf("the key must travel in the header only: %v %s", r.Header, r.URL)
	}
}

func TestFinnhubPriceIsExact(t *testing.T) {
	// 0.1+0.2-style values and long fractions survive untouched (no float64).
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, `{"c":1234567.123456789012,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0.3,"t":1700000000}`))
	q, err := NewFinnhub(testOptions(srv.URL, clock)).Quote(context.Background(), "X")
	if err != nil {
		t.Fatal(err)
	}
	if q.Price.String() != "1234567.123456789012" || q.PreviousClose.String() != "0.3" {
		t.Fatalf("price %s previous close %s", q.Price, q.PreviousClose)
	}
}

func TestFinnhubFailures(t *testing.T) {
	cases := []struct {
		name     string
		handlers []http.HandlerFunc
		kind     ErrorKind
		status   int
		hits     int32
		contains string
	}{
		{"unknown symbol answers zeros", []http.HandlerFunc{jsonReply(200, `{"c":0,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0,"t":0}`)}, KindNotFound, 0, 1, "zero"},
		{"error body with 200", []http.HandlerFunc{jsonReply(200, `{"error":"You don't have access to this resource."}`)}, KindUpstream, 0, 1, "access"},
		{"limit in a 200 error body", []http.HandlerFunc{jsonReply(200, `{"error":"API limit reached. Please try again later. Remaining Limit: 0"}`)}, KindRateLimited, 0, 1, "API limit"},
		{"bad key", []http.HandlerFunc{jsonReply(401, `{"error":"Invalid API key"}`)}, KindHTTPStatus, 401, 1, "Invalid API key"},
		{"forbidden", []http.HandlerFunc{jsonReply(403, `{"error":"You don't have access to this resource."}`)}, KindHTTPStatus, 403, 1, "access"},
		{"429 retried then still limited", []http.HandlerFunc{reply(429, "text/plain", "API limit reached. Please try again later. Remaining Limit: 0")}, KindRateLimited, 429, 3, "API limit reached"},
		{"429 with a long Retry-After is not waited for", []http.HandlerFunc{jsonReply(429, `{"error":"API limit reached."}`, "Retry-After", "60")}, KindRateLimited, 429, 1, "API limit"},
		{"proxy 502 HTML page, retried", []http.HandlerFunc{reply(502, "text/html", badGatewayHTML)}, KindHTTPStatus, 502, 3, "502 Bad Gateway"},
		{"malformed JSON", []http.HandlerFunc{jsonReply(200, `{"c":261.74,"d":`)}, KindMalformed, 0, 1, "quote body"},
		{"HTML with 200", []http.HandlerFunc{reply(200, "text/html", "<html><body>Maintenance</body></html>")}, KindMalformed, 0, 1, "Maintenance"},
		{"string price", []http.HandlerFunc{jsonReply(200, `{"c":"abc","t":1700000000}`)}, KindMalformed, 0, 1, ""},
		{"negative price", []http.HandlerFunc{jsonReply(200, `{"c":-1,"t":1700000000}`)}, KindMalformed, 0, 1, "not positive"},
		{"exponent bomb", []http.HandlerFunc{jsonReply(200, `{"c":1e999999999,"t":1700000000}`)}, KindMalformed, 0, 1, "out of range"},
		{"empty object", []http.HandlerFunc{jsonReply(200, `{}`)}, KindMalformed, 0, 1, "no current price"},
		{"trailing garbage", []http.HandlerFunc{jsonReply(200, finnhubAAPL+`}`)}, KindMalformed, 0, 1, ""},
		{"timeout", []http.HandlerFunc{hang}, KindTimeout, 0, 3, "no complete answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: testNow}
			srv := newServer(t, tc.handlers...)
			_, err := NewFinnhub(testOptions(srv.URL, clock)).Quote(context.Background(), "AAPL")
			e := asMDE(t, err, tc.kind)
			if e.Status != tc.status {
				t.Errorf("status %d, want %d", e.Status, tc.status)
			}
			if got := srv.hits.Load(); got != tc.hits {
				t.Errorf("%d requests, want %d", got, tc.hits)
			}
			if tc.contains != "" && !contains(e.Message, tc.contains) {
				t.Errorf("message %q lacks %q", e.Message, tc.contains)
			}
			if e.Symbol != "AAPL" || e.Provider != SourceFinnhub {
				t.Errorf("error %+v", e)
			}
			if len(e.Message) > maxMessageLen+4 {
				t.Errorf("message too long: %d", len(e.Message))
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestFinnhubRetryHonoursRetryAfter(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t,
		jsonReply(429, `{"error":"API limit reached."}`, "Retry-After", "1"),
		reply(503, "text/html", "<h1>Service Unavailable</h1>"),
		jsonReply(200, finnhubAAPL))
	q, err := NewFinnhub(testOptions(srv.URL, clock)).Quote(context.Background(), "AAPL")
	if err != nil {
		t.Fatal(err)
	}
	if q.Price.String() != "261.74" {
		t.Fatal(q.Price)
	}
	sleeps := clock.Sleeps()
	// Retry-After: 1 s honoured exactly; then full jitter capped at Base·2¹ (Rand returns n-1).
	if len(sleeps) != 2 || sleeps[0] != time.Second || sleeps[1] != 20*time.Millisecond-1 {
		t.Fatalf("sleeps %v", sleeps)
	}
}

func TestLimiterRefusalMakesNoRequest(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, finnhubAAPL))
	opts := testOptions(srv.URL, clock)
	opts.Limiter = NewMemoryLimiter(map[string][]Limit{SourceFinnhub: {{Max: 2, Window: time.Minute}}})
	f := NewFinnhub(opts)
	for i := 0; i < 2; i++ {
		if _, err := f.Quote(context.Background(), "AAPL"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.Quote(context.Background(), "AAPL")
	e := asMDE(t, err, KindRateLimited)
	if e.RetryAfter != time.Minute { // testNow is on a minute boundary
		t.Errorf("retry after %s", e.RetryAfter)
	}
	if srv.hits.Load() != 2 {
		t.Errorf("%d requests", srv.hits.Load())
	}
	if e.Temporary() != true {
		t.Error("a limit is temporary")
	}
}

func TestRetriesCountAgainstTheLimiter(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, reply(500, "text/plain", "oops"))
	counter := NewMemoryCounter()
	opts := testOptions(srv.URL, clock)
	opts.Limiter = NewWindowLimiter(counter, map[string][]Limit{SourceFinnhub: {{Max: 60, Window: time.Minute}}})
	_, err := NewFinnhub(opts).Quote(context.Background(), "AAPL")
	asMDE(t, err, KindHTTPStatus)
	key, _ := RateLimitKey(SourceFinnhub, time.Minute, testNow)
	if counter.Count(key) != 3 {
		t.Fatalf("count %d, want 3 (one per attempt)", counter.Count(key))
	}
}

func TestCancelledContext(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, hang)
	opts := testOptions(srv.URL, clock)
	opts.Timeout = 10 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := NewFinnhub(opts).Quote(ctx, "AAPL")
	asMDE(t, err, KindTimeout)
	if !errorsIsCanceled(err) {
		t.Fatalf("cause should be context.Canceled: %v", err)
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("a cancelled call is not retried: %d", srv.hits.Load())
	}
}

func TestConnectionRefused(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, finnhubAAPL))
	url := srv.URL
	srv.Close()
	_, err := NewFinnhub(testOptions(url, clock)).Quote(context.Background(), "AAPL")
	e := asMDE(t, err, KindUpstream)
	if contains(e.Message, testKey) || !contains(e.Message, "connection failed") {
		t.Fatal(e.Message)
	}
}

func TestInvalidSymbolIsRejectedLocally(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, finnhubAAPL))
	for _, s := range []string{"", "A B", "../x", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"} {
		_, err := NewFinnhub(testOptions(srv.URL, clock)).Quote(context.Background(), s)
		asMDE(t, err, KindNotFound)
	}
	if srv.hits.Load() != 0 {
		t.Fatal("invalid symbols reached the provider")
	}
}
