// Package readmodeltest gives tests the read models as the api and ws functions
// see them: through a login role of their own (readmodel.EnsureAPILogin) whose
// every statement runs as the caller (readmodel.CallerDB).
package readmodeltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// API returns the database of ownerDSN (a migrated database of testenv's
// cluster) as the API's login role sees it, and that login's DSN. The role is
// made for this test (roles are cluster-wide) and dropped when it ends.
func API(t testing.TB, ownerDSN string) (*readmodel.CallerDB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	login := readmodel.APILogin{Role: "api_" + randomHex(t, 8), Password: randomHex(t, 16)}
	owner, err := pgx.Connect(ctx, ownerDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(context.Background())
	if err := readmodel.EnsureAPILogin(ctx, owner, login); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ownerDSN)
		if err != nil {
			t.Errorf("readmodeltest: drop role %s: %v", login.Role, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "drop role if exists "+pgx.Identifier{login.Role}.Sanitize()); err != nil {
			t.Errorf("readmodeltest: drop role %s: %v", login.Role, err)
		}
	})
	u, err := url.Parse(ownerDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(login.Role, login.Password)
	pool, err := readmodel.Open(ctx, u.String(), readmodel.PoolOptions{ApplicationName: "api-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // before the role is dropped
	return readmodel.NewCallerDB(pool), u.String()
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
