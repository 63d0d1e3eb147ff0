// Package users is the user service: a person's own profile (GET/PATCH /me),
// the verification of their phone, and the erasure of everything the system
// holds of them (DELETE /me). It takes plain inputs (the caller's user ID, a
// patch, a code) and declares the ports it uses here; readmodel (Postgres),
// dynamostore, wsconn, dynamoquota and the Supabase Auth admin client implement
// them. docs/architecture.md §11, "The user service".
package users

import (
	"context"
	"errors"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/user"
)

// Profiles stores profiles (readmodel.Users).
type Profiles interface {
	// Profile returns the user's profile, or ErrNoProfile.
	Profile(ctx context.Context, userID string) (user.Profile, error)
	// CreateProfile inserts p unless the user has a profile, and returns the
	// stored one either way.
	CreateProfile(ctx context.Context, p user.Profile) (user.Profile, error)
	// UpdateProfile writes the fields a user sets (display name, time zone,
	// locale, base currency, phone, its verification, notification preferences)
	// if the stored profile's UpdatedAt is still was, else ErrProfileChanged; a
	// changed phone also drops its pending code.
	UpdateProfile(ctx context.Context, p user.Profile, was time.Time) (user.Profile, error)
	// ErasedAt returns when the user's erasure began, and whether it did.
	ErasedAt(ctx context.Context, userID string) (time.Time, bool, error)
}

// PhoneCode is a pending phone verification: the keyed hash of the code sent
// to Phone, its expiry and the guesses counted so far.
type PhoneCode struct {
	Phone     string
	Hash      string
	ExpiresAt time.Time
	Attempts  int
}

// CodeLimits bound the codes a user may be sent: at most PerHour in the hour
// before a new one, and none within Interval of the last.
type CodeLimits struct {
	PerHour  int
	Interval time.Duration
}

// CodesSent is what the outbox held of a user's codes when a new one was
// asked for: how many in the hour before, and when the newest was (zero if
// none). Queued says whether the new one was stored and queued.
type CodesSent struct {
	InHour int
	Last   time.Time
	Queued bool
}

// PhoneCodes keeps the pending code on the profile and queues the SMS. Each
// method is one transaction that checks its bounds under the profile row's
// lock, so parallel requests cannot all pass a check before any counts.
type PhoneCodes interface {
	// StartPhoneCode stores the pending code and queues its SMS in the
	// notifier's outbox (source 'phone_code', sourceKey, payload {"phone","code"},
	// created at sentAt) in one transaction, only for the phone still on the
	// profile (else ErrNoProfile), and only within limits: else it stores
	// nothing and returns the codes sent with Queued false.
	StartPhoneCode(ctx context.Context, userID string, c PhoneCode, sourceKey string, payload []byte, sentAt time.Time, limits CodeLimits) (CodesSent, error)
	// GuessPhoneCode counts one guess at the pending code and returns the code
	// with the guess counted, if the code is alive at now (unexpired, fewer than
	// maxGuesses guesses so far); else ErrNoPendingCode, ErrCodeExpired or
	// ErrTooManyAttempts. The guess is counted before it is compared, so
	// parallel guesses never exceed maxGuesses.
	GuessPhoneCode(ctx context.Context, userID string, now time.Time, maxGuesses int) (PhoneCode, error)
	// ConfirmPhone marks c's phone verified at the instant and drops the
	// pending code, if c is still the pending code, alive at that instant
	// (unexpired, at most maxGuesses guesses); else ErrNoPendingCode.
	ConfirmPhone(ctx context.Context, userID string, c PhoneCode, at time.Time, maxGuesses int) error
}

// AuthUser is what Supabase Auth says of a user.
type AuthUser struct {
	ID             string
	Email          string
	EmailConfirmed bool
	DisplayName    string
	CreatedAt      time.Time
}

// AuthUsers is Supabase Auth's admin API (supabaseadmin.Client).
type AuthUsers interface {
	// AuthUser returns the user, or ErrAuthUserNotFound.
	AuthUser(ctx context.Context, userID string) (AuthUser, error)
	// DeleteAuthUser deletes the user; one already gone is ErrAuthUserNotFound.
	DeleteAuthUser(ctx context.Context, userID string) error
}

// Count is how many items of the user one store held and erased.
type Count struct {
	Store string // "dynamodb.events", "postgres.transactions", "auth.users", ...
	Items int64
}

// ReadModelEraser erases the user from PostgreSQL (readmodel.Users).
type ReadModelEraser interface {
	// BeginErasure records the tombstone (idempotent) and returns when the
	// erasure first began. From then on the projector projects none of the
	// user's events and GET /me re-creates no profile.
	BeginErasure(ctx context.Context, userID string) (time.Time, error)
	// PortfolioIDs lists the user's portfolios in the read model.
	PortfolioIDs(ctx context.Context, userID string) ([]string, error)
	// EraseReadModels deletes every row of the user and of the portfolios (the
	// read model's and these), one Count per table, "postgres." first.
	EraseReadModels(ctx context.Context, userID string, portfolioIDs []string) ([]Count, error)
}

// EventEraser deletes aggregates from the events table: every item, snapshots
// and idempotency fingerprints ride on them (dynamostore.Store).
type EventEraser interface {
	EraseAggregate(ctx context.Context, aggregateID string) (int64, error)
}

// ConnectionEraser deletes the user's WebSocket connections and their slot
// item (wsconn.Store).
type ConnectionEraser interface {
	EraseUserConnections(ctx context.Context, userID string) (int64, error)
}

// QuotaEraser is the quotas table (dynamoquota.Store): the portfolio set is
// every portfolio the user ever created, projected or not.
type QuotaEraser interface {
	PortfoliosCreated(ctx context.Context, userID string) ([]string, error)
	EraseUserQuotas(ctx context.Context, userID string) (int64, error)
}

// Errors of the service; the API maps each to a status.
var (
	ErrNoProfile        = errors.New("users: no profile")
	ErrProfileChanged   = errors.New("users: the profile changed meanwhile")
	ErrAuthUserNotFound = errors.New("users: no such user in Supabase Auth")
	// ErrErased: the user's data was erased (DELETE /me); the account is gone.
	ErrErased = errors.New("users: this account was deleted")
	// ErrUnavailable: a dependency the call needs is not configured.
	ErrUnavailable = errors.New("users: not available in this deployment")

	ErrNoPhone          = errors.New("users: no phone number on the profile: set one first")
	ErrPhoneVerified    = errors.New("users: this phone number is already verified")
	ErrNoPendingCode    = errors.New("users: no code is pending for this phone number: ask for one")
	ErrCodeExpired      = errors.New("users: the code has expired: ask for a new one")
	ErrWrongCode        = errors.New("users: wrong code")
	ErrTooManyAttempts  = errors.New("users: too many wrong codes: ask for a new one")
	ErrBadCode          = errors.New("users: the code is 6 digits")
	ErrTooManyCodesSent = errors.New("users: too many codes asked for")
)

// RateLimitedError refuses a code asked for too soon; RetryAfter says when the
// next is allowed. It matches ErrTooManyCodesSent.
type RateLimitedError struct {
	RetryAfter time.Duration
	Reason     string
}

func (e *RateLimitedError) Error() string { return "users: " + e.Reason }

// Unwrap makes it match ErrTooManyCodesSent.
func (e *RateLimitedError) Unwrap() error { return ErrTooManyCodesSent }
