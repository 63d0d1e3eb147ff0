package readmodel_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// scoped names the test's rules as the store keeps them: "a-…" are user A's,
// "b-…" user B's.
func scoped(ids []string) []string {
	var out []string
	for _, id := range ids {
		user := rmtest.UserA
		if strings.HasPrefix(id, "b-") {
			user = rmtest.UserB
		}
		out = append(out, alerts.ScopedID(user, id))
	}
	return out
}

func ruleIDs(rules []alerts.Rule) []string {
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	return ids
}

// ownPortfolios writes portfolios as the projector does: ids of user.
func ownPortfolios(t *testing.T, pool *pgxpool.Pool, user string, ids ...string) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
select id, $2::uuid, 'p', 'USD', 'FIFO', now(), now(), 1 from unnest($1::text[]) id`, ids, user); err != nil {
		t.Fatal(err)
	}
}

func TestPortfolioRulesByPortfolioAndMetric(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	store := readmodel.NewAlertRules(pool)
	ownPortfolios(t, pool, rmtest.UserA, "p1")
	ownPortfolios(t, pool, rmtest.UserB, "p2", "p3")
	d := decimal.RequireFromString
	hour := alerts.Duration(time.Hour)

	create := func(user string, r alerts.Rule) {
		t.Helper()
		if _, err := store.Create(ctx, user, r); err != nil {
			t.Fatal(err)
		}
	}
	create(rmtest.UserA, alerts.Rule{ID: "a-drop", Kind: alerts.KindValueDrop, PortfolioID: "p1", Threshold: d("0.05"), Window: hour})
	create(rmtest.UserA, alerts.Rule{ID: "a-drop2", Kind: alerts.KindValueDrop, PortfolioID: "p1", Threshold: d("0.10"), Window: 2 * hour})
	create(rmtest.UserA, alerts.Rule{ID: "a-drift", Kind: alerts.KindWeightDrift, PortfolioID: "p1", Symbol: "AAPL", TargetWeight: d("0.5"), Threshold: d("0.05")})
	create(rmtest.UserA, alerts.Rule{ID: "a-dd", Kind: alerts.KindDrawdown, PortfolioID: "p1", Threshold: d("0.2")})
	create(rmtest.UserA, alerts.Rule{ID: "a-price", Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: d("200")})
	create(rmtest.UserB, alerts.Rule{ID: "b-drop", Kind: alerts.KindValueDrop, PortfolioID: "p2", Threshold: d("0.05"), Window: hour})
	create(rmtest.UserB, alerts.Rule{ID: "b-var", Kind: alerts.KindVaRBreach, PortfolioID: "p2", Threshold: d("1000")})
	create(rmtest.UserB, alerts.Rule{ID: "b-drop-other", Kind: alerts.KindValueDrop, PortfolioID: "p3", Threshold: d("0.05"), Window: hour})

	for _, tc := range []struct {
		name       string
		portfolios []string
		metrics    []alerts.Metric
		want       []string
	}{
		{"value rules of two portfolios", []string{"p1", "p2"}, []alerts.Metric{alerts.MetricValue}, []string{"a-drop", "a-drop2", "b-drop"}},
		{"weight rules", []string{"p1", "p2", "p3"}, []alerts.Metric{alerts.MetricWeight}, []string{"a-drift"}},
		{"two metrics", []string{"p1", "p2"}, []alerts.Metric{alerts.MetricDrawdown, alerts.MetricVaR}, []string{"a-dd", "b-var"}},
		{"every portfolio metric", []string{"p1"}, nil, []string{"a-dd", "a-drift", "a-drop", "a-drop2"}},
		{"price metric is no portfolio rule", []string{"p1"}, []alerts.Metric{alerts.MetricPrice}, nil},
		{"unknown portfolio", []string{"nope"}, []alerts.Metric{alerts.MetricValue}, nil},
		{"no portfolio", nil, []alerts.Metric{alerts.MetricValue}, nil},
	} {
		rules, st, err := store.PortfolioRules(ctx, tc.portfolios, tc.metrics...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ruleIDs(rules); !slices.Equal(got, scoped(tc.want)) {
			t.Errorf("%s: rules %v, want %v", tc.name, got, tc.want)
		}
		if len(st.Rules) != 0 || len(st.Values) != 0 {
			t.Errorf("%s: fresh rules have state %+v", tc.name, st)
		}
	}

	// State round trip, value history included: the engine restored from the store
	// remembers the peak of the previous batch.
	rules, st, err := store.PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerts.NewEngine(rules...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Restore(st); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	if fs := eng.Evaluate([]alerts.Tick{alerts.ValueTick("p1", d("1000"), t0), alerts.ValueTick("p2", d("500"), t0)}); len(fs) != 0 {
		t.Fatalf("first values fired %+v", fs)
	}
	if err := store.SaveState(ctx, rules, eng.State()); err != nil {
		t.Fatal(err)
	}
	rules2, st2, err := store.PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue)
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.Values["p1"]) != 1 || !st2.Values["p1"][0].Value.Equal(d("1000")) || !st2.Values["p1"][0].At.Equal(t0) || len(st2.Values["p2"]) != 1 {
		t.Fatalf("value samples round trip: %+v", st2.Values)
	}
	if len(st2.Rules) != 3 || !st2.Rules[alerts.ScopedID(rmtest.UserA, "a-drop")].LastAt.Equal(t0) {
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
	fs := eng2.Evaluate([]alerts.Tick{alerts.ValueTick("p1", d("940"), t0.Add(time.Minute))})
	if len(fs) != 1 || fs[0].ForOwner().RuleID != "a-drop" || !fs[0].Observed.Equal(d("0.06")) {
		t.Fatalf("restored engine firings %+v", fs)
	}
	// Saving the weight rules (what the analytics function does) leaves the value
	// samples alone; saving value rules whose portfolio has no samples forgets them.
	wrules, wst, err := store.PortfolioRules(ctx, []string{"p1"}, alerts.MetricWeight)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveState(ctx, wrules, wst); err != nil {
		t.Fatal(err)
	}
	if _, st3, _ := store.PortfolioRules(ctx, []string{"p1"}, alerts.MetricValue); len(st3.Values["p1"]) != 1 {
		t.Fatalf("weight rules' save touched the value samples: %+v", st3.Values)
	}
	if err := store.SaveState(ctx, rules2, alerts.State{}); err != nil {
		t.Fatal(err)
	}
	if _, st4, _ := store.PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue); len(st4.Values) != 0 || len(st4.Rules) != 0 {
		t.Fatalf("empty state not saved: %+v", st4)
	}
}

// The rules of a few portfolios are found through the portfolio index, not by a
// scan of every rule.
func TestPortfolioRulesUsesIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	if _, err := pool.Exec(ctx, `
insert into alert_rules (id, user_id, kind, symbol, portfolio_id, definition)
select 'r' || i, $1::uuid, 'value_drop', '', 'p' || (i % 5000),
       jsonb_build_object('id', 'r' || i, 'kind', 'value_drop', 'portfolioId', 'p' || (i % 5000), 'threshold', '0.05', 'window', '1h')
  from generate_series(1, 20000) i;
insert into alert_rules (id, user_id, kind, symbol, portfolio_id, definition)
select 's' || i, $1::uuid, 'price_above', 'S' || (i % 500), '',
       jsonb_build_object('id', 's' || i, 'kind', 'price_above', 'symbol', 'S' || (i % 500), 'threshold', '10')
  from generate_series(1, 20000) i;
analyze alert_rules`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
select 'p' || i, $1::uuid, 'p', 'USD', 'FIFO', now(), now(), 1 from generate_series(0, 4999) i; analyze portfolios`, rmtest.UserA); err != nil {
		t.Fatal(err)
	}
	rules, _, err := readmodel.NewAlertRules(pool).PortfolioRules(ctx, []string{"p1", "p2"}, alerts.MetricValue)
	if err != nil || len(rules) != 8 {
		t.Fatalf("rules %d, %v", len(rules), err)
	}
	rows, err := pool.Query(ctx, `explain select r.definition::text, coalesce(r.state::text, '')
  from alert_rules r join portfolios p on p.id = r.portfolio_id and p.user_id = r.user_id
 where r.portfolio_id = any($1::text[]) and r.portfolio_id <> '' and r.kind = any($2::text[])`, []string{"p1", "p2"}, []string{"value_drop"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "alert_rules_portfolio_idx") || strings.Contains(text, "Seq Scan") {
		t.Fatalf("plan does not use the portfolio index:\n%s", text)
	}
}

var _ pricing.PortfolioAlertStore = (*readmodel.AlertRules)(nil)

// A rule on another user's portfolio is never evaluated (issue 13, hole 1): the
// API refuses to create one, and rules that exist anyway (written before that
// check, or by hand) are not joined to the portfolio.
func TestPortfolioRulesJoinOnlyTheirOwnersPortfolios(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	store := readmodel.NewAlertRules(pool)
	ownPortfolios(t, pool, rmtest.UserA, "a-pf")
	ownPortfolios(t, pool, rmtest.UserB, "b-pf")
	d := decimal.RequireFromString
	for _, c := range []struct {
		user string
		rule alerts.Rule
	}{
		{rmtest.UserA, alerts.Rule{ID: "own", Kind: alerts.KindValueDrop, PortfolioID: "a-pf", Threshold: d("0.05"), Window: alerts.Duration(time.Hour)}},
		{rmtest.UserA, alerts.Rule{ID: "spy", Kind: alerts.KindValueDrop, PortfolioID: "b-pf", Threshold: d("0.05"), Window: alerts.Duration(time.Hour)}},
		{rmtest.UserA, alerts.Rule{ID: "spy-dd", Kind: alerts.KindDrawdown, PortfolioID: "b-pf", Threshold: d("0.01")}},
	} {
		if _, err := store.Create(ctx, c.user, c.rule); err != nil {
			t.Fatal(err)
		}
	}
	rules, _, err := store.PortfolioRules(ctx, []string{"a-pf", "b-pf"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ruleIDs(rules); !slices.Equal(got, []string{alerts.ScopedID(rmtest.UserA, "own")}) {
		t.Fatalf("rules %v: only A's rule on A's portfolio may be evaluated", got)
	}
}
