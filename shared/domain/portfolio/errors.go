package portfolio

import "errors"

// Sentinel errors. Every error the domain returns wraps exactly one of these, so
// adapters map them to transport codes with errors.Is and the message carries the
// specifics; the one exception is a quota's refusal, a *quota.ExceededError that
// every layer maps alike (package quota).
var (
	// ErrInvalidCommand: a command's fields are malformed (empty name, bad currency, ...).
	ErrInvalidCommand = errors.New("invalid command")
	// ErrInvalidTransaction: a transaction's fields are malformed for its type.
	ErrInvalidTransaction = errors.New("invalid transaction")
	// ErrInsufficientHoldings: a sell (or a back-dated change) would leave a
	// position negative on some date.
	ErrInsufficientHoldings = errors.New("insufficient holdings")
	// ErrCurrencyMismatch: a trade in another currency than the symbol's earlier
	// trades in the portfolio, or an fxRate where none applies.
	ErrCurrencyMismatch = errors.New("currency mismatch")
	// ErrFXRateRequired: a transaction in another currency than the portfolio's
	// base carries no fxRate, and none was found for its date.
	ErrFXRateRequired = errors.New("fx rate required")
	// ErrArchived: the portfolio is archived and accepts no commands.
	ErrArchived = errors.New("portfolio archived")
	// ErrNotFound: the portfolio or transaction does not exist, or belongs to someone
	// else (the two are not told apart, so existence does not leak across tenants).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: creating a portfolio whose ID is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrAlreadyVoided: voiding a transaction twice.
	ErrAlreadyVoided = errors.New("transaction already voided")
	// ErrInvalidTargets: target weights outside [0,1], not summing to 1, or a bad band.
	ErrInvalidTargets = errors.New("invalid target allocation")
	// ErrConcurrencyConflict: another writer appended the expected version first.
	ErrConcurrencyConflict = errors.New("concurrency conflict")
	// ErrHistoryRequired: the aggregate was restored from a snapshot without its
	// transaction list, and the decision (a back-dated trade, a void) needs it. The
	// application layer reloads the full history and decides again.
	ErrHistoryRequired = errors.New("full history required")
	// ErrCorruptEvent: a stored event cannot be decoded or applied.
	ErrCorruptEvent = errors.New("corrupt event")
)
