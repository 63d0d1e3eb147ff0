package readmodel_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

var (
	_ pricing.AlertStore     = (*readmodel.AlertRules)(nil)
	_ pricing.FiringRecorder = (*readmodel.AlertRules)(nil)
)

// The store's behaviour is the contract suite's (TestAlertRulesContract); this
// is what only PostgreSQL has: Row Level Security lets the API role see its own
// rules and firings only, and delete none.
func TestAlertTablesRowLevelSecurity(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	store := readmodel.NewAlertRules(pool)
	d := decimal.RequireFromString
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		user string
		rule alerts.Rule
	}{
		{rmtest.UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("200")}},
		{rmtest.UserA, alerts.Rule{ID: "below", Kind: alerts.KindPriceBelow, Symbol: "AAPL", Threshold: d("100")}},
		{rmtest.UserB, alerts.Rule{ID: "move", Kind: alerts.KindPercentMove, Symbol: "MSFT", Threshold: d("0.05"), Direction: alerts.DirectionDown}},
	} {
		if _, err := store.Create(ctx, c.user, c.rule); err != nil {
			t.Fatal(err)
		}
	}
	var fs []alerts.Firing
	for _, u := range []string{rmtest.UserA, rmtest.UserB} {
		fs = append(fs, alerts.Firing{Key: alerts.ScopedID(u, "r#0"), RuleID: alerts.ScopedID(u, "r"), Kind: alerts.KindPriceAbove, UserID: u,
			Symbol: "AAPL", Observed: d("201"), Threshold: d("200"), At: t0})
	}
	if err := store.RecordFirings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'a@example.com'), ($2, 'b@example.com')`, rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	asRole(t, pool, "authenticated", rmtest.UserB, func(tx pgx.Tx) {
		for _, table := range []string{"alert_rules", "alert_history"} {
			n, err := count(t, tx, "select count(*) from "+table+" where user_id <> '"+rmtest.UserB+"'")
			if err != nil || n != 0 {
				t.Errorf("%s: B sees %d rows of others (%v)", table, n, err)
			}
			n, err = count(t, tx, "select count(*) from "+table)
			if err != nil || n != 1 {
				t.Errorf("%s: B sees %d own rows (%v)", table, n, err)
			}
		}
		if _, err := count(t, tx, "with d as (delete from alert_rules returning 1) select count(*) from d"); err == nil {
			t.Error("authenticated may delete alert rules")
		}
	})
}
