package main

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/portfoliotracker/tracker/shared/app/notifier"
)

type fakeService struct {
	runs       int
	suppressed []notifier.Suppression
}

func (f *fakeService) Run(context.Context) (notifier.RunStats, error) {
	f.runs++
	return notifier.RunStats{Sent: 1}, nil
}

func (f *fakeService) Suppress(_ context.Context, l []notifier.Suppression) error {
	f.suppressed = append(f.suppressed, l...)
	return nil
}

// snsEvent wraps SES notifications as SNS delivers them to a Lambda.
func snsEvent(t *testing.T, messages ...string) json.RawMessage {
	t.Helper()
	type record struct {
		EventSource string         `json:"EventSource"`
		SNS         map[string]any `json:"Sns"`
	}
	var ev struct {
		Records []record `json:"Records"`
	}
	for i, m := range messages {
		ev.Records = append(ev.Records, record{EventSource: "aws:sns", SNS: map[string]any{"MessageId": string(rune('a' + i)), "Message": m, "Type": "Notification"}})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTheScheduleRunsTheNotifier(t *testing.T) {
	f := &fakeService{}
	out, err := handle(context.Background(), f, json.RawMessage(`{"mode":"deliver"}`))
	if err != nil || f.runs != 1 || out.(notifier.RunStats).Sent != 1 {
		t.Fatalf("out %v err %v runs %d", out, err, f.runs)
	}
	for _, bad := range []string{`{"mode":"weekly"}`, `{}`, `[1]`, `nope`} {
		if _, err := handle(context.Background(), f, json.RawMessage(bad)); !errors.Is(err, errBadInput) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestBouncesAndComplaintsSuppressTheirAddresses(t *testing.T) {
	f := &fakeService{}
	permanent := `{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",
	  "bouncedRecipients":[{"emailAddress":"gone@example.test","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},"mail":{"messageId":"m1"}}`
	transient := `{"eventType":"Bounce","bounce":{"bounceType":"Transient","bouncedRecipients":[{"emailAddress":"full@example.test"}]}}`
	complaint := `{"notificationType":"Complaint","complaint":{"complaintFeedbackType":"abuse","complainedRecipients":[{"emailAddress":"Angry <Angry@example.test>"}]}}`
	delivery := `{"eventType":"Delivery","delivery":{"recipients":["ok@example.test"]}}`
	out, err := handle(context.Background(), f, snsEvent(t, permanent, transient, complaint, delivery))
	if err != nil {
		t.Fatal(err)
	}
	want := []notifier.Suppression{
		{Address: "gone@example.test", Reason: "bounce", Detail: "Permanent/General: smtp; 550 5.1.1 user unknown"},
		{Address: "angry@example.test", Reason: "complaint", Detail: "complaint: abuse"},
	}
	if !reflect.DeepEqual(f.suppressed, want) || out.(map[string]int)["suppressed"] != 2 {
		t.Fatalf("suppressed %+v (out %v)", f.suppressed, out)
	}
	if _, err := handle(context.Background(), f, snsEvent(t, "not json")); !errors.Is(err, errBadInput) {
		t.Fatalf("a message that is not SES's: %v", err)
	}
}
