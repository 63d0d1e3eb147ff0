package readmodel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
)

func TestProfilesKeepTheNewest(t *testing.T) {
	pool, _ := rmtest.DB(t)
	ctx := context.Background()
	profiles := readmodel.NewProfiles(pool)
	const user = "0b7e2f41-3c9d-4a55-8e1f-7d2c6b9a4e10"
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	read := func() (email, name string) {
		t.Helper()
		var e, n *string
		if err := pool.QueryRow(ctx, `select email, display_name from profiles where user_id = $1`, user).Scan(&e, &n); err != nil {
			t.Fatal(err)
		}
		if e != nil {
			email = *e
		}
		if n != nil {
			name = *n
		}
		return email, name
	}
	if err := profiles.Upsert(ctx, user, "ada@example.com", "Ada", t1); err != nil {
		t.Fatal(err)
	}
	if err := profiles.Upsert(ctx, user, "ada@new.example.com", "Ada L.", t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A late sync carrying older data changes nothing.
	if err := profiles.Upsert(ctx, user, "old@example.com", "", t1.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if e, n := read(); e != "ada@new.example.com" || n != "Ada L." {
		t.Fatalf("profile = %q %q, want the newest", e, n)
	}
	if err := profiles.Upsert(ctx, "not-a-uuid", "x@example.com", "", t1); !errors.Is(err, supabaseadmin.ErrUserNotFound) {
		t.Fatalf("bad user ID: %v", err)
	}
}
