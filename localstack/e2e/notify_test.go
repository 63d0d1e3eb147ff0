package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

// testNotifications is the notifier's acceptance on the running stack: a price
// alert of a user with no open connection becomes exactly one e-mail in the
// local SES inbox, with the firing's figures and a working one-click
// unsubscribe link; a second run and a redelivered tick send nothing more; an
// e-mail endpoint that is down loses nothing (the delivery is retried, and the
// history shows the retry); alerts during quiet hours arrive as one digest
// when they end (both waits overlap: about a minute); a phone code is texted.
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

	// Nothing twice: the same tick again, and another run.
	publish(t, kc, "TSLA", "100001.5", base)
	time.Sleep(time.Second)
	deliver()
	if n := len(inbox()); n != 1 || firings() != 1 {
		t.Fatalf("after a redelivered tick and a second run: %d e-mails, %d firings", n, firings())
	}

	// The e-mail endpoint down: the next firing's delivery is retried, not lost.
	if code := admin.do(t, "POST", "/faults/email?for=5m", nil, nil); code != 200 {
		t.Fatalf("take the e-mail endpoint down: HTTP %d", code)
	}
	publish(t, kc, "TSLA", "90000", base.Add(time.Second)) // re-arms the rule
	publish(t, kc, "TSLA", "100002.5", base.Add(2*time.Second))
	waitFirings(2)
	deliver()
	admin.do(t, "DELETE", "/faults/email", nil, nil)

	// Meanwhile Erin is in her quiet hours, which end at quietEnd (UTC, her
	// zone): her two alerts wait for their end and arrive as one digest.
	quietEnd := time.Now().UTC().Add(20 * time.Second).Truncate(time.Minute).Add(time.Minute)
	quiet := fmt.Sprintf(`{"channels":["email"],"digest":"off","weeklySummary":false,"quietHours":{"start":%q,"end":%q}}`,
		quietEnd.Add(-10*time.Minute).Format("15:04"), quietEnd.Format("15:04"))
	if _, err := db.Exec(ctx, `insert into profiles (user_id, email, email_confirmed_at, time_zone, notification_preferences)
values ($1, $2, now(), 'UTC', $3::jsonb)`, erinMinted.UserID, erinAddress, quiet); err != nil {
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
	deliver()
	if n := len(inboxOf(erinAddress)); n != 0 || time.Now().After(quietEnd) {
		t.Fatalf("%d e-mails during the quiet hours (or the test was too slow: it is past %s)", n, quietEnd)
	}
	var retried map[string]any
	for _, d := range history() {
		if d["channel"] == "email" && d["status"] == "pending" {
			retried = d
		}
	}
	if retried == nil || len(retried["attemptLog"].([]any)) != 1 || retried["attemptLog"].([]any)[0].(map[string]any)["outcome"] != "retry" {
		t.Fatalf("no delivery waiting for its retry: %v", history())
	}
	// Its retry is due a minute later (the first backoff); Erin's digest at
	// the end of her quiet hours.
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
	link := strings.Trim(m.Header("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(link, s.url("HTTP")+"/unsubscribe?token=") || !strings.Contains(m.Body.Text, link) {
		t.Fatalf("unsubscribe link %q", link)
	}
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
