package notifier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

var key = []byte("test-notification-key")

// fakeMailer records what it sends; fail, when set, decides each send's error.
type fakeMailer struct {
	mu   sync.Mutex
	sent []notifier.Email
	fail func(n int) error // n: the attempt's number, from 1
	n    int
}

func (m *fakeMailer) SendEmail(_ context.Context, e notifier.Email) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	if m.fail != nil {
		if err := m.fail(m.n); err != nil {
			return "", err
		}
	}
	m.sent = append(m.sent, e)
	return fmt.Sprintf("msg-%d", m.n), nil
}

func (m *fakeMailer) emails() []notifier.Email {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notifier.Email(nil), m.sent...)
}

type fakeSMS struct {
	mu   sync.Mutex
	sent []notifier.SMS
}

func (s *fakeSMS) SendSMS(_ context.Context, m notifier.SMS) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return fmt.Sprintf("sms-%d", len(s.sent)), nil
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

type fixture struct {
	t     *testing.T
	pool  *pgxpool.Pool
	mail  *fakeMailer
	sms   *fakeSMS
	clock *clock
	svc   *notifier.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool, _ := rmtest.DB(t)
	f := &fixture{t: t, pool: pool, mail: &fakeMailer{}, sms: &fakeSMS{}, clock: &clock{now: time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC)}}
	f.svc = f.service()
	return f
}

func (f *fixture) service() *notifier.Service {
	r, err := notifier.NewRenderer("https://api.example.test/", key)
	if err != nil {
		f.t.Fatal(err)
	}
	return notifier.New(readmodel.NewNotifications(f.pool), f.mail, f.sms, r, notifier.Options{Clock: f.clock.Now})
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// profile gives user a verified address and prefs.
func (f *fixture) profile(user, email string, prefs notify.Preferences, tz string) {
	f.t.Helper()
	b, _ := json.Marshal(prefs)
	f.exec(`insert into profiles (user_id, email, email_confirmed_at, display_name, time_zone, notification_preferences)
values ($1, $2, now(), 'Ada', $3, $4::jsonb)
on conflict (user_id) do update set email = excluded.email, notification_preferences = excluded.notification_preferences, time_zone = excluded.time_zone`,
		user, email, tz, string(b))
}

// fire records a firing in alert_history, as the prices consumer does: the
// trigger queues it in the outbox.
func (f *fixture) fire(user, ruleID, key, symbol string, observed, threshold string, at time.Time) {
	f.t.Helper()
	f.exec(`insert into alert_history (firing_key, rule_id, user_id, kind, symbol, observed, threshold, fired_at)
values ($1, $2, $3, 'price_above', $4, $5::numeric, $6::numeric, $7) on conflict do nothing`,
		user+":"+key, user+":"+ruleID, user, symbol, observed, threshold, at)
}

func (f *fixture) run() notifier.RunStats {
	f.t.Helper()
	st, err := f.svc.Run(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

type deliveryRow struct {
	Channel, Status string
	Attempts        int
}

func (f *fixture) deliveries(user string) []deliveryRow {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `select channel, status, attempts from notification_deliveries where user_id = $1 order by id`, user)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []deliveryRow
	for rows.Next() {
		var d deliveryRow
		if err := rows.Scan(&d.Channel, &d.Status, &d.Attempts); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func (f *fixture) attempts(user string) []string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `select outcome from notification_attempts where user_id = $1 order by id`, user)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

const user = rmtest.UserA

var emailAndLive = notify.Preferences{Channels: []notify.Channel{notify.ChannelEmail, notify.ChannelWebSocket}, Digest: notify.DigestOff}

func TestAFiringIsEmailedOnceWithItsFiguresAndAnUnsubscribeLink(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "Europe/Berlin")
	f.exec(`insert into portfolios (id, user_id, name, base_currency, lot_method, version, created_at, updated_at) values ('p1', $1, 'Retirement', 'USD', 'FIFO', 1, now(), now())`, user)
	f.exec(`insert into alert_history (firing_key, rule_id, user_id, kind, symbol, portfolio_id, observed, threshold, fired_at)
values ($1, $2, $3, 'price_above', 'AAPL', 'p1', 201.5, 200, $4)`, user+":r1#1", user+":r1", user, f.clock.Now())

	st := f.run()
	if st.Planned != 1 || st.Sent != 1 || st.Messages != 1 {
		t.Fatalf("run = %+v, want 1 planned and 1 sent", st)
	}
	mails := f.mail.emails()
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	m := mails[0]
	if m.To != "ada@example.test" || m.Subject != "AAPL rose above 200" {
		t.Errorf("to %q subject %q", m.To, m.Subject)
	}
	for _, part := range []string{m.HTML, m.Text} {
		for _, want := range []string{"201.5", "200", "Retirement", "Ada", "Wed 10 Jun 2026, 12:00 CEST"} {
			if !strings.Contains(part, want) {
				t.Errorf("the message lacks %q:\n%s", want, part)
			}
		}
	}
	link := strings.Trim(m.Headers["List-Unsubscribe"], "<>")
	if m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.HasPrefix(link, "https://api.example.test/unsubscribe?token=") ||
		!strings.Contains(m.Text, link) || !strings.Contains(m.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
		t.Fatalf("unsubscribe headers %v", m.Headers)
	}
	u, _ := url.Parse(link)
	if got, scope, err := notify.VerifyUnsubscribeToken(key, u.Query().Get("token")); err != nil || got != user || scope != notify.ScopeEmail {
		t.Fatalf("the link's token: %q %q %v", got, scope, err)
	}
	want := []deliveryRow{{"email", "sent", 1}, {"websocket", "sent", 0}}
	if got := f.deliveries(user); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries %v, want %v", got, want)
	}

	// A retried batch records the same firing again: nothing new is sent.
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	f.clock.Set(f.clock.Now().Add(time.Hour))
	if st := f.run(); st.Planned != 0 || st.Claimed != 0 || len(f.mail.emails()) != 1 {
		t.Fatalf("second run = %+v, %d emails", st, len(f.mail.emails()))
	}
}

func TestTransientFailuresRetryWithBackoffAndEveryAttemptIsRecorded(t *testing.T) {
	f := newFixture(t)
	var metrics bytes.Buffer
	r, err := notifier.NewRenderer("https://api.example.test", key)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = notifier.New(readmodel.NewNotifications(f.pool), f.mail, f.sms, r,
		notifier.Options{Clock: f.clock.Now, Metrics: emf.New(&metrics, map[string]string{"Function": "notifier"})})
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	f.mail.fail = func(n int) error {
		if n <= 2 {
			return errors.New("connection refused")
		}
		return nil
	}
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	if st := f.run(); st.Retried != 1 || st.Sent != 0 {
		t.Fatalf("first run %+v", st)
	}
	// Not due again before its backoff (1 minute).
	f.clock.Set(f.clock.Now().Add(30 * time.Second))
	if st := f.run(); st.Claimed != 0 {
		t.Fatalf("claimed before the backoff: %+v", st)
	}
	f.clock.Set(f.clock.Now().Add(31 * time.Second))
	if st := f.run(); st.Retried != 1 {
		t.Fatalf("second attempt %+v", st)
	}
	// The second backoff is 2 minutes.
	f.clock.Set(f.clock.Now().Add(119 * time.Second))
	if st := f.run(); st.Claimed != 0 {
		t.Fatalf("claimed before the second backoff: %+v", st)
	}
	f.clock.Set(f.clock.Now().Add(2 * time.Second))
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("third attempt %+v", st)
	}
	if got := f.attempts(user); fmt.Sprint(got) != "[retry retry sent]" {
		t.Fatalf("attempts %v", got)
	}
	// The run's totals, and the same again on the e-mail channel's lines.
	var retried, sent, emailRetried, emailSent float64
	for _, line := range strings.Split(strings.TrimSpace(metrics.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		switch m["Channel"] {
		case nil:
			retried += m["NotificationsRetried"].(float64)
			sent += m["NotificationsSent"].(float64)
		case "email":
			emailRetried += m["NotificationsRetried"].(float64)
			emailSent += m["NotificationsSent"].(float64)
		default:
			t.Fatalf("a line of channel %v", m["Channel"])
		}
	}
	if retried != 2 || sent != 1 || emailRetried != 2 || emailSent != 1 {
		t.Fatalf("metrics: %v retried, %v sent (email: %v, %v)\n%s", retried, sent, emailRetried, emailSent, metrics.String())
	}
	if len(f.mail.emails()) != 1 {
		t.Fatalf("%d emails sent", len(f.mail.emails()))
	}
}

func TestRefusedAndExhaustedDeliveriesFail(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	f.mail.fail = func(int) error { return fmt.Errorf("address rejected: %w", notifier.ErrPermanent) }
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	if st := f.run(); st.Failed != 1 {
		t.Fatalf("a refused address: %+v", st)
	}
	// A provider down all day: retried within 24 h of the first attempt
	// (backoff at most an hour), then failed.
	f.mail.fail = func(int) error { return errors.New("throttled") }
	f.fire(user, "r1", "r1#2", "AAPL", "202", "200", f.clock.Now())
	f.run()
	for i := 0; i < 23; i++ {
		f.clock.Set(f.clock.Now().Add(time.Hour))
		f.run()
	}
	if got := f.deliveries(user); fmt.Sprint(got) != "[{email failed 1} {websocket sent 0} {email pending 24} {websocket sent 0}]" {
		t.Fatalf("after 23 hours: %v", got)
	}
	f.clock.Set(f.clock.Now().Add(time.Hour))
	f.run()
	if got := f.deliveries(user); fmt.Sprint(got) != "[{email failed 1} {websocket sent 0} {email failed 25} {websocket sent 0}]" {
		t.Fatalf("deliveries %v", got)
	}
}

func TestQuietHoursHoldAlertsUntilOneDigest(t *testing.T) {
	f := newFixture(t)
	prefs := emailAndLive
	prefs.QuietHours = &notify.QuietHours{Start: "22:00", End: "07:00"}
	f.profile(user, "ada@example.test", prefs, "Europe/Berlin")
	night := time.Date(2026, 6, 10, 21, 0, 0, 0, time.UTC) // 23:00 in Berlin
	f.clock.Set(night)
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", night)
	f.fire(user, "r2", "r2#1", "MSFT", "410", "400", night)
	if st := f.run(); st.Planned != 2 || st.Claimed != 0 || len(f.mail.emails()) != 0 {
		t.Fatalf("during quiet hours: %+v", st)
	}
	f.clock.Set(time.Date(2026, 6, 11, 4, 59, 0, 0, time.UTC)) // 06:59 in Berlin
	if st := f.run(); st.Claimed != 0 {
		t.Fatalf("before their end: %+v", st)
	}
	f.clock.Set(time.Date(2026, 6, 11, 5, 0, 0, 0, time.UTC))
	st := f.run()
	mails := f.mail.emails()
	if st.Sent != 2 || st.Messages != 1 || len(mails) != 1 {
		t.Fatalf("after quiet hours: %+v, %d emails", st, len(mails))
	}
	if m := mails[0]; m.Subject != "2 alerts while you were away" || !strings.Contains(m.Text, "AAPL rose above 200") || !strings.Contains(m.Text, "MSFT rose above 400") {
		t.Fatalf("digest %q:\n%s", m.Subject, m.Text)
	}
	var digests int
	if err := f.pool.QueryRow(context.Background(), `select count(distinct digest_id) from notification_deliveries where channel = 'email'`).Scan(&digests); err != nil || digests != 1 {
		t.Fatalf("digest IDs: %d %v", digests, err)
	}
}

func TestSuppressedUnsubscribedAndUnverifiedAddressesGetNothing(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "Ada@Example.test", emailAndLive, "UTC")
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	// The address bounced (in another case).
	if err := f.svc.Suppress(context.Background(), []notifier.Suppression{{Address: "ada@example.TEST", Reason: "bounce", Detail: "Permanent"}}); err != nil {
		t.Fatal(err)
	}
	f.run()
	f.fire(user, "r1", "r1#2", "AAPL", "205", "200", f.clock.Now())
	f.run()

	// Bob unsubscribed (e-mail is off in his preferences); his rule names
	// e-mail, which does not override the unsubscribe.
	const other = rmtest.UserB
	f.profile(other, "bob@example.test", emailAndLive.WithoutEmail(), "UTC")
	f.exec(`insert into notification_unsubscribes (user_id, scope) values ($1, 'email')`, other)
	f.exec(`insert into alert_rules (id, user_id, kind, symbol, definition) values ($1, $2, 'price_above', 'AAPL', '{"channels":["email"]}')`,
		other+":r1", other)
	f.fire(other, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	f.run()
	// He turns e-mail on again, but his address is no longer confirmed.
	f.profile(other, "bob@example.test", emailAndLive, "UTC")
	f.exec(`update profiles set email_confirmed_at = null where user_id = $1`, other)
	f.fire(other, "r1", "r1#2", "AAPL", "205", "200", f.clock.Now())
	f.run()

	if n := len(f.mail.emails()); n != 0 {
		t.Fatalf("%d emails sent", n)
	}
	if got := f.deliveries(user); fmt.Sprint(got) != "[{email suppressed 0} {websocket sent 0} {email suppressed 0} {websocket sent 0}]" {
		t.Fatalf("bounced: %v", got)
	}
	if got := f.deliveries(other); fmt.Sprint(got) != "[{email suppressed 0} {email skipped 0}]" {
		t.Fatalf("unsubscribed, then unverified: %v", got)
	}
}

func TestAPhoneCodeIsTextedAndForgotten(t *testing.T) {
	f := newFixture(t)
	f.exec(`insert into notification_outbox (user_id, source, source_key, payload) values ($1, 'phone_code', $2, '{"phone":"+14155550100","code":"123456"}')`,
		user, "phone_code:"+user+":1")
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("run %+v", st)
	}
	if len(f.sms.sent) != 1 || f.sms.sent[0].To != "+14155550100" || !strings.Contains(f.sms.sent[0].Body, "123456") {
		t.Fatalf("sms %+v", f.sms.sent)
	}
	var payload, summary string
	if err := f.pool.QueryRow(context.Background(), `select o.payload::text, d.summary::text from notification_outbox o join notification_deliveries d on d.outbox_id = o.id`).Scan(&payload, &summary); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(payload, "123456") || strings.Contains(summary, "123456") {
		t.Fatalf("the code is kept: payload %s, summary %s", payload, summary)
	}
}

func TestTwoRunsAtOnceSendEachMessageOnce(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	for i := range 30 {
		f.fire(user, "r1", fmt.Sprintf("r1#%d", i), "AAPL", "201.5", "200", f.clock.Now())
	}
	runs := []*notifier.Service{f.service(), f.service(), f.service(), f.service()}
	var wg sync.WaitGroup
	errs := make([]error, len(runs))
	for i, s := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Run(context.Background())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := len(f.mail.emails()); n != 30 {
		t.Fatalf("%d emails for 30 firings", n)
	}
	var attempts int
	if err := f.pool.QueryRow(context.Background(), `select count(*) from notification_attempts`).Scan(&attempts); err != nil || attempts != 30 {
		t.Fatalf("%d attempts, %v", attempts, err)
	}
}

func TestTheHistoryKeepsWhatIsNotFinalAndPrunesTheRestAfterTheRetention(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	f.mail.fail = func(int) error { return errors.New("throttled") }
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	f.run() // pending: retried
	f.mail.fail = nil
	f.fire(user, "r1", "r1#2", "AAPL", "202", "200", f.clock.Now())
	f.exec(`update notification_deliveries set next_attempt_at = $1 where status = 'pending'`, f.clock.Now().Add(365*24*time.Hour))
	f.run() // the second is sent; the first waits a year
	f.clock.Set(f.clock.Now().Add(91 * 24 * time.Hour))
	if st := f.run(); st.Pruned != 1 {
		t.Fatalf("pruned %d, want the sent one", st.Pruned)
	}
	var outbox, deliveries, attempts int
	if err := f.pool.QueryRow(context.Background(), `select (select count(*) from notification_outbox), (select count(*) from notification_deliveries),
  (select count(*) from notification_attempts)`).Scan(&outbox, &deliveries, &attempts); err != nil {
		t.Fatal(err)
	}
	if outbox != 1 || deliveries != 2 || attempts != 1 {
		t.Fatalf("left %d outbox entries, %d deliveries, %d attempts; want the pending one's 1, 2, 1", outbox, deliveries, attempts)
	}
}

func TestAPhoneCodeIsNotRetriedPastItsExpiryAndIsForgottenAnyway(t *testing.T) {
	f := newFixture(t)
	failing := &failingSMS{}
	r, err := notifier.NewRenderer("https://api.example.test", key)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = notifier.New(readmodel.NewNotifications(f.pool), f.mail, failing, r, notifier.Options{Clock: f.clock.Now})
	f.exec(`insert into notification_outbox (user_id, source, source_key, payload, created_at) values ($1, 'phone_code', $2, '{"phone":"+14155550100","code":"654321"}', $3)`,
		user, "phone_code:"+user+":2", f.clock.Now())
	// Attempts at 0, 4 and 8 minutes are retried (backoff 1, 2, 4 min); the
	// one at 12 minutes finds the code expired and gives up.
	f.run()
	for range 3 {
		f.clock.Set(f.clock.Now().Add(4 * time.Minute))
		f.run()
	}
	if got := f.deliveries(user); fmt.Sprint(got) != "[{sms failed 4}]" {
		t.Fatalf("deliveries %v, want failed once the code expired", got)
	}
	var payload string
	if err := f.pool.QueryRow(context.Background(), `select payload::text from notification_outbox`).Scan(&payload); err != nil || strings.Contains(payload, "654321") {
		t.Fatalf("the code is kept after the failure: %s %v", payload, err)
	}
}

type failingSMS struct{}

func (failingSMS) SendSMS(context.Context, notifier.SMS) (string, error) {
	return "", errors.New("throttled")
}

func TestARunOutOfTimeHandsItsClaimsBack(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	for i := range 3 {
		f.fire(user, "r1", fmt.Sprintf("r1#%d", i), "AAPL", "201.5", "200", f.clock.Now())
	}
	// The run's time runs out during its first send (the mailer cancels it):
	// that send is recorded, the two others go back to pending without an
	// attempt, due now, instead of waiting for their lease to expire.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.mail.fail = func(int) error { cancel(); return nil }
	if st, err := f.svc.Run(ctx); err != nil || st.Sent != 1 || st.Claimed != 3 || st.Retried != 0 {
		t.Fatalf("the run that ran out of time: %+v %v", st, err)
	}
	want := "[{email sent 1} {websocket sent 0} {email pending 0} {websocket sent 0} {email pending 0} {websocket sent 0}]"
	if got := f.deliveries(user); fmt.Sprint(got) != want {
		t.Fatalf("deliveries %v, want %s", got, want)
	}
	f.mail.fail = nil
	if st := f.run(); st.Sent != 2 || len(f.mail.emails()) != 3 {
		t.Fatalf("the next run: %+v, %d e-mails", st, len(f.mail.emails()))
	}
}

func TestAWeeklyDigestHeldForDaysIsRetriedOnItsFirstFailure(t *testing.T) {
	f := newFixture(t)
	prefs := emailAndLive
	prefs.Digest = notify.DigestWeekly
	f.profile(user, "ada@example.test", prefs, "UTC")
	// Tuesday 2 June: the digest goes out on Monday 8 June at 08:00.
	f.clock.Set(time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC))
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	f.run()
	f.mail.fail = func(int) error { return errors.New("503 service unavailable") }
	f.clock.Set(time.Date(2026, 6, 8, 8, 0, 0, 0, time.UTC))
	if st := f.run(); st.Retried != 1 || st.Failed != 0 {
		t.Fatalf("the digest's first failure: %+v, want it retried", st)
	}
	f.mail.fail = nil
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("the retry: %+v", st)
	}
	if got := f.attempts(user); fmt.Sprint(got) != "[retry sent]" {
		t.Fatalf("attempts %v", got)
	}
}

// stallingMailer sends its first message, then stalls until its context ends
// (a provider that stops answering), noting what the store held meanwhile.
type stallingMailer struct {
	pool       *pgxpool.Pool
	n          int
	sentBefore []string // the deliveries' statuses when the stalled send began
}

func (m *stallingMailer) SendEmail(ctx context.Context, _ notifier.Email) (string, error) {
	m.n++
	if m.n == 1 {
		return "msg-1", nil
	}
	rows, err := m.pool.Query(ctx, `select status from notification_deliveries where channel = 'email' order by id`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		m.sentBefore = append(m.sentBefore, s)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(5 * time.Second):
		return "", errors.New("the send was never cancelled")
	}
}

func TestEachSendIsBoundedAndRecordedBeforeTheNext(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	f.fire(user, "r1", "r1#2", "AAPL", "202", "200", f.clock.Now())
	mailer := &stallingMailer{pool: f.pool}
	r, err := notifier.NewRenderer("https://api.example.test", key)
	if err != nil {
		t.Fatal(err)
	}
	svc := notifier.New(readmodel.NewNotifications(f.pool), mailer, f.sms, r, notifier.Options{Clock: f.clock.Now, SendTimeout: 100 * time.Millisecond})
	st, err := svc.Run(context.Background())
	if err != nil || st.Sent != 1 || st.Retried != 1 {
		t.Fatalf("run %+v %v, want one sent and one retried", st, err)
	}
	// The first message was recorded before the second send began: a run
	// killed during that send would not send the first again.
	if fmt.Sprint(mailer.sentBefore) != "[sent sending]" {
		t.Fatalf("statuses during the second send %v, want [sent sending]", mailer.sentBefore)
	}
	var lastError string
	if err := f.pool.QueryRow(context.Background(), `select last_error from notification_deliveries where status = 'pending'`).Scan(&lastError); err != nil ||
		lastError != "provider timed out" {
		t.Fatalf("the stalled send's error %q %v", lastError, err)
	}
}

func TestAHeldDigestFollowsTheProfileAsItIsWhenItGoesOut(t *testing.T) {
	f := newFixture(t)
	daily := emailAndLive
	daily.Digest = notify.DigestDaily
	f.profile(user, "ada@example.test", daily, "UTC")
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now()) // 10:00; the digest is at 08:00 tomorrow
	f.run()
	// A new address: the digest goes there, and the history says so.
	f.exec(`update profiles set email = 'ada@new.example.test' where user_id = $1`, user)
	f.clock.Set(time.Date(2026, 6, 11, 8, 0, 0, 0, time.UTC))
	if st := f.run(); st.Sent != 1 {
		t.Fatalf("the digest: %+v", st)
	}
	if mails := f.mail.emails(); len(mails) != 1 || mails[0].To != "ada@new.example.test" {
		t.Fatalf("sent to %v, want the new address", mails)
	}
	var address string
	if err := f.pool.QueryRow(context.Background(), `select address from notification_deliveries where channel = 'email'`).Scan(&address); err != nil ||
		address != "ada@new.example.test" {
		t.Fatalf("the delivery's address %q %v", address, err)
	}

	// E-mail turned off while the next digest waits: it is skipped.
	f.fire(user, "r1", "r1#2", "AAPL", "205", "200", f.clock.Now()) // due 08:00 on the 12th
	f.run()
	f.profile(user, "ada@new.example.test", daily.WithoutEmail(), "UTC")
	f.run()
	// The digest turned off while another waits: it goes out at once.
	f.profile(user, "ada@new.example.test", daily, "UTC")
	f.fire(user, "r1", "r1#3", "AAPL", "206", "200", f.clock.Now().Add(time.Minute))
	f.clock.Set(f.clock.Now().Add(time.Minute))
	f.run()
	if n := len(f.mail.emails()); n != 1 {
		t.Fatalf("%d e-mails while the digest waits", n)
	}
	f.profile(user, "ada@new.example.test", emailAndLive, "UTC")
	f.clock.Set(f.clock.Now().Add(time.Minute))
	if st := f.run(); st.Sent != 1 || len(f.mail.emails()) != 2 {
		t.Fatalf("the digest turned off: %+v, %d e-mails", st, len(f.mail.emails()))
	}
	want := "[{email sent 1} {websocket sent 0} {email skipped 0} {websocket sent 0} {email sent 1} {websocket sent 0}]"
	if got := f.deliveries(user); fmt.Sprint(got) != want {
		t.Fatalf("deliveries %v, want %s", got, want)
	}
}

func TestABadOutboxEntryStopsNeitherThePlanNorTheDeliveries(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	f.exec(`insert into notification_outbox (user_id, source, source_key, payload) values ($1, 'alert', 'bad-1', '{"kind": 5}')`, user)
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	if st := f.run(); st.Planned != 2 || st.Sent != 1 {
		t.Fatalf("run %+v, want both planned and the good one sent", st)
	}
	var unplanned int
	if err := f.pool.QueryRow(context.Background(), `select count(*) from notification_outbox where planned_at is null`).Scan(&unplanned); err != nil || unplanned != 0 {
		t.Fatalf("%d entries left unplanned, %v", unplanned, err)
	}
}

func TestTheHistoryShowsAnErrorsCategoryNotTheProvidersText(t *testing.T) {
	f := newFixture(t)
	f.profile(user, "ada@example.test", emailAndLive, "UTC")
	f.mail.fail = func(n int) error {
		if n == 1 {
			return errors.New("operation error SESv2: SendEmail, https response error StatusCode: 503, RequestID: 4b1c, api error ServiceUnavailable")
		}
		return fmt.Errorf("operation error SESv2: SendEmail, api error MessageRejected: Email address is not verified: %w", notifier.ErrPermanent)
	}
	f.fire(user, "r1", "r1#1", "AAPL", "201.5", "200", f.clock.Now())
	f.run()
	f.clock.Set(f.clock.Now().Add(time.Minute))
	f.run()
	rows, err := f.pool.Query(context.Background(), `select error from notification_attempts order by id`)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		errs = append(errs, s)
	}
	rows.Close()
	var lastError string
	if err := f.pool.QueryRow(context.Background(), `select last_error from notification_deliveries where channel = 'email'`).Scan(&lastError); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(errs) != "[provider unavailable address or message refused]" || lastError != "address or message refused" {
		t.Fatalf("attempts' errors %q, last error %q", errs, lastError)
	}
}
