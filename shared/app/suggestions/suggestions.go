// Package suggestions offers a provider's corporate actions (splits, cash
// dividends) to the owners of the portfolios they concern, as transactions the
// owner accepts or dismisses: nothing is recorded without the owner's say
// (docs/architecture.md §6, "Corporate actions as suggestions").
//
// Offer (called by the backfill after it fetched a symbol's actions) finds each
// portfolio that held the symbol at the close before the action's date, folding
// the portfolio's recorded transactions through the lot engine, and stores one
// suggestion per portfolio and action, unless the portfolio already has that
// transaction. Suggestions are keyed by (portfolio, symbol, kind, date), so a
// repeated Offer changes nothing and a dismissed suggestion is never offered
// again. Accept records the proposed transaction through the command service
// under a command ID derived from the suggestion, so a retried or concurrent
// accept records it once.
package suggestions

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Status is where a suggestion stands.
type Status string

// A suggestion is pending until its owner accepts it (its transaction is then
// recorded) or dismisses it (it is then never offered again).
const (
	Pending   Status = "pending"
	Accepted  Status = "accepted"
	Dismissed Status = "dismissed"
)

// Statuses lists every status.
var Statuses = []Status{Pending, Accepted, Dismissed}

// ParseStatus reads a status name; "" is Pending.
func ParseStatus(s string) (Status, error) {
	if s == "" {
		return Pending, nil
	}
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w: status %q (want pending, accepted or dismissed)", ErrInvalid, s)
}

// Errors of the decisions.
var (
	// ErrInvalid: a request the caller can fix (an unknown status).
	ErrInvalid = errors.New("invalid suggestion request")
	// ErrDismissed: an accept of a suggestion its owner dismissed.
	ErrDismissed = errors.New("suggestion already dismissed")
	// ErrAccepted: a dismiss of a suggestion its owner accepted.
	ErrAccepted = errors.New("suggestion already accepted")
)

// Suggestion is a transaction proposed to a portfolio's owner from a provider's
// corporate action. Kind, Symbol and Date are the action's (Date: a split's
// execution date, a dividend's ex-date); Transaction is what accepting records
// (a SPLIT on Date with the ratio, or a DIVIDEND on the pay date, or the ex-date
// when the provider gives none, of Held × PerShare). Held is the quantity the
// portfolio held at the close before Date, PerShare a dividend's cash per share.
// TransactionID and Version are set once the transaction is recorded: its ID and
// the portfolio's version after it.
type Suggestion struct {
	ID            string
	PortfolioID   string
	UserID        string
	Symbol        string
	Kind          market.CorporateActionKind
	Date          calendar.Date
	PayDate       *calendar.Date
	Held          decimal.Decimal
	PerShare      decimal.Decimal
	Transaction   portfolio.Transaction
	Source        string
	Status        Status
	CreatedAt     time.Time
	DecidedAt     time.Time // zero while pending
	TransactionID string
	Version       int64
}

// IDFor is the ID of the suggestion of one action to one portfolio: derived,
// so that the same action offered twice, or by two backfills at once, is one
// suggestion whichever store holds it.
func IDFor(portfolioID, symbol string, kind market.CorporateActionKind, date calendar.Date) string {
	return uuid.FromNames("suggestion", portfolioID, symbol, string(kind), date.String())
}

// CommandID is the command ID (the idempotency key) under which accepting the
// suggestion records its transaction.
func CommandID(suggestionID string) string { return "suggestion:" + suggestionID }

// Holder is a portfolio that has transactions in a symbol: what Offer needs to
// know what it held on a past date. Transactions are its active transactions of
// that symbol, in portfolio.SortForReplay order.
type Holder struct {
	PortfolioID  string
	UserID       string
	BaseCurrency string
	LotMethod    portfolio.LotMethod
	Transactions []portfolio.Transaction
}
