package tokenissuer_test

import (
	"context"
	"testing"

	"github.com/supabase-community/gotrue-go/types"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer/storetest"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) tokenissuer.Store { return tokenissuer.NewMemStore() })
}

// The local stack's store: auth.users and auth.refresh_tokens as migration
// 0020 makes them on a cluster that is not Supabase's.
func TestPGStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tokenissuer.Store {
		pool, _ := rmtest.DB(t)
		return tokenissuer.NewPGStore(pool)
	})
}

// On Postgres the stand-in's sign-ups are auth.users rows, so the profile
// trigger follows them as it follows Supabase's.
func TestSignUpOnPostgresMakesAProfile(t *testing.T) {
	pool, _ := rmtest.DB(t)
	iss := newServer(t, tokenissuer.WithStore(tokenissuer.NewPGStore(pool)))
	client := anonClient(t, iss)
	up, err := client.Auth.Signup(types.SignupRequest{Email: "ada@example.test", Password: "correct horse", Data: map[string]any{"display_name": "Ada"}})
	if err != nil {
		t.Fatalf("sign-up: %v", err)
	}
	var email, name string
	var confirmed bool
	err = pool.QueryRow(context.Background(), `select email, display_name, email_confirmed_at is not null from public.profiles where user_id = $1`,
		up.User.ID).Scan(&email, &name, &confirmed)
	if err != nil || email != "ada@example.test" || name != "Ada" || !confirmed {
		t.Errorf("profile: %q %q confirmed %v, %v", email, name, confirmed, err)
	}
	if _, err := client.SignInWithEmailPassword("ada@example.test", "correct horse"); err != nil {
		t.Errorf("sign-in: %v", err)
	}
}

// A table that references auth.users without a cascade blocks the delete, on
// Supabase as here: GoTrue's 500, which the admin client reports as an
// upstream failure (a retried erasure tries again).
func TestDeleteBlockedByAForeignKey(t *testing.T) {
	pool, _ := rmtest.DB(t)
	ctx := context.Background()
	iss := newServer(t, tokenissuer.WithStore(tokenissuer.NewPGStore(pool)))
	const id = "0c000000-0000-4000-8000-000000000001"
	if err := iss.SeedUser(ctx, id, "ada@example.test", "demo-password", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `create table public.keeps_users (user_id uuid references auth.users (id));
		insert into public.keeps_users values ('`+id+`')`); err != nil {
		t.Fatal(err)
	}
	service := []string{"apikey", iss.ServiceRoleKey(), "Authorization", "Bearer " + iss.ServiceRoleKey()}
	st, _, got := call(t, "DELETE", iss.BaseURL()+"/auth/v1/admin/users/"+id, "", service...)
	if st != 500 || got["error_code"] != "unexpected_failure" || got["msg"] != "Database error deleting user" {
		t.Errorf("delete: %d %v", st, got)
	}
	if st, _, _ := call(t, "GET", iss.BaseURL()+"/auth/v1/admin/users/"+id, "", service...); st != 200 {
		t.Errorf("the user is gone after a failed delete: %d", st)
	}
}
