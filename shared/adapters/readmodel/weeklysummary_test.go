package readmodel_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// The weekly summary's store: each user's firings of the week (bounds, newest
// first, the limit, the user's own IDs), and summaries queued in the outbox once
// per user and day whatever the reruns.
func TestWeeklySummaries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	rules := readmodel.NewAlertRules(pool)
	week := time.Date(2025, 6, 30, 20, 0, 0, 0, time.UTC)
	for _, u := range []string{rmtest.UserA, rmtest.UserB} {
		r, err := rules.Create(ctx, u, alerts.Rule{ID: "up", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		var fs []alerts.Firing
		for i, at := range []time.Time{week.Add(-8 * 24 * time.Hour), week.Add(-6 * 24 * time.Hour), week.Add(-time.Hour), week.Add(time.Hour)} {
			// As the engine fires them: under the stored, user-scoped rule ID.
			fs = append(fs, alerts.Firing{Key: alerts.FiringKey(u+":"+r.Rule.ID, uint64(i+1)), RuleID: u + ":" + r.Rule.ID, UserID: u, Kind: r.Rule.Kind, Symbol: "AAPL",
				Observed: decimal.NewFromInt(2), Threshold: decimal.NewFromInt(1), At: at})
		}
		if err := rules.RecordFirings(ctx, fs); err != nil {
			t.Fatal(err)
		}
	}
	store := readmodel.NewWeeklySummaries(pool)
	got, err := store.FiringsBetween(ctx, []string{rmtest.UserA, rmtest.UserB, "not-a-user"}, week.Add(-7*24*time.Hour), week, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{rmtest.UserA, rmtest.UserB} {
		fs := got[u]
		if len(fs) != 2 || fs[0].Key != "up#3" || fs[1].Key != "up#2" || fs[0].RuleID != "up" || fs[0].UserID != u || !fs[0].At.Equal(week.Add(-time.Hour)) {
			t.Fatalf("firings of %s: %+v", u, fs)
		}
	}
	if got, err := store.FiringsBetween(ctx, []string{rmtest.UserA}, week.Add(-30*24*time.Hour), week.Add(time.Hour), 3); err != nil || len(got[rmtest.UserA]) != 3 || got[rmtest.UserA][0].Key != "up#4" {
		t.Fatalf("limited: %+v %v", got, err)
	}

	day := calendar.MustNew(2025, time.June, 30)
	q := []analyticsjob.QueuedSummary{{UserID: rmtest.UserA, Day: day, Payload: []byte(`{"type":"weekly_summary","day":"2025-06-30"}`)},
		{UserID: rmtest.UserB, Day: day, Payload: []byte(`{"type":"weekly_summary","day":"2025-06-30"}`)}}
	want := []string{rmtest.UserA, rmtest.UserB}
	for range 2 { // a rerun of the week queues nothing, and says so
		if queued, err := store.QueueWeeklySummaries(ctx, q); err != nil || !slices.Equal(queued, want) {
			t.Fatalf("queued %v (err %v), want %v", queued, err, want)
		}
		want = nil
	}
	var n int
	var key, typ string
	if err := pool.QueryRow(ctx, `select count(*), min(source_key), min(payload->>'type') from notification_outbox where source = 'weekly_summary'`).Scan(&n, &key, &typ); err != nil {
		t.Fatal(err)
	}
	if n != 2 || key != "weekly_summary:"+rmtest.UserA+":2025-06-30" || typ != "weekly_summary" {
		t.Fatalf("outbox: %d entries, %s %s", n, key, typ)
	}
}
