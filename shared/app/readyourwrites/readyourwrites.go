// Package readyourwrites lets a query wait, briefly, for the read model to
// reach the version a command returned. The read models lag the event store by
// the stream's delivery (about half a second), so a query right after a command
// may see the state before it, or no portfolio at all. Await polls the read
// model's version of the portfolio with a small backoff, bounded by MaxWait and
// the caller's context, and reports where it stands; a portfolio the read model
// does not have yet is looked up in the event store (authoritative), so that
// one that exists is never "not found" to its owner, and one that is someone
// else's stays exactly as unknown as an ID that names nothing.
package readyourwrites

import (
	"context"
	"fmt"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// ReadModel reports the aggregate version the read model reflects for the
// caller's portfolio; found is false when the read model has no such portfolio
// of the caller's.
type ReadModel interface {
	PortfolioVersion(ctx context.Context, userID, portfolioID string) (version int64, found bool, err error)
}

// EventStore reports a portfolio's owner and version from its events (version
// 0: no such portfolio).
type EventStore interface {
	PortfolioOwner(ctx context.Context, portfolioID string) (owner string, version int64, err error)
}

// Defaults of Options.
const (
	DefaultMaxWait   = time.Second
	DefaultFirstPoll = 10 * time.Millisecond
	DefaultMaxPoll   = 100 * time.Millisecond
)

// Options bound the wait: at most MaxWait, polling after FirstPoll, then after
// twice as long each time up to MaxPoll.
type Options struct {
	MaxWait, FirstPoll, MaxPoll time.Duration
}

// Service waits for the read model.
type Service struct {
	reads  ReadModel
	events EventStore // nil: a portfolio the read model lacks is not found
	opt    Options
}

// New returns the service; zero options take the defaults.
func New(reads ReadModel, events EventStore, opt Options) *Service {
	if opt.MaxWait <= 0 {
		opt.MaxWait = DefaultMaxWait
	}
	if opt.FirstPoll <= 0 {
		opt.FirstPoll = DefaultFirstPoll
	}
	if opt.MaxPoll < opt.FirstPoll {
		opt.MaxPoll = max(DefaultMaxPoll, opt.FirstPoll)
	}
	return &Service{reads: reads, events: events, opt: opt}
}

// Result is where the read model stands for the query.
type Result struct {
	// Version is the version the read model reflects (0 when it lacks the
	// portfolio).
	Version int64
	// InReadModel is false for the owner's portfolio the read model has not
	// seen yet (it exists in the event store).
	InReadModel bool
	// Wanted is the version the answer should reflect: the one asked, or at
	// least the portfolio's creation when the read model lacks it.
	Wanted int64
}

// Stale reports whether the read model is behind the version wanted.
func (r Result) Stale() bool { return !r.InReadModel || r.Version < r.Wanted }

// Await returns once the read model reflects minVersion (0: any version) of
// the caller's portfolio, or when the wait's bound or ctx ends, with where the
// read model stands. It answers portfolio.ErrNotFound when the portfolio is
// neither in the read model nor the caller's in the event store.
func (s *Service) Await(ctx context.Context, userID, portfolioID string, minVersion int64) (Result, error) {
	res, err := s.look(ctx, userID, portfolioID, minVersion)
	if err != nil || !res.Stale() {
		return res, err
	}
	if !res.InReadModel {
		if err := s.checkOwner(ctx, userID, portfolioID); err != nil {
			return res, err
		}
	}
	return s.poll(ctx, userID, portfolioID, minVersion, res)
}

// look reads the read model's version once.
func (s *Service) look(ctx context.Context, userID, portfolioID string, minVersion int64) (Result, error) {
	v, found, err := s.reads.PortfolioVersion(ctx, userID, portfolioID)
	if err != nil {
		return Result{}, fmt.Errorf("readyourwrites: read model version of %s: %w", portfolioID, err)
	}
	return Result{Version: v, InReadModel: found, Wanted: max(minVersion, 1)}, nil
}

// checkOwner answers portfolio.ErrNotFound unless the event store has the
// portfolio and it is userID's.
func (s *Service) checkOwner(ctx context.Context, userID, portfolioID string) error {
	if s.events == nil {
		return portfolio.ErrNotFound
	}
	owner, version, err := s.events.PortfolioOwner(ctx, portfolioID)
	if err != nil {
		return fmt.Errorf("readyourwrites: owner of %s: %w", portfolioID, err)
	}
	if version == 0 || owner != userID {
		return portfolio.ErrNotFound
	}
	return nil
}

// poll re-reads the read model's version with a growing pause until it is
// fresh or the wait ends; the last reading is the answer. A cancelled ctx
// (the client gone) is an error; the wait's own bound is not.
func (s *Service) poll(ctx context.Context, userID, portfolioID string, minVersion int64, res Result) (Result, error) {
	deadline := time.NewTimer(s.opt.MaxWait)
	defer deadline.Stop()
	pause := s.opt.FirstPoll
	for res.Stale() {
		tick := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, fmt.Errorf("readyourwrites: waiting for %s: %w", portfolioID, ctx.Err())
		case <-deadline.C:
			tick.Stop()
			return res, nil
		case <-tick.C:
		}
		next, err := s.look(ctx, userID, portfolioID, minVersion)
		if err != nil {
			return res, err
		}
		res = next
		pause = min(2*pause, s.opt.MaxPoll)
	}
	return res, nil
}
