package readmodel_test

import (
	"context"
	"errors"
	"slices"
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

func TestAlertRulesTenantIsolationAndState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	store := readmodel.NewAlertRules(pool)
	d := decimal.RequireFromString

	a1, err := store.Create(ctx, rmtest.UserA, alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("200")})
	if err != nil {
		t.Fatal(err)
	}
	if a1.Rule.ID == "" || a1.Rule.UserID != rmtest.UserA || a1.CreatedAt.IsZero() {
		t.Fatalf("created %+v", a1)
	}
	a2, err := store.Create(ctx, rmtest.UserA, alerts.Rule{ID: "a-drift", Kind: alerts.KindWeightDrift, PortfolioID: "p1", Symbol: "AAPL", TargetWeight: d("0.5"), Threshold: d("0.05")})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := store.Create(ctx, rmtest.UserB, alerts.Rule{ID: "b-move", Kind: alerts.KindPercentMove, Symbol: "MSFT", Threshold: d("0.05"), Direction: alerts.DirectionDown})
	if err != nil {
		t.Fatal(err)
	}
	// Rule IDs are each user's own: B's "a-drift" is no conflict (and deleting it
	// leaves A's), A's second one is.
	if _, err := store.Create(ctx, rmtest.UserB, alerts.Rule{ID: "a-drift", Kind: alerts.KindPriceBelow, Symbol: "X", Threshold: d("1")}); err != nil {
		t.Fatalf("B's a-drift: %v", err)
	}
	if err := store.Delete(ctx, rmtest.UserB, "a-drift"); err != nil {
		t.Fatalf("B deletes its a-drift: %v", err)
	}
	if _, err := store.Create(ctx, rmtest.UserA, alerts.Rule{ID: "a-drift", Kind: alerts.KindPriceBelow, Symbol: "X", Threshold: d("1")}); !errors.Is(err, alerts.ErrDuplicateRule) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := store.Create(ctx, rmtest.UserA, alerts.Rule{ID: "has space", Kind: alerts.KindPriceBelow, Symbol: "X", Threshold: d("1")}); !errors.Is(err, alerts.ErrInvalidRule) {
		t.Fatalf("an ID with a space: %v", err)
	}
	if _, err := store.Create(ctx, rmtest.UserA, alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("-1")}); !errors.Is(err, alerts.ErrInvalidThreshold) {
		t.Fatalf("invalid rule: %v", err)
	}

	listA, err := store.List(ctx, rmtest.UserA)
	if err != nil || len(listA) != 2 || listA[0].Rule.ID != a1.Rule.ID || listA[1].Rule.ID != "a-drift" || !listA[1].Rule.TargetWeight.Equal(d("0.5")) {
		t.Fatalf("list A: %+v, %v", listA, err)
	}
	listB, err := store.List(ctx, rmtest.UserB)
	if err != nil || len(listB) != 1 || listB[0].Rule.ID != "b-move" {
		t.Fatalf("list B: %+v, %v", listB, err)
	}
	if err := store.Delete(ctx, rmtest.UserB, a2.Rule.ID); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("B deletes A's rule: %v", err)
	}

	// The consumer's view: price rules only, every user's, with their state.
	rules, st, err := store.PriceRules(ctx, []string{"AAPL", "MSFT", "NVDA"})
	if err != nil || len(rules) != 2 || len(st.Rules) != 0 {
		t.Fatalf("price rules: %+v %+v %v", rules, st, err)
	}
	eng, err := alerts.NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 123456000, time.UTC)
	fs := eng.Evaluate([]alerts.Tick{
		alerts.PriceTick("AAPL", d("201.5"), decimal.Zero, t0),
		alerts.PriceTick("MSFT", d("90"), d("100"), t0),
	})
	if len(fs) != 2 {
		t.Fatalf("firings %+v", fs)
	}
	if err := store.RecordFirings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	if err := store.RecordFirings(ctx, fs); err != nil { // the retried batch
		t.Fatal(err)
	}
	if err := store.SaveState(ctx, rules, eng.State()); err != nil {
		t.Fatal(err)
	}
	rules2, st2, err := store.PriceRules(ctx, []string{"AAPL", "MSFT"})
	if err != nil || len(rules2) != 2 {
		t.Fatal(rules2, err)
	}
	want := eng.State().Rules
	if len(st2.Rules) != len(want) {
		t.Fatalf("state round trip: %+v, want %+v", st2.Rules, want)
	}
	for id, rs := range want {
		got := st2.Rules[id]
		if got.Fired != rs.Fired || got.Epoch != rs.Epoch || !got.FiredAt.Equal(rs.FiredAt) || !got.LastAt.Equal(rs.LastAt) {
			t.Fatalf("state of %s: %+v, want %+v", id, got, rs)
		}
	}
	eng2, _ := alerts.NewEngine(rules2...)
	if err := eng2.Restore(st2); err != nil {
		t.Fatal(err)
	}
	if again := eng2.Evaluate([]alerts.Tick{alerts.PriceTick("AAPL", d("202"), decimal.Zero, t0.Add(time.Second))}); len(again) != 0 {
		t.Fatalf("restored engine fired again: %+v", again)
	}

	histA, next, err := store.History(ctx, rmtest.UserA, 10, "")
	if err != nil || next != "" || len(histA) != 1 {
		t.Fatalf("history A: %+v %q %v", histA, next, err)
	}
	h := histA[0]
	if h.Key != alerts.FiringKey(a1.Rule.ID, 0) || h.RuleID != a1.Rule.ID || h.Kind != alerts.KindPriceAbove || h.Symbol != "AAPL" ||
		!h.Observed.Equal(d("201.5")) || !h.Threshold.Equal(d("200")) || !h.FiredAt.Equal(t0) || !h.AcknowledgedAt.IsZero() {
		t.Fatalf("history row %+v (key %s)", h, fs[0].Key)
	}
	histB, _, err := store.History(ctx, rmtest.UserB, 10, "")
	if err != nil || len(histB) != 1 || histB[0].RuleID != "b-move" {
		t.Fatalf("history B: %+v %v", histB, err)
	}
	if _, err := store.Acknowledge(ctx, rmtest.UserB, h.Key); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("B acks A's firing: %v", err)
	}
	ack, err := store.Acknowledge(ctx, rmtest.UserA, h.Key)
	if err != nil || ack.IsZero() {
		t.Fatal(ack, err)
	}
	ack2, err := store.Acknowledge(ctx, rmtest.UserA, h.Key)
	if err != nil || !ack2.Equal(ack) {
		t.Fatalf("second ack %v (first %v): %v", ack2, ack, err)
	}

	// Deleting a rule keeps its history and drops it from the consumer's view.
	if err := store.Delete(ctx, rmtest.UserA, a1.Rule.ID); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, rmtest.UserA, a1.Rule.ID); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatal(err)
	}
	if rules, _, _ := store.PriceRules(ctx, []string{"AAPL"}); len(rules) != 0 {
		t.Fatalf("deleted rule still served: %+v", rules)
	}
	if histA, _, _ := store.History(ctx, rmtest.UserA, 10, ""); len(histA) != 1 || histA[0].AcknowledgedAt.IsZero() {
		t.Fatalf("history after delete: %+v", histA)
	}

	// Row Level Security: the API role sees only its own rows.
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
	_ = b1
}

func TestAlertHistoryPages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	store := readmodel.NewAlertRules(pool)
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	var fs []alerts.Firing
	for i := range 5 {
		fs = append(fs, alerts.Firing{Key: alerts.FiringKey("r", uint64(i)), RuleID: "r", Epoch: uint64(i), Kind: alerts.KindPriceAbove,
			UserID: rmtest.UserA, Symbol: "AAPL", Observed: decimal.NewFromInt(int64(100 + i)), Threshold: decimal.NewFromInt(100), At: t0.Add(time.Duration(i/2) * time.Minute)})
	}
	fs = append(fs, alerts.Firing{Key: "nobody#0", RuleID: "nobody", Kind: alerts.KindPriceAbove, Observed: decimal.NewFromInt(1), Threshold: decimal.NewFromInt(1), At: t0})
	if err := store.RecordFirings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	var keys []string
	cursor := ""
	for range 10 {
		page, next, err := store.History(ctx, rmtest.UserA, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page {
			keys = append(keys, f.Key)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := []string{"r#4", "r#3", "r#2", "r#1", "r#0"}
	if len(keys) != len(want) {
		t.Fatalf("pages %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("pages %v, want %v", keys, want)
		}
	}
	if _, _, err := store.History(ctx, rmtest.UserA, 2, "!!"); !errors.Is(err, readmodel.ErrInvalidCursor) {
		t.Fatal(err)
	}
}

func TestAlertSymbolsAreWatched(t *testing.T) {
	pool, _ := rmtest.DB(t)
	ctx := context.Background()
	store := readmodel.NewAlertRules(pool)
	for _, sym := range []string{"TSLA", "AAPL", "TSLA"} {
		if _, err := store.Create(ctx, rmtest.UserA, alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: sym, Threshold: decimal.NewFromInt(500)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readmodel.AlertSymbols(ctx, pool)
	if err != nil || !slices.Equal(got, []string{"AAPL", "TSLA"}) {
		t.Fatalf("alert symbols %v, %v; want [AAPL TSLA]", got, err)
	}
}
