package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// callerFixture: two users' projected portfolios ("pa" of A, "pb" of B), an
// alert rule and a firing each, a price, and the database as the API's login
// sees it.
func callerFixture(t *testing.T) (owner *pgxpool.Pool, api *readmodel.CallerDB, loginDSN string) {
	t.Helper()
	ctx := t.Context()
	owner, dsn := rmtest.DB(t)
	if _, err := owner.Exec(ctx, `insert into auth.users (id, email) values ($1, 'a@example.com'), ($2, 'b@example.com')`, rmtest.UserA, rmtest.UserB); err != nil {
		t.Fatal(err)
	}
	proj := rmtest.NewProjector(owner)
	for _, h := range []*rmtest.History{rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO), rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.AverageCost)} {
		if failed, err := proj.Apply(ctx, h.Events); err != nil || len(failed) > 0 {
			t.Fatalf("apply: failed %v, err %v", failed, err)
		}
	}
	rules := readmodel.NewAlertRules(owner)
	for _, u := range []string{rmtest.UserA, rmtest.UserB} {
		r, err := rules.Create(ctx, u, alerts.Rule{ID: "rule-" + u[:2], Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := rules.RecordFirings(ctx, []alerts.Firing{{Key: r.Rule.ID + "#1", RuleID: r.Rule.ID, UserID: u, Kind: r.Rule.Kind, Symbol: "AAPL",
			Observed: decimal.NewFromInt(2), Threshold: decimal.NewFromInt(1), At: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.Exec(ctx, `insert into latest_prices values ('AAPL', 190.5, 'USD', now(), 'test')`); err != nil {
		t.Fatal(err)
	}
	api, loginDSN = readmodeltest.API(t, dsn)
	return owner, api, loginDSN
}

func ownerCount(t *testing.T, owner *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// The point of the API's role: a statement that forgot its `where user_id`
// still returns only the caller's rows.
func TestCallerDBUnfilteredQueriesSeeOnlyTheCallersRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, api, _ := callerFixture(t)
	tables := append(slices.Clone(userTables), "alert_rules", "alert_history")
	for _, user := range []string{rmtest.UserA, rmtest.UserB} {
		for _, table := range tables {
			var seen, foreign int
			if err := api.As(user).QueryRow(ctx, "select count(*), count(*) filter (where user_id <> $1::uuid) from "+table, user).Scan(&seen, &foreign); err != nil {
				t.Fatalf("%s as %s: %v", table, user, err)
			}
			own := ownerCount(t, owner, "select count(*) from "+table+" where user_id = $1::uuid", user)
			if foreign != 0 || seen != own || own == 0 {
				t.Errorf("%s as %s: sees %d rows, %d of them another user's; owns %d (the test needs some)", table, user, seen, foreign, own)
			}
		}
	}
	// No user: market data, nothing of anyone's.
	var positions, prices int
	if err := api.QueryRow(ctx, "select (select count(*) from positions), (select count(*) from latest_prices)").Scan(&positions, &prices); err != nil || positions != 0 || prices != 1 {
		t.Errorf("as no user: %d positions, %d prices (err %v), want 0 and 1", positions, prices, err)
	}
	// The stores over the CallerDB: another user's portfolio does not exist.
	q := readmodel.NewQueries(api)
	if _, err := q.GetPortfolio(ctx, rmtest.UserA, "pa"); err != nil {
		t.Errorf("A's own portfolio: %v", err)
	}
	if _, err := q.Positions(ctx, rmtest.UserA, "pb"); !errors.Is(err, portfolio.ErrNotFound) {
		t.Errorf("B's positions as A: %v, want ErrNotFound", err)
	}
	// A batch runs every statement as the caller, in one transaction.
	b := &pgx.Batch{}
	var n, other int
	b.Queue("select count(*) from portfolios").QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	b.Queue("select count(*) from transactions where user_id = $1::uuid", rmtest.UserB).QueryRow(func(r pgx.Row) error { return r.Scan(&other) })
	if err := api.As(rmtest.UserA).SendBatch(ctx, b).Close(); err != nil || n != 1 || other != 0 {
		t.Errorf("batch as A: %d portfolios, %d of B's transactions (err %v), want 1 and 0", n, other, err)
	}
}

// The claims and the role last as long as the statement's transaction: the
// server connection goes back to the pool (Supabase's pooler hands it to
// another client) as the bare login.
func TestCallerDBLeavesNothingOnTheConnection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, _, loginDSN := callerFixture(t)
	pool, err := readmodel.Open(ctx, loginDSN, readmodel.PoolOptions{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := readmodel.NewCallerDB(pool).As(rmtest.UserA).QueryRow(ctx, "select count(*) from portfolios").Scan(&n); err != nil || n != 1 {
		t.Fatalf("as A: %d portfolios (err %v)", n, err)
	}
	var user, claims string
	if err := pool.QueryRow(ctx, "select current_user, coalesce(current_setting('request.jwt.claims', true), '')").Scan(&user, &claims); err != nil {
		t.Fatal(err)
	}
	if login, _ := readmodel.APILoginOf(loginDSN); user != login.Role || claims != "" {
		t.Errorf("the connection after a statement as A: user %s, claims %q; want %s and none", user, claims, login.Role)
	}
}

// What the API may write, it may write only as the caller; the rest not at all.
func TestCallerDBWritesOnlyTheCallersRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, api, _ := callerFixture(t)
	asA := api.As(rmtest.UserA)
	denied := func(what string, err error) {
		t.Helper()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: %v, want permission denied or a row-level security violation", what, err)
		}
	}
	// The projector's tables: read-only.
	_, err := asA.Exec(ctx, "update positions set quantity = 0")
	denied("update positions", err)
	_, err = asA.Exec(ctx, "delete from transactions")
	denied("delete transactions", err)
	_, err = asA.Exec(ctx, "insert into latest_prices values ('EVIL', 1, 'USD', now(), 'x')")
	denied("insert latest_prices", err)
	_, err = asA.Exec(ctx, "update alert_rules set state = '{}'::jsonb")
	denied("update alert_rules' state", err)
	_, err = asA.Exec(ctx, "update alert_history set observed = 0")
	denied("update alert_history's observed", err)
	_, err = asA.Exec(ctx, "truncate schema_migrations")
	denied("truncate schema_migrations", err)
	// Rows of another user: not creatable.
	_, err = asA.Exec(ctx, `insert into alert_rules (id, user_id, kind, symbol, definition) values ('x', $1::uuid, 'price_above', 'AAPL', '{}')`, rmtest.UserB)
	denied("insert B's alert rule", err)
	_, err = asA.Exec(ctx, `insert into symbol_watchers (symbol, connection_id, user_id, expires_at) values ('AAPL', 'c', $1::uuid, now())`, rmtest.UserB)
	denied("insert B's symbol watch", err)
	// A's patch through the store, as the API's role: its own rule changes (and
	// restarts, by its definition, not its state); B's is not found.
	asAPI := readmodel.NewAlertRules(api)
	thr := decimal.NewFromInt(3)
	if got, err := asAPI.Update(ctx, rmtest.UserA, "rule-"+rmtest.UserA[:2], alerts.Patch{Threshold: &thr}); err != nil || !got.Rule.Threshold.Equal(thr) || got.Rule.RestartedAt.IsZero() {
		t.Errorf("A patches its rule through the API's role: %+v %v", got, err)
	}
	if _, err := asAPI.Update(ctx, rmtest.UserA, "rule-"+rmtest.UserB[:2], alerts.Patch{Threshold: &thr}); !errors.Is(err, alerts.ErrNotFound) {
		t.Errorf("A patches B's rule: %v", err)
	}
	if tag, err := asA.Exec(ctx, "update alert_rules set active = false"); err != nil || tag.RowsAffected() != 1 {
		t.Errorf("pause every rule as A: %v rows (err %v), want A's 1", tag.RowsAffected(), err)
	}
	// Unfiltered writes reach the caller's rows only.
	if tag, err := asA.Exec(ctx, "update alert_history set acknowledged_at = now()"); err != nil || tag.RowsAffected() != 1 {
		t.Errorf("acknowledge everything as A: %v rows (err %v), want A's 1", tag.RowsAffected(), err)
	}
	if tag, err := asA.Exec(ctx, "delete from alert_rules"); err != nil || tag.RowsAffected() != 1 {
		t.Errorf("delete every rule as A: %v rows (err %v), want A's 1", tag.RowsAffected(), err)
	}
	if n := ownerCount(t, owner, "select count(*) from alert_rules where user_id = $1::uuid", rmtest.UserB); n != 1 {
		t.Errorf("B has %d rules left, want 1", n)
	}
	if n := ownerCount(t, owner, "select count(*) from alert_history where user_id = $1::uuid and acknowledged_at is null", rmtest.UserB); n != 1 {
		t.Errorf("B has %d unacknowledged firings, want 1", n)
	}
	// A's rule created again, as the API's role, starts above its history's
	// last epoch (1): its firings are new keys (migration 0028).
	again := alerts.Rule{ID: "rule-" + rmtest.UserA[:2], Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(1)}
	scoped := alerts.ScopedID(rmtest.UserA, again.ID)
	if err := readmodel.NewAlertRules(owner).RecordFirings(ctx, []alerts.Firing{{Key: alerts.FiringKey(scoped, 1), RuleID: scoped, UserID: rmtest.UserA,
		Kind: again.Kind, Symbol: "AAPL", Observed: decimal.NewFromInt(2), Threshold: again.Threshold, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := asAPI.Create(ctx, rmtest.UserA, again); err != nil {
		t.Fatalf("A creates its deleted rule again: %v", err)
	}
	if list, err := asAPI.List(ctx, rmtest.UserA); err != nil || len(list) != 1 || list[0].State.Epoch != 2 {
		t.Errorf("A's rule created again: %+v %v; want it at epoch 2", list, err)
	}

	// Symbol watches: the caller's own, and a connection of another user's is not
	// taken over.
	at := time.Now().Add(time.Hour)
	if err := readmodel.WatchSymbols(ctx, asA, "conn-a", rmtest.UserA, []string{"AAPL", "MSFT"}, at); err != nil {
		t.Fatal(err)
	}
	if err := readmodel.WatchSymbols(ctx, api.As(rmtest.UserB), "conn-a", rmtest.UserB, []string{"AAPL"}, at); err == nil {
		t.Error("B took over A's watch of AAPL on A's connection")
	}
	if err := readmodel.UnwatchSymbols(ctx, api.As(rmtest.UserB), "conn-a", nil); err != nil {
		t.Fatal(err)
	}
	users, err := readmodel.WatchersOf(ctx, owner, []string{"AAPL", "MSFT"}, time.Now())
	if err != nil || !slices.Equal(users, []string{rmtest.UserA}) {
		t.Errorf("watchers after B's unwatch of A's connection: %v (err %v), want A", users, err)
	}
	if err := readmodel.UnwatchSymbols(ctx, asA, "conn-a", []string{"MSFT"}); err != nil {
		t.Fatal(err)
	}
	if n := ownerCount(t, owner, "select count(*) from symbol_watchers"); n != 1 {
		t.Errorf("%d watches after A's unwatch of MSFT, want 1", n)
	}
}

// The login role itself reaches nothing: not after `reset role`, not by
// switching to a role other than the API's.
func TestAPILoginHoldsNoPrivilegeOfItsOwn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, _, loginDSN := callerFixture(t)
	login, err := readmodel.APILoginOf(loginDSN)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, loginDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	rows, err := owner.Query(ctx, `select format('%I.%I', n.nspname, c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname in ('public', 'auth') and c.relkind in ('r', 'p', 'v', 'm') order by 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 20 {
		t.Fatalf("%d tables (err %v)", len(tables), err)
	}
	for _, table := range tables {
		for _, prelude := range []string{"", "set local role " + readmodel.APIRole + "; reset role"} {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if prelude != "" {
					if _, err := tx.Exec(ctx, prelude); err != nil {
						t.Fatal(err)
					}
				}
				_, err := tx.Exec(ctx, "select from "+table+" limit 1")
				return err
			})
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("%s as the login (%q): %v, want permission denied", table, prelude, err)
			}
		}
	}
	for _, role := range []string{"service_role", "anon", "postgres"} {
		if _, err := conn.Exec(ctx, "set role "+role); err == nil {
			t.Errorf("the login could become %s", role)
			_, _ = conn.Exec(ctx, "reset role")
		}
	}
	// Nothing granted to it, nothing owned, one membership.
	var grants, owned int
	var memberOf []string
	if err := owner.QueryRow(ctx, `select
		(select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
		  where n.nspname not in ('pg_catalog', 'information_schema')
		    and (has_table_privilege($1, c.oid, 'select, insert, update, delete, truncate, references, trigger')
		         or has_any_column_privilege($1, c.oid, 'select, insert, update, references'))),
		(select count(*) from pg_shdepend where refclassid = 'pg_authid'::regclass and refobjid = (select oid from pg_roles where rolname = $1)),
		array(select r.rolname::text from pg_auth_members m join pg_roles r on r.oid = m.roleid
		       where m.member = (select oid from pg_roles where rolname = $1))`, login.Role).Scan(&grants, &owned, &memberOf); err != nil {
		t.Fatal(err)
	}
	if grants != 0 || owned != 0 || !slices.Equal(memberOf, []string{readmodel.APIRole}) {
		t.Errorf("the login may use %d relations, owns or is granted %d objects, is a member of %v; want 0, 0, [%s]",
			grants, owned, memberOf, readmodel.APIRole)
	}
	var timeout string
	if err := conn.QueryRow(ctx, "show statement_timeout").Scan(&timeout); err != nil || timeout != readmodel.APILoginStatementTimeout {
		t.Errorf("the login's statement_timeout is %q (err %v), want %s", timeout, err, readmodel.APILoginStatementTimeout)
	}
}

// Who may do what beyond reading (migration 0013), on a database migrated with
// Supabase's default privileges (every right on every new table of public for
// anon, authenticated and service_role): anon nothing, authenticated (Supabase's
// Data API role) reads only, the API's role exactly the API's writes, and
// nobody but the owner touches schema_migrations.
func TestAPIRolesPrivileges(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	owner, err := readmodel.Open(ctx, testenv.Postgres(t), readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(owner.Close)
	// Roles are cluster-wide and created by migration 0001, which has not run here.
	for _, role := range []string{"anon nologin noinherit", "authenticated nologin noinherit", "service_role nologin noinherit bypassrls"} {
		if _, err := owner.Exec(ctx, fmt.Sprintf(`do $$ begin create role %s;
			exception when duplicate_object or unique_violation then null; end $$`, role)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.Exec(ctx, "alter default privileges in schema public grant all on tables to anon, authenticated, service_role"); err != nil {
		t.Fatal(err)
	}
	if _, err := readmodel.Migrate(ctx, owner); err != nil {
		t.Fatal(err)
	}
	grants := func(role string) []string {
		t.Helper()
		rows, err := owner.Query(ctx, `
select c.relname || ' ' || lower(a.privilege_type)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
 where n.nspname = 'public' and a.grantee = (select oid from pg_roles where rolname = $1)
union all
select c.relname || ' ' || lower(a.privilege_type) || ' (' || att.attname || ')'
  from pg_attribute att join pg_class c on c.oid = att.attrelid join pg_namespace n on n.oid = c.relnamespace, aclexplode(att.attacl) a
 where n.nspname = 'public' and a.grantee = (select oid from pg_roles where rolname = $1)
 order by 1`, role)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if g := grants("anon"); len(g) > 0 {
		t.Errorf("anon holds %v", g)
	}
	for _, g := range grants("authenticated") {
		if !strings.HasSuffix(g, " select") && !strings.Contains(g, " select (") || strings.HasPrefix(g, "schema_migrations ") {
			t.Errorf("authenticated holds %q: it is Supabase's Data API role, which any signed-in user may act as", g)
		}
		// The pending phone code is the API's alone (0025): its hash read
		// through the Data API would be brute-forced offline.
		if g == "profiles select" || strings.HasPrefix(g, "profiles select (phone_code_") {
			t.Errorf("authenticated holds %q: the phone code's columns are readable through the Data API", g)
		}
	}
	want := []string{
		"alert_history update (acknowledged_at)",
		"alert_rules delete",
		"alert_rules insert (active)", "alert_rules insert (definition)", "alert_rules insert (id)", "alert_rules insert (kind)",
		"alert_rules insert (portfolio_id)", "alert_rules insert (symbol)", "alert_rules insert (user_id)",
		"alert_rules update (active)", "alert_rules update (definition)", "alert_rules update (kind)", "alert_rules update (symbol)",
		// The user service (0023): the caller's phone code in the outbox, its profile.
		"notification_outbox insert (created_at)", "notification_outbox insert (payload)", "notification_outbox insert (source)", "notification_outbox insert (source_key)",
		"notification_outbox insert (user_id)", "notification_outbox select", "notification_outbox_id_seq usage",
		// The public unsubscribe route, as the user its signed token names.
		"notification_unsubscribes insert (created_at)", "notification_unsubscribes insert (scope)", "notification_unsubscribes insert (user_id)",
		"notification_unsubscribes_id_seq usage",
		"profiles insert (base_currency)", "profiles insert (created_at)", "profiles insert (display_name)", "profiles insert (email)",
		"profiles insert (email_confirmed_at)", "profiles insert (locale)", "profiles insert (notification_preferences)",
		"profiles insert (time_zone)", "profiles insert (updated_at)", "profiles insert (user_id)",
		"profiles select (phone_code_attempts)", "profiles select (phone_code_expires_at)", "profiles select (phone_code_hash)",
		"profiles update (base_currency)", "profiles update (display_name)", "profiles update (locale)",
		"profiles update (notification_preferences)", "profiles update (phone)", "profiles update (phone_code_attempts)",
		"profiles update (phone_code_expires_at)", "profiles update (phone_code_hash)", "profiles update (phone_verified_at)",
		"profiles update (time_zone)", "profiles update (updated_at)",
		"suggestions update (decided_at)", "suggestions update (status)", "suggestions update (transaction_id)", "suggestions update (tx_version)",
		"symbol_watchers delete",
		"symbol_watchers insert (connection_id)", "symbol_watchers insert (expires_at)", "symbol_watchers insert (symbol)", "symbol_watchers insert (user_id)",
		"symbol_watchers select",
		"symbol_watchers update (expires_at)", "symbol_watchers update (user_id)",
	}
	if got := grants(readmodel.APIRole); !slices.Equal(got, want) {
		t.Errorf("%s holds\n%v\nwant\n%v", readmodel.APIRole, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var migrationGrants int
	if err := owner.QueryRow(ctx, `select count(*) from pg_class c, aclexplode(c.relacl) a
		where c.oid = 'public.schema_migrations'::regclass and a.grantee <> c.relowner`).Scan(&migrationGrants); err != nil || migrationGrants != 0 {
		t.Errorf("schema_migrations: %d grants to roles other than its owner (err %v)", migrationGrants, err)
	}
	// Every write the API's role holds is bounded by a policy of its own, for the
	// caller's rows.
	rows, err := owner.Query(ctx, `select tablename || ' ' || cmd || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
		from pg_policies where schemaname = 'public' and $1 = any(roles) order by 1`, readmodel.APIRole)
	if err != nil {
		t.Fatal(err)
	}
	policies, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		if strings.Count(p, "auth.uid()") != strings.Count(p, "= user_id") || !strings.Contains(p, "auth.uid()") {
			t.Errorf("policy %q does not tie the rows to the caller", p)
		}
	}
	if len(policies) != 15 { // 8, alert rules' update (0022), the user service's 4 (0023), the unsubscribe's 2 (0021)
		t.Errorf("%d policies for %s, want 15: %v", len(policies), readmodel.APIRole, policies)
	}
}
