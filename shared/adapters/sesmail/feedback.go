package sesmail

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Feedback is what one SES notification says about addresses: which to stop mailing and why.
type Feedback struct {
	// Reason is "bounce" or "complaint" (email_suppressions.reason); "" for a notification that suppresses
	// nothing (a transient or undetermined bounce, a delivery, an open).
	Reason string
	// Addresses are the recipients concerned, lower-cased.
	Addresses []string
	// Detail says what SES reported, for the suppression's record: "Permanent/General: smtp; 550 5.1.1 user
	// unknown", "complaint: abuse".
	Detail string
	// MessageID is SES's ID of the message concerned (what SendEmail returned).
	MessageID string
	// At is when the bounce or complaint happened.
	At time.Time
}

// Suppress reports whether the notification means the addresses must not be mailed again.
func (f Feedback) Suppress() bool { return f.Reason != "" && len(f.Addresses) > 0 }

// notification is an SES notification as SNS carries it in its Message: a configuration set's event destination
// names the kind eventType, an identity's feedback notifications name it notificationType; the rest is the same.
type notification struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"` // Permanent, Transient, Undetermined
		BounceSubType     string `json:"bounceSubType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
		Timestamp time.Time `json:"timestamp"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		Timestamp             time.Time `json:"timestamp"`
	} `json:"complaint"`
	Mail struct {
		MessageID string `json:"messageId"`
	} `json:"mail"`
}

// ParseFeedback decodes an SES bounce or complaint notification: the Message of the SNS notification its event
// destination (or an identity's feedback forwarding) publishes. A permanent bounce and any complaint suppress
// their recipients; a transient or undetermined bounce (a full mailbox, an auto-reply) and every other event
// type decode to a Feedback that suppresses nothing. Only a message that is not an SES notification is an error.
func ParseFeedback(message []byte) (Feedback, error) {
	var n notification
	if err := json.Unmarshal(message, &n); err != nil {
		return Feedback{}, fmt.Errorf("sesmail: decode an SES notification: %w", err)
	}
	kind := n.EventType
	if kind == "" {
		kind = n.NotificationType
	}
	if kind == "" {
		return Feedback{}, fmt.Errorf("sesmail: not an SES notification (no eventType or notificationType)")
	}
	f := Feedback{MessageID: n.Mail.MessageID}
	switch kind {
	case "Bounce":
		if n.Bounce == nil {
			return Feedback{}, fmt.Errorf("sesmail: a Bounce notification without its bounce object")
		}
		f.At = n.Bounce.Timestamp
		if n.Bounce.BounceType != "Permanent" {
			return f, nil
		}
		f.Reason = "bounce"
		var diagnostics []string
		for _, r := range n.Bounce.BouncedRecipients {
			f.Addresses = append(f.Addresses, normalize(r.EmailAddress))
			if r.DiagnosticCode != "" {
				diagnostics = append(diagnostics, r.DiagnosticCode)
			}
		}
		f.Detail = n.Bounce.BounceType + "/" + n.Bounce.BounceSubType
		if len(diagnostics) > 0 {
			f.Detail += ": " + strings.Join(diagnostics, "; ")
		}
	case "Complaint":
		if n.Complaint == nil {
			return Feedback{}, fmt.Errorf("sesmail: a Complaint notification without its complaint object")
		}
		f.At, f.Reason = n.Complaint.Timestamp, "complaint"
		for _, r := range n.Complaint.ComplainedRecipients {
			f.Addresses = append(f.Addresses, normalize(r.EmailAddress))
		}
		f.Detail = "complaint"
		if n.Complaint.ComplaintFeedbackType != "" {
			f.Detail += ": " + n.Complaint.ComplaintFeedbackType
		}
	}
	return f, nil
}

// normalize is an address as email_suppressions keys it: the bare address, lower-cased. SES reports recipients
// either bare or with a display name ("Alice <alice@example.com>").
func normalize(address string) string {
	address = strings.TrimSpace(address)
	if i := strings.LastIndexByte(address, '<'); i >= 0 {
		if j := strings.IndexByte(address[i:], '>'); j > 0 {
			address = address[i+1 : i+j]
		}
	}
	return strings.ToLower(address)
}
