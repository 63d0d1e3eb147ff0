// Package failuredest opens a stream consumer's failure destination as a
// quarantine.Sink from its URL (topology.FailureDestinationEnvVar): the SQS queue
// of the function's event source mapping on AWS, a file:// URL in the local stack.
package failuredest

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

// Open returns the sink rawURL names, or nil for "" (no destination configured:
// the consumer then leaves what it cannot apply to the stream's own retries).
// The SQS client is built from cfg, so AWS_ENDPOINT_URL_SQS applies.
func Open(cfg aws.Config, rawURL string) (quarantine.Sink, error) {
	if rawURL == "" {
		return nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("failure destination %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" || u.Host != "" {
			return nil, fmt.Errorf("failure destination %q: want file:///absolute/path", rawURL)
		}
		return quarantine.NewFileSink(u.Path), nil
	case "https", "http":
		return NewSQS(sqs.NewFromConfig(cfg), rawURL), nil
	}
	return nil, fmt.Errorf("failure destination %q: want an SQS queue URL or a file:// URL", rawURL)
}

// SQSAPI is the part of the SQS client the sink uses.
type SQSAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQS sends each record as one message to a queue. The function's role may send
// to its mapping's on-failure queue already: Lambda sends its own records there
// with that role.
type SQS struct {
	client   SQSAPI
	queueURL string
}

// NewSQS returns the sink for the queue.
func NewSQS(client SQSAPI, queueURL string) *SQS { return &SQS{client: client, queueURL: queueURL} }

// Send implements quarantine.Sink. Quarantines are rare: one message each, no
// batching.
func (s *SQS) Send(ctx context.Context, recs []quarantine.Record) error {
	var errs []error
	for _, r := range recs {
		body, err := r.Encode()
		if err == nil {
			_, err = s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.queueURL), MessageBody: aws.String(string(body))})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("quarantine record of %s version %d: %w", r.AggregateID, r.Version, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("send to the failure queue: %w", err)
	}
	return nil
}
