package notifier

import (
	"context"
	"errors"
)

// Email is one message to one address, with an HTML and a plain-text part.
// Headers carry List-Unsubscribe and List-Unsubscribe-Post (SESv2 allows 15
// custom headers).
type Email struct {
	To      string
	Subject string
	HTML    string
	Text    string
	Headers map[string]string
}

// Mailer sends e-mail (shared/adapters/sesmail over SESv2 SendEmail). It
// returns the provider's message ID.
type Mailer interface {
	SendEmail(ctx context.Context, m Email) (messageID string, err error)
}

// SMS is one text message to an E.164 number.
type SMS struct {
	To   string
	Body string
}

// SMSSender sends text messages (shared/adapters/smssns over SNS Publish,
// transactional). It returns the provider's message ID.
type SMSSender interface {
	SendSMS(ctx context.Context, m SMS) (messageID string, err error)
}

// ErrPermanent marks a send that must not be retried: the provider refused the
// address or the message itself (a rejected or malformed recipient, an
// unverified identity, a message too large). Anything else a sender returns is
// taken as transient and retried with backoff.
var ErrPermanent = errors.New("notifier: permanent delivery failure")
