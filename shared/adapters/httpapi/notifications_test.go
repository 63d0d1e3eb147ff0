package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

type recordingMailer struct{ sent []notifier.Email }

func (m *recordingMailer) SendEmail(_ context.Context, e notifier.Email) (string, error) {
	m.sent = append(m.sent, e)
	return "m", nil
}

// TestNotificationsHistoryAndUnsubscribe follows a firing from the outbox to
// the e-mail, lists it in the user's history, and follows the e-mail's
// unsubscribe link, without signing in, through the API as the api function
// runs it (its own login, each statement as the caller).
func TestNotificationsHistoryAndUnsubscribe(t *testing.T) {
	ctx := context.Background()
	pool, dsn := rmtest.DB(t)
	key := []byte("the-notification-key")
	callerDB, _ := readmodeltest.API(t, dsn)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Config{Notifications: readmodel.NewNotificationHistory(callerDB), UnsubscribeKey: key, Logger: quiet})
	a := &api{t: t, handler: httplambda.Handler(srv)}

	const user, other = rmtest.UserA, rmtest.UserB
	for _, u := range []string{user, other} {
		if _, err := pool.Exec(ctx, `insert into profiles (user_id, email, email_confirmed_at, notification_preferences)
values ($1, 'ada@example.test', now(), '{"channels":["email","websocket"],"digest":"off","weeklySummary":true}')`, u); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	for i, key := range []string{"r1#1", "r1#2", "r1#3"} {
		if _, err := pool.Exec(ctx, `insert into alert_history (firing_key, rule_id, user_id, kind, symbol, observed, threshold, fired_at)
values ($1, $2, $3, 'price_above', 'AAPL', 201, 200, $4)`, user+":"+key, user+":r1", user, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	mailer := &recordingMailer{}
	renderer, err := notifier.NewRenderer("https://api.example.test", key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notifier.New(readmodel.NewNotifications(pool), mailer, nil, renderer, notifier.Options{Logger: quiet}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(mailer.sent) != 3 {
		t.Fatalf("%d emails, want 3", len(mailer.sent))
	}

	// The history, by pages of 4, with the status per channel.
	var items []map[string]any
	path := "/notifications?limit=4"
	for {
		res := a.do(user, "GET", path, "")
		if res.status != 200 {
			t.Fatalf("GET %s: %d %s", path, res.status, res.raw)
		}
		for _, it := range res.body["items"].([]any) {
			items = append(items, it.(map[string]any))
		}
		next, _ := res.body["nextCursor"].(string)
		if next == "" {
			break
		}
		path = "/notifications?limit=4&cursor=" + url.QueryEscape(next)
	}
	if len(items) != 6 {
		t.Fatalf("%d deliveries, want 3 firings × (email, websocket)", len(items))
	}
	for _, it := range items {
		if it["status"] != "sent" || it["symbol"] != "AAPL" || it["ruleId"] != "r1" || !strings.HasPrefix(it["firingKey"].(string), "r1#") {
			t.Fatalf("delivery %v", it)
		}
		log := it["attemptLog"].([]any)
		switch it["channel"] {
		case "email":
			if it["attempts"] != float64(1) || len(log) != 1 || log[0].(map[string]any)["outcome"] != "sent" {
				t.Fatalf("email delivery %v", it)
			}
		case "websocket":
			if len(log) != 0 {
				t.Fatalf("websocket delivery %v", it)
			}
		}
	}
	if res := a.do(other, "GET", "/notifications", ""); res.status != 200 || len(res.body["items"].([]any)) != 0 {
		t.Fatalf("another user sees %d %s", res.status, res.raw)
	}
	if res := a.do("", "GET", "/notifications", ""); res.status != 401 {
		t.Fatalf("no caller: %d", res.status)
	}
	if res := a.do(user, "GET", "/notifications?cursor=nope", ""); res.status != 400 {
		t.Fatalf("bad cursor: %d", res.status)
	}

	// The e-mail's link, without signing in: GET asks, POST unsubscribes.
	link, err := url.Parse(strings.Trim(mailer.sent[0].Headers["List-Unsubscribe"], "<>"))
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe := "/unsubscribe?" + link.RawQuery
	if res := a.do("", "GET", unsubscribe, ""); res.status != 200 || !strings.Contains(res.raw, `<form method="post">`) {
		t.Fatalf("GET the link: %d %s", res.status, res.raw)
	}
	if !wantsEmail(t, pool, user) {
		t.Fatal("GET unsubscribed")
	}
	form := "List-Unsubscribe=One-Click"
	ct := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if res := a.do("", "POST", unsubscribe, form, ct...); res.status != 200 || !strings.Contains(res.raw, "You are unsubscribed") {
		t.Fatalf("POST the link: %d %s", res.status, res.raw)
	}
	if wantsEmail(t, pool, user) || !wantsEmail(t, pool, other) {
		t.Fatal("the unsubscribe did not turn off exactly the link's user's e-mail")
	}
	// Again: still fine (a mail client may retry).
	if res := a.do("", "POST", unsubscribe, form, ct...); res.status != 200 {
		t.Fatalf("POST again: %d %s", res.status, res.raw)
	}

	forged := notify.UnsubscribeToken([]byte("another key"), other, notify.ScopeEmail)
	for name, path := range map[string]string{
		"forged":   "/unsubscribe?token=" + url.QueryEscape(forged),
		"no token": "/unsubscribe",
	} {
		if res := a.do("", "POST", path, form, ct...); res.status != 400 {
			t.Fatalf("%s: %d", name, res.status)
		}
	}
	if res := a.do("", "POST", unsubscribe, "", ct...); res.status != 400 {
		t.Fatalf("without the one-click body: %d", res.status)
	}
	if !wantsEmail(t, pool, other) {
		t.Fatal("a refused request changed preferences")
	}
}

func wantsEmail(t *testing.T, pool *pgxpool.Pool, user string) bool {
	t.Helper()
	var text string
	if err := pool.QueryRow(context.Background(), `select notification_preferences::text from profiles where user_id = $1`, user).Scan(&text); err != nil {
		t.Fatal(err)
	}
	var p notify.Preferences
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		t.Fatal(err)
	}
	return p.WantsEmail()
}
