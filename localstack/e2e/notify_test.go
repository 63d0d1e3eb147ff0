package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// testNotifications is the notifier's acceptance on the running stack: a price
// alert of a user with no open connection becomes exactly one e-mail in the
// local SES inbox, with the firing's figures and a working one-click
// unsubscribe link in its headers and both parts; the firing recorded again
// (the history's and the outbox's de-duplication) and a second run send
// nothing more; an e-mail endpoint down for over a minute, across two
// attempts, loses nothing (sent once when it is back, the history reading
// retry, retry, sent); alerts during quiet hours arrive as one digest when
// they end (the waits overlap: about three minutes); a phone code is texted;
// after the unsubscribe, a later alert sends no e-mail.
func testNotifications(t *testing.T, s *localStack) {
	admin := client{base: s.url("ADMIN")}
	var minted struct {
		UserID      string `json:"userId"`
		AccessToken string `json:"accessToken"`
	}
	if code := admin.do(t, "POST", "/token?user=e2e-dave", nil, &minted); code != 200 {
		t.Fatalf("token: HTTP %d", code)
	}
	dave := client{base: s.url("HTTP"), token: minted.AccessToken}
	address := fmt.Sprintf("dave-%d@example.test", time.Now().UnixNano())
	var erinMinted struct {
		UserID      string `json:"userId"`
		AccessToken string `json:"accessToken"`
	}
	if code := admin.do(t, "POST", "/token?user=e2e-erin", nil, &erinMinted); code != 200 {
		t.Fatalf("token: HTTP %d", code)
	}
	erin := client{base: s.url("HTTP"), token: erinMinted.AccessToken}
	erinAddress := fmt.Sprintf("erin-%d@example.test", time.Now().UnixNano())

	// Dave's profile, as the user service keeps it: a confirmed address and
	// alerts by e-mail.
	var status struct {
		URLs struct{ Postgres string } `json:"urls"`
	}
	admin.do(t, "GET", "/status", nil, &status)
	ctx := context.Background()
	db, err := pgx.Connect(ctx, status.URLs.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `insert into profiles (user_id, email, email_confirmed_at, display_name, notification_preferences)
values ($1, $2, now(), 'Dave', '{"channels":["email","websocket"],"digest":"off","weeklySummary":false}')
on conflict (user_id) do update set email = excluded.email, email_confirmed_at = excluded.email_confirmed_at,
  notification_preferences = excluded.notification_preferences`, minted.UserID, address); err != nil {
		t.Fatal(err)
	}
	var rule struct {
		ID string `json:"id"`
	}
	if code := dave.do(t, "POST", "/alerts", map[string]any{"kind": "price_above", "symbol": "TSLA", "threshold": "100000"}, &rule); code != 201 {
		t.Fatalf("create rule: HTTP %d", code)
	}
	kc := kinesisClient(s)
	base := time.Now().Add(2 * time.Hour) // newer than any simulated tick
	firings := func() int {
		var hist struct {
			Items []map[string]any `json:"items"`
		}
		dave.do(t, "GET", "/alerts/history", nil, &hist)
		return len(hist.Items)
	}
	waitFirings := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); firings() < n; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d firings after 15 s, want %d", firings(), n)
			}
		}
	}
	deliver := func() {
		t.Helper()
		var out map[string]any
		if code := admin.do(t, "POST", "/schedules/notifier-deliver/fire", nil, &out); code != 200 {
			t.Fatalf("fire the notifier: HTTP %d %v", code, out)
		}
	}
	inboxOf := func(address string) []testenv.SentEmail {
		t.Helper()
		all, err := testenv.ReadSESStore(ctx, s.url("SES"))
		if err != nil {
			t.Fatal(err)
		}
		var out []testenv.SentEmail
		for _, e := range all {
			for _, to := range e.Destination.To {
				if strings.Contains(to, address) {
					out = append(out, e)
				}
			}
		}
		return out
	}
	inbox := func() []testenv.SentEmail { return inboxOf(address) }
	history := func() []map[string]any {
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if code := dave.do(t, "GET", "/notifications", nil, &page); code != 200 {
			t.Fatalf("GET /notifications: HTTP %d", code)
		}
		return page.Items
	}

	publish(t, kc, "TSLA", "100001.5", base)
	waitFirings(1)
	deliver()
	mails := inbox()
	if len(mails) != 1 {
		t.Fatalf("%d e-mails to dave, want 1", len(mails))
	}
	m := mails[0]
	if m.Subject != "TSLA rose above 100000" || !strings.Contains(m.Body.Text, "100001.5") || !strings.Contains(m.Body.HTML, "100001.5") {
		t.Errorf("e-mail %q:\n%s", m.Subject, m.Body.Text)
	}
	if m.Header("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("headers %+v", m.Headers)
	}
	link := strings.Trim(m.Header("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(link, s.url("HTTP")+"/unsubscribe?token=") || !strings.Contains(m.Body.Text, link) ||
		!strings.Contains(m.Body.HTML, html.EscapeString(link)) {
		t.Fatalf("unsubscribe link %q, not in both parts:\n%s\n%s", link, m.Body.Text, m.Body.HTML)
	}

	// Nothing twice: the firing recorded again as a retried batch of the
	// prices consumer records it (RecordFirings: the history's key
	// de-duplicates), then once more after its history row is gone, so that
	// the trigger queues it again and the outbox's source_key de-duplicates;
	// and another run. Each step is synchronous: no wait.
	var firing alerts.Firing
	var kind string
	if err := db.QueryRow(ctx, `select firing_key, rule_id, user_id::text, kind, symbol, coalesce(portfolio_id, ''), observed::text, threshold::text, fired_at
  from alert_history where user_id = $1`, minted.UserID).Scan(&firing.Key, &firing.RuleID, &firing.UserID, &kind, &firing.Symbol, &firing.PortfolioID,
		(*decimalText)(&firing.Observed), (*decimalText)(&firing.Threshold), &firing.At); err != nil {
		t.Fatal(err)
	}
	firing.Kind = alerts.Kind(kind)
	recorder := readmodel.NewConsumerAlertRules(db)
	historyBefore := fmt.Sprint(history())
	if err := recorder.RecordFirings(ctx, []alerts.Firing{firing}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `delete from alert_history where firing_key = $1`, firing.Key); err != nil {
		t.Fatal(err)
	}
	if err := recorder.RecordFirings(ctx, []alerts.Firing{firing}); err != nil {
		t.Fatal(err)
	}
	var queued int
	if err := db.QueryRow(ctx, `select count(*) from notification_outbox where user_id = $1`, minted.UserID).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("%d outbox entries after the replay, want 1 (%v)", queued, err)
	}
	deliver()
	if n := len(inbox()); n != 1 || firings() != 1 || fmt.Sprint(history()) != historyBefore {
		t.Fatalf("after a replayed firing and a second run: %d e-mails, %d firings, history %v (was %s)", n, firings(), history(), historyBefore)
	}

	// The e-mail endpoint down for over a minute, across two attempts: the
	// next firing's delivery is retried, not lost, and sent once it is back.
	outageStart := time.Now()
	if code := admin.do(t, "POST", "/faults/email?for=10m", nil, nil); code != 200 {
		t.Fatalf("take the e-mail endpoint down: HTTP %d", code)
	}
	publish(t, kc, "TSLA", "90000", base.Add(time.Second)) // re-arms the rule
	publish(t, kc, "TSLA", "100002.5", base.Add(2*time.Second))
	waitFirings(2)

	// Meanwhile Erin's alerts fire in her quiet hours, which end at quietEnd
	// (her zone is UTC), set once her firings are seen and at least 90 s
	// away: her alerts wait for their end and arrive as one digest.
	if _, err := db.Exec(ctx, `insert into profiles (user_id, email, email_confirmed_at, time_zone, notification_preferences)
values ($1, $2, now(), 'UTC', '{"channels":["email"],"digest":"off","weeklySummary":false}')`, erinMinted.UserID, erinAddress); err != nil {
		t.Fatal(err)
	}
	for _, sym := range []string{"NFLX", "AMD"} {
		if code := erin.do(t, "POST", "/alerts", map[string]any{"kind": "price_above", "symbol": sym, "threshold": "100000"}, nil); code != 201 {
			t.Fatalf("create erin's rule: HTTP %d", code)
		}
		publish(t, kc, sym, "100003", base.Add(3*time.Second))
	}
	var erinFirings struct {
		Items []map[string]any `json:"items"`
	}
	for deadline := time.Now().Add(15 * time.Second); len(erinFirings.Items) < 2; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("erin's alerts did not fire: %v", erinFirings.Items)
		}
		erin.do(t, "GET", "/alerts/history", nil, &erinFirings)
	}
	quietEnd := time.Now().UTC().Add(90 * time.Second).Truncate(time.Minute).Add(time.Minute)
	quiet := fmt.Sprintf(`{"channels":["email"],"digest":"off","weeklySummary":false,"quietHours":{"start":%q,"end":%q}}`,
		quietEnd.Add(-10*time.Minute).Format("15:04"), quietEnd.Format("15:04"))
	if _, err := db.Exec(ctx, `update profiles set notification_preferences = $2::jsonb where user_id = $1`, erinMinted.UserID, quiet); err != nil {
		t.Fatal(err)
	}
	retrying := func(outcomes string) map[string]any {
		t.Helper()
		for _, d := range history() {
			if d["channel"] != "email" {
				continue
			}
			var got []any
			for _, a := range d["attemptLog"].([]any) {
				got = append(got, a.(map[string]any)["outcome"])
			}
			if fmt.Sprint(got) == outcomes {
				return d
			}
		}
		t.Fatalf("no e-mail delivery with attempts %s: %v", outcomes, history())
		return nil
	}
	deliver()
	if n := len(inboxOf(erinAddress)); n != 0 {
		t.Fatalf("%d e-mails during the quiet hours", n)
	}
	retried := retrying("[retry]")
	// Its retry is due a minute later (the first backoff): the endpoint is
	// still down.
	time.Sleep(time.Until(mustTime(t, retried["nextAttemptAt"])) + time.Second)
	deliver()
	retried = retrying("[retry retry]")
	if down := time.Since(outageStart); down < time.Minute {
		t.Fatalf("the outage lasted %s, want over a minute", down)
	}
	admin.do(t, "DELETE", "/faults/email", nil, nil)
	if n := len(inbox()); n != 1 {
		t.Fatalf("%d e-mails to dave during the outage", n)
	}
	// The second retry (two minutes later) and Erin's digest at the end of
	// her quiet hours.
	time.Sleep(max(time.Until(mustTime(t, retried["nextAttemptAt"])), time.Until(quietEnd)) + time.Second)
	deliver()
	digest := inboxOf(erinAddress)
	if len(digest) != 1 || digest[0].Subject != "2 alerts while you were away" || !strings.Contains(digest[0].Body.Text, "NFLX rose above 100000") ||
		!strings.Contains(digest[0].Body.Text, "AMD rose above 100000") {
		t.Fatalf("after the quiet hours: %d e-mails to erin %+v", len(digest), digest)
	}
	if mails := inbox(); len(mails) != 2 || !strings.Contains(mails[1].Body.Text, "100002.5") {
		t.Fatalf("after the outage: %d e-mails", len(mails))
	}
	retrying("[retry retry sent]")
	for _, d := range history() {
		if d["channel"] == "email" && d["status"] != "sent" {
			t.Errorf("delivery %v not sent", d)
		}
	}

	// A phone code, as the user service queues it: texted to the number being
	// verified, then forgotten.
	phone := fmt.Sprintf("+1555%07d", time.Now().UnixNano()%10_000_000)
	if _, err := db.Exec(ctx, `insert into notification_outbox (user_id, source, source_key, payload)
values ($1, 'phone_code', $2, jsonb_build_object('phone', $3::text, 'code', '424242'))`,
		minted.UserID, fmt.Sprintf("phone_code:%s:%d", minted.UserID, time.Now().UnixNano()), phone); err != nil {
		t.Fatal(err)
	}
	deliver()
	var texts struct {
		Messages []struct {
			Message, SMSType string
		} `json:"messages"`
	}
	admin.do(t, "GET", "/sms?phone="+url.QueryEscape(phone), nil, &texts)
	if len(texts.Messages) != 1 || !strings.Contains(texts.Messages[0].Message, "424242") || texts.Messages[0].SMSType != "Transactional" {
		t.Fatalf("texts to %s: %+v", phone, texts.Messages)
	}

	// The link, without signing in.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<form") {
		t.Fatalf("GET the link: %d %s", resp.StatusCode, page)
	}
	resp, err = http.PostForm(link, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "unsubscribed") {
		t.Fatalf("POST the link: %d %s", resp.StatusCode, page)
	}
	var channels string
	if err := db.QueryRow(ctx, `select notification_preferences ->> 'channels' from profiles where user_id = $1`, minted.UserID).Scan(&channels); err != nil ||
		strings.Contains(channels, "email") {
		t.Fatalf("channels after the unsubscribe: %s %v", channels, err)
	}
	// A later alert sends no e-mail.
	publish(t, kc, "TSLA", "90000", base.Add(10*time.Second))
	publish(t, kc, "TSLA", "100004", base.Add(11*time.Second))
	waitFirings(3)
	deliver()
	if n := len(inbox()); n != 2 {
		t.Fatalf("%d e-mails to dave after the unsubscribe, want the 2 before", n)
	}
}

// decimalText scans a numeric's text into a decimal.
type decimalText decimal.Decimal

func (d *decimalText) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("decimal: %T", src)
	}
	v, err := decimal.NewFromString(s)
	*d = decimalText(v)
	return err
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}
