// Package smssns sends the notifier's text messages through Amazon SNS Publish to a phone number
// (notifier.SMSSender), as transactional SMS: SNS then routes them for reliability rather than cost, which is what a
// verification code or an alert needs. Locally and in tests the same code talks to the SMS recorder
// (shared/devtools/smsrecorder) through AWS_ENDPOINT_URL_SNS.
package smssns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/portfoliotracker/tracker/shared/app/notifier"
)

// API is the part of the SNS client the Sender uses.
type API interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Sender implements notifier.SMSSender over SNS.
type Sender struct{ api API }

var _ notifier.SMSSender = (*Sender)(nil)

// New returns a Sender.
func New(api API) *Sender { return &Sender{api: api} }

// NewFromConfig returns a Sender over an SNS client built from cfg (config.LoadDefaultConfig: the function's role
// on AWS, AWS_ENDPOINT_URL_SNS locally).
func NewFromConfig(cfg aws.Config) *Sender { return New(sns.NewFromConfig(cfg)) }

// smsTypeAttribute makes a Publish to a phone number transactional (SNS's default is the account's, Promotional
// unless changed).
const smsTypeAttribute = "AWS.SNS.SMS.SMSType"

// SendSMS publishes m.Body to m.To (E.164) and returns SNS's message ID. An error wrapping notifier.ErrPermanent
// means SNS refused the number or the message; any other error is transient.
func (s *Sender) SendSMS(ctx context.Context, m notifier.SMS) (string, error) {
	out, err := s.api.Publish(ctx, &sns.PublishInput{
		PhoneNumber: aws.String(m.To),
		Message:     aws.String(m.Body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			smsTypeAttribute: {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
		},
	})
	if err != nil {
		return "", fmt.Errorf("smssns: publish to %s: %w", redact(m.To), redacted{classify(err), m.To})
	}
	return aws.ToString(out.MessageId), nil
}

// permanentCodes are SNS's refusals of the number or the message: InvalidParameter and ParameterValueInvalid (a
// number that is not E.164 or not reachable by SMS, an empty or over-long message), OptedOut (the number replied
// STOP) and EndpointDisabled. Throttled, InternalError, the KMS errors and AuthorizationError (the role, which an
// operator fixes) are transient, as are network errors.
var permanentCodes = []string{"InvalidParameter", "ParameterValueInvalid", "OptedOut", "EndpointDisabled"}

// classify wraps err in notifier.ErrPermanent when SNS refused the number or the message.
func classify(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && slices.Contains(permanentCodes, apiErr.ErrorCode()) {
		return errors.Join(notifier.ErrPermanent, err)
	}
	return err
}

// redacted is err with every mention of the number hidden: SNS names it in its InvalidParameter message.
type redacted struct {
	err   error
	phone string
}

func (r redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.phone, redact(r.phone)) }
func (r redacted) Unwrap() error { return r.err }

// redact keeps a phone number out of error text but for its last two digits: errors reach logs at every level.
func redact(phone string) string {
	if len(phone) <= 4 {
		return "…"
	}
	return "…" + phone[len(phone)-2:]
}
