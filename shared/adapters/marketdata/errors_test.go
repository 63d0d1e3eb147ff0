package marketdata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMarketDataErrorEvent(t *testing.T) {
	e := &MarketDataError{Provider: SourceFinnhub, Symbol: "AAPL", Kind: KindRateLimited, Status: 429,
		Message: "API limit reached", RetryAfter: 1500 * time.Millisecond, At: testNow, Err: context.DeadlineExceeded}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"provider":"finnhub","symbol":"AAPL","kind":"rate_limited","status":429,"message":"API limit reached","retryAfterMs":1500,"at":"2024-03-05T15:00:00Z"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back MarketDataError
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back2, _ := json.Marshal(&back)
	if string(back2) != want {
		t.Fatalf("round trip %s", back2)
	}
	if !errors.Is(e, KindRateLimited) || errors.Is(e, KindTimeout) || !errors.Is(e, context.DeadlineExceeded) {
		t.Fatal("errors.Is")
	}
	if s := e.Error(); !strings.Contains(s, "finnhub AAPL: rate_limited (HTTP 429): API limit reached (retry after 1.5s)") {
		t.Fatal(s)
	}
	min, _ := json.Marshal(&MarketDataError{Provider: "polygon", Kind: KindTimeout, Message: "m", At: testNow})
	if string(min) != `{"provider":"polygon","kind":"timeout","message":"m","at":"2024-03-05T15:00:00Z"}` {
		t.Fatal(string(min))
	}
}

func TestTemporary(t *testing.T) {
	for kind, status := range map[ErrorKind]int{KindRateLimited: 0, KindTimeout: 0, KindUpstream: 0, KindHTTPStatus: 503} {
		if !(&MarketDataError{Kind: kind, Status: status}).Temporary() {
			t.Error(kind, status)
		}
	}
	for kind, status := range map[ErrorKind]int{KindMalformed: 0, KindNotFound: 404, KindHTTPStatus: 401} {
		if (&MarketDataError{Kind: kind, Status: status}).Temporary() {
			t.Error(kind, status)
		}
	}
}

func TestSnippet(t *testing.T) {
	if got := snippet([]byte(badGatewayHTML)); got != "502 Bad Gateway 502 Bad Gateway nginx" {
		t.Fatalf("%q", got)
	}
	if got := snippet([]byte("key=abc123 \x00\xff oops"), "abc123"); got != "key=[redacted] oops" {
		t.Fatalf("%q", got)
	}
	if got := snippet([]byte(strings.Repeat("é", 1000))); len(got) > maxMessageLen+3 || !strings.HasSuffix(got, "…") {
		t.Fatalf("%d %q", len(got), got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	top := func(n int64) int64 { return n - 1 }
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		if got := p.Backoff(attempt, top); got != want*time.Millisecond-1 {
			t.Errorf("attempt %d: %s", attempt, got)
		}
	}
	if got := p.Backoff(100, top); got != time.Second-1 {
		t.Error(got)
	}
	for i := 0; i < 100; i++ {
		if d := p.Backoff(3, nil); d < 0 || d >= 800*time.Millisecond {
			t.Fatal(d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := testNow
	for in, want := range map[string]time.Duration{
		"": 0, "5": 5 * time.Second, "-1": 0, "abc": 0, "999999": 0,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		"Tue, 05 Mar 2024 15:00:30 GMT":                   30 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
