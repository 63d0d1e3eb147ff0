package main

import (
	"context"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// quotas-backfill counts what users held before the quotas existed, from the
// read models, and running it twice changes nothing.
func TestQuotasBackfill(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	table := testenv.UniqueName(t, "quotas")
	decl, _ := topology.TableByName(topology.QuotasTable)
	if err := dynamo.CreateTable(ctx, client, decl, table); err != nil {
		t.Fatal(err)
	}
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	const a, b = "0a0a0a0a-0000-4000-8000-00000000000a", "0b0b0b0b-0000-4000-8000-00000000000b"
	if _, err := pool.Exec(ctx, `
insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version)
values ('pa1', $1, 'p', 'USD', 'FIFO', now(), now(), 1), ('pa2', $1, 'p', 'USD', 'FIFO', now(), now(), 1),
       ('pb1', $2, 'p', 'USD', 'FIFO', now(), now(), 1);
insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity, price, fee, tax, currency, recorded_at, version)
values ('t1', 'pa1', $1, 1, 'BUY', '2024-01-02', 'AAPL', 1, 1, 0, 0, 'USD', now(), 2),
       ('t2', 'pa2', $1, 2, 'BUY', '2024-01-02', 'AAPL', 1, 1, 0, 0, 'USD', now(), 2),
       ('t3', 'pa2', $1, 3, 'DEPOSIT', '2024-01-02', null, null, null, 0, 0, 'USD', now(), 3);
insert into alert_rules (id, user_id, kind, symbol, definition) values ($1 || ':r', $1, 'price_above', 'MSFT', '{}')`, a, b); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		code, out, errOut := runCLI(t, "quotas-backfill", "--database-url", dsn, "--quotas-table", table)
		if code != 0 || errOut != "" || !strings.Contains(out, "portfolios_per_user: 2 users counted, 0 past the limit") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	}
	store := dynamoquota.New(client, table)
	for _, c := range []struct {
		q    quota.Quota
		user string
		want int
	}{{quota.PortfoliosPerUser, a, 2}, {quota.PortfoliosPerUser, b, 1}, {quota.SymbolsPerUser, a, 2}, {quota.SymbolsPerUser, b, 0}} {
		if n, err := store.Count(ctx, c.q, c.user); err != nil || n != c.want {
			t.Errorf("%s of %s: %d, %v; want %d", c.q.Name, c.user, n, err, c.want)
		}
	}
}
