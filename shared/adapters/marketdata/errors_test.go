package marketdata

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

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
