package marketdata_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/devtools/providerstub"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// Every client path against providerstub, which speaks each provider's
// documented format with the simulator's data: what a client returns must be
// what the simulated sources say, under our symbols, and every scripted fault
// must come back as the right *MarketDataError without the key.

const stubKey = "stub-key-456"

var stubNow = time.Date(2024, 6, 14, 15, 0, 0, 0, time.UTC) // a Friday, 11:00 in New York

// recorder is the clients' clock: it never sleeps, it records.
type recorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (r *recorder) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sleeps = append(r.sleeps, d)
	return ctx.Err()
}

func startStub(t *testing.T, opts providerstub.Options) *providerstub.Server {
	t.Helper()
	opts.Now, opts.Key = func() time.Time { return stubNow }, stubKey
	s := providerstub.Start(opts)
	t.Cleanup(s.Close)
	return s
}

func clientOpts(base string, rec *recorder) marketdata.ClientOptions {
	return marketdata.ClientOptions{BaseURL: base, APIKey: stubKey, Now: func() time.Time { return stubNow }, Sleep: rec.Sleep,
		Retry: marketdata.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 2 * time.Second},
		Rand:  func(n int64) int64 { return n - 1 }}
}

func wantKind(t *testing.T, err error, kind marketdata.ErrorKind) *marketdata.MarketDataError {
	t.Helper()
	var e *marketdata.MarketDataError
	if !errors.As(err, &e) {
		t.Fatalf("want a *MarketDataError of kind %s, got %T %v", kind, err, err)
	}
	if e.Kind != kind {
		t.Fatalf("want kind %s, got %s: %v", kind, e.Kind, e)
	}
	if strings.Contains(e.Error(), stubKey) {
		t.Fatalf("the error leaks the key: %v", e)
	}
	return e
}

var sim = struct {
	quotes  marketdata.SimQuotes
	bars    marketdata.SimBars
	actions marketdata.SimActions
}{marketdata.SimQuotes{Seed: 1, Now: func() time.Time { return stubNow }}, marketdata.SimBars{Seed: 1, Now: func() time.Time { return stubNow }}, marketdata.SimActions{}}

func simQuote(t *testing.T, symbol string) marketdata.Quote {
	t.Helper()
	q, err := sim.quotes.Quote(context.Background(), symbol)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestStubFinnhubQuotes(t *testing.T) {
	stub := startStub(t, providerstub.Options{Unknown: []string{"NOPE"}})
	rec := &recorder{}
	fh := marketdata.NewFinnhub(clientOpts(stub.FinnhubURL, rec))
	ctx := context.Background()
	for _, sym := range []string{"AAPL", "EURUSD=X"} {
		q, err := fh.Quote(ctx, sym)
		if err != nil {
			t.Fatalf("%s: %v", sym, err)
		}
		if want := simQuote(t, sym); q.Symbol != sym || !q.Price.Equal(want.Price) || !q.Timestamp.Equal(want.Timestamp.Truncate(time.Second)) || q.Source != "finnhub" {
			t.Errorf("%s: got %+v, want the simulated %+v", sym, q, want)
		}
	}
	_, err := fh.Quote(ctx, "NOPE")
	wantKind(t, err, marketdata.KindNotFound)

	stub.Script(providerstub.Fault{Endpoint: providerstub.FinnhubQuote, Symbol: "AAPL", Kind: providerstub.RateLimited, Times: 1, RetryAfter: time.Second})
	before := stub.Calls(providerstub.FinnhubQuote)
	if _, err := fh.Quote(ctx, "AAPL"); err != nil {
		t.Fatalf("a 429 with Retry-After 1 s is retried: %v", err)
	}
	if got := stub.Calls(providerstub.FinnhubQuote) - before; got != 2 || rec.sleeps[len(rec.sleeps)-1] != time.Second {
		t.Errorf("want 2 calls, the retry after Retry-After; got %d calls, sleeps %v", got, rec.sleeps)
	}

	stub.Script(providerstub.Fault{Endpoint: providerstub.FinnhubQuote, Symbol: "MSFT", Kind: providerstub.HTMLError})
	e := wantKind(t, func() error { _, err := fh.Quote(ctx, "MSFT"); return err }(), marketdata.KindHTTPStatus)
	if e.Status != http.StatusBadGateway || !strings.Contains(e.Message, "502 Bad Gateway") || strings.Contains(e.Message, "<") {
		t.Errorf("an HTML 502 is summarised: %+v", e)
	}
	stub.Script(providerstub.Fault{Endpoint: providerstub.FinnhubQuote, Symbol: "TSLA", Kind: providerstub.Partial},
		providerstub.Fault{Endpoint: providerstub.FinnhubQuote, Symbol: "JPM", Kind: providerstub.Truncated})
	for _, sym := range []string{"TSLA", "JPM"} {
		_, err := fh.Quote(ctx, sym)
		wantKind(t, err, marketdata.KindMalformed)
	}
	// A wrong key is the provider's 401, never retried.
	bad := clientOpts(stub.FinnhubURL, rec)
	bad.APIKey = "wrong"
	_, err = marketdata.NewFinnhub(bad).Quote(ctx, "AAPL")
	if e := wantKind(t, err, marketdata.KindHTTPStatus); e.Status != http.StatusUnauthorized {
		t.Errorf("want 401, got %+v", e)
	}
}

// The local limiter holds the calls to the provider: the stub counts only the
// allowed ones.
func TestStubRateLimiterHoldsCalls(t *testing.T) {
	stub := startStub(t, providerstub.Options{})
	opts := clientOpts(stub.FinnhubURL, &recorder{})
	opts.Limiter = marketdata.NewMemoryLimiter(map[string][]marketdata.Limit{marketdata.SourceFinnhub: {{Max: 3, Window: time.Minute}}})
	fh := marketdata.NewFinnhub(opts)
	refused := 0
	for _, sym := range []string{"AAPL", "MSFT", "NVDA", "SPY", "VTI"} {
		if _, err := fh.Quote(context.Background(), sym); err != nil {
			if e := wantKind(t, err, marketdata.KindRateLimited); e.RetryAfter <= 0 {
				t.Errorf("a local refusal says when to come back: %+v", e)
			}
			refused++
		}
	}
	if got := stub.Calls(providerstub.FinnhubQuote); got != 3 || refused != 2 {
		t.Errorf("want 3 calls and 2 refusals, got %d calls and %d refusals", got, refused)
	}
}

func TestStubFinnhubSearch(t *testing.T) {
	stub := startStub(t, providerstub.Options{})
	fh := marketdata.NewFinnhub(clientOpts(stub.FinnhubURL, &recorder{}))
	ctx := context.Background()
	got, err := fh.Search(ctx, "apple")
	if err != nil || len(got) == 0 || got[0].Symbol != "AAPL" || got[0].Source != "finnhub" || got[0].Description == "" {
		t.Fatalf("apple: %+v %v", got, err)
	}
	got, err = fh.Search(ctx, "Euro / US")
	if err != nil || len(got) != 1 || got[0].Symbol != "EURUSD=X" {
		t.Fatalf("a pair comes back as our symbol: %+v %v", got, err)
	}
	got, err = fh.Search(ctx, "no such company")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("nothing found is an empty list: %+v %v", got, err)
	}
	calls := stub.Calls(providerstub.FinnhubSearch)
	for _, q := range []string{"", "   ", strings.Repeat("x", 51), "a\x00b", "\xff"} {
		_, err := fh.Search(ctx, q)
		wantKind(t, err, marketdata.KindNotFound)
	}
	if stub.Calls(providerstub.FinnhubSearch) != calls {
		t.Error("an invalid query reached the provider")
	}
	stub.Script(providerstub.Fault{Endpoint: providerstub.FinnhubSearch, Symbol: "v", Kind: providerstub.Partial})
	if got, err := fh.Search(ctx, "v"); err != nil || len(got) != 0 {
		t.Errorf("results without a symbol are dropped: %+v %v", got, err)
	}
	stub.Script(providerstub.Fault{Endpoint: providerstub.FinnhubSearch, Kind: providerstub.RateLimited, RetryAfter: time.Minute})
	_, err = fh.Search(ctx, "msft")
	if e := wantKind(t, err, marketdata.KindRateLimited); e.RetryAfter != time.Minute {
		t.Errorf("a 429 longer than the retry budget is returned with its Retry-After: %+v", e)
	}
}

// The stream drops after three trade messages (a ping just before); the client
// reconnects, re-subscribes, and trades keep coming, the pair's under
// Finnhub's symbol, which FromProviderSymbol maps back.
func TestStubFinnhubStreamDrops(t *testing.T) {
	stub := startStub(t, providerstub.Options{StreamEvery: 2 * time.Millisecond,
		Faults: []providerstub.Fault{{Endpoint: providerstub.FinnhubStream, Kind: providerstub.DropStream, After: 3, Times: 1}}})
	var lost sync.Once
	lostCh := make(chan struct{})
	stream := marketdata.NewFinnhubStream(marketdata.FinnhubStreamOptions{URL: stub.FinnhubStreamURL, Token: stubKey,
		Symbols: []string{"AAPL", marketdata.ProviderSymbol(marketdata.SourceFinnhub, "EURUSD=X")}, ReconnectBase: time.Millisecond, ReconnectMax: 5 * time.Millisecond,
		OnError: func(e *marketdata.MarketDataError) {
			if strings.Contains(e.Error(), stubKey) {
				t.Errorf("stream error leaks the token: %v", e)
			}
			lost.Do(func() { close(lostCh) })
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[string]int{}
	err := stream.Run(ctx, func(q marketdata.Quote) error {
		seen[marketdata.FromProviderSymbol(marketdata.SourceFinnhub, q.Symbol)]++
		select {
		case <-lostCh:
			if seen["AAPL"] > 5 && seen["EURUSD=X"] > 5 {
				return errStop
			}
		default:
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("run: %v (seen %v)", err, seen)
	}
	if stub.Calls(providerstub.FinnhubStream) < 2 || stub.Subscriptions("OANDA:EUR_USD") < 2 {
		t.Errorf("want a reconnection that subscribes again: %d connections, %d subscriptions",
			stub.Calls(providerstub.FinnhubStream), stub.Subscriptions("OANDA:EUR_USD"))
	}
}

var errStop = errors.New("enough")

func TestStubPolygonQuotes(t *testing.T) {
	stub := startStub(t, providerstub.Options{Unknown: []string{"NOPE"}})
	pg := marketdata.NewPolygon(clientOpts(stub.PolygonURL, &recorder{}))
	ctx := context.Background()
	q, err := pg.Quote(ctx, "AAPL")
	if want := simQuote(t, "AAPL"); err != nil || !q.Price.Equal(want.Price) || !q.Timestamp.Equal(want.Timestamp) || q.PreviousClose.IsZero() {
		t.Fatalf("snapshot: got %+v %v, want %+v", q, err, want)
	}
	// The free plan: the snapshot is refused once, then /prev answers, and the
	// snapshot is not asked again.
	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonSnapshot, Kind: providerstub.Unauthorized})
	pg = marketdata.NewPolygon(clientOpts(stub.PolygonURL, &recorder{}))
	snapshots := stub.Calls(providerstub.PolygonSnapshot)
	for range 2 {
		q, err = pg.Quote(ctx, "MSFT")
		bars, _ := sim.bars.DailyBars(ctx, "MSFT", calendar.MustNew(2024, 6, 1), calendar.MustNew(2024, 6, 13))
		last := bars[len(bars)-1]
		if err != nil || !q.Price.Equal(last.Close) || !q.Timestamp.Equal(time.Date(2024, 6, 13, 20, 0, 0, 0, time.UTC)) {
			t.Fatalf("prev: got %+v %v, want the close of %s at 16:00 New York", q, err, last.Date)
		}
	}
	if got := stub.Calls(providerstub.PolygonSnapshot) - snapshots; got != 1 {
		t.Errorf("the snapshot was asked %d times after NOT_AUTHORIZED, want 1", got)
	}
	// A pair is quoted from /prev under C:EURUSD, answered as EURUSD=X.
	q, err = pg.Quote(ctx, "EURUSD=X")
	if err != nil || q.Symbol != "EURUSD=X" || q.Price.LessThan(decimal.RequireFromString("0.9")) || q.Price.GreaterThan(decimal.RequireFromString("1.3")) {
		t.Fatalf("EURUSD=X: %+v %v", q, err)
	}
	_, err = pg.Quote(ctx, "NOPE")
	wantKind(t, err, marketdata.KindNotFound)
	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonPrev, Symbol: "JPM", Kind: providerstub.RateLimited, RetryAfter: time.Hour})
	_, err = pg.Quote(ctx, "JPM")
	wantKind(t, err, marketdata.KindRateLimited)
}

func TestStubPolygonBarsPages(t *testing.T) {
	stub := startStub(t, providerstub.Options{PageSize: 7, Unknown: []string{"NOPE"}})
	pg := marketdata.NewPolygon(clientOpts(stub.PolygonURL, &recorder{}))
	ctx := context.Background()
	from, to := calendar.MustNew(2024, 4, 1), calendar.MustNew(2024, 5, 31)
	for _, sym := range []string{"AAPL", "EURUSD=X", "USDEUR=X"} {
		calls := stub.Calls(providerstub.PolygonAggs)
		got, err := pg.DailyBars(ctx, sym, from, to)
		want, _ := sim.bars.DailyBars(ctx, sym, from, to)
		if err != nil || len(got) != len(want) || len(got) < 40 {
			t.Fatalf("%s: %d bars (%v), want %d", sym, len(got), err, len(want))
		}
		for i := range got {
			if got[i].Symbol != sym || got[i].Date != want[i].Date || !got[i].Close.Equal(want[i].Close) {
				t.Fatalf("%s bar %d: %+v, want %+v", sym, i, got[i], want[i])
			}
		}
		if pages := stub.Calls(providerstub.PolygonAggs) - calls; pages != (len(want)+6)/7 {
			t.Errorf("%s: %d pages for %d bars of 7 a page", sym, pages, len(want))
		}
	}
	if got, err := pg.DailyBars(ctx, "NOPE", from, to); err != nil || len(got) != 0 {
		t.Errorf("an unknown ticker has no bars: %v %v", got, err)
	}
	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonAggs, Symbol: "MSFT", Kind: providerstub.FailingNextPage})
	_, err := pg.DailyBars(ctx, "MSFT", from, to)
	if e := wantKind(t, err, marketdata.KindHTTPStatus); e.Status != http.StatusBadGateway {
		t.Errorf("a failing next page fails the call: %+v", e)
	}
	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonAggs, Symbol: "NVDA", Kind: providerstub.Partial})
	_, err = pg.DailyBars(ctx, "NVDA", from, to)
	wantKind(t, err, marketdata.KindMalformed)
}

func TestStubPolygonSearchAndActions(t *testing.T) {
	stub := startStub(t, providerstub.Options{PageSize: 3})
	pg := marketdata.NewPolygon(clientOpts(stub.PolygonURL, &recorder{}))
	ctx := context.Background()
	got, err := pg.Search(ctx, "vanguard")
	if err != nil || len(got) < 3 || got[0].Source != "polygon" || got[0].Currency != "USD" || got[0].Exchange == "" {
		t.Fatalf("search: %+v %v", got, err)
	}
	// More matches than a page (3 here): Polygon gives a next_url, and the
	// search's answer is the first page (it once failed the call as malformed).
	calls := stub.Calls(providerstub.PolygonTickers)
	if got, err := pg.Search(ctx, "a"); err != nil || len(got) != 3 {
		t.Fatalf("a search of more than a page: %d matches, %v", len(got), err)
	}
	if n := stub.Calls(providerstub.PolygonTickers) - calls; n != 1 {
		t.Errorf("a search asked %d pages, want 1", n)
	}
	from, to := calendar.MustNew(2021, 1, 1), calendar.MustNew(2024, 12, 31)
	for _, sym := range []string{"NVDA", "AAPL", "JPM"} {
		got, err := pg.CorporateActions(ctx, sym, from, to)
		want, _ := sim.actions.CorporateActions(ctx, sym, from, to)
		if err != nil || len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d actions (%v), want %d", sym, len(got), err, len(want))
		}
		for i := range got {
			if err := got[i].Validate(); err != nil || got[i].Date != want[i].Date || got[i].Kind != want[i].Kind ||
				!got[i].CashAmount.Equal(want[i].CashAmount) || !got[i].SplitTo.Equal(want[i].SplitTo) || got[i].Source != "polygon" {
				t.Fatalf("%s action %d: %+v, want %+v (%v)", sym, i, got[i], want[i], err)
			}
		}
	}
	// BND's 48 monthly dividends at 3 a page run past the bound of 10 pages:
	// an error, not an endless walk nor a silently short list.
	calls = stub.Calls(providerstub.PolygonDividends)
	_, err = pg.CorporateActions(ctx, "BND", from, to)
	wantKind(t, err, marketdata.KindMalformed)
	if n := stub.Calls(providerstub.PolygonDividends) - calls; n != 10 {
		t.Errorf("%d dividend pages: the bound is 10 a call", n)
	}
	if got, err := pg.CorporateActions(ctx, "EURUSD=X", from, to); err != nil || len(got) != 0 {
		t.Errorf("a pair has no corporate actions and asks nothing: %v %v", got, err)
	}
	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonDividends, Symbol: "MSFT", Kind: providerstub.FailingNextPage})
	_, err = pg.CorporateActions(ctx, "MSFT", from, to)
	wantKind(t, err, marketdata.KindHTTPStatus)
	stub.Script(providerstub.Fault{Endpoint: providerstub.PolygonSplits, Symbol: "TSLA", Kind: providerstub.HTMLError})
	_, err = pg.CorporateActions(ctx, "TSLA", from, to)
	wantKind(t, err, marketdata.KindHTTPStatus)
}

func TestStubAlphaVantage(t *testing.T) {
	stub := startStub(t, providerstub.Options{Unknown: []string{"NOPE"}})
	av := marketdata.NewAlphaVantage(clientOpts(stub.AlphaVantageURL, &recorder{}))
	ctx := context.Background()
	q, err := av.Quote(ctx, "AAPL")
	if want := simQuote(t, "AAPL"); err != nil || !q.Price.Equal(want.Price) {
		t.Fatalf("quote: %+v %v, want %s", q, err, want.Price)
	}
	q, err = av.Quote(ctx, "GBPUSD=X")
	if want := simQuote(t, "GBPUSD=X"); err != nil || q.Symbol != "GBPUSD=X" || !q.Price.Equal(want.Price) || !q.Timestamp.Equal(want.Timestamp.Truncate(time.Second)) {
		t.Fatalf("rate: %+v %v, want %+v", q, err, want)
	}
	from, to := calendar.MustNew(2024, 5, 1), calendar.MustNew(2024, 6, 13)
	for _, sym := range []string{"SPY", "USDJPY=X"} {
		got, err := av.DailyBars(ctx, sym, from, to)
		want, _ := sim.bars.DailyBars(ctx, sym, from, to)
		if err != nil || len(got) != len(want) || !got[len(got)-1].Close.Equal(want[len(want)-1].Close) || got[0].Symbol != sym {
			t.Fatalf("%s: %d bars %v, want %d", sym, len(got), err, len(want))
		}
	}
	matches, err := av.Search(ctx, "micro")
	if err != nil || len(matches) == 0 || matches[0].Symbol != "MSFT" || matches[0].Currency != "USD" {
		t.Fatalf("search: %+v %v", matches, err)
	}
	if m, err := av.Search(ctx, "no such company"); err != nil || len(m) != 0 {
		t.Errorf("an unknown name is an empty list: %v %v", m, err)
	}
	if a, err := av.CorporateActions(ctx, "AAPL", from, to); err != nil || len(a) != 0 {
		t.Errorf("Alpha Vantage reports no corporate actions: %v %v", a, err)
	}
	_, err = av.Quote(ctx, "NOPE")
	wantKind(t, err, marketdata.KindNotFound)
	_, err = av.DailyBars(ctx, "NOPE", from, to)
	wantKind(t, err, marketdata.KindNotFound)

	stub.Script(providerstub.Fault{Endpoint: providerstub.AlphaVantageQuote, Symbol: "MSFT", Kind: providerstub.RateLimited},
		providerstub.Fault{Endpoint: providerstub.AlphaVantageFXDaily, Kind: providerstub.Unauthorized},
		providerstub.Fault{Endpoint: providerstub.AlphaVantageFXRate, Kind: providerstub.Partial},
		providerstub.Fault{Endpoint: providerstub.AlphaVantageSearch, Kind: providerstub.HTMLError},
		providerstub.Fault{Endpoint: providerstub.AlphaVantageDaily, Symbol: "VTI", Kind: providerstub.Partial})
	calls := stub.Calls(providerstub.AlphaVantageQuote)
	_, err = av.Quote(ctx, "MSFT")
	wantKind(t, err, marketdata.KindRateLimited)
	if stub.Calls(providerstub.AlphaVantageQuote)-calls != 1 {
		t.Error("a Note is not retried: the quota is spent")
	}
	_, err = av.DailyBars(ctx, "EURUSD=X", from, to)
	if e := wantKind(t, err, marketdata.KindHTTPStatus); e.Status != http.StatusForbidden {
		t.Errorf("a premium endpoint is a 403: %+v", e)
	}
	_, err = av.Quote(ctx, "EURUSD=X")
	wantKind(t, err, marketdata.KindMalformed)
	_, err = av.Search(ctx, "apple")
	wantKind(t, err, marketdata.KindHTTPStatus)
	_, err = av.DailyBars(ctx, "VTI", from, to)
	wantKind(t, err, marketdata.KindMalformed)
}

// Open against the stub: each provider as chosen, the key read once, search
// and actions from the right source.
func TestOpenAgainstStub(t *testing.T) {
	stub := startStub(t, providerstub.Options{})
	reads := map[string]int{}
	keys := func(_ context.Context, provider string) (string, error) { reads[provider]++; return stubKey, nil }
	ctx := context.Background()
	src, err := marketdata.Open(ctx, marketdata.Selection{Quotes: "finnhub", History: "polygon"}, marketdata.OpenOptions{Keys: keys,
		BaseURLs:  stub.BaseURLs(),
		StreamURL: stub.FinnhubStreamURL, Now: func() time.Time { return stubNow }})
	if err != nil || len(src.Warnings) != 0 || src.QuoteSource != "finnhub" || src.HistorySource != "polygon" || src.Stream == nil {
		t.Fatalf("%+v %v", src, err)
	}
	if reads["finnhub"] != 1 || reads["polygon"] != 1 {
		t.Errorf("each key is read once: %v", reads)
	}
	if q, err := src.Quotes.Quote(ctx, "AAPL"); err != nil || q.Source != "finnhub" {
		t.Errorf("quotes: %+v %v", q, err)
	}
	if m, err := src.Search.Search(ctx, "apple"); err != nil || len(m) == 0 || m[0].Source != "finnhub" {
		t.Errorf("search is the quote source's: %+v %v", m, err)
	}
	if a, err := src.Actions.CorporateActions(ctx, "NVDA", calendar.MustNew(2024, 1, 1), calendar.MustNew(2024, 12, 31)); err != nil || len(a) == 0 || a[0].Source != "polygon" {
		t.Errorf("actions are the history source's: %+v %v", a, err)
	}
	if b, err := src.Bars.DailyBars(ctx, "AAPL", calendar.MustNew(2024, 6, 3), calendar.MustNew(2024, 6, 7)); err != nil || len(b) != 5 || b[0].Source != "polygon" {
		t.Errorf("bars: %+v %v", b, err)
	}
	if stub.Calls(providerstub.FinnhubQuote) != 1 || stub.Calls(providerstub.PolygonAggs) != 1 {
		t.Errorf("calls reached the stub's endpoints as chosen: quote %d, aggs %d", stub.Calls(providerstub.FinnhubQuote), stub.Calls(providerstub.PolygonAggs))
	}
	if !market.IsFX("EURUSD=X") {
		t.Fatal("market.IsFX")
	}
}
