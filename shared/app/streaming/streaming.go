// Package streaming is the live quote stream behind functions/stream: one
// invocation at a time holds the provider's trade WebSocket (Finnhub allows one
// connection per key) for most of its run and publishes what it hears on
// market-data-updates, in the very MarketDataUpdated records the ingest
// publishes, so the prices consumer cannot tell the two apart but for their
// source.
//
// A schedule invokes the function every minute. An invocation first takes the
// lease (Lease, a conditional write in DynamoDB); one that finds it held
// returns at once. The holder subscribes the watch list (at most MaxSymbols of
// it: the REST poll of functions/ingest serves the rest), folds the trades into
// at most one quote per symbol per Interval (Coalescer) and publishes each
// interval's quotes in one call. Every tick it renews the lease when due (a
// lost lease stops the stream at once: another invocation has taken over),
// follows the watch list every WatchRefresh (subscribing the new symbols,
// unsubscribing the gone), and stops at Input.Until, the invocation's deadline
// less a margin, releasing the lease for the next invocation. While no
// invocation streams (the gap between two, a provider outage) the minute-by-
// minute REST poll keeps the prices moving.
//
// Time comes from the Clock port (a ticker and Now), so the tests drive the
// loop tick by tick. The ports are declared here; dynamolease, marketdata's
// FinnhubStream, kinesispub and readmodel implement them.
package streaming

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/app/ingest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// Lease is a named lease with one holder at a time (dynamolease.Store): each
// call is true when holder has (or, for Release, had) the lease afterwards.
type Lease interface {
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	Renew(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, name, holder string) (bool, error)
}

// WatchList returns the symbols to stream, most needed first: when they
// outnumber the connection's cap, the head of the list streams and the rest is
// left to the REST poll.
type WatchList interface {
	Symbols(ctx context.Context) ([]string, error)
}

// TradeStream is a provider's trade stream (marketdata.FinnhubStream): Run
// connects, subscribes the current set, reconnects with backoff when the
// connection drops and emits every trade until ctx ends; Subscribe and
// Unsubscribe change the set from any goroutine, at once when connected.
type TradeStream interface {
	Subscribe(ctx context.Context, symbols ...string) error
	Unsubscribe(ctx context.Context, symbols ...string) error
	Run(ctx context.Context, emit func(market.Quote) error) error
}

// Publisher puts records on market-data-updates (kinesispub.IngestPublisher),
// retrying within the call what fails.
type Publisher interface {
	Publish(ctx context.Context, records []ingest.Record) (ingest.PublishResult, error)
}

// Clock is the time: Now, and a ticker whose channel receives the time every
// d until stop is called.
type Clock interface {
	Now() time.Time
	Ticker(d time.Duration) (ticks <-chan time.Time, stop func())
}

// SystemClock is the real time.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Ticker implements Clock.
func (SystemClock) Ticker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// DefaultLeaseName names the stream's lease.
const DefaultLeaseName = "quote-stream"

// Config wires a Service; zero durations and counts take the defaults.
type Config struct {
	Lease   Lease
	Watch   WatchList
	Stream  TradeStream
	Updates Publisher
	Clock   Clock // SystemClock
	Logger  *slog.Logger
	// LeaseName defaults to DefaultLeaseName. LeaseTTL (60 s) bounds how long
	// the stream is down after its holder dies without releasing; RenewEvery
	// (LeaseTTL/3) leaves two renewals' room before the lease could expire.
	LeaseName  string
	LeaseTTL   time.Duration
	RenewEvery time.Duration
	// Interval is the coalescing interval: at most one update per symbol each
	// (1 s).
	Interval time.Duration
	// WatchRefresh is how often the watch list is read again (30 s).
	WatchRefresh time.Duration
	// MaxSymbols caps the symbols of the one connection (50, what Finnhub's
	// free plan is said to allow); the REST poll serves the rest.
	MaxSymbols int
	// CallTimeout bounds each call of the loop (the watch list, a renewal, a
	// publish): a store that hangs must not hold the loop past the lease,
	// which would let a second invocation open a second connection. Default
	// RenewEvery/2.
	CallTimeout time.Duration
}

// Service runs the stream's invocations.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = DefaultLeaseName
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = time.Minute
	}
	if cfg.RenewEvery <= 0 || cfg.RenewEvery >= cfg.LeaseTTL {
		cfg.RenewEvery = cfg.LeaseTTL / 3
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.WatchRefresh <= 0 {
		cfg.WatchRefresh = 30 * time.Second
	}
	if cfg.MaxSymbols <= 0 {
		cfg.MaxSymbols = 50
	}
	if cfg.CallTimeout <= 0 || cfg.CallTimeout >= cfg.RenewEvery {
		cfg.CallTimeout = cfg.RenewEvery / 2
	}
	return &Service{cfg: cfg}
}

// Input is one invocation: its own holder ID (unique per invocation) and when
// to stop streaming (its deadline less the time to flush and release).
type Input struct {
	Holder string
	Until  time.Time
}

// Output summarises an invocation.
type Output struct {
	// Streamed is false when another invocation held the lease (or nothing
	// was watched): the invocation returned at once.
	Streamed bool `json:"streamed"`
	// LostLease: the lease was taken over (or could not be renewed in time)
	// and the stream stopped at once.
	LostLease     bool `json:"lostLease,omitempty"`
	Symbols       int  `json:"symbols"`    // subscribed at the end
	OverTheCap    int  `json:"overTheCap"` // watched, left to the REST poll
	Trades        int  `json:"trades"`     // heard
	Published     int  `json:"published"`  // coalesced updates put on the stream
	PublishErrors int  `json:"publishErrors"`
}

// ErrStreamStopped is matched when the trade stream stopped by itself (it
// only stops when its context ends).
var ErrStreamStopped = errors.New("streaming: the trade stream stopped")

// Run runs one invocation: take the lease or return, subscribe the watch
// list, stream until Until or the lease is lost, flush, release.
func (s *Service) Run(ctx context.Context, in Input) (Output, error) {
	var out Output
	if in.Holder == "" {
		return out, errors.New("streaming: an invocation needs a holder ID")
	}
	held, err := s.cfg.Lease.Acquire(ctx, s.cfg.LeaseName, in.Holder, s.cfg.LeaseTTL)
	if err != nil {
		return out, fmt.Errorf("streaming: take the lease: %w", err)
	}
	if !held {
		s.cfg.Logger.InfoContext(ctx, "stream: another invocation holds the lease")
		return out, nil
	}
	r := &run{s: s, in: in, out: &out, subscribed: map[string]bool{}, coalescer: NewCoalescer(), overflow: -1}
	r.renewed(s.cfg.Clock.Now())
	defer r.release(ctx)
	if err := r.followWatchList(ctx); err != nil {
		return out, err
	}
	if len(r.subscribed) == 0 {
		s.cfg.Logger.InfoContext(ctx, "stream: nothing is watched")
		return out, nil
	}
	out.Streamed = true
	err = r.stream(ctx)
	s.cfg.Logger.InfoContext(ctx, "stream: done", "symbols", out.Symbols, "overTheCap", out.OverTheCap, "trades", out.Trades,
		"published", out.Published, "publishErrors", out.PublishErrors, "lostLease", out.LostLease)
	return out, err
}

// run is one invocation's state, owned by its loop's goroutine.
type run struct {
	s          *Service
	in         Input
	out        *Output
	subscribed map[string]bool
	overflow   int // symbols over the cap at the last refresh (-1: none yet)
	coalescer  *Coalescer

	leaseUntil, nextRenew, nextRefresh time.Time
}

func (r *run) renewed(now time.Time) {
	r.leaseUntil, r.nextRenew = now.Add(r.s.cfg.LeaseTTL), now.Add(r.s.cfg.RenewEvery)
}

// stream holds the connection: the trade stream runs in its own goroutine
// into the coalescer while the loop acts on each tick, until Until, a lost
// lease, the stream's own end or ctx's; then the connection is closed and the
// last interval flushed.
func (r *run) stream(ctx context.Context) error {
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	ticks, stopTicks := r.s.cfg.Clock.Ticker(r.s.cfg.Interval)
	defer stopTicks()
	done := make(chan error, 1)
	go func() { done <- r.s.cfg.Stream.Run(streamCtx, r.coalescer.Add) }()

	var streamErr error
loop:
	for {
		select {
		case now := <-ticks:
			if !r.tick(ctx, now) {
				break loop
			}
		case err := <-done:
			done, streamErr = nil, fmt.Errorf("%w: %v", ErrStreamStopped, err)
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	stop()
	if done != nil {
		<-done // the connection is closed: no trade arrives after the last flush
	}
	// Whatever ended the run, the last interval's trades are news.
	r.flush(context.WithoutCancel(ctx))
	return streamErr
}

// tick is one interval's work: publish it, then stop at Until, renew the lease
// when due (stopping when it is lost) and follow the watch list when due. It
// returns whether to go on.
func (r *run) tick(ctx context.Context, now time.Time) bool {
	r.flush(ctx)
	if !now.Before(r.in.Until) {
		return false
	}
	if !now.Before(r.nextRenew) && !r.renew(ctx, now) {
		return false
	}
	if !now.Before(r.nextRefresh) {
		if err := r.followWatchList(ctx); err != nil {
			// The current subscriptions stand; the next refresh tries again.
			r.s.cfg.Logger.WarnContext(ctx, "stream: watch list unavailable", "error", err.Error())
		}
	}
	return true
}

// renew pushes the lease on. A refused renewal means another invocation has
// taken over: stop at once. A failed one is tried again every tick while the
// lease lasts, and stops the stream when it would not outlast the next tick.
func (r *run) renew(ctx context.Context, now time.Time) bool {
	renewCtx, cancel := context.WithTimeout(ctx, r.s.cfg.CallTimeout)
	held, err := r.s.cfg.Lease.Renew(renewCtx, r.s.cfg.LeaseName, r.in.Holder, r.s.cfg.LeaseTTL)
	cancel()
	switch {
	case err == nil && held:
		r.renewed(now)
		return true
	case err == nil:
		r.s.cfg.Logger.WarnContext(ctx, "stream: the lease was taken over; stopping")
	case now.Add(r.s.cfg.Interval).Before(r.leaseUntil):
		r.s.cfg.Logger.WarnContext(ctx, "stream: lease renewal failed; trying again", "error", err.Error(), "leaseUntil", r.leaseUntil)
		return true
	default:
		r.s.cfg.Logger.ErrorContext(ctx, "stream: lease renewal failed until it expires; stopping", "error", err.Error())
	}
	r.out.LostLease = true
	return false
}

// release frees the lease for the next invocation, unless it was lost.
func (r *run) release(ctx context.Context) {
	if r.out.LostLease {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.s.cfg.Lease.Release(ctx, r.s.cfg.LeaseName, r.in.Holder); err != nil {
		// It expires by itself within LeaseTTL.
		r.s.cfg.Logger.WarnContext(ctx, "stream: release the lease", "error", err.Error())
	}
}

// flush publishes the interval's coalesced quotes in one call. A failed
// publish is logged and dropped: the next interval's quotes supersede it.
func (r *run) flush(ctx context.Context) {
	quotes, trades := r.coalescer.Drain()
	r.out.Trades += trades
	if len(quotes) == 0 {
		return
	}
	// Each flush is a trace of its own (the run lasts minutes), linked to the
	// run's; the prices consumer continues it from the records' traceparent.
	ctx, span := tracing.Start(ctx, "stream publish", trace.WithNewRoot(),
		trace.WithLinks(trace.LinkFromContext(ctx)), trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	traceparent := tracing.Traceparent(ctx)
	records := make([]ingest.Record, 0, len(quotes))
	for _, q := range quotes {
		ev := pricing.FromQuote(q)
		ev.Traceparent = traceparent
		data, err := pricing.Encode(ev)
		if err != nil {
			r.s.cfg.Logger.WarnContext(ctx, "stream: trade not publishable", "symbol", q.Symbol, "error", err.Error())
			continue
		}
		records = append(records, ingest.Record{PartitionKey: q.Symbol, Data: data})
	}
	publishCtx, cancel := context.WithTimeout(ctx, r.s.cfg.CallTimeout)
	res, err := r.s.cfg.Updates.Publish(publishCtx, records)
	cancel()
	r.out.Published += res.Published
	if err != nil {
		r.out.PublishErrors++
		r.s.cfg.Logger.ErrorContext(ctx, "stream: publish", "records", len(records), "published", res.Published, "error", err.Error())
	}
}

// followWatchList reads the watch list and moves the subscriptions to it:
// unsubscribe the gone, subscribe the new, within the cap (the head of the
// watch list, which comes most needed first).
func (r *run) followWatchList(ctx context.Context) error {
	r.nextRefresh = r.s.cfg.Clock.Now().Add(r.s.cfg.WatchRefresh)
	readCtx, cancel := context.WithTimeout(ctx, r.s.cfg.CallTimeout)
	watched, err := r.s.cfg.Watch.Symbols(readCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("streaming: watch list: %w", err)
	}
	watched = firstOfEach(watched)
	want, over := r.withinCap(watched)
	var gone, added []string
	for sym := range r.subscribed {
		if !want[sym] {
			gone = append(gone, sym)
		}
	}
	slices.Sort(gone)
	if len(gone) > 0 {
		if err := r.s.cfg.Stream.Unsubscribe(ctx, gone...); err != nil {
			return fmt.Errorf("streaming: unsubscribe %v: %w", gone, err)
		}
		for _, sym := range gone {
			delete(r.subscribed, sym)
		}
	}
	for _, sym := range watched {
		if !want[sym] || r.subscribed[sym] {
			continue
		}
		// One at a time: a symbol the stream refuses leaves the rest subscribed.
		if err := r.s.cfg.Stream.Subscribe(ctx, sym); err != nil {
			r.s.cfg.Logger.WarnContext(ctx, "stream: subscribe refused", "symbol", sym, "error", err.Error())
			continue
		}
		r.subscribed[sym] = true
		added = append(added, sym)
	}
	r.out.Symbols, r.out.OverTheCap = len(r.subscribed), len(over)
	if len(gone)+len(added) > 0 {
		r.s.cfg.Logger.InfoContext(ctx, "stream: subscriptions follow the watch list", "subscribed", added, "unsubscribed", gone, "symbols", len(r.subscribed))
	}
	if len(over) != r.overflow && (len(over) > 0 || r.overflow > 0) {
		r.s.cfg.Logger.InfoContext(ctx, "stream: watched symbols over the per-connection cap are served by the REST poll (functions/ingest)",
			"watched", len(watched), "cap", r.s.cfg.MaxSymbols, "overTheCap", len(over), "first", over[:min(len(over), 10)])
	}
	r.overflow = len(over)
	return nil
}

// withinCap picks the first MaxSymbols of watched; over is the rest.
func (r *run) withinCap(watched []string) (want map[string]bool, over []string) {
	n := min(len(watched), r.s.cfg.MaxSymbols)
	want = make(map[string]bool, n)
	for _, sym := range watched[:n] {
		want[sym] = true
	}
	return want, watched[n:]
}

// firstOfEach is symbols without repeats, each where it first appears.
func firstOfEach(symbols []string) []string {
	seen := make(map[string]bool, len(symbols))
	out := make([]string, 0, len(symbols))
	for _, s := range symbols {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
