package prices_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// TestPostgresAlertStoreRecordsHistoryOnce: with the Postgres store, a firing is
// recorded in the owner's history before anything is pushed; a failed push
// reports no record and the state is saved, so re-processing the batch fires
// nothing new, records no second row and pushes nothing.
func TestPostgresAlertStoreRecordsHistoryOnce(t *testing.T) {
	e := newEnv(t)
	store := readmodel.NewConsumerAlertRules(e.pool)
	if _, err := store.Create(t.Context(), u1, alerts.Rule{ID: "r1", Kind: alerts.KindPriceBelow, Symbol: "TSLA", Threshold: decimal.RequireFromString("150")}); err != nil {
		t.Fatal(err)
	}
	notifier := &pricing.MemoryNotifier{Fail: errors.New("gone")}
	c := prices.New(prices.Config{Latest: e.latest, DB: readmodel.NewPricesConsumerStore(e.pool), Alerts: store, Notifier: notifier})
	batch := []prices.Record{rec(t, "TSLA", "149", t0), rec(t, "SPY", "500", t0)}
	resp, _ := handle(t.Context(), c, batch)
	if len(resp) != 0 {
		t.Fatalf("failures %v: a failed push is not retried", resp)
	}
	hist, _, err := store.History(t.Context(), u1, 10, "")
	if err != nil || len(hist) != 1 || hist[0].Key != "r1#0" || !hist[0].Observed.Equal(decimal.RequireFromString("149")) {
		t.Fatalf("history %+v, %v", hist, err)
	}
	_, state, err := store.PriceRules(t.Context(), []string{"TSLA"})
	if err != nil || !state.Rules[alerts.ScopedID(u1, "r1")].Fired {
		t.Fatalf("state %+v, %v", state, err)
	}
	// The same batch once more (Kinesis may deliver it again): nothing new fires,
	// is recorded or pushed.
	notifier.Fail = nil
	if resp, _ := handle(t.Context(), c, batch); len(resp) != 0 {
		t.Fatal(resp)
	}
	if d := alertKeys(notifier.Deliveries()); len(d) != 0 {
		t.Fatalf("alerts pushed %v", d)
	}
	if hist, _, _ := store.History(t.Context(), u1, 10, ""); len(hist) != 1 {
		t.Fatalf("history %+v", hist)
	}
}
