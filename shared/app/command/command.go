// Package command is the application layer between transports (the HTTP API, the
// CLI's import) and the portfolio aggregate: load → decide → append, with
// optimistic concurrency, bounded retries and idempotency.
//
// Idempotency costs no extra write: the command ID (the client's Idempotency-Key,
// or one generated per request) is stored on the events it produced as
// causationId, and the aggregate remembers its most recent command IDs
// (portfolio.RecentCommandsKept, as 64-bit keys), snapshots included. A repeated command finds its
// ID on load and gets the original result back; nothing is written. Two copies of
// one command racing each other both decide, one wins the conditional write, and
// the loser's retry finds the winner's ID — so N parallel retries write once.
package command

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Options configures a Service. Zero values take the defaults.
type Options struct {
	// SnapshotEvery: a snapshot rides on the event that crosses each multiple of
	// it. It must equal the DynamoDB store's SnapshotEvery. Default 10.
	SnapshotEvery int
	// MaxAttempts bounds the load-decide-append loop under contention. Default 6.
	MaxAttempts int
	// BaseBackoff is the first retry's mean delay; it doubles per attempt, with
	// full jitter. Default 5 ms.
	BaseBackoff time.Duration
	Now         func() time.Time
	NewID       func() string
	Logger      *slog.Logger
	// Quotas, when set, counts what a command's events add against the user's
	// quotas before they are appended: the portfolios it creates and the symbols
	// its transactions name (dynamoquota.Store).
	Quotas Quotas
	// Rates looks up the rate of a foreign transaction recorded without one
	// (RecordTransaction, ImportTransactions, FillRates), one read a command
	// however many rows and days. Without it such a transaction is refused
	// with portfolio.ErrFXRateRequired.
	Rates Rates
	// Accounts, when set, refuses a command of a user whose account is being
	// erased (DELETE /me) with ErrAccountErased, checked after the decision and
	// before the quota reservation and the append: a request in flight when the
	// erasure began appends nothing after it (users.Service).
	Accounts Accounts
}

// Accounts says whether a user's erasure began (the tombstone, in
// PostgreSQL).
type Accounts interface {
	AccountErased(ctx context.Context, userID string) (bool, error)
}

// ErrAccountErased refuses a command of a user whose account was deleted.
var ErrAccountErased = errors.New("this account was deleted")

// accountCheckTimeout bounds the tombstone's look-up. A look-up that fails or
// times out lets the command through: the command path needs only DynamoDB
// (RELIABILITY.md, "PostgreSQL down"), and an erasure, which needs PostgreSQL
// too, erases what a command appended late in its second pass.
const accountCheckTimeout = time.Second

// Quotas reserves members (portfolio IDs, symbols) against a user's quota, or
// refuses with *quota.ExceededError. Reserving what is counted already changes
// nothing, so a retried or re-decided command reserves nothing twice.
type Quotas interface {
	Reserve(ctx context.Context, q quota.Quota, userID string, members []string) error
}

// Service executes commands against one event store.
type Service struct {
	store eventstore.Store
	opts  Options
}

// New returns a Service.
func New(store eventstore.Store, opts Options) *Service {
	if opts.SnapshotEvery <= 0 {
		opts.SnapshotEvery = 10
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 6
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 5 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = portfolio.NewID
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Service{store: store, opts: opts}
}

// Request identifies a command: on which aggregate, by whom, and under which ID.
type Request struct {
	AggregateID   string
	UserID        string
	CommandID     string // the Idempotency-Key; empty means a fresh ID per request
	CorrelationID string
	// ExpectedVersion, when set (If-Match), must equal the aggregate's current
	// version, or the command fails with portfolio.ErrConcurrencyConflict.
	ExpectedVersion *int64
	// Fingerprint identifies the request that carries the command (16 hex
	// digits, see RequestFingerprint). A command ID seen before with another
	// fingerprint fails with ErrCommandIDReused instead of replaying.
	Fingerprint string
}

// ErrCommandIDReused: a command ID (Idempotency-Key) already used for a
// different request. Replaying the first result would hide the second
// request's changes from its sender.
var ErrCommandIDReused = errors.New("command ID reused for a different request")

// RequestFingerprint hashes the parts that make a request what it is (method,
// route, resource, canonical body) into a Request.Fingerprint.
func RequestFingerprint(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Result is what a command wrote (or, replayed, what it wrote the first time).
type Result struct {
	AggregateID string
	// Version is the aggregate's version after the command's last event.
	Version int64
	Events  []portfolio.Event
	// Replayed is true when the command had already been executed: nothing was
	// written this time, and Events are the original ones.
	Replayed bool
	// Attempts is how many load-decide-append rounds it took.
	Attempts int
}

// Decide is a command's decision on the loaded aggregate; it calls one of the
// aggregate's command methods with meta.
type Decide func(p *portfolio.Portfolio, meta portfolio.Meta) error

// Create opens a portfolio. With a command ID, the portfolio ID is derived from
// the user and that ID, so a retried create cannot open a second portfolio.
func (s *Service) Create(ctx context.Context, req Request, cmd portfolio.CreatePortfolio) (Result, error) {
	if req.AggregateID == "" {
		if req.CommandID != "" {
			req.AggregateID = PortfolioIDFor(req.UserID, req.CommandID)
		} else {
			req.AggregateID = s.opts.NewID()
		}
	}
	return s.execute(ctx, req, true, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.Create(req.AggregateID, cmd, meta)
	})
}

// PortfolioIDFor derives a portfolio ID (UUID form, version 8) from a user and
// an idempotency key.
func PortfolioIDFor(userID, commandID string) string {
	return uuid.FromNames("portfolio", userID, commandID)
}

// Execute runs one command on an existing portfolio of req.UserID. Ownership is
// decided first: a portfolio that does not exist or is someone else's is
// portfolio.ErrNotFound whatever else is wrong with the request, so neither its
// existence nor its version leaks.
func (s *Service) Execute(ctx context.Context, req Request, decide Decide) (Result, error) {
	return s.execute(ctx, req, false, decide)
}

func (s *Service) execute(ctx context.Context, req Request, creating bool, decide Decide) (Result, error) {
	if req.AggregateID == "" || req.UserID == "" {
		return Result{}, fmt.Errorf("%w: command needs an aggregate and a user", portfolio.ErrInvalidCommand)
	}
	if req.CommandID == "" {
		req.CommandID = s.opts.NewID()
	}
	log := s.opts.Logger.With("aggregateId", req.AggregateID, "commandId", req.CommandID, "correlationId", req.CorrelationID)
	consistent := false
	for attempt := 1; ; attempt++ {
		res, err := s.attempt(ctx, req, creating, decide, consistent)
		res.Attempts = attempt
		if !errors.Is(err, portfolio.ErrConcurrencyConflict) || req.ExpectedVersion != nil {
			return res, err
		}
		if attempt >= s.opts.MaxAttempts {
			log.WarnContext(ctx, "command gave up under contention", "attempts", attempt)
			return res, fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		// After a lost race, read consistently: an eventually consistent read
		// could show the state from before the winner's write again.
		consistent = true
		log.DebugContext(ctx, "version conflict, retrying", "attempt", attempt)
		if err := retry.Sleep(ctx, s.backoff(attempt)); err != nil {
			return res, err
		}
	}
}

func (s *Service) attempt(ctx context.Context, req Request, creating bool, decide Decide, consistent bool) (Result, error) {
	p, tail, err := s.load(ctx, req.AggregateID, consistent)
	if err != nil {
		return Result{}, err
	}
	if !creating && (p.Version() == 0 || p.Owner() != req.UserID) {
		return Result{}, fmt.Errorf("%w: portfolio %s", portfolio.ErrNotFound, req.AggregateID)
	}
	if rec, ok := p.FindCommand(req.CommandID); ok {
		if fp := portfolio.ParseRequestHash(req.Fingerprint); fp != 0 && rec.RequestHash != 0 && fp != rec.RequestHash {
			return Result{}, fmt.Errorf("%w: %q", ErrCommandIDReused, req.CommandID)
		}
		return s.replay(ctx, req, rec, tail)
	}
	if req.ExpectedVersion != nil && *req.ExpectedVersion != p.Version() {
		return Result{AggregateID: req.AggregateID, Version: p.Version()}, fmt.Errorf("portfolio %s is at version %d, not %d: %w", req.AggregateID, p.Version(), *req.ExpectedVersion, portfolio.ErrConcurrencyConflict)
	}
	meta := portfolio.Meta{UserID: req.UserID, CorrelationID: req.CorrelationID, CausationID: req.CommandID,
		RequestHash: req.Fingerprint, Now: s.opts.Now(), NewID: s.opts.NewID}
	err = decide(p, meta)
	if errors.Is(err, portfolio.ErrHistoryRequired) {
		// A back-dated trade or a void: decide again on the full history.
		if p, err = s.loadFull(ctx, req.AggregateID); err != nil {
			return Result{}, err
		}
		err = decide(p, meta)
	}
	if err != nil {
		return Result{AggregateID: req.AggregateID, Version: p.Version()}, err
	}
	pending := p.Pending()
	if len(pending) == 0 {
		return Result{AggregateID: req.AggregateID, Version: p.Version()}, nil
	}
	if s.accountErased(ctx, req.UserID) {
		return Result{AggregateID: req.AggregateID, Version: p.Version() - int64(len(pending))}, ErrAccountErased
	}
	if err := s.reserve(ctx, req.UserID, pending); err != nil {
		return Result{AggregateID: req.AggregateID, Version: p.Version() - int64(len(pending))}, err
	}
	before := p.Version() - int64(len(pending))
	var snapshot []byte
	if every := int64(s.opts.SnapshotEvery); p.Version()/every > before/every {
		if snapshot, err = p.Snapshot(); err != nil {
			return Result{}, fmt.Errorf("snapshot of %s: %w", req.AggregateID, err)
		}
	}
	if err := s.store.Append(ctx, req.AggregateID, before, pending, snapshot); err != nil {
		return Result{AggregateID: req.AggregateID, Version: before}, err
	}
	p.MarkCommitted()
	return Result{AggregateID: req.AggregateID, Version: pending[len(pending)-1].Version, Events: pending}, nil
}

// accountErased says whether the user's erasure began; an error reading it is
// logged and taken as no (accountCheckTimeout says why).
func (s *Service) accountErased(ctx context.Context, userID string) bool {
	if s.opts.Accounts == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, accountCheckTimeout)
	defer cancel()
	erased, err := s.opts.Accounts.AccountErased(ctx, userID)
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "command: the account's erasure could not be checked; the command proceeds", "error", err.Error())
		return false
	}
	return erased
}

// reserve counts the decided events against the user's quotas. It runs after the
// decision, so a refused command reserves nothing, and before the append, so the
// quota holds under a burst; an append that then fails (a DynamoDB error) leaves
// its reservation, which its retry reuses.
func (s *Service) reserve(ctx context.Context, userID string, pending []portfolio.Event) error {
	if s.opts.Quotas == nil {
		return nil
	}
	var symbols []string
	for _, e := range pending {
		switch d := e.Data.(type) {
		case *portfolio.PortfolioCreated:
			if err := s.opts.Quotas.Reserve(ctx, quota.PortfoliosPerUser, userID, []string{e.AggregateID}); err != nil {
				return err
			}
		case *portfolio.TransactionRecorded:
			symbols = append(symbols, d.Symbol)
		case *portfolio.TransactionsImported:
			for i := range d.Transactions {
				symbols = append(symbols, d.Transactions[i].Symbol)
			}
		}
	}
	return s.opts.Quotas.Reserve(ctx, quota.SymbolsPerUser, userID, symbols)
}

// replay returns what an earlier execution of the command wrote.
func (s *Service) replay(ctx context.Context, req Request, rec portfolio.CommandRecord, tail []portfolio.Event) (Result, error) {
	var events []portfolio.Event
	for _, e := range tail {
		if e.Version >= rec.FromVersion && e.Version <= rec.ToVersion {
			events = append(events, e)
		}
	}
	if int64(len(events)) != rec.ToVersion-rec.FromVersion+1 {
		var err error
		if events, err = s.store.Events(ctx, req.AggregateID, rec.FromVersion, rec.ToVersion); err != nil {
			return Result{}, fmt.Errorf("replay of command %s: %w", req.CommandID, err)
		}
	}
	// The same key from another user is another command, not a retry; let the
	// domain refuse it (it will: the portfolio is not theirs).
	if len(events) == 0 || events[0].UserID != req.UserID {
		return Result{}, fmt.Errorf("%w: portfolio %s", portfolio.ErrNotFound, req.AggregateID)
	}
	return Result{AggregateID: req.AggregateID, Version: rec.ToVersion, Events: events, Replayed: true}, nil
}

// Load returns the aggregate from its newest snapshot and the events after it.
func (s *Service) Load(ctx context.Context, aggregateID string) (*portfolio.Portfolio, error) {
	p, _, err := s.load(ctx, aggregateID, false)
	return p, err
}

func (s *Service) load(ctx context.Context, id string, consistent bool) (*portfolio.Portfolio, []portfolio.Event, error) {
	st, err := s.store.Load(ctx, id, eventstore.LoadOptions{Consistent: consistent})
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", id, err)
	}
	p, err := portfolio.Fold(st.Snapshot, st.Events)
	if err != nil && st.Snapshot != nil {
		// An unreadable snapshot (a schema this build does not know) is a cache
		// miss, not a failure: the events are the truth.
		s.opts.Logger.WarnContext(ctx, "snapshot unusable, folding the full history", "aggregateId", id, "snapshotVersion", st.SnapshotVersion, "error", err)
		p, err = s.loadFull(ctx, id)
		return p, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("fold %s: %w", id, err)
	}
	return p, st.Events, nil
}

// LoadFull folds the aggregate from its first event, with its transaction list.
func (s *Service) LoadFull(ctx context.Context, aggregateID string) (*portfolio.Portfolio, error) {
	return s.loadFull(ctx, aggregateID)
}

func (s *Service) loadFull(ctx context.Context, id string) (*portfolio.Portfolio, error) {
	events, err := s.store.Events(ctx, id, 1, 0)
	if err != nil {
		return nil, fmt.Errorf("load history of %s: %w", id, err)
	}
	p, err := portfolio.Fold(nil, events)
	if err != nil {
		return nil, fmt.Errorf("fold history of %s: %w", id, err)
	}
	return p, nil
}

func (s *Service) backoff(attempt int) time.Duration {
	ceiling := s.opts.BaseBackoff << min(attempt, 10)
	return time.Duration(rand.Int64N(int64(ceiling))) // full jitter
}
