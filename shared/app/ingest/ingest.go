// Package ingest is the scheduled market-data ingest behind functions/ingest.
//
// Every minute (EventBridge Scheduler) it loads the watch list — the symbols
// held in a portfolio, on an alert rule, a portfolio's benchmark, watched over
// the WebSocket, and the FX pairs of portfolios in another currency — leaves out
// what the live stream quoted lately and the symbols the provider does not know
// (but once an hour), fetches a quote per symbol from the configured provider
// (rate-limited across invocations by the provider client's Limiter, a
// marketdata.WindowLimiter over the DynamoDB counter), and publishes one
// MarketDataUpdated record per quote on market-data-updates (partition key =
// symbol). Failures are *market.MarketDataError values, logged as JSON lines
// ("msg":"MarketDataError"): the log is where they are read. Daily history is
// not its business: the backfill function (shared/app/history) fills it.
//
// The ports it uses are declared here (QuoteProvider, WatchList, SymbolFlags,
// LatestQuotes, Publisher); marketdata, kinesispub, dynamoprices and readmodel
// implement them.
package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// QuoteProvider answers "what is the price of symbol now" (marketdata's REST
// clients, SimQuotes). Errors are *market.MarketDataError.
type QuoteProvider interface {
	Name() string
	Quote(ctx context.Context, symbol string) (market.Quote, error)
}

// Record is one record to put on a stream: its partition key and data.
type Record struct {
	PartitionKey string
	Data         []byte
}

// PublishResult summarises a Publish call.
type PublishResult struct {
	Published int
	Calls     int // requests made
	Retried   int // record sends beyond the first
}

// Publisher puts records on a stream (kinesispub.IngestPublisher), retrying
// what fails within the call; an error means some were not put.
type Publisher interface {
	Publish(ctx context.Context, records []Record) (PublishResult, error)
}

// WatchList returns the symbols to ingest at now, each with every reason it is
// needed (readmodel.IngestStore: held, alert, benchmark, watched, fx).
type WatchList interface {
	WatchList(ctx context.Context, now time.Time) ([]market.WatchedSymbol, error)
}

// SymbolFlags keeps the symbols the quote provider does not know
// (readmodel.SymbolFlags): the API warns on their positions.
type SymbolFlags interface {
	Unknown(ctx context.Context) ([]string, error)
	FlagUnknown(ctx context.Context, symbol, source, reason string) error
	ClearUnknown(ctx context.Context, symbol string) error
}

// LatestQuotes returns the newest quote stored per symbol, absent symbols left
// out (dynamoprices.Latest: the prices table the prices consumer writes on
// every tick).
type LatestQuotes interface {
	GetMany(ctx context.Context, symbols []string) (map[string]market.Quote, error)
}

// Config wires a Handler. Quotes, Watch and Updates are required.
type Config struct {
	Quotes  QuoteProvider
	Watch   WatchList
	Updates Publisher
	// Flags, optional, records the symbols the provider answers not-found for,
	// and clears them when a valid quote arrives. A flagged symbol is asked
	// again once every AskUnknownEvery (default 1 h; each in its own minute),
	// not every minute: a typo held in a portfolio must not spend the quota.
	Flags           SymbolFlags
	AskUnknownEvery time.Duration
	// Latest, SkipFresherThan and StreamSource make the poll the fallback of a
	// live stream: a symbol whose latest quote came from the stream (source
	// StreamSource) less than SkipFresherThan ago is not polled, which keeps the
	// provider's quota for the symbols the stream does not cover (beyond its
	// cap, or while it is down). Any of them zero: every symbol is polled.
	Latest          LatestQuotes
	SkipFresherThan time.Duration
	StreamSource    string
	// Concurrency bounds the quote requests in flight. Default 4.
	Concurrency int
	// PublishReserve is the time kept before the invocation's deadline to
	// publish what was quoted: fetching stops then. Default 5 s.
	PublishReserve time.Duration
	// RotateBy rotates the watch list by RotateBy × (Unix minute) each
	// invocation when the latest quotes cannot be read (with them, the least
	// recently quoted go first).
	// Set to a provider's per-minute quota (Finnhub: 60), it makes a watch list
	// longer than the quota served in turns instead of always serving its head.
	RotateBy int
	Logger   *slog.Logger
	Now      func() time.Time
}

// Handler runs the ingest's invocations (Run).
type Handler struct{ cfg Config }

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.PublishReserve <= 0 {
		cfg.PublishReserve = 5 * time.Second
	}
	if cfg.AskUnknownEvery < time.Minute {
		cfg.AskUnknownEvery = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// Mode says what an invocation does.
type Mode string

// ModeQuotes, the minute-by-minute ingest, is the only mode; the zero Mode is it.
const ModeQuotes Mode = "quotes"

// retiredBackfill is the mode that once stored daily closes: the backfill
// function does that now, and an input still naming it is told so.
const retiredBackfill Mode = "backfill"

// Input is one invocation.
type Input struct {
	Mode Mode
}

// Output summarises an invocation.
type Output struct {
	Mode      string `json:"mode"`
	Symbols   int    `json:"symbols"`
	Published int    `json:"published"`
	Errors    int    `json:"errors"`
	Skipped   int    `json:"skipped"`            // not asked once the provider's limit was reached
	Streamed  int    `json:"streamed,omitempty"` // not polled: the stream quoted them recently
	Unknown   int    `json:"unknown,omitempty"`  // not polled: flagged unknown, not their turn
	Flagged   int    `json:"flagged,omitempty"`  // symbols newly flagged unknown to the provider
	Cleared   int    `json:"cleared,omitempty"`  // flags cleared by a valid quote
	// Reasons counts the watch list's symbols per reason (a symbol counts under
	// each of its reasons).
	Reasons map[market.WatchReason]int `json:"reasons,omitempty"`
}

// ErrBadInput is returned for an input that is not a valid Input.
var ErrBadInput = errors.New("ingest: bad input")

// Run runs one invocation. An error makes the Scheduler retry it (publishing
// again is harmless: consumers keep the newest tick).
func (h *Handler) Run(ctx context.Context, in Input) (Output, error) {
	switch in.Mode {
	case "", ModeQuotes:
		return h.Quotes(ctx)
	case retiredBackfill:
		return Output{}, fmt.Errorf(`%w: the ingest no longer backfills daily closes; invoke the backfill function with {"symbol":"AAPL","from":"2024-01-01"}`, ErrBadInput)
	}
	return Output{}, fmt.Errorf("%w: mode %q is not quotes", ErrBadInput, in.Mode)
}

// Quotes fetches the watch list's quotes and publishes them: the watch list
// counted per reason, the symbols to poll (not streamed lately, not unknown
// but in their turn; those only watched after the rest, each part rotated),
// their quotes, the unknown symbols flagged or
// cleared, one MarketDataUpdated record per valid quote and one MarketDataError
// log line per failure, then the updates.
func (h *Handler) Quotes(ctx context.Context) (Output, error) {
	out := Output{Mode: "quotes"}
	if h.cfg.Quotes == nil || h.cfg.Watch == nil || h.cfg.Updates == nil {
		return out, errors.New("ingest: quotes mode is not configured")
	}
	watched, err := h.cfg.Watch.WatchList(ctx, h.cfg.Now())
	if err != nil {
		return out, fmt.Errorf("ingest: watch list: %w", err)
	}
	symbols := h.countWatched(ctx, &out, watched)
	unknown := h.unknownSymbols(ctx)
	symbols, lastQuoted := h.notStreamed(ctx, &out, symbols)
	symbols = h.notUnknown(&out, symbols, unknown)
	symbols = h.heldBeforeWatched(symbols, watched, lastQuoted)
	fetchCtx, cancel := h.beforePublish(ctx)
	quotes, errs := h.fetchQuotes(fetchCtx, symbols)
	cancel()
	h.flagUnknown(ctx, &out, symbols, quotes, errs, unknown)
	recs := h.records(ctx, &out, symbols, quotes, errs)
	res, err := h.cfg.Updates.Publish(ctx, recs)
	out.Published = res.Published
	h.cfg.Logger.InfoContext(ctx, "ingest: quotes", "symbols", out.Symbols, "published", out.Published,
		"errors", out.Errors, "skipped", out.Skipped, "streamed", out.Streamed, "unknown", out.Unknown,
		"flagged", out.Flagged, "cleared", out.Cleared, "putRecordsCalls", res.Calls, "retried", res.Retried)
	if err != nil {
		return out, fmt.Errorf("ingest: publish: %w", err)
	}
	return out, ctx.Err()
}

// countWatched counts the watch list per reason in out, logs the counts, and
// returns its symbols, sorted, each once.
func (h *Handler) countWatched(ctx context.Context, out *Output, watched []market.WatchedSymbol) []string {
	symbols := make([]string, 0, len(watched))
	out.Reasons = map[market.WatchReason]int{}
	for _, w := range watched {
		symbols = append(symbols, w.Symbol)
		for _, r := range w.Reasons {
			out.Reasons[r]++
		}
	}
	slices.Sort(symbols)
	symbols = slices.Compact(symbols)
	out.Symbols = len(symbols)
	attrs := []any{"symbols", out.Symbols}
	for _, r := range market.WatchReasons {
		attrs = append(attrs, string(r), out.Reasons[r])
	}
	h.cfg.Logger.InfoContext(ctx, "ingest: watch list", attrs...)
	return symbols
}

// notStreamed leaves out the symbols the stream quoted less than
// Config.SkipFresherThan ago, counting them in out, and returns when each
// symbol to poll was last quoted (nil when the prices table is not read).
// The table cannot be read: every symbol is polled (the fallback must not
// depend on it).
func (h *Handler) notStreamed(ctx context.Context, out *Output, symbols []string) ([]string, map[string]time.Time) {
	if h.cfg.Latest == nil || len(symbols) == 0 {
		return symbols, nil
	}
	latest, err := h.cfg.Latest.GetMany(ctx, symbols)
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "ingest: latest quotes not read; polling every symbol", "error", err.Error())
		return symbols, nil
	}
	skip := h.cfg.SkipFresherThan > 0 && h.cfg.StreamSource != ""
	now := h.cfg.Now()
	poll := symbols[:0:0]
	lastQuoted := make(map[string]time.Time, len(latest))
	for _, sym := range symbols {
		q, ok := latest[sym]
		if ok && skip && h.streamed(q) && now.Sub(q.Timestamp) < h.cfg.SkipFresherThan {
			out.Streamed++
			continue
		}
		if ok {
			lastQuoted[sym] = q.Timestamp
		}
		poll = append(poll, sym)
	}
	return poll, lastQuoted
}

// beforePublish is the context the quotes are fetched under: it ends
// Config.PublishReserve before the invocation's deadline, so that a slow
// provider costs the symbols not yet asked, never the publication of those
// already quoted.
func (h *Handler) beforePublish(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-h.cfg.PublishReserve))
}

// streamed reports whether q came from the stream: its source is the stream's,
// and it carries no previous close. The same provider's REST quote always
// does (Finnhub's "pc"), a trade never does; so the poll's own quotes, stored
// in the same table under the same source, do not stop the poll.
func (h *Handler) streamed(q market.Quote) bool {
	return q.Source == h.cfg.StreamSource && q.PreviousClose.IsZero()
}

// heldBeforeWatched puts the symbols that are only watched over the WebSocket
// after the others (held, benchmarks, pairs, alerts), each part in its turn:
// any user may open a watch, so watches must not dilute the quota the
// holdings' prices need (fetchQuotes stops where the quota does).
func (h *Handler) heldBeforeWatched(symbols []string, watched []market.WatchedSymbol, lastQuoted map[string]time.Time) []string {
	onlyWatched := map[string]bool{}
	for _, w := range watched {
		if slices.Equal(w.Reasons, []market.WatchReason{market.WatchWatched}) {
			onlyWatched[w.Symbol] = true
		}
	}
	var needed, watches []string
	for _, sym := range symbols {
		if onlyWatched[sym] {
			watches = append(watches, sym)
		} else {
			needed = append(needed, sym)
		}
	}
	return append(h.inTurn(needed, lastQuoted), h.inTurn(watches, lastQuoted)...)
}

// inTurn orders symbols so that a watch list longer than the provider's quota
// is served in turns: the least recently quoted first (never quoted before
// any), whatever share of the quota each minute leaves the poll; without the
// latest quotes, rotated by Config.RotateBy × the Unix minute.
func (h *Handler) inTurn(symbols []string, lastQuoted map[string]time.Time) []string {
	if lastQuoted != nil {
		return slices.SortedStableFunc(slices.Values(symbols), func(a, b string) int {
			return lastQuoted[a].Compare(lastQuoted[b])
		})
	}
	if h.cfg.RotateBy <= 0 || len(symbols) == 0 {
		return symbols
	}
	k := int((h.cfg.Now().Unix() / 60 * int64(h.cfg.RotateBy)) % int64(len(symbols)))
	return append(symbols[k:len(symbols):len(symbols)], symbols[:k]...)
}

// fetchQuotes asks for the quote of each symbol, Config.Concurrency at a time,
// and stops asking once the provider's quota is spent (the symbols not asked
// have neither a quote nor an error). A quote that is not valid for its symbol
// is a malformed answer.
func (h *Handler) fetchQuotes(ctx context.Context, symbols []string) ([]*market.Quote, []*market.MarketDataError) {
	quotes := make([]*market.Quote, len(symbols))
	errs := make([]*market.MarketDataError, len(symbols))
	var limited sync.Once
	stop := make(chan struct{})
	sem := make(chan struct{}, h.cfg.Concurrency)
	var wg sync.WaitGroup
fetch:
	for i, sym := range symbols {
		select {
		case <-ctx.Done():
			break fetch
		case sem <- struct{}{}:
		}
		select {
		case <-stop:
			<-sem
			break fetch
		default:
		}
		wg.Go(func() {
			defer func() { <-sem }()
			q, err := h.cfg.Quotes.Quote(ctx, sym)
			if err != nil {
				errs[i] = h.asMarketDataError(sym, market.KindUpstream, err)
				if errors.Is(errs[i], market.KindRateLimited) {
					// The quota is spent: asking for the rest would only be refused.
					limited.Do(func() { close(stop) })
				}
				return
			}
			if err := q.Validate(); err != nil || q.Symbol != sym {
				errs[i] = h.asMarketDataError(sym, market.KindMalformed, fmt.Errorf("quote for %s: %+v: %v", sym, q, err))
				return
			}
			quotes[i] = &q
		})
	}
	wg.Wait()
	return quotes, errs
}

// unknownSymbols returns the symbols flagged unknown to the provider (nil
// without Config.Flags, or when they cannot be read: the flags only warn users
// and save quota, so the invocation goes on without them).
func (h *Handler) unknownSymbols(ctx context.Context) map[string]bool {
	if h.cfg.Flags == nil {
		return nil
	}
	flagged, err := h.cfg.Flags.Unknown(ctx)
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "ingest: unknown symbols not read", "error", err.Error())
		return nil
	}
	unknown := make(map[string]bool, len(flagged))
	for _, s := range flagged {
		unknown[s] = true
	}
	return unknown
}

// notUnknown leaves out the symbols flagged unknown whose turn it is not: each
// is asked in one minute of every Config.AskUnknownEvery (by a hash of the
// symbol, so that they do not all come at once), counting the others in out.
func (h *Handler) notUnknown(out *Output, symbols []string, unknown map[string]bool) []string {
	if len(unknown) == 0 {
		return symbols
	}
	minutes := uint64(h.cfg.AskUnknownEvery / time.Minute)
	minute := uint64(h.cfg.Now().Unix() / 60)
	ask := symbols[:0:0]
	for _, sym := range symbols {
		if unknown[sym] {
			hash := fnv.New64a()
			_, _ = hash.Write([]byte(sym))
			if hash.Sum64()%minutes != minute%minutes {
				out.Unknown++
				continue
			}
		}
		ask = append(ask, sym)
	}
	return ask
}

// flagUnknown flags the symbols the provider answered not-found for (once:
// a symbol already flagged is left as it is) and clears the flag of those that
// got a valid quote. A failure is logged and never fails the invocation.
func (h *Handler) flagUnknown(ctx context.Context, out *Output, symbols []string, quotes []*market.Quote, errs []*market.MarketDataError, unknown map[string]bool) {
	if h.cfg.Flags == nil {
		return
	}
	for i, sym := range symbols {
		var err error
		var count *int
		switch e := errs[i]; {
		case e != nil && e.Kind == market.KindNotFound && !unknown[sym]:
			err, count = h.cfg.Flags.FlagUnknown(ctx, sym, cmp.Or(e.Provider, h.cfg.Quotes.Name()), e.Message), &out.Flagged
		case quotes[i] != nil && unknown[sym]:
			err, count = h.cfg.Flags.ClearUnknown(ctx, sym), &out.Cleared
		default:
			continue
		}
		if err != nil {
			h.cfg.Logger.WarnContext(ctx, "ingest: symbol flag not changed", "symbol", sym, "error", err.Error())
			continue
		}
		*count++
	}
}

// records encodes each quote as a MarketDataUpdated record and logs each
// failure as a MarketDataError JSON line, counting them in out.
func (h *Handler) records(ctx context.Context, out *Output, symbols []string, quotes []*market.Quote, errs []*market.MarketDataError) (recs []Record) {
	traceparent := tracing.Traceparent(ctx) // the prices consumer continues the trace
	for i, sym := range symbols {
		switch {
		case quotes[i] != nil:
			ev := pricing.FromQuote(*quotes[i])
			ev.Traceparent = traceparent
			b, err := pricing.Encode(ev)
			if err != nil {
				errs[i] = h.asMarketDataError(sym, market.KindMalformed, err)
				break
			}
			recs = append(recs, Record{PartitionKey: sym, Data: b})
		case errs[i] == nil:
			out.Skipped++
		}
		if e := errs[i]; e != nil {
			out.Errors++
			b, _ := json.Marshal(e)
			h.cfg.Logger.WarnContext(ctx, "MarketDataError", "event", json.RawMessage(b))
		}
	}
	return recs
}

// asMarketDataError keeps a *MarketDataError as it is and wraps anything else as
// kind.
func (h *Handler) asMarketDataError(symbol string, kind market.ErrorKind, err error) *market.MarketDataError {
	var e *market.MarketDataError
	if errors.As(err, &e) {
		return e
	}
	return &market.MarketDataError{Provider: h.cfg.Quotes.Name(), Symbol: symbol, Kind: kind, Message: err.Error(), At: h.cfg.Now().UTC(), Err: err}
}
