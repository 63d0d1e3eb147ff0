package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/localstack/gateway"
	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/adapters/sesmail"
	"github.com/portfoliotracker/tracker/shared/devtools/smsrecorder"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// The local stand-ins of what a mail-sending function reaches on AWS, all on the admin endpoint: the SESv2 API
// (aws-ses-v2-local behind a switch that can take it down, for outage tests) and SNS's SMS Publish (the SMS
// recorder). Functions find them through AWS_ENDPOINT_URL_SESV2 and AWS_ENDPOINT_URL_SNS (the SDK keeps an
// endpoint's path and appends the operation's).
const (
	sesAPIPath = "/aws/sesv2"
	snsAPIPath = "/aws/sns"
	// localMailFrom is MAIL_FROM locally; aws-ses-v2-local takes any sender.
	localMailFrom = "Portfolio Tracker <alerts@example.test>"
)

// mail holds the stack's mail plumbing.
type mail struct {
	inbox string // aws-ses-v2-local's base URL: its inbox viewer, and GET /store
	ses   *outageSwitch
	sms   *smsrecorder.Recorder
	// key is the stand-in of the notification signing key: kept in the data folder, so the unsubscribe links in
	// mail already sent keep working after a restart.
	key string
}

func newMail(dataDir, inbox string) (*mail, error) {
	target, err := url.Parse(inbox)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("aws-ses-v2-local's address %q: %v", inbox, err)
	}
	key, err := notificationKey(filepath.Join(dataDir, "notification-key"))
	if err != nil {
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	return &mail{inbox: inbox, ses: &outageSwitch{next: http.StripPrefix(sesAPIPath, proxy)}, sms: smsrecorder.New(), key: key}, nil
}

// notificationKey reads the key file, creating it with 32 random bytes (hex) on first use.
func notificationKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("notification key: %w", err)
	}
	key := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("notification key: %w", err)
	}
	return key, nil
}

// mailEnv adds to env what a function that sends mail or SMS is given: the endpoints of the stand-ins, and of the
// notification settings it declares (the sender, the configuration set, the public API URL) those the topology
// says the local stack sets.
func mailEnv(f topology.Function, prefix string, e endpoints, env map[string]string) {
	if f.SendsEmail {
		env["AWS_ENDPOINT_URL_SESV2"] = e.sesAPI
	}
	if f.SendsSMS {
		env["AWS_ENDPOINT_URL_SNS"] = e.snsAPI
	}
	for _, s := range f.Settings {
		if s.SetBy&topology.LocalStack == 0 || s.Value != "" {
			continue
		}
		switch s.Name {
		case topology.MailFromEnvVar:
			env[s.Name] = localMailFrom
		case topology.SESConfigurationSetEnvVar:
			env[s.Name] = topology.PhysicalName(prefix, topology.SESConfigurationSet)
		case topology.PublicAPIURLEnvVar:
			env[s.Name] = e.publicAPI
		}
	}
}

// outageSwitch passes requests on, except while an outage is on: then it answers as an unavailable AWS endpoint
// does (503, ServiceUnavailable), which the SDK retries and then reports as a transient error.
type outageSwitch struct {
	next    http.Handler
	mu      sync.Mutex
	until   time.Time
	refused int
}

func (o *outageSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	down := time.Now().Before(o.until)
	if down {
		o.refused++
	}
	o.mu.Unlock()
	if !down {
		o.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", "ServiceUnavailable")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, `{"message":"Service Unavailable (a simulated outage of the local stack)"}`)
}

// failFor takes the endpoint down for d from now; d <= 0 brings it back.
func (o *outageSwitch) failFor(d time.Duration) outageStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.until = time.Now().Add(d)
	return o.statusLocked()
}

// outageStatus is what the admin endpoint reports of the email endpoint.
type outageStatus struct {
	Down    bool      `json:"down"`
	Until   time.Time `json:"until,omitzero"`
	Refused int       `json:"refused"` // requests answered 503, since the stack started
}

func (o *outageSwitch) status() outageStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.statusLocked()
}

func (o *outageSwitch) statusLocked() outageStatus {
	st := outageStatus{Refused: o.refused}
	if time.Now().Before(o.until) {
		st.Down, st.Until = true, o.until.UTC()
	}
	return st
}

// FailEmail makes the SESv2 endpoint the functions use answer 503 for d (an SES outage); d <= 0 ends one early.
func (s *Stack) FailEmail(d time.Duration) { s.mail.ses.failFor(d) }

// SMS is every text message the functions sent, oldest first.
func (s *Stack) SMS() []smsrecorder.Message { return s.mail.sms.Messages() }

// SESDelivery is one subscribed function's answer to an SES notification.
type SESDelivery struct {
	Function string          `json:"function"`
	Result   json.RawMessage `json:"result"`
}

// errNoSubscriber: no function of the stack subscribes to the SES events topic.
var errNoSubscriber = errors.New("no function subscribes to the " + topology.SESEventsTopic + " topic")

// DeliverSESEvent hands an SES notification (a bounce or complaint, as SES publishes it) to every function
// subscribed to the SES events topic, wrapped in an SNS event as Lambda's SNS trigger delivers it.
func (s *Stack) DeliverSESEvent(ctx context.Context, notification []byte) ([]SESDelivery, error) {
	if _, err := sesmail.ParseFeedback(notification); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(snsEvent(s.cfg.Prefix, notification, time.Now()))
	if err != nil {
		return nil, err
	}
	var out []SESDelivery
	for _, f := range s.cfg.Functions() {
		for _, tr := range f.Triggers {
			if tr.Kind != topology.SNSTopic || tr.Source != topology.SESEventsTopic {
				continue
			}
			res, err := s.rt.Invoke(ctx, f.Name, payload)
			if err != nil {
				return out, fmt.Errorf("%s: %w", f.Name, err)
			}
			out = append(out, SESDelivery{Function: f.Name, Result: json.RawMessage(res)})
		}
	}
	if len(out) == 0 {
		return nil, errNoSubscriber
	}
	return out, nil
}

// snsEvent wraps message as SNS delivers one notification of the topic to a subscribed Lambda function.
func snsEvent(prefix string, message []byte, at time.Time) events.SNSEvent {
	topic := fmt.Sprintf("arn:aws:sns:%s:%s:%s", gateway.DefaultRegion, gateway.DefaultAccountID, topology.PhysicalName(prefix, topology.SESEventsTopic))
	id := newUUID()
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventVersion: "1.0", EventSource: "aws:sns", EventSubscriptionArn: topic + ":" + newUUID(),
		SNS: events.SNSEntity{
			Type: "Notification", MessageID: id, TopicArn: topic, Message: string(message), Timestamp: at.UTC(),
			SignatureVersion: "1", Signature: "local", SigningCertURL: "https://sns.local/cert.pem",
			UnsubscribeURL: "https://sns.local/?Action=Unsubscribe", MessageAttributes: map[string]any{},
		},
	}}}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sesNotification is a minimal SES event of kind ("bounce": a permanent one, or "complaint") for address, for
// operators who simulate one without writing SES's JSON.
func sesNotification(kind, address string, at time.Time) ([]byte, error) {
	mail := map[string]any{"timestamp": at.UTC().Format(time.RFC3339Nano), "messageId": "local-" + newUUID(),
		"source": localMailFrom, "destination": []string{address}}
	switch kind {
	case "bounce":
		return json.Marshal(map[string]any{"eventType": "Bounce", "mail": mail, "bounce": map[string]any{
			"bounceType": "Permanent", "bounceSubType": "General", "timestamp": at.UTC().Format(time.RFC3339Nano),
			"bouncedRecipients": []map[string]string{{"emailAddress": address, "action": "failed", "status": "5.1.1",
				"diagnosticCode": "smtp; 550 5.1.1 user unknown (simulated by the local stack)"}}}})
	case "complaint":
		return json.Marshal(map[string]any{"eventType": "Complaint", "mail": mail, "complaint": map[string]any{
			"complaintFeedbackType": "abuse", "timestamp": at.UTC().Format(time.RFC3339Nano),
			"complainedRecipients": []map[string]string{{"emailAddress": address}}}})
	}
	return nil, fmt.Errorf("unknown SES event %q: want bounce or complaint", kind)
}

// mailRoutes adds the mail endpoints to the admin mux:
//
//	/aws/sesv2/...                      the SESv2 API the functions use (aws-ses-v2-local, unless an outage is on)
//	/aws/sns                            SNS Publish for SMS (the recorder)
//	GET  /sms[?phone=+1...]             the text messages sent
//	POST /ses/events                    an SES notification (JSON body, as SES publishes it), or ?bounce=<address> or
//	                                    ?complaint=<address>, delivered to the SES events topic's subscribers
//	GET  /faults/email                  whether the email endpoint is down; POST ?for=60s takes it down, DELETE ends it
func (s *Stack) mailRoutes(mux *http.ServeMux) {
	mux.Handle(sesAPIPath+"/", s.mail.ses)
	mux.Handle("POST "+snsAPIPath, s.mail.sms)
	mux.Handle("GET /sms", s.mail.sms.ListHandler())
	mux.HandleFunc("POST /ses/events", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_body", err.Error())
			return
		}
		q := r.URL.Query()
		for _, kind := range []string{"bounce", "complaint"} {
			if address := q.Get(kind); address != "" {
				if body, err = sesNotification(kind, address, time.Now()); err != nil {
					writeError(w, http.StatusBadRequest, "bad_event", err.Error())
					return
				}
			}
		}
		if _, err := sesmail.ParseFeedback(body); err != nil {
			writeError(w, http.StatusBadRequest, "bad_event", "want an SES notification (JSON with eventType or notificationType), or ?bounce=<address> or ?complaint=<address>: "+err.Error())
			return
		}
		delivered, err := s.DeliverSESEvent(r.Context(), body)
		var fe *invoke.FunctionError
		switch {
		case errors.Is(err, errNoSubscriber):
			writeError(w, http.StatusConflict, "no_subscriber", err.Error())
		case errors.As(err, &fe):
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]any{"code": "function_error", "message": fe.Message, "details": map[string]string{"type": fe.Type}}})
		case err != nil:
			writeError(w, http.StatusBadGateway, "invoke_failed", err.Error())
		default:
			writeJSON(w, http.StatusOK, map[string]any{"delivered": delivered})
		}
	})
	mux.HandleFunc("GET /faults/email", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.mail.ses.status())
	})
	mux.HandleFunc("POST /faults/email", func(w http.ResponseWriter, r *http.Request) {
		d := time.Minute
		if v := r.URL.Query().Get("for"); v != "" {
			var err error
			if d, err = time.ParseDuration(v); err != nil || d <= 0 || d > time.Hour {
				writeError(w, http.StatusBadRequest, "bad_duration", "for must be a duration between 1s and 1h")
				return
			}
		}
		writeJSON(w, http.StatusOK, s.mail.ses.failFor(d))
	})
	mux.HandleFunc("DELETE /faults/email", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.mail.ses.failFor(0))
	})
}
