package marketdata

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRateLimitKey(t *testing.T) {
	now := time.Date(2024, 3, 5, 15, 4, 30, 0, time.UTC)
	key, end := RateLimitKey("finnhub", time.Minute, now)
	if want := "rate_limit:finnhub:" + itoa64(now.Unix()/60); key != want {
		t.Fatalf("%s, want %s", key, want)
	}
	if !end.Equal(time.Date(2024, 3, 5, 15, 5, 0, 0, time.UTC)) {
		t.Fatal(end)
	}
	key, end = RateLimitKey("alphavantage", 24*time.Hour, now)
	if want := "rate_limit:alphavantage:day:" + itoa64(now.Unix()/86400); key != want {
		t.Fatalf("%s, want %s", key, want)
	}
	if !end.Equal(time.Date(2024, 3, 6, 0, 0, 0, 0, time.UTC)) {
		t.Fatal(end)
	}
	key, _ = RateLimitKey("x", 10*time.Second, now)
	if want := "rate_limit:x:10s:" + itoa64(now.Unix()/10); key != want {
		t.Fatal(key)
	}
}

func itoa64(i int64) string { return strconv.FormatInt(i, 10) }

func TestWindowLimiterDefaults(t *testing.T) {
	ctx := context.Background()
	l := NewMemoryLimiter(nil)
	now := time.Date(2024, 3, 5, 15, 4, 30, 0, time.UTC)
	check := func(provider string, at time.Time, n int) (time.Duration, bool) {
		t.Helper()
		for i := 0; i < n; i++ {
			ok, _, err := l.Allow(ctx, provider, at)
			if err != nil || !ok {
				t.Fatalf("%s call %d refused", provider, i+1)
			}
		}
		ok, retry, err := l.Allow(ctx, provider, at)
		if err != nil {
			t.Fatal(err)
		}
		return retry, ok
	}
	if retry, ok := check(SourceFinnhub, now, 60); ok || retry != 30*time.Second {
		t.Fatalf("finnhub 61st: ok=%v retry=%s", ok, retry)
	}
	if retry, ok := check(SourcePolygon, now, 5); ok || retry != 30*time.Second {
		t.Fatalf("polygon 6th: ok=%v retry=%s", ok, retry)
	}
	if retry, ok := check(SourceAlphaVantage, now, 25); ok || retry != 8*time.Hour+55*time.Minute+30*time.Second {
		t.Fatalf("alphavantage 26th: ok=%v retry=%s", ok, retry)
	}
	// Next minute: Finnhub and Polygon again; Alpha Vantage still spent for the day.
	next := now.Add(time.Minute)
	if ok, _, _ := l.Allow(ctx, SourceFinnhub, next); !ok {
		t.Fatal("finnhub next minute")
	}
	if ok, _, _ := l.Allow(ctx, SourcePolygon, next); !ok {
		t.Fatal("polygon next minute")
	}
	if ok, _, _ := l.Allow(ctx, SourceAlphaVantage, next); ok {
		t.Fatal("alphavantage is per day")
	}
	if ok, _, _ := l.Allow(ctx, SourceAlphaVantage, time.Date(2024, 3, 6, 0, 0, 1, 0, time.UTC)); !ok {
		t.Fatal("alphavantage next day")
	}
	// Unconfigured providers are not limited.
	for i := 0; i < 1000; i++ {
		if ok, _, _ := l.Allow(ctx, SourceSimulated, now); !ok {
			t.Fatal("simulated limited")
		}
	}
}

func TestWindowLimiterSeveralLimits(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryCounter()
	l := NewWindowLimiter(c, map[string][]Limit{"p": {{Max: 5, Window: time.Minute}, {Max: 7, Window: 24 * time.Hour}}})
	now := time.Date(2024, 3, 5, 15, 4, 0, 0, time.UTC)
	allowed := 0
	for m := 0; m < 3; m++ {
		for i := 0; i < 10; i++ {
			if ok, _, _ := l.Allow(ctx, "p", now.Add(time.Duration(m)*time.Minute)); ok {
				allowed++
			}
		}
	}
	if allowed != 7 {
		t.Fatalf("allowed %d, want 7 (5 then 2, then the day is spent)", allowed)
	}
}

func TestMemoryCounterIsAtomic(t *testing.T) {
	ctx := context.Background()
	l := NewMemoryLimiter(map[string][]Limit{"p": {{Max: 100, Window: time.Minute}}})
	now := time.Date(2024, 3, 5, 15, 4, 0, 0, time.UTC)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if a, _, _ := l.Allow(ctx, "p", now); a {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 100 {
		t.Fatalf("%d allowed, want exactly 100", ok.Load())
	}
}

func TestMemoryCounterSweepsExpired(t *testing.T) {
	c := NewMemoryCounter()
	now := time.Date(2024, 3, 5, 15, 4, 0, 0, time.UTC)
	c.now = func() time.Time { return now.Add(time.Hour) }
	for i := 0; i < 200; i++ {
		_, _ = c.Increment(context.Background(), strconv.Itoa(i), 1, now)
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n >= 200 {
		t.Fatalf("%d entries kept", n)
	}
}

type failingCounter struct{}

func (failingCounter) Increment(context.Context, string, int, time.Time) (bool, error) {
	return false, context.DeadlineExceeded
}

func TestLimiterStoreDownFailsClosed(t *testing.T) {
	clock := &fakeClock{now: testNow}
	srv := newServer(t, jsonReply(200, finnhubAAPL))
	opts := testOptions(srv.URL, clock)
	opts.Limiter = NewWindowLimiter(failingCounter{}, nil)
	_, err := NewFinnhub(opts).Quote(context.Background(), "AAPL")
	asMDE(t, err, KindUpstream)
	if srv.hits.Load() != 0 {
		t.Fatal("called the provider without a limiter answer")
	}
}

// A share lets a use spend its own limit and no more, and every call it makes
// counts against the provider's shared limit too: 10 searches a minute leave
// Finnhub's other 50 calls to the poll, whatever the searches do.
func TestShareKeepsTheRestOfTheQuota(t *testing.T) {
	ctx := context.Background()
	counter := NewMemoryCounter()
	shared := NewWindowLimiter(counter, DefaultLimits())
	search := Share{Use: "search", Own: NewWindowLimiter(counter, WithUse("search", SearchLimits())), Shared: shared}
	now := time.Date(2026, 12, 7, 15, 0, 30, 0, time.UTC)
	allowed := 0
	for range 100 {
		if ok, _, err := search.Allow(ctx, SourceFinnhub, now); err != nil {
			t.Fatal(err)
		} else if ok {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("searches allowed in a minute: %d, want 10", allowed)
	}
	polled := 0
	for range 100 {
		if ok, _, _ := shared.Allow(ctx, SourceFinnhub, now); ok {
			polled++
		}
	}
	if polled != 50 {
		t.Fatalf("poll calls left in the minute: %d, want 50", polled)
	}
	if ok, wait, _ := search.Allow(ctx, SourceFinnhub, now); ok || wait != 30*time.Second {
		t.Fatalf("a search in a spent minute: %v, wait %s", ok, wait)
	}
	if ok, _, _ := search.Allow(ctx, SourceFinnhub, now.Add(time.Minute)); !ok {
		t.Fatal("no search in the next minute")
	}
}
