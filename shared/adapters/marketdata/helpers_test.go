package marketdata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "sekret-key-123"

var testNow = time.Date(2024, 3, 5, 15, 0, 0, 0, time.UTC) // Tue 10:00 New York

// fakeClock records sleeps instead of sleeping.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// server is an httptest server answering with a sequence of handlers (the last one
// repeats), counting requests.
type server struct {
	*httptest.Server
	hits     atomic.Int32
	mu       sync.Mutex
	requests []*http.Request
}

func newServer(t *testing.T, handlers ...http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.hits.Add(1)) - 1
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.mu.Unlock()
		if n >= len(handlers) {
			n = len(handlers) - 1
		}
		handlers[n](w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) request(i int) *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[i]
}

func reply(status int, contentType, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func jsonReply(status int, body string, headers ...string) http.HandlerFunc {
	return reply(status, "application/json", body, headers...)
}

const badGatewayHTML = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>`

// hang waits for the client to give up (or 5 s).
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func testOptions(baseURL string, clock *fakeClock) ClientOptions {
	return ClientOptions{
		BaseURL: baseURL, APIKey: testKey, Timeout: 150 * time.Millisecond,
		Retry: RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 2 * time.Second},
		Now:   clock.Now, Sleep: clock.Sleep,
		Rand: func(n int64) int64 { return n - 1 },
	}
}

// asMDE asserts err is a *MarketDataError of kind and returns it.
func asMDE(t *testing.T, err error, kind ErrorKind) *MarketDataError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got nil", kind)
	}
	var e *MarketDataError
	if !errors.As(err, &e) {
		t.Fatalf("want *MarketDataError, got %T: %v", err, err)
	}
	if e.Kind != kind {
		t.Fatalf("want kind %s, got %s: %v", kind, e.Kind, e)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("errors.Is(err, %s) is false", kind)
	}
	if strings.Contains(e.Error(), testKey) {
		t.Fatalf("error leaks the API key: %v", e)
	}
	if e.At.IsZero() || e.Provider == "" {
		t.Fatalf("error lacks provider or time: %+v", e)
	}
	return e
}

func errorsIsCanceled(err error) bool { return errors.Is(err, context.Canceled) }
