package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

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

// sesNotification is what SES publishes to SNS for a bounce or a complaint:
// eventType from a configuration set's event destination, notificationType
// from an identity's notifications (the same bodies otherwise).
type sesNotification struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
}

// suppressions reads the addresses to stop mailing from SES's notifications:
// every recipient of a permanent bounce (a transient one, a full mailbox, is
// retried by SES itself) and of a complaint. Other notifications (deliveries,
// opens) are ignored. A message that is not an SES notification fails the
// invocation, so that SNS retries and, in the end, keeps it.
func suppressions(ev events.SNSEvent) ([]notifier.Suppression, error) {
	var out []notifier.Suppression
	for _, rec := range ev.Records {
		var n sesNotification
		if err := json.Unmarshal([]byte(rec.SNS.Message), &n); err != nil {
			return nil, fmt.Errorf("%w: SNS message %s is not an SES notification: %v", errBadInput, rec.SNS.MessageID, err)
		}
		kind := n.EventType
		if kind == "" {
			kind = n.NotificationType
		}
		switch {
		case strings.EqualFold(kind, "Bounce") && n.Bounce != nil && n.Bounce.BounceType == "Permanent":
			for _, r := range n.Bounce.BouncedRecipients {
				out = append(out, notifier.Suppression{Address: r.EmailAddress, Reason: "bounce",
					Detail: strings.TrimSpace(n.Bounce.BounceSubType + " " + r.DiagnosticCode)})
			}
		case strings.EqualFold(kind, "Complaint") && n.Complaint != nil:
			for _, r := range n.Complaint.ComplainedRecipients {
				out = append(out, notifier.Suppression{Address: r.EmailAddress, Reason: "complaint", Detail: n.Complaint.ComplaintFeedbackType})
			}
		}
	}
	return out, nil
}
