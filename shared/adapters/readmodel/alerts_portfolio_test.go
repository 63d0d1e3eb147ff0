package readmodel_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
)

// ownPortfolios writes portfolios as the projector does: ids of user.
func ownPortfolios(t *testing.T, pool *pgxpool.Pool, user string, ids ...string) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
select id, $2::uuid, 'p', 'USD', 'FIFO', now(), now(), 1 from unnest($1::text[]) id`, ids, user); err != nil {
		t.Fatal(err)
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
 where r.portfolio_id = any($1::text[]) and r.portfolio_id <> '' and r.active and r.kind = any($2::text[])`, []string{"p1", "p2"}, []string{"value_drop"})
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
