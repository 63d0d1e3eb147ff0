package smssns_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/portfoliotracker/tracker/shared/adapters/smssns"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/devtools/smsrecorder"
)

// recorded starts an SMS recorder and returns it with an SNS client pointed at it, built as production builds one
// (SigV4, the query protocol) but with one attempt, so an error is seen as SNS returned it.
func recorded(t *testing.T) (*smsrecorder.Recorder, *sns.Client) {
	t.Helper()
	rec := smsrecorder.New()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	client := sns.New(sns.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	return rec, client
}

func TestSendSMSIsRecordedAsTransactional(t *testing.T) {
	rec, client := recorded(t)
	id, err := smssns.New(client).SendSMS(t.Context(), notifier.SMS{To: "+15555550123", Body: "Your Portfolio Tracker code is 123456"})
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	got := rec.To("+15555550123")
	if len(got) != 1 {
		t.Fatalf("recorded %d messages to the number, want 1: %+v", len(got), rec.Messages())
	}
	m := got[0]
	if m.MessageID != id || m.Message != "Your Portfolio Tracker code is 123456" || m.SMSType != "Transactional" {
		t.Errorf("recorded %+v, want ID %s, the body and SMSType Transactional", m, id)
	}
}

// Built as the notifier builds it, the sender finds its endpoint in AWS_ENDPOINT_URL_SNS, which the local stack sets.
func TestSendSMSFindsTheEndpointInTheEnvironment(t *testing.T) {
	rec := smsrecorder.New()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SNS", srv.URL)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := smssns.NewFromConfig(cfg).SendSMS(t.Context(), notifier.SMS{To: "+15555550199", Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.To("+15555550199")); n != 1 {
		t.Errorf("recorded %d messages, want 1", n)
	}
}

// A number SNS cannot publish to is permanent, and the error does not carry the number.
func TestSendSMSInvalidNumberIsPermanent(t *testing.T) {
	rec, client := recorded(t)
	_, err := smssns.New(client).SendSMS(t.Context(), notifier.SMS{To: "5555550123", Body: "x"})
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameter" {
		t.Errorf("err = %v, want SNS's InvalidParameter", err)
	}
	if strings.Contains(err.Error(), "5555550123") {
		t.Errorf("error %q names the number", err)
	}
	if n := len(rec.Messages()); n != 0 {
		t.Errorf("recorded %d messages, want none", n)
	}
}

func TestSendSMSUnreachableIsTransient(t *testing.T) {
	client := sns.New(sns.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	_, err := smssns.New(client).SendSMS(t.Context(), notifier.SMS{To: "+15555550123", Body: "x"})
	if err == nil || errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("err = %v, want a transient error", err)
	}
}

func TestSendSMSClassifiesSNSErrors(t *testing.T) {
	cases := []struct {
		err       error
		permanent bool
	}{
		{&types.InvalidParameterException{}, true},
		{&types.InvalidParameterValueException{}, true},
		{&types.OptedOutException{}, true},
		{&types.EndpointDisabledException{}, true},
		{&types.ThrottledException{}, false},
		{&types.InternalErrorException{}, false},
		{&types.AuthorizationErrorException{}, false},
		{&types.KMSThrottlingException{}, false},
		{context.DeadlineExceeded, false},
	}
	for _, c := range cases {
		_, err := smssns.New(failingAPI{c.err}).SendSMS(t.Context(), notifier.SMS{To: "+15555550123", Body: "x"})
		if got := errors.Is(err, notifier.ErrPermanent); got != c.permanent {
			t.Errorf("%T: permanent = %v, want %v (%v)", c.err, got, c.permanent, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%T: the cause is lost: %v", c.err, err)
		}
	}
}

type failingAPI struct{ err error }

func (f failingAPI) Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return nil, f.err
}
