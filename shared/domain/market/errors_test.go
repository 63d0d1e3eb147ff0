package market

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// A MarketDataError is the logged event: its JSON round-trips, it
// matches its kind and its cause, and it says what happened.
func TestMarketDataErrorEvent(t *testing.T) {
	at := time.Date(2024, 3, 5, 15, 0, 0, 0, time.UTC)
	e := &MarketDataError{Provider: "finnhub", Symbol: "AAPL", Kind: KindRateLimited, Status: 429,
		Message: "API limit reached", RetryAfter: 1500 * time.Millisecond, At: at, Err: context.DeadlineExceeded}
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
	min, _ := json.Marshal(&MarketDataError{Provider: "polygon", Kind: KindTimeout, Message: "m", At: at})
	if string(min) != `{"provider":"polygon","kind":"timeout","message":"m","at":"2024-03-05T15:00:00Z"}` {
		t.Fatal(string(min))
	}
}

// Limits, timeouts, connection failures and 5xx answers may succeed later.
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
