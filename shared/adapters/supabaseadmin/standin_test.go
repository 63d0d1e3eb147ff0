package supabaseadmin_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

// The local Supabase Auth stand-in, which speaks GoTrue's admin routes: the
// Client runs against it exactly as against a Supabase project.
func standIn(t *testing.T) *tokenissuer.Issuer {
	t.Helper()
	iss, err := tokenissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	for _, u := range []struct{ id, email, name string }{{aliceID, "alice@example.test", "Alice"}, {bobID, "bob@example.test", "Bob"}} {
		if err := iss.SeedUser(context.Background(), u.id, u.email, "demo-password", u.name); err != nil {
			t.Fatal(err)
		}
	}
	return iss
}

func standInClient(t *testing.T, iss *tokenissuer.Issuer, key string) *supabaseadmin.Client {
	t.Helper()
	c, err := supabaseadmin.New(supabaseadmin.Config{URL: iss.BaseURL(), ServiceKey: keyFunc(key), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStandInUsersAndDelete(t *testing.T) {
	iss := standIn(t)
	c := standInClient(t, iss, iss.ServiceRoleKey())
	ctx := context.Background()

	u, err := c.User(ctx, aliceID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if u.ID != aliceID || u.Email != "alice@example.test" || u.DisplayName != "Alice" || !u.EmailConfirmed || u.CreatedAt.IsZero() {
		t.Errorf("User = %+v", u)
	}
	users, err := c.Users(ctx, 1, 10)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, []string{bobID, aliceID}) {
		t.Errorf("Users = %v", ids)
	}

	if err := c.DeleteUser(ctx, strings.ToUpper(bobID)); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := c.User(ctx, bobID); !errors.Is(err, supabaseadmin.ErrUserNotFound) {
		t.Errorf("User after DeleteUser: %v, want ErrUserNotFound", err)
	}
	// A retried erasure finds the user gone.
	err = c.DeleteUser(ctx, bobID)
	var e *supabaseadmin.Error
	if !errors.Is(err, supabaseadmin.ErrUserNotFound) || !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Op != "delete user" || e.Code != "user_not_found" {
		t.Errorf("DeleteUser again: %v, want ErrUserNotFound from a 404", err)
	}
	if _, err := c.User(ctx, aliceID); err != nil {
		t.Errorf("another user after DeleteUser: %v", err)
	}
	if err := c.DeleteUser(ctx, "not-a-uuid"); !errors.Is(err, supabaseadmin.ErrUserNotFound) {
		t.Errorf("DeleteUser of a non-UUID: %v", err)
	}
}

// Only the service-role key may use the admin routes: the anon key passes the
// gateway and is refused by GoTrue (403), another project's key is refused by
// the gateway (401).
func TestStandInRefusesOtherKeys(t *testing.T) {
	iss := standIn(t)
	other, err := tokenissuer.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]string{"anon": iss.AnonKey(), "another project's service role": other.ServiceRoleKey()} {
		c := standInClient(t, iss, key)
		for op, call := range map[string]func() error{
			"delete": func() error { return c.DeleteUser(context.Background(), aliceID) },
			"get":    func() error { _, err := c.User(context.Background(), aliceID); return err },
		} {
			if err := call(); !errors.Is(err, supabaseadmin.ErrUnauthorized) {
				t.Errorf("%s key, %s: %v, want ErrUnauthorized", name, op, err)
			}
		}
	}
	if _, err := standInClient(t, iss, iss.ServiceRoleKey()).User(context.Background(), aliceID); err != nil {
		t.Errorf("the user survived refused deletes? %v", err)
	}
}

// What the DELETE request is on the wire, and an upstream failure of it.
func TestDeleteUserRequestAndFailure(t *testing.T) {
	f := newFakeGoTrue(t)
	f.setFault(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": 500, "error_code": "unexpected_failure", "msg": "Database error deleting user"})
	})
	c := newClient(t, f, serviceKey)
	err := c.DeleteUser(context.Background(), aliceID)
	e := checkErr(t, err, supabaseadmin.ErrUpstream)
	if e.Status != 500 || e.Code != "unexpected_failure" || e.UserID != aliceID {
		t.Errorf("error %+v", e)
	}
	reqs := f.seen()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodDelete || r.URL.Path != "/auth/v1/admin/users/"+aliceID || r.ContentLength > 0 ||
		r.Header.Get("apikey") != serviceKey || r.Header.Get("Authorization") != "Bearer "+serviceKey {
		t.Errorf("request %s %s (length %d), apikey=%q Authorization=%q", r.Method, r.URL, r.ContentLength, r.Header.Get("apikey"), r.Header.Get("Authorization"))
	}
}
