package sesmail_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/portfoliotracker/tracker/shared/adapters/sesmail"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The message reaches the emulator's inbox as the notifier built it: both parts, the subject, the sender, and the
// unsubscribe headers SES must carry into the MIME message.
func TestSendEmailReachesTheInbox(t *testing.T) {
	to := testenv.UniqueEmail(t, "alice")
	// Built as the notifier builds it: the endpoint comes from AWS_ENDPOINT_URL_SESV2.
	mailer, err := sesmail.NewFromConfig(testenv.AWSConfig(t, testenv.SESService), sesmail.Config{From: "Portfolio Tracker <alerts@example.test>", ConfigurationSet: "pt-test"})
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe := "<https://api.example.test/unsubscribe?token=v1.abc>"
	id, err := mailer.SendEmail(t.Context(), notifier.Email{
		To:      to,
		Subject: "AAPL crossed 200.00 — now 201.50 €",
		HTML:    "<p>AAPL is at <b>201.50</b></p>",
		Text:    "AAPL is at 201.50",
		Headers: map[string]string{"List-Unsubscribe": unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
	})
	if err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	if id == "" {
		t.Error("no message ID")
	}
	inbox := testenv.SESInbox(t, to)
	if len(inbox) != 1 {
		t.Fatalf("inbox of %s has %d messages, want 1", to, len(inbox))
	}
	got := inbox[0]
	checks := []struct{ what, got, want string }{
		{"message ID", got.MessageID, id},
		{"from", got.From, "Portfolio Tracker <alerts@example.test>"},
		{"subject", got.Subject, "AAPL crossed 200.00 — now 201.50 €"},
		{"html", got.Body.HTML, "<p>AAPL is at <b>201.50</b></p>"},
		{"text", got.Body.Text, "AAPL is at 201.50"},
		{"List-Unsubscribe", got.Header("List-Unsubscribe"), unsubscribe},
		{"List-Unsubscribe-Post", got.Header("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

// A text-only message (an SMS-like digest line) is sent without an HTML part.
func TestSendEmailTextOnly(t *testing.T) {
	to := testenv.UniqueEmail(t, "bob")
	mailer, err := sesmail.New(testenv.SESv2(t), sesmail.Config{From: "alerts@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mailer.SendEmail(t.Context(), notifier.Email{To: to, Subject: "s", Text: "plain"}); err != nil {
		t.Fatal(err)
	}
	inbox := testenv.SESInbox(t, to)
	if len(inbox) != 1 || inbox[0].Body.Text != "plain" || inbox[0].Body.HTML != "" {
		t.Fatalf("inbox = %+v, want one text-only message", inbox)
	}
}

// A request SES refuses as malformed is permanent: the emulator refuses a message without a subject with a bare 400,
// as it refuses what its schema does not accept.
func TestSendEmailRefusedIsPermanent(t *testing.T) {
	to := testenv.UniqueEmail(t, "carla")
	mailer, err := sesmail.New(testenv.SESv2(t), sesmail.Config{From: "alerts@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mailer.SendEmail(t.Context(), notifier.Email{To: to, Text: "no subject"})
	if !errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
	if strings.Contains(err.Error(), to) {
		t.Errorf("error %q names the address", err)
	}
	if n := len(testenv.SESInbox(t, to)); n != 0 {
		t.Errorf("inbox has %d messages, want none", n)
	}
}

// An unreachable endpoint (the email service down) is transient: the notifier retries.
func TestSendEmailUnreachableIsTransient(t *testing.T) {
	client := sesv2.NewFromConfig(testenv.AWSConfig(t, testenv.SESService), func(o *sesv2.Options) {
		o.BaseEndpoint = strPtr("http://127.0.0.1:1") // nothing listens on port 1
		o.RetryMaxAttempts = 1
	})
	mailer, err := sesmail.New(client, sesmail.Config{From: "alerts@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mailer.SendEmail(t.Context(), notifier.Email{To: "x@example.test", Subject: "s", Text: "t"})
	if err == nil || errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("err = %v, want a transient error", err)
	}
}

// SES's modelled errors are classified by their code, whatever the status: the refusals of the address or the
// message are permanent, throttling, quotas and a paused account are not.
func TestSendEmailClassifiesSESErrors(t *testing.T) {
	cases := []struct {
		err       error
		permanent bool
	}{
		{&types.MessageRejected{Message: strPtr("Email address is not verified. The following identities failed the check in region US-EAST-1: x@example.test")}, true},
		{&types.MailFromDomainNotVerifiedException{}, true},
		{&types.BadRequestException{Message: strPtr("Missing final '@domain'")}, true},
		{&types.TooManyRequestsException{}, false},
		{&types.LimitExceededException{}, false},
		{&types.SendingPausedException{}, false},
		{&types.AccountSuspendedException{}, false},
		{&types.InternalServiceErrorException{}, false},
		{&smithy.GenericAPIError{Code: "ServiceUnavailable"}, false},
		// As the SDK returns them: the modelled error inside the HTTP response error. A 400 is permanent unless
		// its code is one a later attempt gets past.
		{httpError(400, &types.LimitExceededException{}), false},
		{httpError(400, &smithy.GenericAPIError{Code: "UnknownError"}), true},
		{httpError(403, &smithy.GenericAPIError{Code: "AccessDeniedException"}), false},
		{httpError(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), false},
		{context.DeadlineExceeded, false},
	}
	for _, c := range cases {
		mailer, err := sesmail.New(failingAPI{c.err}, sesmail.Config{From: "alerts@example.test"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = mailer.SendEmail(t.Context(), notifier.Email{To: "x@example.test", Subject: "s", Text: "t"})
		if got := errors.Is(err, notifier.ErrPermanent); got != c.permanent {
			t.Errorf("%T: permanent = %v, want %v (%v)", c.err, got, c.permanent, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%T: the cause is lost: %v", c.err, err)
		}
		if strings.Contains(err.Error(), "x@example.test") {
			t.Errorf("%T: error %q names the address", c.err, err)
		}
	}
}

// httpError is err as the SDK wraps an error response with status.
func httpError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

type failingAPI struct{ err error }

func (f failingAPI) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	return nil, f.err
}

func strPtr(s string) *string { return &s }
