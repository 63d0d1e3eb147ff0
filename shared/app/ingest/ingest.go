// Package ingest is the scheduled market-data ingest behind functions/ingest.
//
// Every minute (EventBridge Scheduler) it loads the watch list — the symbols held
// in any portfolio or watched by an alert rule — fetches a quote per symbol from
// the configured provider (rate-limited across invocations by the provider
// client's Limiter, a marketdata.WindowLimiter over the DynamoDB counter), and
// publishes one MarketDataUpdated record per quote on market-data-updates
// (partition key = symbol). Failures are *market.MarketDataError values, logged
// as JSON and, when an errors publisher is configured, published on
// market-data-errors.
//
// With a backfill Input (functions/ingest decodes it from the schedule's
// {"mode":"backfill","symbol":"AAPL","from":"2024-01-01","to":"2024-03-01"}) it
// loads the daily bars of that range instead and stores their closes in
// daily_closes (newer wins: a bar's close is stamped at the 16:00 New York
// session end).
//
// The ports it uses are declared here (QuoteProvider, BarProvider, WatchList,
// Publisher, CloseStore); marketdata, kinesispub and readmodel implement them.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// QuoteProvider answers "what is the price of symbol now" (marketdata's REST
// clients, SimQuotes). Errors are *market.MarketDataError.
type QuoteProvider interface {
	Name() string
	Quote(ctx context.Context, symbol string) (market.Quote, error)
}

// BarProvider returns the daily bars of symbol for the days from..to inclusive,
// oldest first (marketdata.AlphaVantage, marketdata.SimBars). Errors are
// *market.MarketDataError.
type BarProvider interface {
	Name() string
	DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]market.DailyBar, error)
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

// CloseStore keeps the daily closes, newer wins (readmodel.IngestStore); it
// returns the rows written.
type CloseStore interface {
	UpsertDailyCloses(ctx context.Context, closes []market.DailyClose) (int64, error)
}

// WatchList returns the symbols to ingest.
type WatchList interface {
	Symbols(ctx context.Context) ([]string, error)
}

// WatchListFunc is a function as a WatchList (readmodel.IngestStore's
// HeldSymbols and AlertSymbols).
type WatchListFunc func(ctx context.Context) ([]string, error)

// Symbols implements WatchList.
func (f WatchListFunc) Symbols(ctx context.Context) ([]string, error) { return f(ctx) }

// Watchlists is the union of several watch lists, sorted, without duplicates
// (held symbols and the symbols of alert rules).
type Watchlists []WatchList

// Symbols implements WatchList.
func (ws Watchlists) Symbols(ctx context.Context) ([]string, error) {
	var all []string
	for _, w := range ws {
		s, err := w.Symbols(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// Config wires a Handler. Quotes, Watch and Updates are needed for the
// minute-by-minute mode; Bars and Closes for backfills.
type Config struct {
	Quotes  QuoteProvider
	Bars    BarProvider
	Watch   WatchList
	Updates Publisher
	// Errors, optional, receives the MarketDataError events (market-data-errors).
	Errors Publisher
	// Closes keeps the daily closes a backfill loads.
	Closes CloseStore
	// Concurrency bounds the quote requests in flight. Default 4.
	Concurrency int
	// RotateBy rotates the watch list by RotateBy × (Unix minute) each invocation.
	// Set to a provider's per-minute quota (Finnhub: 60), it makes a watch list
	// longer than the quota served in turns instead of always serving its head.
	RotateBy int
	// MaxBackfillDays bounds one backfill. Default 3,660 (ten years).
	MaxBackfillDays int
	Logger          *slog.Logger
	Now             func() time.Time
}

// Handler runs the ingest's invocations (Run).
type Handler struct{ cfg Config }

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MaxBackfillDays <= 0 {
		cfg.MaxBackfillDays = 3660
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

// The modes. The zero Mode is ModeQuotes.
const (
	ModeQuotes   Mode = "quotes"   // the minute-by-minute ingest
	ModeBackfill Mode = "backfill" // the daily closes of Symbol, From..To
)

// Input is one invocation. From and To are YYYY-MM-DD, checked with the rest of
// a backfill.
type Input struct {
	Mode     Mode
	Symbol   string
	From, To string
}

// Output summarises an invocation.
type Output struct {
	Mode      string `json:"mode"`
	Symbols   int    `json:"symbols"`
	Published int    `json:"published"`
	Closes    int    `json:"closes"`
	Errors    int    `json:"errors"`
	Skipped   int    `json:"skipped"` // not asked once the provider's limit was reached
}

// ErrBadInput is returned for an input that is not a valid Input.
var ErrBadInput = errors.New("ingest: bad input")

// Run runs one invocation. An error makes the Scheduler retry it (publishing
// again is harmless: consumers keep the newest tick).
func (h *Handler) Run(ctx context.Context, in Input) (Output, error) {
	switch in.Mode {
	case "", ModeQuotes:
		return h.Quotes(ctx)
	case ModeBackfill:
		return h.Backfill(ctx, in)
	}
	return Output{}, fmt.Errorf("%w: mode %q is neither quotes nor backfill", ErrBadInput, in.Mode)
}

// Quotes fetches the watch list's quotes and publishes them: the symbols whose
// turn it is, their quotes, one MarketDataUpdated record per valid quote and one
// MarketDataError event per failure, the errors published (best effort), then
// the updates.
func (h *Handler) Quotes(ctx context.Context) (Output, error) {
	out := Output{Mode: "quotes"}
	if h.cfg.Quotes == nil || h.cfg.Watch == nil || h.cfg.Updates == nil {
		return out, errors.New("ingest: quotes mode is not configured")
	}
	symbols, err := h.cfg.Watch.Symbols(ctx)
	if err != nil {
		return out, fmt.Errorf("ingest: watch list: %w", err)
	}
	out.Symbols = len(symbols)
	symbols = h.inTurn(symbols)
	quotes, errs := h.fetchQuotes(ctx, symbols)
	recs, errRecs := h.records(ctx, &out, symbols, quotes, errs)
	h.publishErrors(ctx, errRecs)
	res, err := h.cfg.Updates.Publish(ctx, recs)
	out.Published = res.Published
	h.cfg.Logger.InfoContext(ctx, "ingest: quotes", "symbols", out.Symbols, "published", out.Published,
		"errors", out.Errors, "skipped", out.Skipped, "putRecordsCalls", res.Calls, "retried", res.Retried)
	if err != nil {
		return out, fmt.Errorf("ingest: publish: %w", err)
	}
	return out, ctx.Err()
}

// inTurn rotates symbols by Config.RotateBy × the Unix minute, so that a watch
// list longer than the provider's quota is served in turns.
func (h *Handler) inTurn(symbols []string) []string {
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

// records encodes each quote as a MarketDataUpdated record and each failure as
// a MarketDataError event (logged as well), counting them in out.
func (h *Handler) records(ctx context.Context, out *Output, symbols []string, quotes []*market.Quote, errs []*market.MarketDataError) (recs, errRecs []Record) {
	for i, sym := range symbols {
		switch {
		case quotes[i] != nil:
			b, err := pricing.Encode(pricing.FromQuote(*quotes[i]))
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
			errRecs = append(errRecs, Record{PartitionKey: sym, Data: b})
		}
	}
	return recs, errRecs
}

// publishErrors puts the MarketDataError events on market-data-errors when
// Config.Errors is set; a failure is logged only (the events are in the log).
func (h *Handler) publishErrors(ctx context.Context, errRecs []Record) {
	if h.cfg.Errors == nil || len(errRecs) == 0 {
		return
	}
	if _, err := h.cfg.Errors.Publish(ctx, errRecs); err != nil {
		h.cfg.Logger.ErrorContext(ctx, "ingest: market-data-errors not published", "error", err.Error())
	}
}

// Backfill stores the daily closes of in.Symbol for in.From..in.To.
func (h *Handler) Backfill(ctx context.Context, in Input) (Output, error) {
	out := Output{Mode: "backfill", Symbols: 1}
	if h.cfg.Bars == nil || h.cfg.Closes == nil {
		return out, errors.New("ingest: backfill is not configured")
	}
	from, err1 := calendar.Parse(in.From)
	to, err2 := calendar.Parse(in.To)
	switch {
	case in.Symbol == "" || len(in.Symbol) > market.MaxSymbolLen:
		return out, fmt.Errorf("%w: symbol %q", ErrBadInput, in.Symbol)
	case err1 != nil || err2 != nil:
		return out, fmt.Errorf("%w: from and to must be YYYY-MM-DD", ErrBadInput)
	case to.Before(from):
		return out, fmt.Errorf("%w: to %s is before from %s", ErrBadInput, to, from)
	case to.DaysSince(from) >= h.cfg.MaxBackfillDays:
		return out, fmt.Errorf("%w: more than %d days", ErrBadInput, h.cfg.MaxBackfillDays)
	}
	bars, err := h.cfg.Bars.DailyBars(ctx, in.Symbol, from, to)
	if err != nil {
		e := h.asMarketDataError(in.Symbol, market.KindUpstream, err)
		b, _ := json.Marshal(e)
		h.cfg.Logger.WarnContext(ctx, "MarketDataError", "event", json.RawMessage(b))
		out.Errors = 1
		return out, e
	}
	closes, invalid, open := market.ClosesFromBars(in.Symbol, from, to, bars, h.cfg.Now())
	out.Errors += invalid
	out.Skipped += open
	n, err := h.cfg.Closes.UpsertDailyCloses(ctx, closes)
	out.Closes = int(n)
	h.cfg.Logger.InfoContext(ctx, "ingest: backfill", "symbol", in.Symbol, "from", from.String(), "to", to.String(),
		"bars", len(bars), "stored", n)
	return out, err
}

// asMarketDataError keeps a *MarketDataError as it is and wraps anything else as
// kind.
func (h *Handler) asMarketDataError(symbol string, kind market.ErrorKind, err error) *market.MarketDataError {
	var e *market.MarketDataError
	if errors.As(err, &e) {
		return e
	}
	provider := ""
	if h.cfg.Quotes != nil {
		provider = h.cfg.Quotes.Name()
	}
	return &market.MarketDataError{Provider: provider, Symbol: symbol, Kind: kind, Message: err.Error(), At: h.cfg.Now().UTC(), Err: err}
}
