// Package sesmail sends the notifier's e-mail through the SESv2 SendEmail API (notifier.Mailer), and decodes the
// bounce and complaint notifications SES publishes to SNS (ParseFeedback). SendEmail is called with the function's
// role: SES's SMTP interface does not accept a role's temporary credentials. Locally and in tests the same code
// talks to aws-ses-v2-local through AWS_ENDPOINT_URL_SESV2.
package sesmail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/portfoliotracker/tracker/shared/app/notifier"
)

// API is the part of the SESv2 client the Mailer uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Config is where mail comes from.
type Config struct {
	// From is the sender, a verified SES identity (an address, or one at a verified domain), with an optional
	// display name: "Portfolio Tracker <alerts@example.com>".
	From string
	// ConfigurationSet names the SES configuration set whose event destination publishes bounces and complaints;
	// "" sends without one (no feedback reaches the notifier).
	ConfigurationSet string
}

// Mailer implements notifier.Mailer over SESv2.
type Mailer struct {
	api API
	cfg Config
}

var _ notifier.Mailer = (*Mailer)(nil)

// New returns a Mailer sending from cfg.From.
func New(api API, cfg Config) (*Mailer, error) {
	if cfg.From == "" {
		return nil, errors.New("sesmail: no sender address (MAIL_FROM)")
	}
	return &Mailer{api: api, cfg: cfg}, nil
}

// NewFromConfig returns a Mailer over an SESv2 client built from awsCfg (config.LoadDefaultConfig: the function's
// role on AWS, AWS_ENDPOINT_URL_SESV2 locally).
func NewFromConfig(awsCfg aws.Config, cfg Config) (*Mailer, error) {
	return New(sesv2.NewFromConfig(awsCfg), cfg)
}

// SendEmail sends m as one Simple message (SES builds the MIME: an HTML and a text alternative, UTF-8) with m's
// headers, and returns SES's message ID. An error wrapping notifier.ErrPermanent means SES refused the address or
// the message and a retry would be refused too; any other error is transient.
func (s *Mailer) SendEmail(ctx context.Context, m notifier.Email) (string, error) {
	if m.HTML == "" && m.Text == "" {
		return "", fmt.Errorf("sesmail: message to %s has no body: %w", redact(m.To), notifier.ErrPermanent)
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.cfg.From),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content:          &types.EmailContent{Simple: simpleMessage(m)},
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	out, err := s.api.SendEmail(ctx, in)
	if err != nil {
		return "", fmt.Errorf("sesmail: send to %s: %w", redact(m.To), redacted{classify(err), m.To})
	}
	return aws.ToString(out.MessageId), nil
}

// simpleMessage is m as SES's Simple content; headers in name order, so a message is the same request every time.
func simpleMessage(m notifier.Email) *types.Message {
	utf8 := aws.String("UTF-8")
	body := &types.Body{}
	if m.HTML != "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: utf8}
	}
	if m.Text != "" {
		body.Text = &types.Content{Data: aws.String(m.Text), Charset: utf8}
	}
	msg := &types.Message{Subject: &types.Content{Data: aws.String(m.Subject), Charset: utf8}, Body: body}
	names := make([]string, 0, len(m.Headers))
	for name := range m.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		msg.Headers = append(msg.Headers, types.MessageHeader{Name: aws.String(name), Value: aws.String(m.Headers[name])})
	}
	return msg
}

// permanentCodes are SES's refusals of the address or the message: MessageRejected (the content, or in the sandbox
// an unverified recipient), MailFromDomainNotVerified (the sender's MAIL FROM domain), BadRequest (a malformed
// address or message). Throttling (TooManyRequests), the daily quota (LimitExceeded), a paused or suspended account,
// a missing configuration set (NotFound, an operator's fix away), 5xx and network errors are all transient: the
// notifier's backoff and its age limit decide when to give up on them.
var permanentCodes = []string{"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"}

// classify wraps err in notifier.ErrPermanent when SES refused the address or the message.
func classify(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && slices.Contains(permanentCodes, apiErr.ErrorCode()) {
		return errors.Join(notifier.ErrPermanent, err)
	}
	// A 400 without a modelled error code is a request SES could not parse (aws-ses-v2-local answers its schema
	// check this way): sending it again cannot succeed. 403 (credentials, IAM) and 429 are left transient, since
	// a fix of the role or time cures them.
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusBadRequest &&
		(apiErr == nil || !slices.Contains(transientCodes, apiErr.ErrorCode())) {
		return errors.Join(notifier.ErrPermanent, err)
	}
	return err
}

// transientCodes are the modelled errors SES may answer with 400 that a later attempt can get past.
var transientCodes = []string{"TooManyRequestsException", "LimitExceededException", "SendingPausedException",
	"AccountSuspendedException", "ThrottlingException", "NotFoundException"}

// redacted is err with every mention of the address hidden: SES names the recipient in some refusals ("Email
// address is not verified. The following identities failed the check: ...").
type redacted struct {
	err     error
	address string
}

func (r redacted) Error() string {
	if r.address == "" {
		return r.err.Error()
	}
	return strings.ReplaceAll(r.err.Error(), r.address, redact(r.address))
}
func (r redacted) Unwrap() error { return r.err }

// redact keeps an address out of error text beyond its domain: errors reach logs at every level.
func redact(address string) string {
	for i := len(address) - 1; i >= 0; i-- {
		if address[i] == '@' {
			return "…" + address[i:]
		}
	}
	return "…"
}
