package symbolsearch_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/symbolsearch"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// countingSearcher answers one match per query and counts the calls per query;
// fail, when set, is its answer instead.
type countingSearcher struct {
	calls map[string]int
	fail  error
}

func (c *countingSearcher) Name() string { return "fake" }

func (c *countingSearcher) Search(_ context.Context, q string) ([]market.SymbolMatch, error) {
	c.calls[q]++
	if c.fail != nil {
		return nil, c.fail
	}
	return []market.SymbolMatch{{Symbol: q, Description: "match of " + q, Source: "fake"}}, nil
}

func TestValidation(t *testing.T) {
	for q, want := range map[string]string{
		"apple":                  "APPLE",
		"  brk.b ":               "BRK.B",
		"apple   inc":            "APPLE INC",
		"apple\tinc":             "",
		"société":                "SOCIÉTÉ",
		strings.Repeat("a", 50):  strings.Repeat("A", 50),
		"":                       "",
		"   ":                    "",
		strings.Repeat("a", 51):  "",
		"app\x00le":              "",
		"app\nle":                "",
		"\xff":                   "",
		strings.Repeat("é", 50):  strings.Repeat("É", 50),
		strings.Repeat("é", 51):  "",
		"a" + string(rune(0x7f)): "",
	} {
		got, err := symbolsearch.Normalize(q)
		if want == "" {
			if !errors.Is(err, symbolsearch.ErrInvalidQuery) {
				t.Errorf("%q: %q %v, want ErrInvalidQuery", q, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", q, got, err, want)
		}
	}
}

// TestCache: a normalised query is asked once while its answer lives; it is
// asked again once the TTL has passed; the least recently used answer goes
// first beyond the bound; errors are not kept, not-found is an empty answer
// that is.
func TestCache(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	fake := &countingSearcher{calls: map[string]int{}}
	s := symbolsearch.New(fake, symbolsearch.Options{TTL: time.Hour, Entries: 2, Now: func() time.Time { return now }})
	for _, q := range []string{"apple", " APPLE ", "Apple"} {
		m, err := s.Search(ctx, q)
		if err != nil || len(m) != 1 || m[0].Symbol != "APPLE" {
			t.Fatalf("%q: %v %v", q, m, err)
		}
		m[0].Symbol = "changed by the caller" // must not reach the cache
	}
	if fake.calls["APPLE"] != 1 {
		t.Fatalf("APPLE asked %d times, want once", fake.calls["APPLE"])
	}
	now = now.Add(time.Hour)
	if m, _ := s.Search(ctx, "apple"); m[0].Symbol != "APPLE" || fake.calls["APPLE"] != 2 {
		t.Fatalf("after the TTL: %v, asked %d times", m, fake.calls["APPLE"])
	}
	// A bound of 2: kept APPLE, MSFT; APPLE used again; NVDA comes and pushes
	// out MSFT, the least recently used.
	_, _ = s.Search(ctx, "msft")
	_, _ = s.Search(ctx, "apple")
	_, _ = s.Search(ctx, "nvda")
	if s.Len() != 2 {
		t.Fatalf("%d answers kept, want 2", s.Len())
	}
	_, _ = s.Search(ctx, "apple")
	_, _ = s.Search(ctx, "msft")
	if fake.calls["APPLE"] != 2 || fake.calls["MSFT"] != 2 || fake.calls["NVDA"] != 1 {
		t.Fatalf("calls %v: APPLE (recently used) kept, MSFT (least recently used) dropped", fake.calls)
	}

	limited := &market.MarketDataError{Provider: "fake", Kind: market.KindRateLimited, RetryAfter: 30 * time.Second}
	fake.fail = limited
	for range 2 {
		if _, err := s.Search(ctx, "tsla"); !errors.Is(err, market.KindRateLimited) {
			t.Fatalf("rate limited: %v", err)
		}
	}
	if fake.calls["TSLA"] != 2 {
		t.Fatalf("a refusal was cached: TSLA asked %d times", fake.calls["TSLA"])
	}
	fake.fail = &market.MarketDataError{Provider: "fake", Kind: market.KindNotFound}
	for range 2 {
		if m, err := s.Search(ctx, "zzzz"); err != nil || m == nil || len(m) != 0 {
			t.Fatalf("not found: %v %v, want an empty answer", m, err)
		}
	}
	if fake.calls["ZZZZ"] != 1 {
		t.Fatalf("not-found asked %d times, want once (kept)", fake.calls["ZZZZ"])
	}
	if _, err := s.Search(ctx, ""); !errors.Is(err, symbolsearch.ErrInvalidQuery) || fake.calls[""] != 0 {
		t.Fatalf("empty query: %v, asked %d times", err, fake.calls[""])
	}
}
