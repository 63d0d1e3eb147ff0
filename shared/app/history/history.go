// Package history is the backfill function's use case: it keeps the daily
// closes of every symbol the read models need filled back to where they are
// needed, by itself (docs/architecture.md §6, "History that fills itself").
//
// Each run (functions/backfill, every minute) reconciles the per-symbol records
// with what is needed (Store.Reconcile: the symbols of transactions and the
// benchmarks of portfolios from the portfolio's first trade, the symbols of alert
// rules and live watches over a lookback, the currency pairs of portfolios in
// another currency), then claims the records due one at a time and fills each a
// chunk at a time, newest chunk first, within the provider's rate limit: the
// provider client asks the shared limiter before every call and answers
// market.KindRateLimited when it says no, which ends the run (the next one
// resumes). Every chunk's closes are stored (newer wins against the live ticks:
// market.ClosesFromBars stamps a bar at its session's close) and the record's
// filled range advances, so a run that stops anywhere loses at most the chunk
// in hand. A symbol the provider does not know fails ("unknown symbol") and is
// flagged; any other refusal fails it; a transient failure is retried later
// with exponential backoff, and a failed symbol a day later. With what is left,
// the corporate actions of complete symbols (on completion, then daily) are
// offered to the portfolio owners as suggestions (checkActions).
//
// It declares the ports it uses (Store, BarProvider, CloseStore,
// CorporateActionProvider, ActionOfferer, UnknownFlagger); readmodel and
// marketdata implement them.
package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// BarProvider returns the daily bars of symbol for the days from..to inclusive,
// oldest first (marketdata's Polygon, AlphaVantage, SimBars). Errors are
// *market.MarketDataError; market.KindRateLimited when the shared limiter or the
// provider refused the call.
type BarProvider interface {
	Name() string
	DailyBars(ctx context.Context, symbol string, from, to calendar.Date) ([]market.DailyBar, error)
}

// CorporateActionProvider returns the splits and dividends of symbol that take
// effect from..to (marketdata). Errors as BarProvider's.
type CorporateActionProvider interface {
	Name() string
	CorporateActions(ctx context.Context, symbol string, from, to calendar.Date) ([]market.CorporateAction, error)
}

// ActionOfferer offers corporate actions to the owners of the portfolios they
// concern, as suggested transactions (shared/app/suggestions), and returns how
// many suggestions it made. Offering the same action again makes none.
type ActionOfferer interface {
	Offer(ctx context.Context, actions []market.CorporateAction) (int, error)
}

// UnknownFlagger flags a symbol the provider does not know (the symbol flags
// read model), so that its positions carry a warning.
type UnknownFlagger interface {
	FlagUnknown(ctx context.Context, symbol, source, reason string) error
}

// CloseStore keeps the daily closes, newer wins (readmodel.IngestStore); it
// returns the rows written.
type CloseStore interface {
	UpsertDailyCloses(ctx context.Context, closes []market.DailyClose) (int64, error)
}

// Needs bounds what Store.Reconcile derives from the read models.
type Needs struct {
	// Today is the exchange's day of the run; Lookback days before it is where
	// the symbols of alert rules and live watches are needed from.
	Today    calendar.Date
	Lookback int
	// Earliest is the furthest back anything is needed (Today − MaxDays).
	Earliest calendar.Date
	// QuoteCurrency is the currency of the quotes ("USD"): a portfolio in
	// another base currency needs the pair BASE+QuoteCurrency=X.
	QuoteCurrency string
}

// Record is a symbol's backfill as a run claimed it.
type Record struct {
	Symbol     string
	State      market.HistoryState // before the claim
	NeededFrom calendar.Date
	// FilledFrom..FilledTo are the days asked for so far; nil before the first.
	FilledFrom, FilledTo *calendar.Date
	// Attempts counts the failures in a row.
	Attempts int
}

// Failure is how a run leaves a symbol it could not fill.
type Failure struct {
	Reason string
	// Final makes the state failed; otherwise the state is kept (pending or
	// filling) and the failure counted.
	Final   bool
	RetryAt time.Time
}

// Store keeps the per-symbol backfill records (readmodel.SymbolHistory). A
// record is claimed by one run at a time: Claim moves it out of every other
// run's reach until leaseUntil, and each Progress extends that.
type Store interface {
	// Reconcile adds a pending record for every symbol needed and not yet
	// recorded, and sends back to pending each one needed further back than
	// recorded (a record a run holds keeps its lease), in one statement; it
	// returns the records changed.
	Reconcile(ctx context.Context, needs Needs, now time.Time) (int64, error)
	// Enqueue records that symbol is needed from from (as Reconcile would).
	Enqueue(ctx context.Context, symbol string, from calendar.Date, now time.Time) error
	// Claim takes the record due longest ago (pending, filling, or failed and
	// due for a retry), marks it filling, and holds it until leaseUntil; ok is
	// false when none is due. Two claims at once never take the same record.
	Claim(ctx context.Context, now, leaseUntil time.Time) (r Record, ok bool, err error)
	// Progress extends the record's filled range by from..to, as fetched from
	// source, holds it until leaseUntil, clears its failures, and returns its
	// needed-from day as it now stands (a reconcile may have moved it back).
	Progress(ctx context.Context, symbol string, from, to calendar.Date, source string, now, leaseUntil time.Time) (neededFrom calendar.Date, err error)
	// Complete marks the record complete at now, unless it is needed from
	// before plannedFrom by now (then it is pending again, due at once).
	Complete(ctx context.Context, symbol string, plannedFrom calendar.Date, source string, now time.Time) error
	// Release lets the next run take the record from at on, changing nothing
	// else (the run stopped before it was done with it).
	Release(ctx context.Context, symbol string, at, now time.Time) error
	// Fail records a failure; the record is due again at f.RetryAt.
	Fail(ctx context.Context, symbol string, f Failure, now time.Time) error
	// ClaimActions takes a complete record whose corporate actions were last
	// asked for before before (or never, or before a transaction on the
	// symbol was recorded: a new holder is offered the past ones), the longest
	// ago first, and marks them asked for at now; ok is false when none is.
	// Two claims at once never take the same record.
	ClaimActions(ctx context.Context, now, before time.Time) (symbol string, ok bool, err error)
	// ReleaseActions makes the record's corporate actions due again at once
	// (the run could not ask for them).
	ReleaseActions(ctx context.Context, symbol string) error
}

// Config wires a Service. Store, Bars and Closes are required.
type Config struct {
	Store  Store
	Bars   BarProvider
	Closes CloseStore
	// Actions and Offers, both optional, offer the corporate actions of the
	// complete symbols; Unknown, optional, flags the symbols the provider does
	// not know.
	Actions CorporateActionProvider
	Offers  ActionOfferer
	Unknown UnknownFlagger
	// Lookback is the days of history of a symbol needed without a trade (an
	// alert rule's, a watched one's). Default 365.
	Lookback int
	// MaxDays bounds how far back anything is filled. Default 3,660 (ten years).
	MaxDays int
	// ChunkDays is the days asked for in one call. Default 366.
	ChunkDays int
	// QuoteCurrency is the currency of the quotes. Default USD.
	QuoteCurrency string
	// Lease is how long a claimed symbol is out of other runs' reach after each
	// step: longer than an invocation may last. Default 15 minutes.
	Lease time.Duration
	// Reserve is the time kept before the invocation's deadline: no symbol is
	// claimed after it. Default 20 s.
	Reserve time.Duration
	// MaxAttempts is the transient failures in a row after which a symbol is
	// failed. Default 8.
	MaxAttempts int
	// Backoff is the wait after a symbol's first failure, doubled with each
	// further one up to MaxBackoff. Defaults 1 minute and 24 hours.
	Backoff, MaxBackoff time.Duration
	// ActionsEvery is how often a complete symbol's corporate actions are
	// asked for again. Default 24 hours.
	ActionsEvery time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Service runs the backfill.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	defaults := []struct {
		v   *int
		def int
	}{{&cfg.Lookback, 365}, {&cfg.MaxDays, 3660}, {&cfg.ChunkDays, 366}, {&cfg.MaxAttempts, 8}}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.QuoteCurrency == "" {
		cfg.QuoteCurrency = "USD"
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 15 * time.Minute
	}
	if cfg.Reserve <= 0 {
		cfg.Reserve = 20 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 24 * time.Hour
	}
	if cfg.ActionsEvery <= 0 {
		cfg.ActionsEvery = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// Input is one invocation: empty for the scheduled run, or a symbol to fill
// from a day (YYYY-MM-DD) before the run.
type Input struct {
	Symbol string
	From   string
}

// Output summarises an invocation.
type Output struct {
	Reconciled int64 `json:"reconciled"` // records added or sent back to pending
	Symbols    int   `json:"symbols"`    // claimed
	Chunks     int   `json:"chunks"`     // ranges fetched and stored
	Closes     int64 `json:"closes"`     // rows written
	Completed  int   `json:"completed"`
	Failed     int   `json:"failed"`
	Offered    int   `json:"offered"` // corporate actions suggested
	// ActionsChecked counts the complete symbols whose recent corporate
	// actions were asked for again.
	ActionsChecked int `json:"actionsChecked"`
	// Limited is true when the provider's rate limit ended the run.
	Limited bool `json:"limited"`
}

// ErrBadInput is returned for an Input that is not a valid request.
var ErrBadInput = errors.New("history: bad input")

// Run runs one invocation: the requested symbol recorded, the records
// reconciled with the read models, the symbols due filled until none is, the
// provider's limit is reached or the invocation's time is nearly up, then, with
// what is left of both, the recent corporate actions of complete symbols asked
// for again (checkActions).
func (s *Service) Run(ctx context.Context, in Input) (Output, error) {
	var out Output
	now := s.cfg.Now()
	if err := s.enqueueRequested(ctx, in, now); err != nil {
		return out, err
	}
	n, err := s.cfg.Store.Reconcile(ctx, s.needs(now), now)
	if err != nil {
		return out, fmt.Errorf("history: reconcile: %w", err)
	}
	out.Reconciled = n
	err = s.fillDue(ctx, &out)
	if err == nil && !out.Limited {
		err = s.checkActions(ctx, &out)
	}
	s.cfg.Logger.InfoContext(ctx, "history: run", "reconciled", out.Reconciled, "symbols", out.Symbols, "chunks", out.Chunks,
		"closes", out.Closes, "completed", out.Completed, "failed", out.Failed, "offered", out.Offered,
		"actionsChecked", out.ActionsChecked, "limited", out.Limited)
	return out, err
}

// today is the exchange's day at now.
func today(now time.Time) calendar.Date { return calendar.FromTime(now.In(market.NewYork())) }

func (s *Service) needs(now time.Time) Needs {
	d := today(now)
	return Needs{Today: d, Lookback: s.cfg.Lookback, Earliest: d.AddDays(-s.cfg.MaxDays), QuoteCurrency: s.cfg.QuoteCurrency}
}

// enqueueRequested records a requested symbol (an operator's, or a test's) as
// needed from its day, within the bounds.
func (s *Service) enqueueRequested(ctx context.Context, in Input, now time.Time) error {
	if in.Symbol == "" && in.From == "" {
		return nil
	}
	from, err := calendar.Parse(in.From)
	switch {
	case in.Symbol == "" || len(in.Symbol) > market.MaxSymbolLen:
		return fmt.Errorf("%w: symbol %q", ErrBadInput, in.Symbol)
	case err != nil:
		return fmt.Errorf("%w: from must be YYYY-MM-DD", ErrBadInput)
	case from.Before(s.needs(now).Earliest):
		return fmt.Errorf("%w: from %s is more than %d days back", ErrBadInput, from, s.cfg.MaxDays)
	}
	if err := s.cfg.Store.Enqueue(ctx, in.Symbol, from, now); err != nil {
		return fmt.Errorf("history: enqueue %s: %w", in.Symbol, err)
	}
	return nil
}

// fillDue claims the symbols due one at a time and fills each, until none is
// due, the provider's limit is reached or the deadline nears.
func (s *Service) fillDue(ctx context.Context, out *Output) error {
	for s.timeLeft(ctx) {
		now := s.cfg.Now()
		rec, ok, err := s.cfg.Store.Claim(ctx, now, now.Add(s.cfg.Lease))
		if err != nil {
			return fmt.Errorf("history: claim: %w", err)
		}
		if !ok {
			return nil
		}
		out.Symbols++
		stop, err := s.fill(ctx, rec, out)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// checkActions asks, one complete symbol at a time, for its corporate actions
// since the earliest day history goes back to: first when it completes, then
// once every ActionsEvery, so that the splits and dividends after it are
// offered too. The whole range each time, because a dividend is paid on the
// shares held after every split before it, which the offerer must see along
// with it (the provider answers a symbol's actions of ten years in a page or
// two). It stops at the provider's limit (releasing the symbol in hand) or
// near the deadline; another refusal is logged and the symbol waits for its
// next turn.
func (s *Service) checkActions(ctx context.Context, out *Output) error {
	if s.cfg.Actions == nil || s.cfg.Offers == nil {
		return nil
	}
	for s.timeLeft(ctx) {
		now := s.cfg.Now()
		symbol, ok, err := s.cfg.Store.ClaimActions(ctx, now, now.Add(-s.cfg.ActionsEvery))
		if err != nil || !ok {
			return err
		}
		actions, err := s.actions(ctx, symbol, chunk{from: s.needs(now).Earliest, to: today(now)})
		if err != nil {
			out.Limited = errors.Is(err, market.KindRateLimited)
			if rerr := s.cfg.Store.ReleaseActions(ctx, symbol); rerr != nil {
				return fmt.Errorf("history: release the actions of %s: %w", symbol, rerr)
			}
			return nil
		}
		out.ActionsChecked++
		s.offer(ctx, symbol, actions, out)
	}
	return nil
}

// timeLeft reports whether a symbol may still be claimed: the context is live
// and more than Reserve remains before its deadline.
func (s *Service) timeLeft(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > s.cfg.Reserve
}
