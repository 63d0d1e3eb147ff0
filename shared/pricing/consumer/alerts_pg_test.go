package consumer_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/alerts"
	"github.com/portfoliotracker/tracker/shared/pricing"
	"github.com/portfoliotracker/tracker/shared/pricing/consumer"
	"github.com/portfoliotracker/tracker/shared/readmodel"
)

// TestPostgresAlertStoreRecordsHistoryOnce: with the Postgres store, a firing is
// recorded in the owner's history before delivery; a failed delivery leaves the
// state unsaved, and the retried batch fires under the same key, recording no
// second row; once delivered, the state is saved and the rule stays fired.
func TestPostgresAlertStoreRecordsHistoryOnce(t *testing.T) {
	e := newEnv(t)
	store := readmodel.NewAlertRules(e.pool)
	if _, err := store.Create(t.Context(), u1, alerts.Rule{ID: "r1", Kind: alerts.KindPriceBelow, Symbol: "TSLA", Threshold: decimal.RequireFromString("150")}); err != nil {
		t.Fatal(err)
	}
	notifier := &pricing.MemoryNotifier{Fail: errors.New("gone")}
	c := consumer.New(consumer.Config{Latest: e.latest, DB: e.pool, Alerts: store, Notifier: notifier})
	batch := []events.KinesisEventRecord{rec(t, "TSLA", "149", t0), rec(t, "SPY", "500", t0)}
	resp, _ := c.Handle(t.Context(), events.KinesisEvent{Records: batch})
	if !slices.Equal(failures(resp), []string{batch[0].Kinesis.SequenceNumber}) {
		t.Fatalf("failures %v", failures(resp))
	}
	notifier.Fail = nil
	if resp, _ := c.Handle(t.Context(), events.KinesisEvent{Records: batch}); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry failures %v", failures(resp))
	}
	if d := notifier.Deliveries(); len(d) != 1 || d[0].Message.(pricing.AlertMessage).Firing.Key != "r1#0" {
		t.Fatalf("deliveries %+v", d)
	}
	hist, _, err := store.History(t.Context(), u1, 10, "")
	if err != nil || len(hist) != 1 || hist[0].Key != "r1#0" || !hist[0].Observed.Equal(decimal.RequireFromString("149")) {
		t.Fatalf("history %+v, %v", hist, err)
	}
	_, st, err := store.PriceRules(t.Context(), []string{"TSLA"})
	if err != nil || !st.Rules[alerts.ScopedID(u1, "r1")].Fired {
		t.Fatalf("state %+v, %v", st, err)
	}
	// The same batch once more: nothing new fires or is recorded.
	if resp, _ := c.Handle(t.Context(), events.KinesisEvent{Records: batch}); len(resp.BatchItemFailures) != 0 {
		t.Fatal(failures(resp))
	}
	if d := notifier.Deliveries(); len(d) != 1 {
		t.Fatalf("deliveries %+v", d)
	}
	if hist, _, _ := store.History(t.Context(), u1, 10, ""); len(hist) != 1 {
		t.Fatalf("history %+v", hist)
	}
}
