package smsrecorder_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/devtools/smsrecorder"
)

// The query-protocol request as the SDK flattens it, and the list the admin endpoint serves.
func TestPublishAndList(t *testing.T) {
	rec := smsrecorder.New()
	form := url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "PhoneNumber": {"+4915155500001"}, "Message": {"hello"},
		"MessageAttributes.entry.1.Name": {"AWS.SNS.SMS.SMSType"}, "MessageAttributes.entry.1.Value.DataType": {"String"},
		"MessageAttributes.entry.1.Value.StringValue": {"Transactional"},
		"MessageAttributes.entry.2.Name":              {"AWS.SNS.SMS.SenderID"}, "MessageAttributes.entry.2.Value.DataType": {"String"},
		"MessageAttributes.entry.2.Value.StringValue": {"PTRACKER"}}
	for _, c := range []struct {
		name   string
		auth   string
		form   url.Values
		status int
		code   string
	}{
		{"unsigned", "", form, http.StatusForbidden, "MissingAuthenticationToken"},
		{"a topic", "AWS4-HMAC-SHA256 x", with(form, "TopicArn", "arn:aws:sns:us-east-1:1:t"), http.StatusBadRequest, "InvalidParameter"},
		{"another action", "AWS4-HMAC-SHA256 x", with(form, "Action", "Subscribe"), http.StatusBadRequest, "InvalidAction"},
		{"a promotional typo", "AWS4-HMAC-SHA256 x", with(form, "MessageAttributes.entry.1.Value.StringValue", "Urgent"), http.StatusBadRequest, "ParameterValueInvalid"},
		{"published", "AWS4-HMAC-SHA256 x", form, http.StatusOK, ""},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(c.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		rec.ServeHTTP(w, req)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.code) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, w.Code, w.Body, c.status, c.code)
		}
	}
	w := httptest.NewRecorder()
	rec.ListHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sms?phone=%2B4915155500001", nil))
	var list struct{ Messages []smsrecorder.Message }
	if err := json.NewDecoder(w.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Messages) != 1 {
		t.Fatalf("listed %d messages, want 1", len(list.Messages))
	}
	m := list.Messages[0]
	if m.Message != "hello" || m.SMSType != "Transactional" || m.SenderID != "PTRACKER" || m.MessageID == "" || m.At.IsZero() {
		t.Errorf("listed %+v", m)
	}
}

func with(form url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set(key, value)
	return out
}
