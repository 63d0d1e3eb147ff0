package sesmail_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/sesmail"
)

// The notifications as SES documents them (event publishing's eventType, identity feedback's notificationType).
func TestParseFeedback(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		message string
		want    sesmail.Feedback
	}{
		{"a permanent bounce from a configuration set", `{"eventType":"Bounce",
			"bounce":{"bounceType":"Permanent","bounceSubType":"General","timestamp":"2026-06-01T12:00:00.000Z",
			"bouncedRecipients":[{"emailAddress":"Alice@Example.test","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},
			"mail":{"messageId":"0100-abc","source":"alerts@example.test","destination":["Alice@Example.test"]}}`,
			sesmail.Feedback{Reason: "bounce", Addresses: []string{"alice@example.test"}, MessageID: "0100-abc", At: at,
				Detail: "Permanent/General: smtp; 550 5.1.1 user unknown"}},
		{"a complaint through identity notifications", `{"notificationType":"Complaint",
			"complaint":{"complainedRecipients":[{"emailAddress":"Bob <bob@example.test>"}],"complaintFeedbackType":"abuse","timestamp":"2026-06-01T12:00:00Z"},
			"mail":{"messageId":"0100-def"}}`,
			sesmail.Feedback{Reason: "complaint", Addresses: []string{"bob@example.test"}, MessageID: "0100-def", At: at, Detail: "complaint: abuse"}},
		{"a transient bounce suppresses nothing", `{"eventType":"Bounce",
			"bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","timestamp":"2026-06-01T12:00:00Z",
			"bouncedRecipients":[{"emailAddress":"carla@example.test"}]},"mail":{"messageId":"0100-ghi"}}`,
			sesmail.Feedback{MessageID: "0100-ghi", At: at}},
		{"a delivery suppresses nothing", `{"eventType":"Delivery","delivery":{},"mail":{"messageId":"0100-jkl"}}`,
			sesmail.Feedback{MessageID: "0100-jkl"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sesmail.ParseFeedback([]byte(c.message))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if got.Suppress() != (c.want.Reason != "") {
				t.Errorf("Suppress() = %v", got.Suppress())
			}
		})
	}
	for _, bad := range []string{`not json`, `{"Type":"Notification"}`, `{"eventType":"Bounce"}`} {
		if _, err := sesmail.ParseFeedback([]byte(bad)); err == nil {
			t.Errorf("ParseFeedback(%s) accepted it", bad)
		}
	}
}
