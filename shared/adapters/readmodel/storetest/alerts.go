package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// AlertStore is the alert rules store: the API's methods (per user, with the
// user's own rule IDs), the engines' (across users, with scoped IDs: see
// alerts.ScopedID) and the state marks that let a consumer cache rules.
type AlertStore interface {
	Create(ctx context.Context, userID string, rule alerts.Rule) (readmodel.AlertRule, error)
	List(ctx context.Context, userID string) ([]readmodel.AlertRule, error)
	Delete(ctx context.Context, userID, id string) error
	Update(ctx context.Context, userID, id string, patch alerts.Patch) (readmodel.AlertRule, error)
	History(ctx context.Context, userID string, limit int, cursor string) ([]readmodel.AlertFiring, string, error)
	Acknowledge(ctx context.Context, userID, key string) (time.Time, error)
	PriceRules(ctx context.Context, symbols []string) ([]alerts.Rule, alerts.State, error)
	PortfolioRules(ctx context.Context, portfolioIDs []string, metrics ...alerts.Metric) ([]alerts.Rule, alerts.State, error)
	SaveState(ctx context.Context, rules []alerts.Rule, s alerts.State) error
	SaveStateAndMarks(ctx context.Context, rules []alerts.Rule, s alerts.State) error
	SaveValueSamples(ctx context.Context, portfolioIDs []string, samples [][]alerts.ValueSample) error
	StateMarks(ctx context.Context, keys []string) (map[string]string, error)
	StateMarkChanges(ctx context.Context, since uint64, ownPrefix string) (map[string]string, uint64, error)
	ClaimStateMarks(ctx context.Context, expected map[string]string, token string) ([]string, error)
	RecordFirings(ctx context.Context, firings []alerts.Firing) error
	Symbols(ctx context.Context) ([]string, error)
}

var _ AlertStore = (*readmodel.AlertRules)(nil)

// AlertSubject is an alert store under test and a hook that makes portfolios
// userID's (the portfolios rows the projection writes), which PortfolioRules
// joins on.
type AlertSubject struct {
	Store         AlertStore
	OwnPortfolios func(t *testing.T, userID string, portfolioIDs ...string)
	// Computed stores analytics' figures of a portfolio (the metrics store
	// the alert store reads the wealth marks of drawdown rules from).
	Computed func(t *testing.T, r readmodel.AnalyticsResult)
}

// RunAlerts runs the alert store's suite; newSubject returns an empty store.
func RunAlerts(t *testing.T, newSubject func(t *testing.T) AlertSubject) {
	run(t, newSubject, []testCase[AlertSubject]{
		{"RulesAreTheirOwnersOnly", testRulesOwnership},
		{"PriceRulesAndStateRoundTrip", testPriceRulesState},
		{"FiringsRecordOnceAndAcknowledge", testFiringsOnce},
		{"HistoryPagesByCursor", testHistoryPages},
		{"PortfolioRulesByMetricOnOwnPortfolios", testPortfolioRules},
		{"PortfolioRulesStateRoundTrip", testPortfolioRulesState},
		{"ValueSamplesKeptPerPortfolio", testValueSamples},
		{"StateMarksMoveWithRulesAndClaims", testStateMarks},
		{"QuotaPerUserHoldsUnderRace", testAlertQuota},
		{"CreateRaceOneWinner", testCreateRace},
		{"ClaimRaceOneWinner", testClaimRace},
		{"RecordRaceRecordsOnce", testRecordRace},
		{"SymbolsAreWatched", testAlertSymbols},
		{"UpdateRestartsStateOnlyWhenTheWatchChanges", testUpdateRule},
		{"PausedRulesAreNotServed", testPauseResume},
		{"RulesWithConditionsAreServedByTheirKey", testCompositeRules},
		{"UpdatesRaceWithoutLosingOne", testUpdateRace},
		{"AnalyticsSavesMoveMarksAndServeWealth", testWealthMarks},
		{"SaveStateNeverGoesBack", testSaveStateNeverGoesBack},
		{"RecreatedRuleFiresUnderNewKeys", testRecreatedRule},
	})
}

var dec = decimal.RequireFromString

func mustCreate(t *testing.T, s AlertStore, user string, r alerts.Rule) readmodel.AlertRule {
	t.Helper()
	got, err := s.Create(t.Context(), user, r)
	if err != nil {
		t.Fatalf("create %+v for %s: %v", r, user, err)
	}
	return got
}

func ruleIDs(rules []alerts.Rule) []string {
	ids := []string{}
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	return ids
}

func testRulesOwnership(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	a1 := mustCreate(t, st, UserA, alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")})
	if a1.Rule.ID == "" || a1.Rule.UserID != UserA || a1.CreatedAt.IsZero() {
		t.Fatalf("created %+v", a1)
	}
	a2 := mustCreate(t, st, UserA, alerts.Rule{ID: "a-drift", Kind: alerts.KindWeightDrift, PortfolioID: "p1", Symbol: "AAPL", TargetWeight: dec("0.5"), Threshold: dec("0.05")})
	if a2.Rule.ID != "a-drift" {
		t.Fatalf("created %q, want the user's own ID", a2.Rule.ID)
	}
	mustCreate(t, st, UserB, alerts.Rule{ID: "b-move", Kind: alerts.KindPercentMove, Symbol: "MSFT", Threshold: dec("0.05"), Direction: alerts.DirectionDown})
	// Rule IDs are each user's own: B's "a-drift" is no conflict (and deleting it
	// leaves A's), A's second one is.
	mustCreate(t, st, UserB, alerts.Rule{ID: "a-drift", Kind: alerts.KindPriceBelow, Symbol: "X", Threshold: dec("1")})
	if err := st.Delete(ctx, UserB, "a-drift"); err != nil {
		t.Fatalf("B deletes its a-drift: %v", err)
	}
	if _, err := st.Create(ctx, UserA, alerts.Rule{ID: "a-drift", Kind: alerts.KindPriceBelow, Symbol: "X", Threshold: dec("1")}); !errors.Is(err, alerts.ErrDuplicateRule) {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, err := st.Create(ctx, UserA, alerts.Rule{ID: "has space", Kind: alerts.KindPriceBelow, Symbol: "X", Threshold: dec("1")}); !errors.Is(err, alerts.ErrInvalidRule) {
		t.Fatalf("an ID with a space: %v", err)
	}
	if _, err := st.Create(ctx, UserA, alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("-1")}); !errors.Is(err, alerts.ErrInvalidThreshold) {
		t.Fatalf("invalid rule: %v", err)
	}
	if _, err := st.Create(ctx, "not-a-uuid", alerts.Rule{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("1")}); err == nil {
		t.Fatal("a rule of a user that is not a UUID was created")
	}

	listA, err := st.List(ctx, UserA)
	if err != nil || len(listA) != 2 || listA[0].Rule.ID != a1.Rule.ID || listA[1].Rule.ID != "a-drift" ||
		!listA[1].Rule.TargetWeight.Equal(dec("0.5")) || !listA[0].CreatedAt.Equal(a1.CreatedAt) {
		t.Fatalf("list A: %+v, %v", listA, err)
	}
	listB, err := st.List(ctx, UserB)
	if err != nil || len(listB) != 1 || listB[0].Rule.ID != "b-move" {
		t.Fatalf("list B: %+v, %v", listB, err)
	}
	if err := st.Delete(ctx, UserB, a2.Rule.ID); !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("B deletes A's rule: %v", err)
	}
	if err := st.Delete(ctx, UserA, "nope"); !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("delete of no rule: %v", err)
	}
	// The engines see every user's rules, under scoped IDs.
	rules, _, err := st.PriceRules(ctx, []string{"AAPL", "MSFT"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{alerts.ScopedID(UserA, a1.Rule.ID), alerts.ScopedID(UserB, "b-move")}
	slices.Sort(want)
	if got := ruleIDs(rules); !slices.Equal(got, want) {
		t.Fatalf("price rules %v, want %v", got, want)
	}
	for _, r := range rules {
		if r.UserID == "" || alerts.ScopedID(r.UserID, alerts.OwnID(r.UserID, r.ID)) != r.ID {
			t.Fatalf("rule %+v is not scoped to its user", r)
		}
	}
}

func testPriceRulesState(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	mustCreate(t, st, UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")})
	mustCreate(t, st, UserB, alerts.Rule{ID: "move", Kind: alerts.KindPercentMove, Symbol: "MSFT", Threshold: dec("0.05"), Direction: alerts.DirectionDown})
	// Not price rules: a portfolio's rule on a symbol, and a rule on another symbol.
	mustCreate(t, st, UserA, alerts.Rule{ID: "drift", Kind: alerts.KindWeightDrift, PortfolioID: "p1", Symbol: "AAPL", TargetWeight: dec("0.5"), Threshold: dec("0.05")})
	mustCreate(t, st, UserA, alerts.Rule{ID: "other", Kind: alerts.KindPriceBelow, Symbol: "TSLA", Threshold: dec("100")})

	if rules, st0, err := st.PriceRules(ctx, nil); err != nil || len(rules) != 0 || st0.Rules == nil {
		t.Fatalf("no symbols: %+v %+v %v", rules, st0, err)
	}
	rules, state, err := st.PriceRules(ctx, []string{"AAPL", "MSFT", "NVDA"})
	if err != nil || len(rules) != 2 || len(state.Rules) != 0 {
		t.Fatalf("price rules: %+v %+v %v", rules, state, err)
	}
	eng, err := alerts.NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(123456 * time.Microsecond)
	fs := eng.Evaluate([]alerts.Tick{
		alerts.PriceTick("AAPL", dec("201.5"), decimal.Zero, at),
		alerts.PriceTick("MSFT", dec("90"), dec("100"), at),
	})
	if len(fs) != 2 {
		t.Fatalf("firings %+v", fs)
	}
	if err := st.SaveState(ctx, rules, eng.State()); err != nil {
		t.Fatal(err)
	}
	rules2, st2, err := st.PriceRules(ctx, []string{"AAPL", "MSFT"})
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
	if again := eng2.Evaluate([]alerts.Tick{alerts.PriceTick("AAPL", dec("202"), decimal.Zero, at.Add(time.Second))}); len(again) != 0 {
		t.Fatalf("restored engine fired again: %+v", again)
	}
	// No state for a rule (armed at epoch 0, no tick seen) is older than any
	// state with a tick: it replaces none (testSaveStateNeverGoesBack).
	if err := st.SaveState(ctx, rules2[:1], alerts.State{}); err != nil {
		t.Fatal(err)
	}
	if _, st3, err := st.PriceRules(ctx, []string{"AAPL", "MSFT"}); err != nil || len(st3.Rules) != 2 {
		t.Fatalf("after saving no state over one: %+v %v", st3, err)
	}
	// A deleted rule is not served, and saving its state is no error.
	if err := st.Delete(ctx, UserA, "above"); err != nil {
		t.Fatal(err)
	}
	if rules, _, _ := st.PriceRules(ctx, []string{"AAPL"}); len(rules) != 0 {
		t.Fatalf("deleted rule still served: %+v", rules)
	}
	if err := st.SaveState(ctx, rules2, eng.State()); err != nil {
		t.Fatalf("saving a deleted rule's state: %v", err)
	}
}

func testFiringsOnce(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	a := mustCreate(t, st, UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")})
	mustCreate(t, st, UserB, alerts.Rule{ID: "move", Kind: alerts.KindPercentMove, Symbol: "MSFT", Threshold: dec("0.05"), Direction: alerts.DirectionDown})
	rules, _, err := st.PriceRules(ctx, []string{"AAPL", "MSFT"})
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := alerts.NewEngine(rules...)
	at := t0.Add(123456 * time.Microsecond)
	fs := eng.Evaluate([]alerts.Tick{
		alerts.PriceTick("AAPL", dec("201.5"), decimal.Zero, at),
		alerts.PriceTick("MSFT", dec("90"), dec("100"), at),
	})
	if len(fs) != 2 {
		t.Fatalf("firings %+v", fs)
	}
	// A firing without an owner is skipped.
	orphan := alerts.Firing{Key: "nobody#0", RuleID: "nobody", Kind: alerts.KindPriceAbove, Observed: dec("1"), Threshold: dec("1"), At: at}
	if err := st.RecordFirings(ctx, append(slices.Clone(fs), orphan)); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordFirings(ctx, fs); err != nil { // the retried batch
		t.Fatal(err)
	}
	if err := st.RecordFirings(ctx, nil); err != nil {
		t.Fatal(err)
	}
	histA, next, err := st.History(ctx, UserA, 10, "")
	if err != nil || next != "" || len(histA) != 1 {
		t.Fatalf("history A: %+v %q %v", histA, next, err)
	}
	h := histA[0]
	if h.Key != alerts.FiringKey(a.Rule.ID, 0) || h.RuleID != a.Rule.ID || h.Kind != alerts.KindPriceAbove || h.Symbol != "AAPL" ||
		!h.Observed.Equal(dec("201.5")) || !h.Threshold.Equal(dec("200")) || !h.FiredAt.Equal(at) || !h.AcknowledgedAt.IsZero() {
		t.Fatalf("history row %+v", h)
	}
	histB, _, err := st.History(ctx, UserB, 10, "")
	if err != nil || len(histB) != 1 || histB[0].RuleID != "move" {
		t.Fatalf("history B: %+v %v", histB, err)
	}
	if _, err := st.Acknowledge(ctx, UserB, h.Key); !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("B acknowledges A's firing: %v", err)
	}
	if _, err := st.Acknowledge(ctx, UserA, "above#9"); !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("acknowledging no firing: %v", err)
	}
	ack, err := st.Acknowledge(ctx, UserA, h.Key)
	if err != nil || ack.IsZero() {
		t.Fatal(ack, err)
	}
	ack2, err := st.Acknowledge(ctx, UserA, h.Key)
	if err != nil || !ack2.Equal(ack) {
		t.Fatalf("second acknowledgement %v (first %v): %v", ack2, ack, err)
	}
	if histB, _, _ := st.History(ctx, UserB, 10, ""); len(histB) != 1 || !histB[0].AcknowledgedAt.IsZero() {
		t.Fatalf("A's acknowledgement reached B's history: %+v", histB)
	}
	// Deleting a rule keeps its history.
	if err := st.Delete(ctx, UserA, a.Rule.ID); err != nil {
		t.Fatal(err)
	}
	if histA, _, _ := st.History(ctx, UserA, 10, ""); len(histA) != 1 || !histA[0].AcknowledgedAt.Equal(ack) {
		t.Fatalf("history after delete: %+v", histA)
	}
}

func testHistoryPages(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	var fs []alerts.Firing
	for i := range 5 {
		fs = append(fs, alerts.Firing{Key: alerts.ScopedID(UserA, alerts.FiringKey("r", uint64(i))), RuleID: alerts.ScopedID(UserA, "r"), Epoch: uint64(i),
			Kind: alerts.KindPriceAbove, UserID: UserA, Symbol: "AAPL", Observed: decimal.NewFromInt(int64(100 + i)), Threshold: decimal.NewFromInt(100),
			At: t0.Add(time.Duration(i/2) * time.Minute)})
	}
	fs = append(fs, alerts.Firing{Key: alerts.ScopedID(UserB, "r#0"), RuleID: alerts.ScopedID(UserB, "r"), Kind: alerts.KindPriceAbove, UserID: UserB,
		Observed: decimal.NewFromInt(1), Threshold: decimal.NewFromInt(1), At: t0.Add(time.Minute)})
	if err := st.RecordFirings(ctx, fs); err != nil {
		t.Fatal(err)
	}
	var keys []string
	cursor := ""
	for range 10 {
		page, next, err := st.History(ctx, UserA, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		for _, f := range page {
			keys = append(keys, f.Key)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// Newest first; firings of one instant by key, descending.
	if want := []string{"r#4", "r#3", "r#2", "r#1", "r#0"}; !slices.Equal(keys, want) {
		t.Fatalf("pages %v, want %v", keys, want)
	}
	// The limit is clamped to at least one.
	if page, next, err := st.History(ctx, UserA, 0, ""); err != nil || len(page) != 1 || next == "" {
		t.Fatalf("limit 0: %+v %q %v", page, next, err)
	}
	if _, _, err := st.History(ctx, UserA, 2, "!!"); !errors.Is(err, readmodel.ErrInvalidCursor) {
		t.Fatalf("invalid cursor: %v", err)
	}
	if page, _, err := st.History(ctx, UserB, 10, ""); err != nil || len(page) != 1 {
		t.Fatalf("B's history %+v %v", page, err)
	}
}

func testPortfolioRules(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "a-pf", "a-pf2")
	s.OwnPortfolios(t, UserB, "b-pf")
	hour := alerts.Duration(time.Hour)
	for _, c := range []struct {
		user string
		rule alerts.Rule
	}{
		{UserA, alerts.Rule{ID: "drop", Kind: alerts.KindValueDrop, PortfolioID: "a-pf", Threshold: dec("0.05"), Window: hour}},
		{UserA, alerts.Rule{ID: "dd", Kind: alerts.KindDrawdown, PortfolioID: "a-pf", Threshold: dec("0.1")}},
		{UserA, alerts.Rule{ID: "drift", Kind: alerts.KindWeightDrift, PortfolioID: "a-pf2", Symbol: "AAPL", TargetWeight: dec("0.5"), Threshold: dec("0.05")}},
		{UserA, alerts.Rule{ID: "price", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("1")}},
		// Rules on another user's portfolio are never joined to it.
		{UserA, alerts.Rule{ID: "spy", Kind: alerts.KindValueDrop, PortfolioID: "b-pf", Threshold: dec("0.05"), Window: hour}},
		{UserA, alerts.Rule{ID: "spy-dd", Kind: alerts.KindDrawdown, PortfolioID: "b-pf", Threshold: dec("0.01")}},
		{UserB, alerts.Rule{ID: "b-drop", Kind: alerts.KindValueDrop, PortfolioID: "b-pf", Threshold: dec("0.05"), Window: hour}},
	} {
		mustCreate(t, st, c.user, c.rule)
	}
	a := func(ids ...string) []string {
		out := []string{}
		for _, id := range ids {
			user := UserA
			if id == "b-drop" {
				user = UserB
			}
			out = append(out, alerts.ScopedID(user, id))
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		pfs     []string
		metrics []alerts.Metric
		want    []string
	}{
		{[]string{"a-pf", "a-pf2", "b-pf"}, nil, a("drop", "dd", "drift", "b-drop")},
		{[]string{"a-pf", "b-pf"}, []alerts.Metric{alerts.MetricValue}, a("drop", "b-drop")},
		{[]string{"a-pf", "a-pf2"}, []alerts.Metric{alerts.MetricWeight, alerts.MetricDrawdown}, a("dd", "drift")},
		{[]string{"a-pf"}, []alerts.Metric{alerts.MetricVaR}, a()},
		{[]string{"a-pf", "a-pf2"}, []alerts.Metric{alerts.MetricPrice}, a()},
		{nil, nil, a()},
	} {
		rules, state, err := st.PortfolioRules(ctx, c.pfs, c.metrics...)
		if err != nil {
			t.Fatal(err)
		}
		if got := ruleIDs(rules); !slices.Equal(got, c.want) {
			t.Errorf("rules of %v listening to %v: %v, want %v", c.pfs, c.metrics, got, c.want)
		}
		if state.Rules == nil || state.Values == nil {
			t.Errorf("state maps not made: %+v", state)
		}
	}
}

// testPortfolioRulesState: the engine restored from the store remembers the
// previous batch's values; saving other rules leaves the samples alone.
func testPortfolioRulesState(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "p1")
	s.OwnPortfolios(t, UserB, "p2", "p3")
	hour := alerts.Duration(time.Hour)
	mustCreate(t, st, UserA, alerts.Rule{ID: "a-drop", Kind: alerts.KindValueDrop, PortfolioID: "p1", Threshold: dec("0.05"), Window: hour})
	mustCreate(t, st, UserA, alerts.Rule{ID: "a-drop2", Kind: alerts.KindValueDrop, PortfolioID: "p1", Threshold: dec("0.10"), Window: 2 * hour})
	mustCreate(t, st, UserA, alerts.Rule{ID: "a-drift", Kind: alerts.KindWeightDrift, PortfolioID: "p1", Symbol: "AAPL", TargetWeight: dec("0.5"), Threshold: dec("0.05")})
	mustCreate(t, st, UserB, alerts.Rule{ID: "b-drop", Kind: alerts.KindValueDrop, PortfolioID: "p2", Threshold: dec("0.05"), Window: hour})
	mustCreate(t, st, UserB, alerts.Rule{ID: "b-drop-other", Kind: alerts.KindValueDrop, PortfolioID: "p3", Threshold: dec("0.05"), Window: hour})

	rules, state, err := st.PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue)
	if err != nil || len(rules) != 3 || len(state.Rules) != 0 || len(state.Values) != 0 {
		t.Fatalf("fresh value rules %v, state %+v, %v", ruleIDs(rules), state, err)
	}
	eng, err := alerts.NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Restore(state); err != nil {
		t.Fatal(err)
	}
	if fs := eng.Evaluate([]alerts.Tick{alerts.ValueTick("p1", dec("1000"), t0), alerts.ValueTick("p2", dec("500"), t0)}); len(fs) != 0 {
		t.Fatalf("first values fired %+v", fs)
	}
	if err := st.SaveState(ctx, rules, eng.State()); err != nil {
		t.Fatal(err)
	}
	rules2, st2, err := st.PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue)
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.Values["p1"]) != 1 || !st2.Values["p1"][0].Value.Equal(dec("1000")) || !st2.Values["p1"][0].At.Equal(t0) || len(st2.Values["p2"]) != 1 {
		t.Fatalf("value samples round trip: %+v", st2.Values)
	}
	if len(st2.Rules) != 3 || !st2.Rules[alerts.ScopedID(UserA, "a-drop")].LastAt.Equal(t0) {
		t.Fatalf("rule state round trip: %+v", st2.Rules)
	}
	eng2, err := alerts.NewEngine(rules2...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng2.Restore(st2); err != nil {
		t.Fatal(err)
	}
	// 940 is 6% below the remembered 1000: only a-drop (5%) fires.
	fs := eng2.Evaluate([]alerts.Tick{alerts.ValueTick("p1", dec("940"), t0.Add(time.Minute))})
	if len(fs) != 1 || fs[0].ForOwner().RuleID != "a-drop" || !fs[0].Observed.Equal(dec("0.06")) {
		t.Fatalf("restored engine firings %+v", fs)
	}
	// Saving the weight rules (what the analytics job does) leaves the value
	// samples alone; saving value rules whose portfolio has no samples forgets them.
	wrules, wst, err := st.PortfolioRules(ctx, []string{"p1"}, alerts.MetricWeight)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveState(ctx, wrules, wst); err != nil {
		t.Fatal(err)
	}
	if _, st3, _ := st.PortfolioRules(ctx, []string{"p1"}, alerts.MetricValue); len(st3.Values["p1"]) != 1 {
		t.Fatalf("weight rules' save touched the value samples: %+v", st3.Values)
	}
	if err := st.SaveState(ctx, rules2, alerts.State{}); err != nil {
		t.Fatal(err)
	}
	// (The rules' states stay: no state is older than theirs.)
	if _, st4, _ := st.PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue); len(st4.Values) != 0 || len(st4.Rules) != len(st2.Rules) {
		t.Fatalf("empty state not saved: %+v", st4)
	}
}

func testValueSamples(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "p1", "p2")
	hour := alerts.Duration(time.Hour)
	mustCreate(t, st, UserA, alerts.Rule{ID: "drop", Kind: alerts.KindValueDrop, PortfolioID: "p1", Threshold: dec("0.05"), Window: hour})
	mustCreate(t, st, UserA, alerts.Rule{ID: "dd", Kind: alerts.KindDrawdown, PortfolioID: "p2", Threshold: dec("0.1")})
	rules, state, err := st.PortfolioRules(ctx, []string{"p1", "p2"})
	if err != nil || len(rules) != 2 || len(state.Values) != 0 {
		t.Fatalf("rules %+v state %+v %v", rules, state, err)
	}
	samples := []alerts.ValueSample{{At: t0, Value: dec("100.5")}, {At: t0.Add(time.Minute), Value: dec("99")}}
	state.Values["p1"] = samples
	state.Values["p2"] = samples // p2 has no value_drop rule: not kept
	state.Rules[alerts.ScopedID(UserA, "drop")] = alerts.RuleState{Epoch: 2, LastAt: t0}
	if err := st.SaveState(ctx, rules, state); err != nil {
		t.Fatal(err)
	}
	sameSamples := func(got, want []alerts.ValueSample) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if !got[i].At.Equal(want[i].At) || !got[i].Value.Equal(want[i].Value) {
				return false
			}
		}
		return true
	}
	_, state, err = st.PortfolioRules(ctx, []string{"p1", "p2"})
	if err != nil || len(state.Values) != 1 || !sameSamples(state.Values["p1"], samples) || state.Rules[alerts.ScopedID(UserA, "drop")].Epoch != 2 {
		t.Fatalf("after SaveState: %+v %v", state, err)
	}
	// Metrics other than the value load no samples' rules, so no samples.
	if _, st2, _ := st.PortfolioRules(ctx, []string{"p1"}, alerts.MetricDrawdown); len(st2.Values) != 0 {
		t.Fatalf("samples without value_drop rules: %+v", st2.Values)
	}
	// SaveValueSamples replaces them apart from the state; none forgets them.
	newer := []alerts.ValueSample{{At: t0.Add(2 * time.Minute), Value: dec("98.25")}}
	if err := st.SaveValueSamples(ctx, []string{"p1"}, [][]alerts.ValueSample{newer}); err != nil {
		t.Fatal(err)
	}
	if _, st3, _ := st.PortfolioRules(ctx, []string{"p1"}); !sameSamples(st3.Values["p1"], newer) || st3.Rules[alerts.ScopedID(UserA, "drop")].Epoch != 2 {
		t.Fatalf("after SaveValueSamples: %+v", st3)
	}
	if err := st.SaveValueSamples(ctx, []string{"p1"}, [][]alerts.ValueSample{nil}); err != nil {
		t.Fatal(err)
	}
	if _, st4, _ := st.PortfolioRules(ctx, []string{"p1"}); len(st4.Values) != 0 {
		t.Fatalf("forgotten samples came back: %+v", st4.Values)
	}
	if err := st.SaveValueSamples(ctx, []string{"p1", "p2"}, [][]alerts.ValueSample{newer}); err == nil {
		t.Fatal("two portfolios, one history: no error")
	}
}

func testStateMarks(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "p1")
	keyS, keyP := "s:AAPL", "p:p1"
	marks, err := st.StateMarks(ctx, []string{keyS, keyP})
	if err != nil || len(marks) != 2 || marks[keyS] != "" || marks[keyP] != "" {
		t.Fatalf("marks of keys without rules: %v %v", marks, err)
	}
	// The zero cursor returns no marks, only a cursor to start from.
	changed, cursor, err := st.StateMarkChanges(ctx, 0, "")
	if err != nil || len(changed) != 0 || cursor == 0 {
		t.Fatalf("changes since 0: %v %d %v", changed, cursor, err)
	}
	mustCreate(t, st, UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("1")})
	mustCreate(t, st, UserA, alerts.Rule{ID: "dd", Kind: alerts.KindDrawdown, PortfolioID: "p1", Threshold: dec("0.1")})
	marks, err = st.StateMarks(ctx, []string{keyS, keyP, "s:NONE"})
	if err != nil || marks[keyS] == "" || marks[keyP] == "" || marks["s:NONE"] != "" {
		t.Fatalf("marks after creating rules: %v %v", marks, err)
	}
	changed, next, err := st.StateMarkChanges(ctx, cursor, "")
	if err != nil || changed[keyS] != marks[keyS] || changed[keyP] != marks[keyP] || next < cursor {
		t.Fatalf("changes since %d: %v next %d %v; marks %v", cursor, changed, next, err, marks)
	}
	// A claim on the current mark wins and sets it; one on a moved mark loses.
	lost, err := st.ClaimStateMarks(ctx, map[string]string{keyS: marks[keyS], keyP: "stale"}, "own-1")
	if err != nil || !slices.Equal(lost, []string{keyP}) {
		t.Fatalf("claim: lost %v, %v; want [%s]", lost, err, keyP)
	}
	if m, _ := st.StateMarks(ctx, []string{keyS, keyP}); m[keyS] != "own-1" || m[keyP] != marks[keyP] {
		t.Fatalf("marks after the claim: %v", m)
	}
	// A key without a mark is claimed from "".
	if lost, err := st.ClaimStateMarks(ctx, map[string]string{"s:NEW": ""}, "own-2"); err != nil || len(lost) != 0 {
		t.Fatalf("claim of a new key: %v %v", lost, err)
	}
	if lost, err := st.ClaimStateMarks(ctx, map[string]string{"s:NEW": ""}, "own-3"); err != nil || !slices.Equal(lost, []string{"s:NEW"}) {
		t.Fatalf("second claim of a new key from none: %v %v", lost, err)
	}
	// The feed leaves out the reader's own claims; a rule change moves the mark again.
	changed, _, err = st.StateMarkChanges(ctx, next, "own-")
	if err != nil {
		t.Fatal(err)
	}
	for k, tok := range changed {
		if len(tok) >= 4 && tok[:4] == "own-" {
			t.Fatalf("own claim %s=%s in the feed", k, tok)
		}
	}
	if err := st.Delete(ctx, UserA, "above"); err != nil {
		t.Fatal(err)
	}
	m, _ := st.StateMarks(ctx, []string{keyS})
	if m[keyS] == "" || m[keyS] == "own-1" {
		t.Fatalf("deleting a rule left the mark at %q", m[keyS])
	}
	if changed, _, err := st.StateMarkChanges(ctx, next, "own-"); err != nil || changed[keyS] != m[keyS] {
		t.Fatalf("the deletion's mark is not in the feed: %v %v", changed, err)
	}
	if lost, err := st.ClaimStateMarks(ctx, nil, "x"); err != nil || len(lost) != 0 {
		t.Fatalf("empty claim: %v %v", lost, err)
	}
}

// testAlertQuota: a user five rules short of the quota sends 24 creates at
// once; exactly five are stored, the others are refused with the quota, another
// user is not affected, and a delete makes room again.
func testAlertQuota(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	limit := quota.AlertRulesPerUser.Limit
	rule := func(i int) alerts.Rule {
		return alerts.Rule{ID: fmt.Sprintf("r%d", i), Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(int64(100 + i))}
	}
	for i := range limit - 5 {
		mustCreate(t, st, UserA, rule(i))
	}
	var created, refused atomic.Int32
	race(24, func(i int) {
		_, err := st.Create(ctx, UserA, rule(limit+i))
		var qe *quota.ExceededError
		switch {
		case err == nil:
			created.Add(1)
		case errors.As(err, &qe) && qe.Quota.Name == quota.AlertRulesPerUser.Name && qe.Would == limit+1:
			refused.Add(1)
		default:
			t.Errorf("create %d: %v", i, err)
		}
	})
	if created.Load() != 5 || refused.Load() != 19 {
		t.Fatalf("%d created, %d refused; want 5 and 19", created.Load(), refused.Load())
	}
	if list, err := st.List(ctx, UserA); err != nil || len(list) != limit {
		t.Fatalf("%d rules (%v), want the limit %d", len(list), err, limit)
	}
	mustCreate(t, st, UserB, rule(-1))
	if err := st.Delete(ctx, UserA, "r0"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, UserA, rule(0))
	if _, err := st.Create(ctx, UserA, rule(-2)); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("at the limit again: %v", err)
	}
}

func testCreateRace(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	var ok, dup atomic.Int32
	race(racers, func(i int) {
		_, err := st.Create(ctx, UserA, alerts.Rule{ID: "same", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(int64(i + 1))})
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, alerts.ErrDuplicateRule):
			dup.Add(1)
		default:
			t.Errorf("create %d: %v", i, err)
		}
	})
	if ok.Load() != 1 || dup.Load() != racers-1 {
		t.Fatalf("%d created, %d duplicates; want 1 and %d", ok.Load(), dup.Load(), racers-1)
	}
	if list, _ := st.List(ctx, UserA); len(list) != 1 {
		t.Fatalf("rules %+v", list)
	}
}

func testClaimRace(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	mustCreate(t, st, UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("1")})
	for _, key := range []string{"s:AAPL", "s:FRESH"} { // a mark the rule set, and none yet
		marks, err := st.StateMarks(ctx, []string{key})
		if err != nil {
			t.Fatal(err)
		}
		var winners atomic.Int32
		var winner atomic.Value
		race(racers, func(i int) {
			token := fmt.Sprintf("c%d", i)
			lost, err := st.ClaimStateMarks(ctx, map[string]string{key: marks[key]}, token)
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
				return
			}
			if len(lost) == 0 {
				winners.Add(1)
				winner.Store(token)
			} else if !slices.Equal(lost, []string{key}) {
				t.Errorf("claim %d lost %v", i, lost)
			}
		})
		if winners.Load() != 1 {
			t.Fatalf("%s: %d claims won, want exactly 1", key, winners.Load())
		}
		if m, _ := st.StateMarks(ctx, []string{key}); m[key] != winner.Load() {
			t.Fatalf("%s: mark %q, the winner was %v", key, m[key], winner.Load())
		}
	}
}

func testRecordRace(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	f := alerts.Firing{Key: alerts.ScopedID(UserA, "r#0"), RuleID: alerts.ScopedID(UserA, "r"), Kind: alerts.KindPriceAbove, UserID: UserA,
		Symbol: "AAPL", Observed: dec("101"), Threshold: dec("100"), At: t0}
	race(racers, func(i int) {
		g := f
		g.Observed = decimal.NewFromInt(int64(200 + i)) // whoever records first, the row is one of them
		if err := st.RecordFirings(ctx, []alerts.Firing{g}); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	})
	hist, _, err := st.History(ctx, UserA, 10, "")
	if err != nil || len(hist) != 1 || hist[0].Key != "r#0" {
		t.Fatalf("history %+v %v; want the firing once", hist, err)
	}
	if o := hist[0].Observed.IntPart(); o < 200 || o >= 200+racers {
		t.Fatalf("observed %s is none of the writers'", hist[0].Observed)
	}
}

func testAlertSymbols(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	if got, err := st.Symbols(ctx); err != nil || len(got) != 0 {
		t.Fatalf("symbols of no rules: %v %v", got, err)
	}
	for i, sym := range []string{"TSLA", "AAPL", "TSLA"} {
		mustCreate(t, st, UserA, alerts.Rule{ID: fmt.Sprintf("r%d", i), Kind: alerts.KindPriceAbove, Symbol: sym, Threshold: dec("500")})
	}
	mustCreate(t, st, UserB, alerts.Rule{ID: "b", Kind: alerts.KindPriceBelow, Symbol: "NVDA", Threshold: dec("5")})
	got, err := st.Symbols(ctx)
	if err != nil || !slices.Equal(got, []string{"AAPL", "NVDA", "TSLA"}) {
		t.Fatalf("alert symbols %v, %v; want [AAPL NVDA TSLA]", got, err)
	}
	// A paused rule's symbols are not fetched for it: its own and its
	// conditions'; resumed, they are again.
	s.OwnPortfolios(t, UserB, "pb")
	mustCreate(t, st, UserB, alerts.Rule{ID: "drift", PortfolioID: "pb", Conditions: []alerts.Condition{
		{Kind: alerts.KindWeightDrift, Symbol: "AMZN", Threshold: dec("0.05"), TargetWeight: dec("0.3")},
		{Kind: alerts.KindWeightDrift, Symbol: "META", Threshold: dec("0.05"), TargetWeight: dec("0.3")},
	}})
	off, on := false, true
	for _, id := range []string{"b", "drift"} {
		if _, err := st.Update(ctx, UserB, id, alerts.Patch{Active: &off}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.Symbols(ctx); err != nil || !slices.Equal(got, []string{"AAPL", "TSLA"}) {
		t.Fatalf("alert symbols with paused rules %v, %v; want [AAPL TSLA]", got, err)
	}
	if _, err := st.Update(ctx, UserB, "drift", alerts.Patch{Active: &on}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Symbols(ctx); err != nil || !slices.Equal(got, []string{"AAPL", "AMZN", "META", "TSLA"}) {
		t.Fatalf("alert symbols after a resume %v, %v; want [AAPL AMZN META TSLA]", got, err)
	}
}

func testUpdateRule(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	mustCreate(t, st, UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")})
	rules, _, err := st.PriceRules(ctx, []string{"AAPL"})
	if err != nil || len(rules) != 1 {
		t.Fatal(rules, err)
	}
	fired := alerts.RuleState{Fired: true, Epoch: 2, FiredAt: t0, LastAt: t0}
	if err := st.SaveState(ctx, rules, alerts.State{Rules: map[string]alerts.RuleState{rules[0].ID: fired}}); err != nil {
		t.Fatal(err)
	}
	marks, _ := st.StateMarks(ctx, []string{"s:AAPL"})

	// Channels and cooldown keep the state.
	channels := []notify.Channel{notify.ChannelEmail}
	cooldown := alerts.Duration(time.Hour)
	got, err := st.Update(ctx, UserA, "above", alerts.Patch{Channels: &channels, Cooldown: &cooldown})
	if err != nil || got.Rule.ID != "above" || !slices.Equal(got.Rule.Channels, channels) || got.Rule.Cooldown != cooldown ||
		!got.State.FiredAt.Equal(fired.FiredAt) || got.State.Epoch != 2 || !got.State.Fired {
		t.Fatalf("update of channels: %+v %v", got, err)
	}
	if m, _ := st.StateMarks(ctx, []string{"s:AAPL"}); m["s:AAPL"] == marks["s:AAPL"] {
		t.Fatal("an update left the key's mark: a consumer's cache would keep the old rule")
	}
	// A new threshold restarts it: the next arming, nothing holding, ticks from
	// before the edit ignored.
	before := time.Now()
	thr := dec("210")
	got, err = st.Update(ctx, UserA, "above", alerts.Patch{Threshold: &thr})
	if err != nil || !got.Rule.Threshold.Equal(thr) || got.State.Fired || got.State.Epoch != 3 || got.State.LastAt.Before(before.Add(-time.Second)) {
		t.Fatalf("update of the threshold: %+v %v", got, err)
	}
	_, state, err := st.PriceRules(ctx, []string{"AAPL"})
	if err != nil || state.Rules[rules[0].ID].Epoch != 3 || state.Rules[rules[0].ID].Fired {
		t.Fatalf("state served after the update: %+v %v", state, err)
	}
	list, err := st.List(ctx, UserA)
	if err != nil || len(list) != 1 || !list[0].Rule.Threshold.Equal(thr) || !slices.Equal(list[0].Rule.Channels, channels) {
		t.Fatalf("list after updates: %+v %v", list, err)
	}
	// Invalid patches change nothing; another user's rule is not found.
	bad := dec("-1")
	if _, err := st.Update(ctx, UserA, "above", alerts.Patch{Threshold: &bad}); !errors.Is(err, alerts.ErrInvalidThreshold) {
		t.Fatalf("invalid threshold: %v", err)
	}
	var ve *alerts.ValidationError
	pigeon := []notify.Channel{"pigeon"}
	if _, err := st.Update(ctx, UserA, "above", alerts.Patch{Channels: &pigeon}); !errors.As(err, &ve) || ve.RuleID != "above" || ve.Field != "channels" {
		t.Fatalf("invalid channel: %v", err)
	}
	if _, err := st.Update(ctx, UserB, "above", alerts.Patch{Threshold: &thr}); !errors.Is(err, alerts.ErrNotFound) {
		t.Fatalf("B updates A's rule: %v", err)
	}
	if list, _ := st.List(ctx, UserA); !list[0].Rule.Threshold.Equal(thr) {
		t.Fatalf("a refused patch changed the rule: %+v", list[0].Rule)
	}
}

func testPauseResume(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "p1")
	mustCreate(t, st, UserA, alerts.Rule{ID: "above", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")})
	mustCreate(t, st, UserA, alerts.Rule{ID: "dd", Kind: alerts.KindDrawdown, PortfolioID: "p1", Threshold: dec("0.1")})
	rules, _, _ := st.PriceRules(ctx, []string{"AAPL"})
	fired := alerts.RuleState{Fired: true, Epoch: 0, FiredAt: t0, LastAt: t0}
	if err := st.SaveState(ctx, rules, alerts.State{Rules: map[string]alerts.RuleState{rules[0].ID: fired}}); err != nil {
		t.Fatal(err)
	}
	off, on := false, true
	for _, id := range []string{"above", "dd"} {
		got, err := st.Update(ctx, UserA, id, alerts.Patch{Active: &off})
		if err != nil || got.Rule.Active() {
			t.Fatalf("pause %s: %+v %v", id, got, err)
		}
	}
	if rules, _, err := st.PriceRules(ctx, []string{"AAPL"}); err != nil || len(rules) != 0 {
		t.Fatalf("a paused price rule served: %+v %v", rules, err)
	}
	if rules, _, err := st.PortfolioRules(ctx, []string{"p1"}); err != nil || len(rules) != 0 {
		t.Fatalf("a paused portfolio rule served: %+v %v", rules, err)
	}
	list, err := st.List(ctx, UserA)
	if err != nil || len(list) != 2 || list[0].Rule.Active() || list[0].Rule.PausedAt.IsZero() || !list[0].State.Fired {
		t.Fatalf("list shows paused rules with their state: %+v %v", list, err)
	}
	// Pausing again changes nothing; resuming restarts the state.
	if again, err := st.Update(ctx, UserA, "above", alerts.Patch{Active: &off}); err != nil || !again.Rule.PausedAt.Equal(list[0].Rule.PausedAt) {
		t.Fatalf("pausing twice: %+v %v", again, err)
	}
	got, err := st.Update(ctx, UserA, "above", alerts.Patch{Active: &on})
	if err != nil || !got.Rule.Active() || got.State.Fired || got.State.Epoch != 1 {
		t.Fatalf("resume: %+v %v", got, err)
	}
	if rules, state, err := st.PriceRules(ctx, []string{"AAPL"}); err != nil || len(rules) != 1 || state.Rules[rules[0].ID].Epoch != 1 {
		t.Fatalf("a resumed rule: %+v %+v %v", rules, state, err)
	}
}

func testCompositeRules(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "p1")
	price := mustCreate(t, st, UserA, alerts.Rule{ID: "both", Match: alerts.MatchAll, Conditions: []alerts.Condition{
		{Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")},
		{Kind: alerts.KindPercentMove, Symbol: "AAPL", Threshold: dec("0.05"), Direction: alerts.DirectionUp},
	}})
	if len(price.Rule.Conditions) != 2 || price.Rule.Kind != "" {
		t.Fatalf("created %+v", price.Rule)
	}
	mustCreate(t, st, UserA, alerts.Rule{ID: "drops", PortfolioID: "p1", Match: alerts.MatchAny, Conditions: []alerts.Condition{
		{Kind: alerts.KindValueDrop, Threshold: dec("0.1"), Window: alerts.Duration(48 * time.Hour)},
		{Kind: alerts.KindValueDrop, Threshold: dec("0.03"), Window: alerts.Duration(time.Hour)},
	}})
	mustCreate(t, st, UserA, alerts.Rule{ID: "risk", PortfolioID: "p1", Conditions: []alerts.Condition{
		{Kind: alerts.KindDrawdown, Threshold: dec("0.2")},
		{Kind: alerts.KindWeightDrift, Symbol: "MSFT", Threshold: dec("0.05"), TargetWeight: dec("0.3")},
	}})
	if _, err := st.Create(ctx, UserA, alerts.Rule{ID: "mixed", PortfolioID: "p1", Conditions: []alerts.Condition{
		{Kind: alerts.KindDrawdown, Threshold: dec("0.2")}, {Kind: alerts.KindValueDrop, Threshold: dec("0.1"), Window: alerts.Duration(time.Hour)},
	}}); !errors.Is(err, alerts.ErrInvalidConditions) {
		t.Fatalf("conditions of two evaluators: %v", err)
	}
	rules, _, err := st.PriceRules(ctx, []string{"AAPL"})
	if err != nil || len(rules) != 1 || len(rules[0].Conditions) != 2 {
		t.Fatalf("price rules: %+v %v", rules, err)
	}
	// The value rules with their portfolio's samples, the risk rules by metric.
	eng, err := alerts.NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	values, state, err := st.PortfolioRules(ctx, []string{"p1"}, alerts.MetricValue)
	if err != nil || len(values) != 1 || values[0].ID != alerts.ScopedID(UserA, "drops") {
		t.Fatalf("value rules: %+v %v", values, err)
	}
	if err := eng.Add(values[0]); err != nil {
		t.Fatal(err)
	}
	_ = eng.Restore(state)
	eng.Evaluate([]alerts.Tick{alerts.ValueTick("p1", dec("1000"), t0), alerts.ValueTick("p1", dec("980"), t0.Add(time.Minute))})
	if err := st.SaveState(ctx, values, eng.State()); err != nil {
		t.Fatal(err)
	}
	values, state, err = st.PortfolioRules(ctx, []string{"p1"}, alerts.MetricValue)
	if err != nil || len(state.Values["p1"]) != 2 || !state.Rules[values[0].ID].LastAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("value rules' state and samples: %+v %v", state, err)
	}
	risk, _, err := st.PortfolioRules(ctx, []string{"p1"}, alerts.PortfolioMetrics(alerts.EvaluatedByAnalytics)...)
	if err != nil || len(risk) != 1 || risk[0].ID != alerts.ScopedID(UserA, "risk") {
		t.Fatalf("risk rules: %+v %v", risk, err)
	}
	// A patch of the conditions moves the rule to its new symbol.
	conds := []alerts.Condition{{Kind: alerts.KindPriceBelow, Symbol: "MSFT", Threshold: dec("100")}, {Kind: alerts.KindPriceAbove, Symbol: "MSFT", Threshold: dec("300")}}
	anyOf := alerts.MatchAny
	if got, err := st.Update(ctx, UserA, "both", alerts.Patch{Conditions: &conds, Match: &anyOf}); err != nil || got.Rule.Primary().Symbol != "MSFT" || got.Rule.Match != anyOf {
		t.Fatalf("update of the conditions: %+v %v", got, err)
	}
	if rules, _, _ := st.PriceRules(ctx, []string{"AAPL"}); len(rules) != 0 {
		t.Fatalf("served on its old symbol: %+v", rules)
	}
	if rules, _, _ := st.PriceRules(ctx, []string{"MSFT"}); len(rules) != 1 || rules[0].Conditions[1].Threshold.String() != "300" {
		t.Fatalf("not served on its new symbol: %+v", rules)
	}
	if syms, err := st.Symbols(ctx); err != nil || !slices.Contains(syms, "MSFT") || slices.Contains(syms, "AAPL") {
		t.Fatalf("symbols %v %v", syms, err)
	}
}

// testUpdateRace: patches of one rule sent at once, each of its own field, all
// land: none is lost to another's write of an older definition.
func testUpdateRace(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	mustCreate(t, st, UserA, alerts.Rule{ID: "r", Kind: alerts.KindPercentMove, Symbol: "AAPL", Threshold: dec("0.05")})
	thr, h, cd := dec("0.07"), dec("0.01"), alerts.Duration(time.Hour)
	dir, channels := alerts.DirectionUp, []notify.Channel{notify.ChannelSMS}
	patches := []alerts.Patch{{Threshold: &thr}, {Hysteresis: &h}, {Cooldown: &cd}, {Direction: &dir}, {Channels: &channels}}
	errs := make(chan error, len(patches))
	for _, p := range patches {
		go func() {
			_, err := st.Update(ctx, UserA, "r", p)
			errs <- err
		}()
	}
	for range patches {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.List(ctx, UserA)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	r := list[0].Rule
	if !r.Threshold.Equal(thr) || !r.Hysteresis.Equal(h) || r.Cooldown != cd || r.Direction != dir || !slices.Equal(r.Channels, channels) {
		t.Fatalf("a concurrent patch was lost: %+v", r)
	}
}

// testWealthMarks: the portfolio rules of a portfolio with drawdown rules come
// with the wealth mark of its newest computation (current drawdown and market
// value), and SaveStateAndMarks, the analytics job's save, moves the marks of
// the rules' keys so a consumer holding them reloads.
func testWealthMarks(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	s.OwnPortfolios(t, UserA, "p1", "p2")
	mustCreate(t, st, UserA, alerts.Rule{ID: "dd", Kind: alerts.KindDrawdown, PortfolioID: "p1", Threshold: dec("0.2")})
	mustCreate(t, st, UserA, alerts.Rule{ID: "drift", Kind: alerts.KindWeightDrift, PortfolioID: "p2", Symbol: "AAPL", TargetWeight: dec("0.5"), Threshold: dec("0.1")})
	ids := []string{"p1", "p2"}
	if _, state, err := st.PortfolioRules(ctx, ids); err != nil || len(state.Wealth) != 0 {
		t.Fatalf("wealth marks before any computation: %+v, %v", state.Wealth, err)
	}
	for _, r := range []readmodel.AnalyticsResult{
		{Portfolio: readmodel.PortfolioRef{ID: "p1", UserID: UserA, Version: 1}, AsOf: 20500, MarketValue: dec("900"), CurrentDrawdown: 0.05, ComputedAt: t0},
		{Portfolio: readmodel.PortfolioRef{ID: "p1", UserID: UserA, Version: 2}, AsOf: 20501, MarketValue: dec("1250.5"), CurrentDrawdown: 0.125, ComputedAt: t0.Add(time.Hour)},
		{Portfolio: readmodel.PortfolioRef{ID: "p2", UserID: UserA, Version: 1}, AsOf: 20501, MarketValue: dec("10"), CurrentDrawdown: 0.5, ComputedAt: t0},
	} {
		s.Computed(t, r)
	}
	rules, state, err := st.PortfolioRules(ctx, ids)
	if err != nil || len(rules) != 2 {
		t.Fatalf("rules %v, %v", ruleIDs(rules), err)
	}
	m, ok := state.Wealth["p1"]
	if !ok || len(state.Wealth) != 1 || m.Drawdown != 0.125 || !m.Value.Equal(dec("1250.5")) {
		t.Fatalf("wealth marks %+v: want p1's newest computation only (p2 has no drawdown rule)", state.Wealth)
	}
	keys := []string{"p:p1", "p:p2"}
	before, err := st.StateMarks(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if lost, err := st.ClaimStateMarks(ctx, before, "own-1"); err != nil || len(lost) != 0 {
		t.Fatalf("claim: %v %v", lost, err)
	}
	_, cursor, err := st.StateMarkChanges(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	fired := alerts.State{Rules: map[string]alerts.RuleState{alerts.ScopedID(UserA, "dd"): {Fired: true, FiredAt: t0, LastAt: t0}}}
	if err := st.SaveStateAndMarks(ctx, rules, fired); err != nil {
		t.Fatal(err)
	}
	after, err := st.StateMarks(ctx, keys)
	if err != nil || after["p:p1"] == "own-1" || after["p:p2"] == "own-1" || after["p:p1"] == "" {
		t.Fatalf("marks after the save: %v, %v: both keys move", after, err)
	}
	changed, _, err := st.StateMarkChanges(ctx, cursor, "own-")
	if err != nil || changed["p:p1"] != after["p:p1"] || changed["p:p2"] != after["p:p2"] {
		t.Fatalf("the save's marks are not in the feed: %v, %v", changed, err)
	}
	if lost, err := st.ClaimStateMarks(ctx, map[string]string{"p:p1": "own-1"}, "own-2"); err != nil || !slices.Equal(lost, []string{"p:p1"}) {
		t.Fatalf("a claim on the mark held before the save: lost %v, %v", lost, err)
	}
	_, state, err = st.PortfolioRules(ctx, ids)
	if err != nil || !state.Rules[alerts.ScopedID(UserA, "dd")].Fired || len(state.Rules) != 1 {
		t.Fatalf("state after the save: %+v, %v", state.Rules, err)
	}
}

// testSaveStateNeverGoesBack: evaluators that loaded a rule at different times
// (the daily run, the stream path, the prices consumer) save its state in any
// order; the state of the latest tick stays, and a state reached before an edit
// restarted the rule is not kept, whatever its ticks.
func testSaveStateNeverGoesBack(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	mustCreate(t, st, UserA, alerts.Rule{ID: "r", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")})
	rules, _, err := st.PriceRules(ctx, []string{"AAPL"})
	if err != nil || len(rules) != 1 {
		t.Fatal(rules, err)
	}
	id := rules[0].ID
	stored := func() alerts.RuleState {
		t.Helper()
		_, state, err := st.PriceRules(ctx, []string{"AAPL"})
		if err != nil {
			t.Fatal(err)
		}
		return state.Rules[id]
	}
	save := func(rules []alerts.Rule, rs alerts.RuleState) {
		t.Helper()
		if err := st.SaveState(ctx, rules, alerts.State{Rules: map[string]alerts.RuleState{id: rs}}); err != nil {
			t.Fatal(err)
		}
	}
	fired := alerts.RuleState{Fired: true, FiredAt: t0.Add(time.Minute), LastAt: t0.Add(time.Minute)}
	rearmed := alerts.RuleState{Epoch: 1, FiredAt: t0.Add(time.Minute), LastAt: t0.Add(2 * time.Minute)}
	save(rules, rearmed)
	save(rules, fired) // an evaluator that loaded the rule before it re-armed
	if got := stored(); got.Fired || got.Epoch != 1 || !got.LastAt.Equal(rearmed.LastAt) {
		t.Fatalf("an older state replaced the re-armed one: %+v", got)
	}

	// Savers racing: whatever the order, the latest tick's state is kept.
	race(racers, func(i int) {
		rs := alerts.RuleState{Epoch: uint64(2 + i), LastAt: t0.Add(time.Duration(10+i) * time.Minute)}
		if err := st.SaveState(ctx, rules, alerts.State{Rules: map[string]alerts.RuleState{id: rs}}); err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	})
	if got := stored(); got.Epoch != uint64(2+racers-1) || !got.LastAt.Equal(t0.Add(time.Duration(10+racers-1)*time.Minute)) {
		t.Fatalf("after the race the state is %+v; want the latest tick's, epoch %d", got, 2+racers-1)
	}

	// A threshold edit restarts the rule; an evaluator that loaded it before
	// cannot save a state reached on the old threshold, even of a later tick.
	thr := dec("250")
	edited, err := st.Update(ctx, UserA, "r", alerts.Patch{Threshold: &thr})
	if err != nil {
		t.Fatal(err)
	}
	late := time.Now().Add(time.Hour).UTC()
	save(rules, alerts.RuleState{Fired: true, Epoch: 40, FiredAt: late, LastAt: late})
	if got := stored(); got.Fired || got.Epoch != edited.State.Epoch || got.LastAt.Equal(late) {
		t.Fatalf("a state of the rule before its edit was kept: %+v; want %+v", got, edited.State)
	}
	reloaded, _, err := st.PriceRules(ctx, []string{"AAPL"})
	if err != nil || len(reloaded) != 1 {
		t.Fatal(reloaded, err)
	}
	save(reloaded, alerts.RuleState{Fired: true, Epoch: edited.State.Epoch, FiredAt: late, LastAt: late})
	if got := stored(); !got.Fired || !got.LastAt.Equal(late) {
		t.Fatalf("the state of the rule as edited was not saved: %+v", got)
	}
}

// testRecreatedRule: a rule deleted and created again under its ID fires under
// keys its history does not have yet, so each of its firings is recorded (and
// notified) as the first rule's were.
func testRecreatedRule(t *testing.T, s AlertSubject) {
	ctx, st := t.Context(), s.Store
	rule := alerts.Rule{ID: "r", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: dec("200")}
	fire := func(at time.Time) alerts.Firing {
		t.Helper()
		rules, state, err := st.PriceRules(ctx, []string{"AAPL"})
		if err != nil || len(rules) != 1 {
			t.Fatal(rules, err)
		}
		eng, err := alerts.NewEngine(rules...)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Restore(state); err != nil {
			t.Fatal(err)
		}
		fs := eng.Evaluate([]alerts.Tick{alerts.PriceTick("AAPL", dec("201"), decimal.Zero, at)})
		if len(fs) != 1 {
			t.Fatalf("firings at %s: %+v", at, fs)
		}
		if err := st.RecordFirings(ctx, fs); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveState(ctx, rules, eng.State()); err != nil {
			t.Fatal(err)
		}
		return fs[0]
	}
	mustCreate(t, st, UserA, rule)
	keys := []string{fire(t0).Key}
	for i := 1; i <= 2; i++ {
		if err := st.Delete(ctx, UserA, "r"); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, st, UserA, rule)
		key := fire(t0.Add(time.Duration(i) * time.Minute)).Key
		if slices.Contains(keys, key) {
			t.Fatalf("incarnation %d fired under %s, a key of a former one (%v)", i, key, keys)
		}
		keys = append(keys, key)
	}
	hist, _, err := st.History(ctx, UserA, 10, "")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history %+v %v; want one firing per incarnation", hist, err)
	}
	// Another user's rule of the same name starts afresh.
	mustCreate(t, st, UserB, rule)
	if list, err := st.List(ctx, UserB); err != nil || len(list) != 1 || list[0].State.Epoch != 0 {
		t.Fatalf("B's rule r: %+v %v", list, err)
	}
}
