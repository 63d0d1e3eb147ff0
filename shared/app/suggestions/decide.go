package suggestions

import (
	"context"
	"errors"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// DecisionStore is what the owner's decisions read and write
// (readmodel.Suggestions over the API's CallerDB; memstore.Suggestions). Every
// method is scoped to the user and the portfolio: another user's suggestion,
// or one of another portfolio, is portfolio.ErrNotFound, as an unknown ID.
type DecisionStore interface {
	// List returns the portfolio's suggestions with status, by date (newest
	// first), symbol and kind; at most MaxList.
	List(ctx context.Context, userID, portfolioID string, status Status) ([]Suggestion, error)
	// Claim marks a pending suggestion accepted and returns it (an accepted one
	// is returned as it is); a dismissed one is ErrDismissed.
	Claim(ctx context.Context, userID, portfolioID, id string) (Suggestion, error)
	// Release makes a claimed suggestion whose transaction was not recorded
	// pending again.
	Release(ctx context.Context, userID, portfolioID, id string) error
	// Complete records the transaction an accept recorded, and the portfolio's
	// version after it.
	Complete(ctx context.Context, userID, portfolioID, id, transactionID string, version int64) error
	// Dismiss marks a pending suggestion dismissed and returns it (a dismissed
	// one is returned as it is); an accepted one is ErrAccepted.
	Dismiss(ctx context.Context, userID, portfolioID, id string) (Suggestion, error)
}

// MaxList bounds a listing: a portfolio gets a few suggestions a quarter per
// symbol, and each is decided once.
const MaxList = 500

// Commands records transactions: *command.Service, which looks up the rate of
// a transaction in another currency than the portfolio's.
type Commands interface {
	RecordTransaction(ctx context.Context, req command.Request, build func(*portfolio.Portfolio) (portfolio.Transaction, error)) (command.Result, error)
}

// Decisions serves the owner's decisions on suggestions.
type Decisions struct {
	store    DecisionStore
	commands Commands
}

// NewDecisions returns the use case over store, recording through commands.
func NewDecisions(store DecisionStore, commands Commands) *Decisions {
	return &Decisions{store: store, commands: commands}
}

// List returns the portfolio's suggestions with status.
func (d *Decisions) List(ctx context.Context, userID, portfolioID string, status Status) ([]Suggestion, error) {
	return d.store.List(ctx, userID, portfolioID, status)
}

// Dismiss dismisses a pending suggestion: it is never offered again. A
// dismissed one stays as it is; an accepted one is ErrAccepted.
func (d *Decisions) Dismiss(ctx context.Context, userID, portfolioID, id string) (Suggestion, error) {
	return d.store.Dismiss(ctx, userID, portfolioID, id)
}

// Acceptance is what an accept recorded: the transaction, the portfolio's version
// after it, and whether an earlier accept had recorded it (nothing was written).
type Acceptance struct {
	Suggestion  Suggestion
	Transaction portfolio.Transaction
	Version     int64
	Replayed    bool
}

// AcceptRequest names the suggestion and who accepts it.
type AcceptRequest struct {
	UserID, PortfolioID, SuggestionID string
	CorrelationID                     string
}

// Accept records the suggested transaction through the command service, as the
// owner recording it would, under CommandID(the suggestion's ID): the claim
// keeps a dismiss out meanwhile, the command ID makes a retried or concurrent
// accept record it once (the command service replays it), and the transaction
// then stays on the suggestion, so an accept after the portfolio has forgotten
// the command ID still answers what was recorded. A refused transaction (the
// portfolio was archived) makes the suggestion pending again.
func (d *Decisions) Accept(ctx context.Context, req AcceptRequest) (Acceptance, error) {
	s, err := d.store.Claim(ctx, req.UserID, req.PortfolioID, req.SuggestionID)
	if err != nil {
		return Acceptance{}, err
	}
	if s.TransactionID != "" {
		tx := s.Transaction
		tx.ID = s.TransactionID
		return Acceptance{Suggestion: s, Transaction: tx, Version: s.Version, Replayed: true}, nil
	}
	res, err := d.record(ctx, req, s)
	if err != nil {
		if refused(err) {
			if rerr := d.store.Release(ctx, req.UserID, req.PortfolioID, s.ID); rerr != nil {
				err = errors.Join(err, fmt.Errorf("suggestions: release %s: %w", s.ID, rerr))
			}
		}
		// Any other failure (a timeout, a throttle) may have recorded the
		// transaction: the claim stays, and a retried accept replays the
		// command rather than a dismiss contradicting what was recorded.
		return Acceptance{}, err
	}
	rec, ok := res.Events[0].Data.(*portfolio.TransactionRecorded)
	if !ok || len(res.Events) != 1 {
		return Acceptance{}, fmt.Errorf("suggestions: command %s wrote %T, not one recorded transaction", CommandID(s.ID), res.Events[0].Data)
	}
	if err := d.store.Complete(ctx, req.UserID, req.PortfolioID, s.ID, rec.ID, res.Version); err != nil {
		return Acceptance{}, fmt.Errorf("suggestions: complete %s: %w", s.ID, err)
	}
	s.Status, s.TransactionID, s.Version = Accepted, rec.ID, res.Version
	return Acceptance{Suggestion: s, Transaction: rec.Transaction, Version: res.Version, Replayed: res.Replayed}, nil
}

// record executes the suggested transaction as POST /portfolios/{id}/transactions
// would: one TransactionRecorded, decided by the aggregate.
func (d *Decisions) record(ctx context.Context, req AcceptRequest, s Suggestion) (command.Result, error) {
	creq := command.Request{
		AggregateID: req.PortfolioID, UserID: req.UserID, CommandID: CommandID(s.ID), CorrelationID: req.CorrelationID,
		Fingerprint: command.RequestFingerprint([]byte("acceptSuggestion"), []byte(req.PortfolioID), []byte(s.ID)),
	}
	return d.commands.RecordTransaction(ctx, creq, func(*portfolio.Portfolio) (portfolio.Transaction, error) {
		return s.Transaction, nil
	})
}

// refused reports whether the portfolio refused the transaction for what it is
// (archived, invalid, another currency, no rate for its currency on its date,
// not enough held, a quota spent): nothing was recorded, so the suggestion is
// pending again.
func refused(err error) bool {
	var exceeded *quota.ExceededError
	if errors.As(err, &exceeded) {
		return true
	}
	for _, e := range []error{portfolio.ErrArchived, portfolio.ErrInvalidTransaction, portfolio.ErrInvalidCommand,
		portfolio.ErrCurrencyMismatch, portfolio.ErrFXRateRequired, portfolio.ErrInsufficientHoldings, portfolio.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
