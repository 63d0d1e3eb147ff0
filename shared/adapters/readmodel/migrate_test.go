package readmodel_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all, err := readmodel.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || all[0].Version != 1 {
		t.Fatalf("migrations = %+v", all)
	}

	// Four migrators at once on an empty database: every migration applied once.
	var wg sync.WaitGroup
	applied := make([][]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() { applied[i], errs[i] = readmodel.Migrate(ctx, pool) })
	}
	wg.Wait()
	count := map[int]int{}
	for i := range 4 {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		for _, v := range applied[i] {
			count[v]++
		}
	}
	for _, m := range all {
		if count[m.Version] != 1 {
			t.Errorf("migration %d applied %d times", m.Version, count[m.Version])
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, "select count(*) from schema_migrations").Scan(&rows); err != nil || rows != len(all) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", rows, err, len(all))
	}

	// Again: nothing to do.
	again, err := readmodel.Migrate(ctx, pool)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run applied %v, err %v", again, err)
	}

	// A migration edited after it was applied is refused.
	if _, err := pool.Exec(ctx, "update schema_migrations set checksum = 'edited' where version = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := readmodel.Migrate(ctx, pool); err == nil || !strings.Contains(err.Error(), "changed after it was applied") {
		t.Fatalf("edited migration: err = %v", err)
	}
}

// On Supabase the auth schema and roles exist: the compatibility migration must
// leave an existing auth schema alone.
func TestMigrateKeepsExistingAuthSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `create schema auth;
		create table auth.users (id uuid primary key, email text, raw_user_meta_data jsonb, marker text default 'supabase');
		create function auth.uid() returns uuid language sql stable as $$ select null::uuid $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var marker bool
	if err := pool.QueryRow(ctx, `select exists (select 1 from information_schema.columns
		where table_schema = 'auth' and table_name = 'users' and column_name = 'marker')`).Scan(&marker); err != nil || !marker {
		t.Fatalf("existing auth.users was replaced (marker %v, err %v)", marker, err)
	}
	// The profile trigger works on it.
	if _, err := pool.Exec(ctx, `insert into auth.users (id, email, raw_user_meta_data)
		values ('0c0c0c0c-0000-4000-8000-00000000000c', 'c@example.com', '{"display_name": "C"}')`); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := pool.QueryRow(ctx, "select display_name from profiles where email = 'c@example.com'").Scan(&name); err != nil || name != "C" {
		t.Fatalf("profile display_name = %q, err %v", name, err)
	}
}

// A database that applied 0001 and 0002 before their comments were reworded
// (they cited a design sketch) is up to date: Migrate moves the recorded
// checksums instead of refusing; any other recorded checksum is still refused.
func TestMigrateAcceptsRewordedComments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := readmodel.Open(ctx, testenv.Postgres(t), readmodel.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	earlier := map[int]string{
		1: "a5b04c9444cef29ca7751bdc64f7e404ebe83efc9db655b1a6cbd4d129d9fc74",
		2: "8160055d12f0d31bfaed8734a7696cb7cd7418c30722ba59861275116fa0ceaf",
	}
	for v, sum := range earlier {
		if _, err := pool.Exec(ctx, "update schema_migrations set checksum = $2 where version = $1", v, sum); err != nil {
			t.Fatal(err)
		}
	}
	if applied, err := readmodel.Migrate(ctx, pool); err != nil || len(applied) != 0 {
		t.Fatalf("applied %v, %v", applied, err)
	}
	all, _ := readmodel.Migrations()
	for _, m := range all[:2] {
		var sum string
		if err := pool.QueryRow(ctx, "select checksum from schema_migrations where version = $1", m.Version).Scan(&sum); err != nil || sum != m.Checksum {
			t.Fatalf("migration %d: recorded %s, %v; want %s", m.Version, sum, err, m.Checksum)
		}
	}
	if _, err := pool.Exec(ctx, "update schema_migrations set checksum = 'x' where version = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := readmodel.Migrate(ctx, pool); err == nil || !strings.Contains(err.Error(), "changed after it was applied") {
		t.Fatalf("a changed migration: %v", err)
	}
}
