package readmodel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

var userTables = []string{"profiles", "portfolios", "transactions", "positions", "portfolio_totals", "cash_balances", "targets"}

// asRole runs fn in a transaction as the API role with the given JWT subject ("" for
// none), the way PostgREST does, and rolls it back.
func asRole(t *testing.T, pool *pgxpool.Pool, role, sub string, fn func(tx pgx.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	claims := "{}"
	if sub != "" {
		claims = fmt.Sprintf(`{"sub":"%s","role":"%s"}`, sub, role)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("set local role %s; set local request.jwt.claims = '%s'", role, claims)); err != nil {
		t.Fatal(err)
	}
	fn(tx)
}

func count(t *testing.T, tx pgx.Tx, sql string) (int, error) {
	t.Helper()
	ctx := context.Background()
	if _, err := tx.Exec(ctx, "savepoint q"); err != nil {
		t.Fatal(err)
	}
	var n int
	err := tx.QueryRow(ctx, sql).Scan(&n)
	if err != nil {
		if _, err2 := tx.Exec(ctx, "rollback to savepoint q"); err2 != nil {
			t.Fatal(err2)
		}
	}
	return n, err
}

func TestRLSIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	if _, err := pool.Exec(ctx, `insert into auth.users (id, email) values ($1, 'a@example.com'), ($2, 'b@example.com')`,
		rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	proj := rmtest.NewProjector(pool)
	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.AverageCost)
	for _, h := range []*rmtest.History{a, b} {
		if failed, err := proj.Apply(ctx, h.Events); err != nil || len(failed) > 0 {
			t.Fatalf("apply: failed %v, err %v", failed, err)
		}
	}
	if _, err := pool.Exec(ctx, `insert into latest_prices values ('AAPL', 190.5, 'USD', now(), 'test');
		insert into projection_failures (aggregate_id, version, reason) values ('pa', 99, 'test')`); err != nil {
		t.Fatal(err)
	}

	for _, viewer := range []struct{ me, other string }{{rmtest.UserA, rmtest.UserB}, {rmtest.UserB, rmtest.UserA}} {
		asRole(t, pool, "authenticated", viewer.me, func(tx pgx.Tx) {
			for _, table := range userTables {
				others, err := count(t, tx, fmt.Sprintf("select count(*) from %s where user_id <> '%s'", table, viewer.me))
				if err != nil || others != 0 {
					t.Errorf("%s as %s: sees %d rows of others (err %v)", table, viewer.me, others, err)
				}
				own, err := count(t, tx, "select count(*) from "+table)
				if err != nil || own == 0 {
					t.Errorf("%s as %s: sees %d own rows (err %v); the test needs some", table, viewer.me, own, err)
				}
			}
			for _, table := range []string{"projection_checkpoints", "projection_failures", "schema_migrations"} {
				if n, err := count(t, tx, "select count(*) from "+table); err == nil && n != 0 {
					t.Errorf("%s: authenticated sees %d internal rows", table, n)
				}
			}
			// The pending phone code is not the Data API's (0025): a user who
			// asked for a code for someone else's number must not read its hash.
			for _, col := range []string{"phone_code_hash", "phone_code_expires_at", "phone_code_attempts"} {
				if _, err := count(t, tx, "select count("+col+") from profiles"); err == nil {
					t.Errorf("authenticated reads profiles.%s", col)
				}
			}
			if n, err := count(t, tx, "select count(phone) + count(notification_preferences) + count(email) from profiles"); err != nil || n == 0 {
				t.Errorf("authenticated reads no own profile (%d, err %v)", n, err)
			}
			if n, err := count(t, tx, "select count(*) from latest_prices"); err != nil || n != 1 {
				t.Errorf("latest_prices: authenticated sees %d rows (err %v), want 1", n, err)
			}
			if _, err := count(t, tx, fmt.Sprintf(`with w as (insert into portfolios values ('evil', '%s', 'x', '', 'USD', 'FIFO',
				false, null, now(), now(), 1) returning 1) select count(*) from w`, viewer.me)); err == nil {
				t.Error("authenticated could insert into portfolios")
			}
			if _, err := count(t, tx, `with w as (update positions set quantity = 0 returning 1) select count(*) from w`); err == nil {
				t.Error("authenticated could update positions")
			}
		})
	}
	// Signed in but no subject, and anonymous: nothing of anyone's.
	for _, role := range []string{"authenticated", "anon"} {
		asRole(t, pool, role, "", func(tx pgx.Tx) {
			for _, table := range userTables {
				if n, err := count(t, tx, "select count(*) from "+table); err == nil && n != 0 {
					t.Errorf("%s without a user sees %d rows of %s", role, n, table)
				}
			}
		})
	}
	asRole(t, pool, "anon", "", func(tx pgx.Tx) {
		if n, err := count(t, tx, "select count(*) from latest_prices"); err == nil && n != 0 {
			t.Errorf("anon sees %d prices", n)
		}
	})

	// Every table of the schema has RLS, and every user_id column leads an index.
	rows, err := pool.Query(ctx, `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity`)
	if err != nil {
		t.Fatal(err)
	}
	noRLS, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(noRLS) > 0 {
		t.Errorf("tables without RLS: %v (err %v)", noRLS, err)
	}
	rows, err = pool.Query(ctx, `select c.table_name from information_schema.columns c
		where c.table_schema = 'public' and c.column_name = 'user_id'
		  and not exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
		                  where i.indrelid = ('public.' || c.table_name)::regclass and a.attname = 'user_id')`)
	if err != nil {
		t.Fatal(err)
	}
	unindexed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(unindexed) > 0 {
		t.Errorf("user_id not indexed in: %v (err %v)", unindexed, err)
	}
}
