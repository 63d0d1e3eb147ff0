package readmodel_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func uniqueRole(t *testing.T, prefix string) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// dropRoles drops the roles at the end (they are cluster-wide), after what they own.
func dropRoles(t *testing.T, pool *pgxpool.Pool, roles ...string) {
	t.Cleanup(func() {
		for _, r := range roles {
			if _, err := pool.Exec(context.Background(), "drop owned by "+r+"; drop role if exists "+r); err != nil {
				t.Errorf("drop role %s: %v", r, err)
			}
		}
	})
}

func TestEnsureAPILoginCreatesRotatesAndRefusesOtherRoles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := rmtest.DB(t)
	login := readmodel.APILogin{Role: uniqueRole(t, "api_"), Password: "first-password-0123456789"}
	owner, privileged, member := uniqueRole(t, "owner_"), uniqueRole(t, "cdb_"), uniqueRole(t, "member_")
	dropRoles(t, pool, login.Role, owner, privileged, member)
	state := func() (verifier string, canLogin, inherits bool) {
		t.Helper()
		if err := pool.QueryRow(ctx, "select rolpassword, rolcanlogin, rolinherit from pg_authid where rolname = $1", login.Role).Scan(&verifier, &canLogin, &inherits); err != nil {
			t.Fatal(err)
		}
		return
	}

	if err := readmodel.EnsureAPILogin(ctx, pool, login); err != nil {
		t.Fatal(err)
	}
	first, canLogin, inherits := state()
	if !strings.HasPrefix(first, "SCRAM-SHA-256$4096:") || !canLogin || inherits {
		t.Fatalf("created: %q, login %v, inherit %v; want a SCRAM verifier, LOGIN, NOINHERIT", first, canLogin, inherits)
	}
	// Again: the same verifier (a pooler caching it sees no change).
	if err := readmodel.EnsureAPILogin(ctx, pool, login); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := state(); again != first {
		t.Errorf("a second run changed the verifier: %q → %q", first, again)
	}
	// A rotation: the new password's verifier, and an inheriting role set back.
	if _, err := pool.Exec(ctx, "alter role "+login.Role+" inherit"); err != nil {
		t.Fatal(err)
	}
	login.Password = "second-password-0123456789"
	if err := readmodel.EnsureAPILogin(ctx, pool, login); err != nil {
		t.Fatal(err)
	}
	if rotated, _, inherits := state(); rotated == first || inherits {
		t.Errorf("after a rotation: verifier %q (was %q), inherit %v", rotated, first, inherits)
	}

	// Roles that are not a dedicated login are never changed.
	if _, err := pool.Exec(ctx, "create role "+owner+" login; create table owned_by_it (); alter table owned_by_it owner to "+owner+
		"; create role "+privileged+" login createdb; create role "+member+" login in role authenticated"); err != nil {
		t.Fatal(err)
	}
	for role, why := range map[string]string{owner: "owns objects", privileged: "privileges of its own", member: "member of authenticated"} {
		err := readmodel.EnsureAPILogin(ctx, pool, readmodel.APILogin{Role: role, Password: "some-password-0123456789"})
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want a refusal (%s)", role, err, why)
		}
		var canLogin bool
		var verifier *string
		if err := pool.QueryRow(ctx, "select rolcanlogin, rolpassword from pg_authid where rolname = $1", role).Scan(&canLogin, &verifier); err != nil || verifier != nil {
			t.Errorf("%s: its password was set (%v)", role, err)
		}
	}
	for _, bad := range []readmodel.APILogin{
		{Role: "postgres", Password: "long-enough-password-0123"},
		{Role: "authenticated", Password: "long-enough-password-0123"},
		{Role: readmodel.APIRole, Password: "long-enough-password-0123"},
		{Role: "pg_monitor", Password: "long-enough-password-0123"},
		{Role: "supabase_admin", Password: "long-enough-password-0123"},
		{Role: `x"; drop table positions; --`, Password: "long-enough-password-0123"},
		{Role: login.Role, Password: "short"},
		{Role: login.Role, Password: "with a space in it 0123456789"},
		{Role: login.Role, Password: "non-ascii-pässword-0123456789"},
	} {
		if err := readmodel.EnsureAPILogin(ctx, pool, bad); err == nil {
			t.Errorf("%q / %q accepted", bad.Role, bad.Password)
		}
	}
}

func TestAPILoginOfReadsTheRoleFromTheDSN(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://pt_prod_api.abcdefghijklmnop:s3cret-s3cret-s3cret@aws-0-eu-west-1.pooler.supabase.com:6543/postgres?sslmode=require": "pt_prod_api",
		"postgres://pt_local_api:s3cret-s3cret-s3cret@127.0.0.1:54322/tracker?sslmode=disable":                                           "pt_local_api",
		"host=127.0.0.1 user=api_x password=s3cret-s3cret-s3cret dbname=tracker sslmode=disable":                                         "api_x",
	} {
		got, err := readmodel.APILoginOf(dsn)
		if err != nil || got.Role != want || got.Password != "s3cret-s3cret-s3cret" {
			t.Errorf("%s: %+v %v, want role %s", dsn, got, err, want)
		}
	}
	// A dotted user elsewhere than Supabase's pooler is not a role name.
	if _, err := readmodel.APILoginOf("postgres://a.b:s3cret-s3cret-s3cret@db.example.com/x?sslmode=require"); err == nil {
		t.Error("a.b accepted as a role")
	}
}

// The variables this package names in its errors are the ones the stacks set
// (topology.Secrets).
func TestDatabaseSecretVariablesAreTheTopologys(t *testing.T) {
	want := map[string][2]string{topology.DatabaseSecret: {readmodel.EnvDatabaseSecretARN, readmodel.EnvDatabaseURL},
		topology.APIDatabaseSecret: {readmodel.EnvAPIDatabaseSecretARN, readmodel.EnvAPIDatabaseURL}}
	for _, s := range topology.Secrets() {
		if v, ok := want[s.Name]; ok && (s.EnvVar != v[0] || s.PlainEnvVar != v[1]) {
			t.Errorf("secret %s: the stacks set %s or %s, readmodel names %v", s.Name, s.EnvVar, s.PlainEnvVar, v)
		}
		delete(want, s.Name)
	}
	if len(want) > 0 {
		t.Errorf("secrets not in the topology: %v", want)
	}
}
