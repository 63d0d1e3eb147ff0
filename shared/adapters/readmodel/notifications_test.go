package readmodel_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// seedDeliveries queues n alert firings of user (through alert_history's
// trigger) and plans each with an e-mail due at now.
func seedDeliveries(t *testing.T, store *readmodel.Notifications, exec func(string, ...any), user string, n int, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		exec(`insert into alert_history (firing_key, rule_id, user_id, kind, symbol, observed, threshold, fired_at)
values ($1 || '#' || $2::text, $1, $3, 'price_above', 'AAPL', 201, 200, $4)`, user+":r1", i, user, now)
	}
	batch, err := store.Unplanned(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range batch {
		steps := []notify.Step{{Channel: notify.ChannelEmail, Action: notify.ActionSend, At: now, Address: "x@example.test"},
			{Channel: notify.ChannelWebSocket, Action: notify.ActionLive, At: now}}
		if err := store.SavePlan(ctx, u.OutboxID, u.UserID, steps, now); err != nil {
			t.Fatal(err)
		}
		// Planned twice (a concurrent run): nothing more.
		if err := store.SavePlan(ctx, u.OutboxID, u.UserID, steps, now); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNotificationClaimsRaceWithOneWinnerPerDelivery(t *testing.T) {
	pool, _ := rmtest.DB(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	store := readmodel.NewNotifications(pool)
	now := time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC)
	seedDeliveries(t, store, exec, rmtest.UserA, 40, now)
	seedDeliveries(t, store, exec, rmtest.UserB, 40, now)

	const claimers = 8
	var wg sync.WaitGroup
	claimed := make([][]notifier.Delivery, claimers)
	errs := make([]error, claimers)
	for i := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			claimed[i], errs[i] = store.ClaimDue(ctx, now, time.Minute, 1)
		}()
	}
	wg.Wait()
	seen := map[int64]int{}
	for i, c := range claimed {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		for _, d := range c {
			seen[d.ID]++
			if d.Channel != notify.ChannelEmail || d.Source != notify.SourceAlert || d.Address != "x@example.test" {
				t.Fatalf("claimed %+v", d)
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %d claimed %d times", id, n)
		}
	}
	// The leases hold: nothing is due again until they expire.
	if again, err := store.ClaimDue(ctx, now.Add(59*time.Second), time.Minute, 10); err != nil || len(again) != 80-len(seen) {
		t.Fatalf("claimed %d more before the leases expired (%v), want the %d unclaimed", len(again), err, 80-len(seen))
	}
	// An outcome under a lost lease changes nothing.
	var first notifier.Delivery
	for _, c := range claimed {
		if len(c) > 0 {
			first = c[0]
			break
		}
	}
	reclaimed, err := store.ClaimDue(ctx, now.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(reclaimed) == 0 {
		t.Fatalf("expired leases not reclaimed: %d, %v", len(reclaimed), err)
	}
	if err := store.Record(ctx, []notifier.Outcome{{DeliveryID: first.ID, UserID: first.UserID, LeaseUntil: first.LeaseUntil, Status: notifier.StatusSent,
		Attempted: true, At: now}}); err != nil {
		t.Fatal(err)
	}
	var status string
	var attempts int
	if err := pool.QueryRow(ctx, `select status, attempts from notification_deliveries where id = $1`, first.ID).Scan(&status, &attempts); err != nil ||
		status != "sending" || attempts != 0 {
		t.Fatalf("an outcome under a lost lease applied: %s %d %v", status, attempts, err)
	}
}

func TestNotificationHistoryAndUnsubscribeAsTheCaller(t *testing.T) {
	pool, dsn := rmtest.DB(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	store := readmodel.NewNotifications(pool)
	now := time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC)
	prefs := `{"channels":["email","websocket"],"byKind":{"drawdown":["email","sms"]},"digest":"daily","weeklySummary":true}`
	for _, u := range []string{rmtest.UserA, rmtest.UserB} {
		exec(`insert into profiles (user_id, email, email_confirmed_at, notification_preferences) values ($1, 'a@example.test', now(), $2::jsonb)`, u, prefs)
	}
	seedDeliveries(t, store, exec, rmtest.UserA, 3, now)
	seedDeliveries(t, store, exec, rmtest.UserB, 1, now)
	claimed, err := store.ClaimDue(ctx, now, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []notifier.Outcome
	for _, d := range claimed {
		outcomes = append(outcomes, notifier.Outcome{DeliveryID: d.ID, UserID: d.UserID, LeaseUntil: d.LeaseUntil, Status: notifier.StatusRetry,
			Attempted: true, At: now, NextAttemptAt: now.Add(time.Minute), Error: "throttled"})
	}
	if err := store.Record(ctx, outcomes); err != nil {
		t.Fatal(err)
	}

	api, _ := readmodeltest.API(t, dsn)
	history := readmodel.NewNotificationHistory(api)
	var all []readmodel.NotificationDelivery
	cursor := ""
	for {
		page, next, err := history.Deliveries(ctx, rmtest.UserA, 4, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 6 {
		t.Fatalf("%d deliveries, want 3 firings × 2 channels", len(all))
	}
	for i, d := range all {
		if i > 0 && d.ID >= all[i-1].ID {
			t.Fatalf("not newest first: %d after %d", d.ID, all[i-1].ID)
		}
		if d.Symbol != "AAPL" || d.Kind != "price_above" || d.RuleID != "r1" || d.FiringKey == "" || d.FiringKey[0] != 'r' {
			t.Fatalf("delivery %+v", d)
		}
		switch d.Channel {
		case "email":
			if d.Status != "pending" || d.Attempts != 1 || len(d.AttemptLog) != 1 || d.AttemptLog[0].Outcome != "retry" ||
				d.AttemptLog[0].Error != "throttled" || !d.NextAttemptAt.Equal(now.Add(time.Minute)) {
				t.Fatalf("email delivery %+v", d)
			}
		case "websocket":
			if d.Status != "sent" || !d.SentAt.Equal(now) || len(d.AttemptLog) != 0 {
				t.Fatalf("websocket delivery %+v", d)
			}
		}
	}
	if _, _, err := history.Deliveries(ctx, rmtest.UserA, 4, "bogus!"); err != readmodel.ErrInvalidCursor {
		t.Fatalf("bad cursor: %v", err)
	}

	for range 3 { // one click, a retry, another click: one record
		if err := history.Unsubscribe(ctx, rmtest.UserA, notify.ScopeEmail, now); err != nil {
			t.Fatal(err)
		}
	}
	read := func(u string) notify.Preferences {
		var text string
		if err := pool.QueryRow(ctx, `select notification_preferences::text from profiles where user_id = $1`, u).Scan(&text); err != nil {
			t.Fatal(err)
		}
		var p notify.Preferences
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := read(rmtest.UserA); p.WantsEmail() || p.Digest != notify.DigestDaily || len(p.ByKind["drawdown"]) != 1 {
		t.Fatalf("after the unsubscribe: %+v", p)
	}
	if p := read(rmtest.UserB); !p.WantsEmail() {
		t.Fatal("another user's preferences changed")
	}
	var n int
	if err := pool.QueryRow(ctx, `select count(*) from notification_unsubscribes where user_id = $1 and scope = 'email'`, rmtest.UserA).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d unsubscribes recorded, %v", n, err)
	}
	// A user without a profile row (erased): nothing is recorded.
	const stranger = "0c0c0c0c-0000-4000-8000-00000000000c"
	if err := history.Unsubscribe(ctx, stranger, notify.ScopeEmail, now); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `select count(*) from notification_unsubscribes where user_id = $1`, stranger).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d unsubscribes recorded for a user without a profile, %v", n, err)
	}
}
