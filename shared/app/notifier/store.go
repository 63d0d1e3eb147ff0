package notifier

import (
	"context"
	"encoding/json"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// Store is the outbox, the deliveries and their attempts
// (readmodel.Notifications over PostgreSQL).
type Store interface {
	// Unplanned returns up to limit outbox entries without deliveries yet,
	// oldest first, each with the message and the recipient as they are now.
	Unplanned(ctx context.Context, limit int) ([]Unplanned, error)
	// SavePlan records the deliveries of one entry and marks it planned, in
	// one transaction; an entry planned already (by a concurrent run) is left
	// as it is.
	SavePlan(ctx context.Context, outboxID int64, userID string, steps []notify.Step, now time.Time) error
	// ClaimDue leases up to limit deliveries due at now (pending or held with
	// next_attempt_at ≤ now, or sending with an expired lease) until now+lease
	// and marks them sending. Concurrent claims never return one delivery to
	// two callers while its lease holds. Every due held delivery of a user and
	// channel is claimed with the others, so that they go out as one digest.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// Record stores the outcomes of claimed deliveries and their attempts. An
	// outcome whose lease was lost (the delivery is no longer sending under
	// that lease) changes nothing.
	Record(ctx context.Context, outcomes []Outcome) error
	// Suppress stops all mail to address (lower-cased) for reason.
	Suppress(ctx context.Context, address, reason, detail string, at time.Time) error
	// Prune deletes up to limit outbox entries created before before whose
	// deliveries are all final, with their deliveries and attempts, and
	// returns how many.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}

// Unplanned is an outbox entry waiting for its plan.
type Unplanned struct {
	OutboxID  int64
	UserID    string
	Message   notify.Message
	Recipient notify.Recipient
	// Invalid: the entry or its recipient's preferences do not read. It is
	// planned with no delivery (and logged), so it does not stop the others.
	Invalid error
}

// Delivery is a claimed delivery with what rendering and sending need.
type Delivery struct {
	ID        int64
	OutboxID  int64
	UserID    string
	Channel   notify.Channel
	Address   string
	Source    notify.Source
	Payload   json.RawMessage
	Held      bool      // it was held (quiet hours, digest): it goes out in the user's digest
	Attempts  int       // before this one
	CreatedAt time.Time // of the delivery (the instant of its plan)
	// DueSince is when the delivery first became due: the end of its hold
	// (quiet hours, digest) or its creation. Its age since bounds the
	// retries, so a digest held for days still gets them all.
	DueSince   time.Time
	LeaseUntil time.Time // the claim's fence
	// The message and its recipient as they are now: the claim plans the
	// delivery again against them (the address, its verification, the
	// channels wanted, a bounce, a complaint or an unsubscribe since the
	// plan, and for a held one its time).
	Message   notify.Message
	Recipient notify.Recipient
	// For rendering.
	DisplayName   string
	TimeZone      string // IANA; "" is UTC
	PortfolioName string // an alert's portfolio, when it has one
}

// Status is a delivery's status after an attempt.
type Status string

// The statuses an outcome sets (notification_deliveries.status).
const (
	StatusSent       Status = "sent"
	StatusRetry      Status = "retry" // due again at NextAttemptAt (pending, or held again for a digest)
	StatusFailed     Status = "failed"
	StatusSuppressed Status = "suppressed"
	StatusSkipped    Status = "skipped" // the plan made again wants no delivery on its channel
)

// Outcome is what became of one claimed delivery.
type Outcome struct {
	DeliveryID int64
	UserID     string
	LeaseUntil time.Time
	Status     Status
	// Attempted: a send was tried (an attempt is recorded); a delivery
	// suppressed before sending records none.
	Attempted     bool
	Held          bool // StatusRetry: it goes out with the digest again
	At            time.Time
	NextAttemptAt time.Time // StatusRetry
	ProviderID    string
	DigestID      string
	Error         string
	// Address, when set, replaces the delivery's (it changed since the plan).
	Address string
	// HeldUntil, when set, is the delivery's new hold (StatusRetry with Held).
	HeldUntil time.Time
}
