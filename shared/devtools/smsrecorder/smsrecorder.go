// Package smsrecorder stands in for Amazon SNS's SMS sending where no SNS runs: the local stack and the tests. It
// answers the SNS Publish request aws-sdk-go-v2 sends for a text message (the awsQuery protocol: a form POST with
// Action=Publish, PhoneNumber, Message and MessageAttributes) the way SNS does, records the message instead of
// sending it, and lists what it recorded as JSON (the local stack's admin endpoint GET /sms serves that list).
// It refuses what SNS refuses for SMS (a number that is not E.164, an empty or over-long message) with SNS's error
// shape, so the sender's error classification is exercised against the same codes.
package smsrecorder

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Message is one recorded text message.
type Message struct {
	MessageID   string    `json:"messageId"`
	PhoneNumber string    `json:"phoneNumber"`
	Message     string    `json:"message"`
	SMSType     string    `json:"smsType,omitempty"`  // AWS.SNS.SMS.SMSType: Transactional or Promotional
	SenderID    string    `json:"senderId,omitempty"` // AWS.SNS.SMS.SenderID
	At          time.Time `json:"at"`
	// Attributes are every message attribute's string value, by name.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Recorder is an http.Handler speaking SNS Publish for SMS. Its methods are safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	messages []Message
	now      func() time.Time
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{now: time.Now} }

// Messages returns what was recorded, oldest first.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.messages...)
}

// To returns the messages recorded for phoneNumber, oldest first.
func (r *Recorder) To(phoneNumber string) []Message {
	var out []Message
	for _, m := range r.Messages() {
		if m.PhoneNumber == phoneNumber {
			out = append(out, m)
		}
	}
	return out
}

// ListHandler serves the recorded messages as JSON, {"messages": [...]}, optionally only those to ?phone=.
func (r *Recorder) ListHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		msgs := r.Messages()
		if phone := req.URL.Query().Get("phone"); phone != "" {
			msgs = r.To(phone)
		}
		if msgs == nil {
			msgs = []Message{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": msgs})
	})
}

// e164 is what SNS accepts as PhoneNumber: a plus sign and up to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// maxMessageBytes is SNS's limit on an SMS Publish's message (it splits longer text into parts up to this).
const maxMessageBytes = 1600

// ServeHTTP answers POST / with Action=Publish.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "Sender", "InvalidAction", "SNS takes POST requests")
		return
	}
	// SNS refuses an unsigned request; the SDK always signs, so a missing signature is a client built wrong.
	if !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		writeError(w, http.StatusForbidden, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	}
	if err := req.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error())
		return
	}
	form := req.PostForm
	if action := form.Get("Action"); action != "Publish" {
		writeError(w, http.StatusBadRequest, "Sender", "InvalidAction", fmt.Sprintf("The action %s is not valid for this endpoint (the recorder takes SMS Publish only).", action))
		return
	}
	phone, text := form.Get("PhoneNumber"), form.Get("Message")
	switch {
	case form.Get("TopicArn") != "" || form.Get("TargetArn") != "":
		writeError(w, http.StatusBadRequest, "Sender", "InvalidParameter", "Invalid parameter: the recorder takes SMS Publish only (PhoneNumber), not topics or endpoints")
		return
	case phone == "":
		writeError(w, http.StatusBadRequest, "Sender", "InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
		return
	case !e164.MatchString(phone):
		writeError(w, http.StatusBadRequest, "Sender", "InvalidParameter", "Invalid parameter: PhoneNumber Reason: "+phone+" is not valid to publish to")
		return
	case text == "":
		writeError(w, http.StatusBadRequest, "Sender", "InvalidParameter", "Invalid parameter: Empty message")
		return
	case len(text) > maxMessageBytes:
		writeError(w, http.StatusBadRequest, "Sender", "InvalidParameter", "Invalid parameter: Message too long")
		return
	}
	attrs := attributes(form)
	if t := attrs["AWS.SNS.SMS.SMSType"]; t != "" && t != "Transactional" && t != "Promotional" {
		writeError(w, http.StatusBadRequest, "Sender", "ParameterValueInvalid", "The value of AWS.SNS.SMS.SMSType must be Promotional or Transactional")
		return
	}
	m := Message{MessageID: newID(), PhoneNumber: phone, Message: text, SMSType: attrs["AWS.SNS.SMS.SMSType"],
		SenderID: attrs["AWS.SNS.SMS.SenderID"], Attributes: attrs}
	r.mu.Lock()
	m.At = r.now().UTC()
	r.messages = append(r.messages, m)
	r.mu.Unlock()

	requestID := newID()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID)
	_ = xml.NewEncoder(w).Encode(publishResponse{Xmlns: xmlns, MessageID: m.MessageID, RequestID: requestID})
}

// attributes reads MessageAttributes.entry.N.Name / .Value.StringValue pairs, as the query protocol flattens the map.
func attributes(form map[string][]string) map[string]string {
	out := map[string]string{}
	for n := 1; ; n++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(n) + "."
		name, ok := form[prefix+"Name"]
		if !ok || len(name) == 0 {
			break
		}
		if v := form[prefix+"Value.StringValue"]; len(v) > 0 {
			out[name[0]] = v[0]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

const xmlns = "http://sns.amazonaws.com/doc/2010-03-31/"

type publishResponse struct {
	XMLName   xml.Name `xml:"PublishResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	MessageID string   `xml:"PublishResult>MessageId"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, status int, typ, code, message string) {
	requestID := newID()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(errorResponse{Xmlns: xmlns, Type: typ, Code: code, Message: message, RequestID: requestID})
}

// newID is a UUID-shaped random ID, as SNS's message and request IDs are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
