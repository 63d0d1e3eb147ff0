package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/ingest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func pg(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := readmodel.Open(t.Context(), testenv.Postgres(t), readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := readmodel.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	return pool
}

// Quotes is the only mode: the daily closes the ingest once backfilled are the
// backfill function's, and an input asking for them is refused, saying where
// to go instead; any other mode is refused too, before anything is read.
func TestOnlyTheQuotesMode(t *testing.T) {
	h := ingest.New(ingest.Config{})
	_, err := h.Run(t.Context(), ingest.Input{Mode: "backfill"})
	if !errors.Is(err, ingest.ErrBadInput) || !strings.Contains(err.Error(), "backfill function") ||
		!strings.Contains(err.Error(), `{"symbol":"AAPL","from":"2024-01-01"}`) {
		t.Errorf("backfill: %v, want a bad input naming the backfill function and its input", err)
	}
	if _, err := h.Run(t.Context(), ingest.Input{Mode: "rewind"}); !errors.Is(err, ingest.ErrBadInput) {
		t.Errorf("rewind: %v, want a bad input", err)
	}
}

// staticWatch is a watch list of held symbols.
type staticWatch []string

func (s staticWatch) WatchList(context.Context, time.Time) ([]market.WatchedSymbol, error) {
	list := make([]market.WatchedSymbol, len(s))
	for i, sym := range s {
		list[i] = market.WatchedSymbol{Symbol: sym, Reasons: []market.WatchReason{market.WatchHeld}}
	}
	return list, nil
}

// TestRateLimitedThroughDynamoDB: Finnhub (an httptest server answering its
// documented /quote format) limited to 3 calls a minute by the DynamoDB counter;
// of 5 symbols, 3 are published, the 4th is a rate_limited MarketDataError (logged
// as a JSON line), the 5th is not asked.
func TestRateLimitedThroughDynamoDB(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = w.Write([]byte(`{"c":190.5,"d":1.1,"dp":0.58,"h":191,"l":189,"o":189.5,"pc":189.4,"t":1772463600}`))
	}))
	defer srv.Close()
	db := testenv.DynamoDB(t)
	tb, _ := topology.TableByName(topology.RateLimitsTable)
	table := testenv.UniqueName(t, "rl")
	if err := dynamo.CreateTable(t.Context(), db, tb, table); err != nil {
		t.Fatal(err)
	}
	limiter := marketdata.NewWindowLimiter(dynamoprices.NewCounter(db, table), map[string][]marketdata.Limit{marketdata.SourceFinnhub: {{Max: 3, Window: time.Minute}}})
	fh := marketdata.NewFinnhub(marketdata.ClientOptions{BaseURL: srv.URL, APIKey: "k", Limiter: limiter})

	kc := testenv.Kinesis(t)
	updates := testenv.UniqueName(t, "md")
	if err := kinesispub.CreateStream(t.Context(), kc, updates); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := ingest.New(ingest.Config{Quotes: fh, Watch: staticWatch{"AAPL", "MSFT", "NVDA", "SPY", "VTI"},
		Updates:     kinesispub.IngestPublisher{Publisher: kinesispub.New(kc, updates, kinesispub.Options{})},
		Concurrency: 1, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	out, err := h.Run(t.Context(), ingest.Input{})
	if err != nil || out.Published != 3 || out.Errors != 1 || out.Skipped != 1 || calls.Load() != 3 {
		t.Fatalf("out %+v err %v calls %d", out, err, calls.Load())
	}
	got, err := kinesispub.ReadAll(t.Context(), kc, updates)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d records, err %v", len(got), err)
	}
	for _, r := range got {
		e, err := pricing.Decode(r.Data)
		if err != nil || e.Symbol != *r.PartitionKey || e.Price.String() != "190.5" || e.PreviousClose.String() != "189.4" || e.Source != "finnhub" {
			t.Fatalf("record %s: %+v %v", r.Data, e, err)
		}
	}
	// The error is one JSON log line whose event decodes as the MarketDataError.
	var mde marketdata.MarketDataError
	for line := range strings.Lines(logs.String()) {
		var entry struct {
			Msg   string          `json:"msg"`
			Event json.RawMessage `json:"event"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "MarketDataError" {
			if err := json.Unmarshal(entry.Event, &mde); err != nil {
				t.Fatalf("error event %s: %v", entry.Event, err)
			}
		}
	}
	if mde.Kind != marketdata.KindRateLimited || mde.Symbol != "SPY" || mde.Provider != "finnhub" {
		t.Fatalf("error event %+v; log:\n%s", mde, logs.String())
	}
}

// recordingQuotes answers a fixed quote for any symbol and records the order asked.
type recordingQuotes struct{ asked []string }

func (r *recordingQuotes) Name() string { return "test" }

func (r *recordingQuotes) Quote(_ context.Context, sym string) (marketdata.Quote, error) {
	r.asked = append(r.asked, sym)
	if sym == "BAD" {
		return marketdata.Quote{Symbol: sym}, nil // invalid: no price
	}
	return marketdata.Quote{Symbol: sym, Price: decimal.NewFromInt(1), Timestamp: time.Unix(1772463600, 0).UTC(), Source: "test"}, nil
}

// memPublisher keeps what is published; like a real stream it refuses a call
// whose context has ended.
type memPublisher struct{ recs []ingest.Record }

func (m *memPublisher) Publish(ctx context.Context, recs []ingest.Record) (ingest.PublishResult, error) {
	if err := ctx.Err(); err != nil {
		return ingest.PublishResult{}, err
	}
	m.recs = append(m.recs, recs...)
	return ingest.PublishResult{Published: len(recs)}, nil
}

// reasonsWatch is a watch list given with its reasons.
type reasonsWatch []market.WatchedSymbol

func (s reasonsWatch) WatchList(context.Context, time.Time) ([]market.WatchedSymbol, error) {
	return s, nil
}

// TestWatchlistReasonsRotationAndMalformedQuote: no emulator needed for this one;
// the watch list is sorted and counted per reason, the symbols only watched put
// after the rest (any user may open a watch: they must not dilute the quota the
// holdings need), each part rotated by RotateBy × minute, and a provider's invalid quote becomes a malformed MarketDataError instead of
// a record.
func TestWatchlistReasonsRotationAndMalformedQuote(t *testing.T) {
	q := &recordingQuotes{}
	pub := &memPublisher{}
	var logs bytes.Buffer
	minute := time.Unix(1772463600, 0).UTC() // Unix minute 29541060
	w := func(sym string, rs ...market.WatchReason) market.WatchedSymbol {
		return market.WatchedSymbol{Symbol: sym, Reasons: rs}
	}
	watch := reasonsWatch{w("C", market.WatchHeld, market.WatchAlert), w("A", market.WatchBenchmark), w("BAD", market.WatchWatched),
		w("B", market.WatchHeld), w("D", market.WatchFX)}
	h := ingest.New(ingest.Config{Quotes: q, Watch: watch, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Updates: pub, Concurrency: 1, RotateBy: 3, Now: func() time.Time { return minute.Add(time.Minute) }})
	out, err := h.Run(t.Context(), ingest.Input{Mode: ingest.ModeQuotes})
	if err != nil || out.Symbols != 5 || out.Published != 4 || out.Errors != 1 {
		t.Fatalf("out %+v err %v", out, err)
	}
	want := map[market.WatchReason]int{market.WatchHeld: 2, market.WatchAlert: 1, market.WatchBenchmark: 1, market.WatchWatched: 1, market.WatchFX: 1}
	if !maps.Equal(out.Reasons, want) {
		t.Fatalf("reasons %v, want %v", out.Reasons, want)
	}
	if !strings.Contains(logs.String(), `"msg":"ingest: watch list","symbols":5,"held":2,"alert":1,"benchmark":1,"watched":1,"fx":1`) {
		t.Fatalf("log:\n%s", logs.String())
	}
	// Needed, sorted: A B C D; minute 29541061 × 3 mod 4 = 3: start at D; then
	// the watched-only BAD (rotated alone).
	if strings.Join(q.asked, ",") != "D,A,B,C,BAD" {
		t.Fatalf("asked %v", q.asked)
	}
	if len(pub.recs) != 4 || pub.recs[0].PartitionKey != "D" {
		t.Fatalf("published %+v", pub.recs)
	}
}

// TestUnknownSymbolsAreFlaggedAndCleared: Finnhub (an httptest server) answers
// a quote of all zeros for a symbol it does not know, which the client reports
// as not-found; the ingest flags it in PostgreSQL, publishes nothing for it,
// and clears the flag of a symbol that gets a valid quote. A flagged symbol is
// asked in one minute of the hour only, and flagged again by nobody.
func TestUnknownSymbolsAreFlaggedAndCleared(t *testing.T) {
	var askedNope atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("symbol") == "NOPE" {
			askedNope.Add(1)
			_, _ = w.Write([]byte(`{"c":0,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0,"t":0}`))
			return
		}
		_, _ = w.Write([]byte(`{"c":190.5,"d":1.1,"dp":0.58,"h":191,"l":189,"o":189.5,"pc":189.4,"t":1772463600}`))
	}))
	defer srv.Close()
	pool := pg(t)
	ctx := t.Context()
	flags := readmodel.NewSymbolFlags(pool)
	// AAPL was flagged by another provider once; a valid quote clears it.
	if err := flags.FlagUnknown(ctx, "AAPL", "polygon", "NOT_FOUND"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	newHandler := func(at time.Time, askUnknownEvery time.Duration) *ingest.Handler {
		return ingest.New(ingest.Config{Quotes: marketdata.NewFinnhub(marketdata.ClientOptions{BaseURL: srv.URL, APIKey: "k"}),
			Watch: staticWatch{"AAPL", "NOPE", "MSFT"}, Updates: &memPublisher{}, Flags: flags, AskUnknownEvery: askUnknownEvery,
			Now: func() time.Time { return at }})
	}
	// Every minute is every flagged symbol's turn: AAPL is asked.
	out, err := newHandler(now, time.Minute).Run(ctx, ingest.Input{})
	if err != nil || out.Published != 2 || out.Errors != 1 || out.Flagged != 1 || out.Cleared != 1 {
		t.Fatalf("out %+v err %v", out, err)
	}
	flagged := func() string {
		t.Helper()
		var source, reason string
		var at time.Time
		if err := pool.QueryRow(ctx, `select source, reason, flagged_at from symbol_flags where symbol = 'NOPE' and flag = 'unknown'`).Scan(&source, &reason, &at); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s: %s at %s", source, reason, at)
	}
	first := flagged()
	if !strings.HasPrefix(first, "finnhub: no quote for symbol") {
		t.Fatalf("NOPE's flag: %s", first)
	}
	if unknown, err := flags.Unknown(ctx); err != nil || !slices.Equal(unknown, []string{"NOPE"}) {
		t.Fatalf("unknown %v %v, want NOPE only", unknown, err)
	}
	askedNope.Store(0)
	for m := range 60 {
		before := askedNope.Load()
		again, err := newHandler(now.Add(time.Duration(m+1)*time.Minute), 0).Run(ctx, ingest.Input{})
		asked := askedNope.Load() > before
		if err != nil || again.Flagged != 0 || again.Cleared != 0 || again.Published != 2 || asked == (again.Unknown == 1) {
			t.Fatalf("minute %d: %+v err %v, NOPE asked %v", m+1, again, err, asked)
		}
	}
	if askedNope.Load() != 1 {
		t.Fatalf("NOPE asked %d times in an hour, want once", askedNope.Load())
	}
	// Flagging again (the history backfill's provider) replaces the words and
	// keeps the first time.
	if err := flags.FlagUnknown(ctx, "NOPE", "polygon", "NOT_FOUND"); err != nil {
		t.Fatal(err)
	}
	if got := flagged(); !strings.HasPrefix(got, "polygon: NOT_FOUND at ") || got[strings.Index(got, " at "):] != first[strings.Index(first, " at "):] {
		t.Fatalf("re-flagged: %s, first %s", got, first)
	}
}

// TestPollIsTheStreamsFallback: on DynamoDB Local's prices table, a symbol the
// stream quoted 30 s ago is not polled; one it quoted 5 minutes ago (the stream
// is down, or past its cap for it), one whose latest quote is the poll's own
// (Finnhub REST: it carries the previous close), one of another source and one
// never quoted are.
func TestPollIsTheStreamsFallback(t *testing.T) {
	db := testenv.DynamoDB(t)
	tb, _ := topology.TableByName(topology.PricesTable)
	table := testenv.UniqueName(t, "prices")
	if err := dynamo.CreateTable(t.Context(), db, tb, table); err != nil {
		t.Fatal(err)
	}
	latest := dynamoprices.NewLatest(db, table)
	now := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	one := decimal.NewFromInt(1)
	for _, q := range []marketdata.Quote{
		{Symbol: "AAPL", Price: one, Volume: one, Timestamp: now.Add(-30 * time.Second), Source: "finnhub"},
		{Symbol: "MSFT", Price: one, Volume: one, Timestamp: now.Add(-5 * time.Minute), Source: "finnhub"},
		{Symbol: "NVDA", Price: one, Timestamp: now.Add(-10 * time.Second), Source: "finnhub", PreviousClose: one},
		{Symbol: "SPY", Price: one, Timestamp: now.Add(-10 * time.Second), Source: "simulated"},
	} {
		if _, err := latest.Put(t.Context(), q, "e"); err != nil {
			t.Fatal(err)
		}
	}
	watch := staticWatch{"AAPL", "MSFT", "NVDA", "SPY", "VTI"}
	for _, c := range []struct {
		skip   time.Duration
		asked  string
		stream int
	}{
		// Asked least recently quoted first: VTI never, MSFT 5 minutes ago,
		// AAPL 30 s ago, NVDA and SPY 10 s ago (then by name).
		{90 * time.Second, "VTI,MSFT,NVDA,SPY", 1},
		{0, "VTI,MSFT,AAPL,NVDA,SPY", 0}, // the setting at zero: poll everything
	} {
		q := &recordingQuotes{}
		h := ingest.New(ingest.Config{Quotes: q, Watch: watch, Updates: &memPublisher{}, Concurrency: 1,
			Latest: latest, SkipFresherThan: c.skip, StreamSource: "finnhub", Now: func() time.Time { return now }})
		out, err := h.Run(t.Context(), ingest.Input{})
		if err != nil || out.Symbols != 5 || out.Streamed != c.stream || strings.Join(q.asked, ",") != c.asked {
			t.Fatalf("skip %s: asked %v, out %+v, err %v; want %s asked", c.skip, q.asked, out, err, c.asked)
		}
	}
}

// A provider that slows down costs the symbols not yet asked when the
// invocation's deadline nears, never the publication of those quoted: the
// fetching stops PublishReserve before the deadline and what was quoted is
// published.
func TestSlowProviderStillPublishes(t *testing.T) {
	pub := &memPublisher{}
	q := &slowQuotes{after: 2, release: make(chan struct{})}
	h := ingest.New(ingest.Config{Quotes: q, Watch: staticWatch{"A", "B", "C", "D"}, Updates: pub, Concurrency: 1,
		PublishReserve: 2 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second+100*time.Millisecond)
	defer cancel()
	out, err := h.Run(ctx, ingest.Input{})
	if len(pub.recs) != 2 || out.Published != 2 {
		t.Fatalf("published %d (%+v, %v), want the two quoted before the provider hung", len(pub.recs), out, err)
	}
}

// slowQuotes answers its first after quotes, then hangs until its context ends.
type slowQuotes struct {
	mu      sync.Mutex
	n       int
	after   int
	release chan struct{}
}

func (s *slowQuotes) Name() string { return "slow" }

func (s *slowQuotes) Quote(ctx context.Context, symbol string) (market.Quote, error) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	if n > s.after {
		select {
		case <-ctx.Done():
			return market.Quote{}, &market.MarketDataError{Provider: "slow", Symbol: symbol, Kind: market.KindTimeout, Message: ctx.Err().Error()}
		case <-s.release:
		}
	}
	return market.Quote{Symbol: symbol, Price: decimal.NewFromInt(1), Timestamp: time.Now().UTC(), Source: "slow"}, nil
}

// TestRecordsCarryTheRunsTraceparent: every record published carries the
// traceparent of the span the run is in, for the prices consumer to continue
// the trace (the Kinesis hop); untraced, none.
func TestRecordsCarryTheRunsTraceparent(t *testing.T) {
	tracing.SetProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder())))
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	for _, traced := range []bool{true, false} {
		ctx, want := t.Context(), ""
		if traced {
			var span trace.Span
			ctx, span = tracing.Start(ctx, "ingest")
			defer span.End()
			want = tracing.Traceparent(ctx)
		}
		pub := &memPublisher{}
		h := ingest.New(ingest.Config{Quotes: &recordingQuotes{}, Watch: staticWatch{"AAPL", "MSFT"}, Updates: pub, Concurrency: 1})
		if out, err := h.Run(ctx, ingest.Input{Mode: ingest.ModeQuotes}); err != nil || out.Published != 2 {
			t.Fatalf("traced %v: out %+v err %v", traced, out, err)
		}
		for _, r := range pub.recs {
			ev, err := pricing.Decode(r.Data)
			if err != nil || ev.Traceparent != want {
				t.Errorf("traced %v: record %s traceparent %q (%v), want %q", traced, r.PartitionKey, ev.Traceparent, err, want)
			}
		}
	}
}
