package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/adapters/sesmail"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
)

// service is what the handler calls (*notifier.Service).
type service interface {
	Run(ctx context.Context) (notifier.RunStats, error)
	Suppress(ctx context.Context, list []notifier.Suppression) error
}

// errBadInput is an invocation that is neither the schedule's nor SNS's.
var errBadInput = errors.New("notifier: unrecognized input")

// handle is the Lambda handler: the schedule's {"mode":"deliver"} runs the
// notifier; an SNS notification of SES bounces and complaints suppresses their
// addresses.
func handle(ctx context.Context, svc service, raw json.RawMessage) (any, error) {
	var probe struct {
		Mode    string            `json:"mode"`
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInput, err)
	}
	switch {
	case len(probe.Records) > 0:
		var ev events.SNSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("%w: SNS event: %v", errBadInput, err)
		}
		list, err := suppressions(ev)
		if err != nil {
			return nil, err
		}
		return map[string]int{"suppressed": len(list)}, svc.Suppress(ctx, list)
	case probe.Mode == "deliver":
		return svc.Run(ctx)
	}
	return nil, fmt.Errorf("%w: mode %q", errBadInput, probe.Mode)
}

// suppressions reads the addresses to stop mailing from SES's notifications
// (sesmail.ParseFeedback): the recipients of a permanent bounce or of a
// complaint. A transient bounce (a full mailbox) and the other event types
// suppress nothing. A message that is not an SES notification fails the
// invocation: SNS invokes the function asynchronously, so Lambda retries it
// (twice) and then logs and drops it; what SNS cannot deliver to the function
// at all goes to the subscription's dead-letter queue (infra/stack/mail.go).
func suppressions(ev events.SNSEvent) ([]notifier.Suppression, error) {
	var out []notifier.Suppression
	for _, rec := range ev.Records {
		f, err := sesmail.ParseFeedback([]byte(rec.SNS.Message))
		if err != nil {
			return nil, fmt.Errorf("%w: SNS message %s: %v", errBadInput, rec.SNS.MessageID, err)
		}
		if !f.Suppress() {
			continue
		}
		for _, a := range f.Addresses {
			out = append(out, notifier.Suppression{Address: a, Reason: f.Reason, Detail: f.Detail})
		}
	}
	return out, nil
}
