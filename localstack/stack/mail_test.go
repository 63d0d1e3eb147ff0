package stack

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/portfoliotracker/tracker/shared/adapters/sesmail"
	"github.com/portfoliotracker/tracker/shared/adapters/smssns"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/devtools/smsrecorder"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A function that sends mail and SMS is given the stand-ins' endpoints, and the sender, the configuration set, the
// signing key and the public API URL it declares; one that sends neither gets no endpoint.
func TestMailEnvMirrorsTheTopology(t *testing.T) {
	e := endpoints{dynamoDB: "http://ddb", kinesis: "http://kin", dataDir: "/data", sesAPI: "http://admin/aws/sesv2",
		snsAPI: "http://admin/aws/sns", publicAPI: "http://api", notificationKey: "k", traces: "http://admin/v1/traces"}
	mailer := topology.Function{Name: "mailer", SendsEmail: true, SendsSMS: true, Secrets: []string{topology.NotificationKey},
		Settings: []topology.Setting{
			{Name: topology.MailFromEnvVar, Required: true, SetBy: topology.BothStacks, Meaning: "the sender"},
			{Name: topology.SESConfigurationSetEnvVar, Required: true, SetBy: topology.BothStacks, Meaning: "the configuration set"},
			{Name: topology.PublicAPIURLEnvVar, Required: true, SetBy: topology.BothStacks, Meaning: "the links' base"},
		},
		Triggers: []topology.Trigger{{Kind: topology.SNSTopic, Source: topology.SESEventsTopic}}}
	got := map[string]string{}
	for _, kv := range functionEnv(mailer, "pt-local-", e) {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k := range sdkEnv(e) {
		delete(got, k)
	}
	want := map[string]string{
		"AWS_ENDPOINT_URL_SESV2": "http://admin/aws/sesv2", "AWS_ENDPOINT_URL_SNS": "http://admin/aws/sns",
		topology.MailFromEnvVar: localMailFrom, topology.SESConfigurationSetEnvVar: "pt-local-notifications",
		"NOTIFICATION_KEY": "k", "PUBLIC_API_URL": "http://api", topology.TracesEndpointEnvVar: "http://admin/v1/traces",
		topology.StageEnvVar: Stage,
	}
	if !maps.Equal(got, want) {
		t.Errorf("the mailer gets\n %v\nwant\n %v", got, want)
	}
	// Exactly what the topology says the local stack sets, plus the two endpoints.
	for _, s := range mailer.Environment() {
		if _, ok := got[s.Name]; ok != (s.SetBy&topology.LocalStack != 0) {
			t.Errorf("%s: given %v, but the topology says the local stack sets it: %v", s.Name, ok, s.SetBy&topology.LocalStack != 0)
		}
	}
	// A setting only the deployed stack sets is not given here.
	cdkOnly := mailer
	cdkOnly.Settings = []topology.Setting{{Name: topology.SESConfigurationSetEnvVar, SetBy: topology.CDKStack, Meaning: "the configuration set"}}
	if env := functionEnv(cdkOnly, "pt-local-", e); slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, topology.SESConfigurationSetEnvVar+"=") }) {
		t.Errorf("a setting only the CDK stack sets is given locally: %v", env)
	}
	for _, kv := range functionEnv(topology.Function{Name: "quiet"}, "pt-local-", e) {
		if k, _, _ := strings.Cut(kv, "="); k == "AWS_ENDPOINT_URL_SESV2" || k == "AWS_ENDPOINT_URL_SNS" || k == topology.MailFromEnvVar {
			t.Errorf("a function that sends nothing gets %s", k)
		}
	}
}

// mailAdmin serves the admin endpoint's mail routes in front of the test run's aws-ses-v2-local.
func mailAdmin(t *testing.T) (*Stack, *httptest.Server) {
	t.Helper()
	m, err := newMail(t.TempDir(), testenv.SESURL(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{cfg: Defaults("/r"), mail: m}
	mux := http.NewServeMux()
	s.mailRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

// The functions' SESv2 endpoint reaches aws-ses-v2-local, until an outage takes it down: then a send fails as a
// transient error, and succeeds again once the outage ends.
func TestEmailEndpointAndItsOutage(t *testing.T) {
	s, srv := mailAdmin(t)
	client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL + sesAPIPath), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	mailer, err := sesmail.New(client, sesmail.Config{From: localMailFrom, ConfigurationSet: "pt-local-notifications"})
	if err != nil {
		t.Fatal(err)
	}
	to := testenv.UniqueEmail(t, "outage")
	send := func() error {
		_, err := mailer.SendEmail(t.Context(), notifier.Email{To: to, Subject: "AAPL", Text: "AAPL crossed 200"})
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	post(t, srv.URL+"/faults/email?for=1h", http.StatusOK)
	if err := send(); err == nil || errors.Is(err, notifier.ErrPermanent) {
		t.Fatalf("during the outage: %v, want a transient error", err)
	}
	if st := s.mail.ses.status(); !st.Down || st.Refused != 1 {
		t.Errorf("outage status %+v, want down with one refusal", st)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/faults/email", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE /faults/email: %v %v", resp, err)
	}
	if err := send(); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if n := len(testenv.SESInbox(t, to)); n != 2 {
		t.Errorf("the inbox has %d messages, want 2 (none during the outage)", n)
	}
}

// The functions' SNS endpoint records the SMS, and GET /sms lists it.
func TestSMSEndpointRecordsAndLists(t *testing.T) {
	_, srv := mailAdmin(t)
	client := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL + snsAPIPath), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	if _, err := smssns.New(client).SendSMS(t.Context(), notifier.SMS{To: "+15555550100", Body: "code 123456"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/sms?phone=%2B15555550100")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Messages []smsrecorder.Message }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Messages) != 1 || list.Messages[0].Message != "code 123456" || list.Messages[0].SMSType != "Transactional" {
		t.Errorf("GET /sms = %+v", list.Messages)
	}
}

// POST /ses/events refuses what is no SES notification, and says so when no function subscribes to the topic.
func TestSESEventsNeedANotificationAndASubscriber(t *testing.T) {
	_, srv := mailAdmin(t)
	post(t, srv.URL+"/ses/events", http.StatusBadRequest)
	subscribed := slices.ContainsFunc(Defaults("/r").Functions(), func(f topology.Function) bool {
		return slices.ContainsFunc(f.Triggers, func(tr topology.Trigger) bool { return tr.Kind == topology.SNSTopic })
	})
	if !subscribed {
		post(t, srv.URL+"/ses/events?bounce=alice@example.test", http.StatusConflict)
	}
}

// The simulated notifications decode as the bounce and complaint they stand for, and reach a subscriber in the
// SNS event Lambda's trigger delivers.
func TestSimulatedSESNotifications(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for kind, detail := range map[string]string{"bounce": "Permanent/General: smtp; 550 5.1.1 user unknown (simulated by the local stack)", "complaint": "complaint: abuse"} {
		msg, err := sesNotification(kind, "Alice@Example.test", at)
		if err != nil {
			t.Fatal(err)
		}
		f, err := sesmail.ParseFeedback(msg)
		if err != nil {
			t.Fatal(err)
		}
		if f.Reason != kind || !slices.Equal(f.Addresses, []string{"alice@example.test"}) || f.Detail != detail || !f.At.Equal(at) {
			t.Errorf("%s: decoded %+v", kind, f)
		}
		ev := snsEvent("pt-local-", msg, at)
		if len(ev.Records) != 1 || ev.Records[0].SNS.Message != string(msg) || !strings.HasSuffix(ev.Records[0].SNS.TopicArn, ":pt-local-ses-events") {
			t.Errorf("%s: SNS event %+v", kind, ev)
		}
	}
	if _, err := sesNotification("delivery", "a@example.test", at); err == nil {
		t.Error("an unknown kind accepted")
	}
}

func post(t *testing.T, url string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d", url, resp.StatusCode, want)
	}
}
