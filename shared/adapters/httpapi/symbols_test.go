package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/symbolsearch"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// fakeSearcher answers a provider's search from a table: the matches of a
// (normalised) query, or its error; it counts the calls.
type fakeSearcher struct {
	matches map[string][]market.SymbolMatch
	errs    map[string]error
	calls   int
}

func (f *fakeSearcher) Name() string { return "fake" }

func (f *fakeSearcher) Search(_ context.Context, q string) ([]market.SymbolMatch, error) {
	f.calls++
	if err := f.errs[q]; err != nil {
		return nil, err
	}
	return f.matches[q], nil
}

func newSearchAPI(t *testing.T, search httpapi.SymbolSearch) *api {
	t.Helper()
	reads := memquery.New()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Config{Commands: command.New(eventstore.NewMemory(), command.Options{Logger: quiet}), Events: eventstore.NewMemory(),
		Queries: reads, Alerts: memstore.NewAlerts(reads), Logger: quiet, Symbols: search})
	return &api{t: t, handler: httplambda.Handler(srv)}
}

// TestSymbolSearch: matches as the provider gives them, one provider call per
// normalised query while cached; a query that is not 1 to 50 printable
// characters is refused with 422; the provider's refusals keep the error shape
// and are never a 500.
func TestSymbolSearch(t *testing.T) {
	t.Parallel()
	mde := func(kind market.ErrorKind, retry time.Duration) error {
		return &market.MarketDataError{Provider: "fake", Kind: kind, Message: "test", RetryAfter: retry}
	}
	fake := &fakeSearcher{
		matches: map[string][]market.SymbolMatch{"APPLE": {
			{Symbol: "AAPL", Description: "Apple Inc", Type: "Common Stock", Exchange: "XNAS", Currency: "USD", Source: "fake"},
			{Symbol: "APLE", Description: "Apple Hospitality REIT", Source: "fake"},
		}},
		errs: map[string]error{
			"LIMITED":  mde(market.KindRateLimited, 1500*time.Millisecond),
			"DOWN":     mde(market.KindHTTPStatus, 0),
			"HTML":     mde(market.KindMalformed, 0),
			"SLOW":     mde(market.KindTimeout, 0),
			"DEADLINE": context.DeadlineExceeded,
			"ODD":      errors.New("something no one classified"),
		},
	}
	a := newSearchAPI(t, symbolsearch.New(fake, symbolsearch.Options{}))
	r := a.do(alice, "GET", "/symbols?q=apple", "")
	a.expect(r, 200, "")
	items, _ := r.body["items"].([]any)
	if len(items) != 2 || r.body["query"] != "apple" {
		t.Fatalf("answer %s", r.raw)
	}
	if first := items[0].(map[string]any); first["symbol"] != "AAPL" || first["description"] != "Apple Inc" || first["type"] != "Common Stock" ||
		first["exchange"] != "XNAS" || first["currency"] != "USD" || first["source"] != "fake" {
		t.Errorf("first match %v", first)
	}
	if second := items[1].(map[string]any); len(second) != 3 {
		t.Errorf("second match %v: symbol, description and source only", second)
	}
	a.expect(a.do(alice, "GET", "/symbols?q="+url.QueryEscape("  Apple "), ""), 200, "")
	if fake.calls != 1 {
		t.Errorf("the provider was asked %d times for one normalised query", fake.calls)
	}
	if r := a.do(alice, "GET", "/symbols?q=zzzz", ""); r.status != 200 || !strings.Contains(r.raw, `"items":[]`) {
		t.Errorf("no match: %d %s", r.status, r.raw)
	}

	for _, q := range []string{"", "q=", "q=%20%20", "q=" + strings.Repeat("a", 51), "q=ap%00ple", "q=ap%0Aple"} {
		a.expect(a.do(alice, "GET", "/symbols?"+q, ""), 422, "validation_failed")
	}
	calls := fake.calls
	for q, want := range map[string]struct {
		status int
		code   string
	}{
		"limited":  {429, "too_many_requests"},
		"down":     {502, "provider_error"},
		"html":     {502, "provider_error"},
		"odd":      {502, "provider_error"},
		"slow":     {503, "search_unavailable"},
		"deadline": {503, "search_unavailable"},
	} {
		r := a.do(alice, "GET", "/symbols?q="+q, "")
		a.expect(r, want.status, want.code)
		if retry := r.headers[http.CanonicalHeaderKey("Retry-After")] + r.headers["retry-after"]; (q == "limited") != (retry == "2") {
			t.Errorf("%s: Retry-After %q (want 2 on a limit of 1.5 s, none otherwise)", q, retry)
		}
	}
	if fake.calls != calls+6 {
		t.Errorf("%d provider calls for 6 failing queries: a failure was cached", fake.calls-calls)
	}
}

// TestSymbolSearchUnavailable: without a searcher (no provider offers a
// search) the route answers 503 search_unavailable.
func TestSymbolSearchUnavailable(t *testing.T) {
	t.Parallel()
	a := newSearchAPI(t, nil)
	a.expect(a.do(alice, "GET", "/symbols?q=apple", ""), 503, "search_unavailable")
}
