// Package storetest is the contract suite of tokenissuer.Store: every
// implementation (the Postgres one on auth.users, the in-memory one) runs it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Run runs the suite; newStore returns an empty store for one subtest.
func Run(t *testing.T, newStore func(t *testing.T) tokenissuer.Store) {
	for name, test := range map[string]func(*testing.T, tokenissuer.Store){
		"users round-trip":             usersRoundTrip,
		"e-mail and ID are unique":     uniqueUsers,
		"users page newest first":      usersPaged,
		"seed fills what is missing":   seedFills,
		"sign-in time":                 signInTime,
		"refresh tokens rotate":        tokensRotate,
		"reuse revokes the session":    reuseRevokes,
		"one of racing rotations wins": racingRotations,
		"logout scopes":                logoutScopes,
		"deleting a user ends it all":  deleteUser,
	} {
		t.Run(name, func(t *testing.T) { test(t, newStore(t)) })
	}
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)

func newUser(email string, created time.Time) tokenissuer.User {
	return tokenissuer.User{
		ID: uuid.New(), Email: email, PasswordHash: "$2a$10$hash-of-" + email,
		EmailConfirmedAt: created.Add(time.Second),
		AppMetadata:      map[string]any{"provider": "email", "providers": []any{"email"}},
		UserMetadata:     map[string]any{"display_name": "Ada", "email_verified": true},
		CreatedAt:        created, UpdatedAt: created,
	}
}

// want is u as any store gives it back: microseconds, UTC, lower-case e-mail.
func want(u tokenissuer.User) tokenissuer.User {
	for _, p := range []*time.Time{&u.EmailConfirmedAt, &u.PhoneConfirmedAt, &u.LastSignInAt, &u.CreatedAt, &u.UpdatedAt} {
		if !p.IsZero() {
			*p = p.UTC().Truncate(time.Microsecond)
		}
	}
	u.Email = strings.ToLower(u.Email)
	return u
}

func same(t *testing.T, what string, got, want tokenissuer.User) {
	t.Helper()
	for _, p := range []struct{ g, w *time.Time }{{&got.EmailConfirmedAt, &want.EmailConfirmedAt}, {&got.PhoneConfirmedAt, &want.PhoneConfirmedAt},
		{&got.LastSignInAt, &want.LastSignInAt}, {&got.CreatedAt, &want.CreatedAt}, {&got.UpdatedAt, &want.UpdatedAt}} {
		if !p.g.Equal(*p.w) {
			t.Errorf("%s: time %v, want %v", what, *p.g, *p.w)
		}
		*p.g = *p.w
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func usersRoundTrip(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	u := newUser("Ada.Lovelace@Example.test", t0)
	u.Phone = "+15551234567"
	u.PhoneConfirmedAt = t0.Add(time.Minute)
	must(t, s.CreateUser(ctx, u))
	got, err := s.User(ctx, u.ID)
	must(t, err)
	same(t, "by ID", got, want(u))
	got, err = s.UserByEmail(ctx, "ADA.lovelace@example.TEST")
	must(t, err)
	same(t, "by e-mail", got, want(u))

	plain := tokenissuer.User{ID: uuid.New(), CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateUser(ctx, plain))
	got, err = s.User(ctx, plain.ID)
	must(t, err)
	if got.Email != "" || got.PasswordHash != "" || !got.EmailConfirmedAt.IsZero() || !got.LastSignInAt.IsZero() || got.AppMetadata == nil || got.UserMetadata == nil {
		t.Errorf("a user without e-mail, password or metadata: %+v", got)
	}

	for _, id := range []string{uuid.New(), "not-a-uuid", ""} {
		if _, err := s.User(ctx, id); !errors.Is(err, tokenissuer.ErrUserNotFound) {
			t.Errorf("User(%q) = %v, want ErrUserNotFound", id, err)
		}
	}
	for _, email := range []string{"nobody@example.test", ""} {
		if _, err := s.UserByEmail(ctx, email); !errors.Is(err, tokenissuer.ErrUserNotFound) {
			t.Errorf("UserByEmail(%q) = %v, want ErrUserNotFound", email, err)
		}
	}
}

func uniqueUsers(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	u := newUser("ada@example.test", t0)
	must(t, s.CreateUser(ctx, u))
	again := newUser("ADA@example.test", t0)
	if err := s.CreateUser(ctx, again); !errors.Is(err, tokenissuer.ErrUserExists) {
		t.Errorf("same e-mail in other case: %v, want ErrUserExists", err)
	}
	sameID := newUser("other@example.test", t0)
	sameID.ID = u.ID
	if err := s.CreateUser(ctx, sameID); !errors.Is(err, tokenissuer.ErrUserExists) {
		t.Errorf("same ID: %v, want ErrUserExists", err)
	}
	// Users without an e-mail do not collide.
	for range 2 {
		must(t, s.CreateUser(ctx, tokenissuer.User{ID: uuid.New(), CreatedAt: t0, UpdatedAt: t0}))
	}
}

func usersPaged(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	var ids []string
	for n := range 5 {
		u := newUser(fmt.Sprintf("u%d@example.test", n), t0.Add(time.Duration(n)*time.Hour))
		must(t, s.CreateUser(ctx, u))
		ids = append([]string{u.ID}, ids...) // newest first
	}
	var got []string
	for page := 1; page <= 3; page++ {
		users, total, err := s.Users(ctx, page, 2)
		must(t, err)
		if total != 5 {
			t.Errorf("page %d: total %d, want 5", page, total)
		}
		if want := min(2, 5-2*(page-1)); len(users) != want {
			t.Errorf("page %d: %d users, want %d", page, len(users), want)
		}
		for _, u := range users {
			got = append(got, u.ID)
		}
	}
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("pages give %v, want newest first %v", got, ids)
	}
	users, _, err := s.Users(ctx, 4, 2)
	must(t, err)
	if len(users) != 0 {
		t.Errorf("a page past the end has %d users", len(users))
	}
}

func seedFills(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	// A user created before passwords were kept (the demo's older data).
	bare := tokenissuer.User{ID: uuid.New(), Email: "alice@example.test", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateUser(ctx, bare))
	seed := newUser("alice@example.test", t0.Add(time.Hour))
	seed.ID = bare.ID
	must(t, s.SeedUser(ctx, seed))
	got, err := s.User(ctx, bare.ID)
	must(t, err)
	if got.PasswordHash != seed.PasswordHash || !got.EmailConfirmedAt.Equal(want(seed).EmailConfirmedAt) {
		t.Errorf("seeding a bare user: password %q, confirmed %v", got.PasswordHash, got.EmailConfirmedAt)
	}
	// A user's own password stays.
	other := seed
	other.PasswordHash = "$2a$10$another"
	must(t, s.SeedUser(ctx, other))
	got, err = s.User(ctx, bare.ID)
	must(t, err)
	if got.PasswordHash != seed.PasswordHash {
		t.Errorf("seeding again replaced the password: %q", got.PasswordHash)
	}
	// A new one is created.
	bob := newUser("bob@example.test", t0)
	must(t, s.SeedUser(ctx, bob))
	got, err = s.User(ctx, bob.ID)
	must(t, err)
	same(t, "seeded", got, want(bob))
	// Another user's e-mail is refused.
	thief := newUser("BOB@example.test", t0)
	if err := s.SeedUser(ctx, thief); !errors.Is(err, tokenissuer.ErrUserExists) {
		t.Errorf("seeding another user's e-mail: %v, want ErrUserExists", err)
	}
}

func signInTime(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	u := newUser("ada@example.test", t0)
	must(t, s.CreateUser(ctx, u))
	at := t0.Add(90 * time.Minute)
	must(t, s.RecordSignIn(ctx, u.ID, at))
	got, err := s.User(ctx, u.ID)
	must(t, err)
	if !got.LastSignInAt.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("last sign-in %v, want %v", got.LastSignInAt, at)
	}
	if err := s.RecordSignIn(ctx, uuid.New(), at); !errors.Is(err, tokenissuer.ErrUserNotFound) {
		t.Errorf("sign-in of nobody: %v", err)
	}
}

// session starts a session of a new user (or of user, if given).
func session(t *testing.T, s tokenissuer.Store, user string) (userID, sessionID, token string) {
	t.Helper()
	if user == "" {
		u := newUser(uuid.New()+"@example.test", t0)
		must(t, s.CreateUser(context.Background(), u))
		user = u.ID
	}
	rt := tokenissuer.RefreshToken{Token: "rt-" + uuid.New(), UserID: user, SessionID: uuid.New(), CreatedAt: t0}
	must(t, s.IssueRefreshToken(context.Background(), rt))
	return user, rt.SessionID, rt.Token
}

func active(t *testing.T, s tokenissuer.Store, sessionID string) bool {
	t.Helper()
	ok, err := s.SessionActive(context.Background(), sessionID)
	must(t, err)
	return ok
}

func tokensRotate(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	user, sid, first := session(t, s, "")
	if !active(t, s, sid) {
		t.Fatal("a new session is not active")
	}
	next, err := s.RotateRefreshToken(ctx, first, tokenissuer.RefreshToken{Token: "rt-2-" + sid, CreatedAt: t0.Add(time.Minute)})
	must(t, err)
	if next.UserID != user || next.SessionID != sid || next.Parent != first || next.Revoked || next.Token != "rt-2-"+sid {
		t.Errorf("rotated: %+v", next)
	}
	third, err := s.RotateRefreshToken(ctx, next.Token, tokenissuer.RefreshToken{Token: "rt-3-" + sid, CreatedAt: t0.Add(2 * time.Minute)})
	must(t, err)
	if third.Parent != next.Token || third.SessionID != sid {
		t.Errorf("rotated again: %+v", third)
	}
	if !active(t, s, sid) {
		t.Error("the session ended on a rotation")
	}
	if _, err := s.RotateRefreshToken(ctx, "rt-unknown", tokenissuer.RefreshToken{Token: "rt-x", CreatedAt: t0}); !errors.Is(err, tokenissuer.ErrTokenNotFound) {
		t.Errorf("unknown token: %v, want ErrTokenNotFound", err)
	}
	if active(t, s, uuid.New()) || active(t, s, "not-a-uuid") {
		t.Error("an unknown session is active")
	}
}

func reuseRevokes(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	user, sid, first := session(t, s, "")
	_, otherSID, _ := session(t, s, user)
	next, err := s.RotateRefreshToken(ctx, first, tokenissuer.RefreshToken{Token: "rt-next-" + sid, CreatedAt: t0})
	must(t, err)
	if _, err := s.RotateRefreshToken(ctx, first, tokenissuer.RefreshToken{Token: "rt-thief-" + sid, CreatedAt: t0}); !errors.Is(err, tokenissuer.ErrTokenReused) {
		t.Fatalf("reusing a token: %v, want ErrTokenReused", err)
	}
	if active(t, s, sid) {
		t.Error("the session is still active after a reuse")
	}
	if _, err := s.RotateRefreshToken(ctx, next.Token, tokenissuer.RefreshToken{Token: "rt-after-" + sid, CreatedAt: t0}); !errors.Is(err, tokenissuer.ErrTokenReused) {
		t.Errorf("the latest token after a reuse: %v, want ErrTokenReused", err)
	}
	if !active(t, s, otherSID) {
		t.Error("the user's other session ended too")
	}
}

func racingRotations(t *testing.T, s tokenissuer.Store) {
	_, sid, first := session(t, s, "")
	const racers = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		other []error
	)
	for n := range racers {
		wg.Go(func() {
			_, err := s.RotateRefreshToken(context.Background(), first, tokenissuer.RefreshToken{Token: fmt.Sprintf("rt-%d-%s", n, sid), CreatedAt: t0})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, tokenissuer.ErrTokenReused):
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || len(other) > 0 {
		t.Errorf("%d of %d rotations of one token succeeded (want 1); other errors: %v", wins, racers, other)
	}
}

func logoutScopes(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	user, a, _ := session(t, s, "")
	_, b, _ := session(t, s, user)
	_, c, _ := session(t, s, user)
	_, stranger, _ := session(t, s, "")

	must(t, s.EndSessions(ctx, user, a, tokenissuer.ScopeLocal))
	if active(t, s, a) || !active(t, s, b) || !active(t, s, c) {
		t.Errorf("local: sessions %v %v %v, want false true true", active(t, s, a), active(t, s, b), active(t, s, c))
	}
	must(t, s.EndSessions(ctx, user, b, tokenissuer.ScopeOthers))
	if !active(t, s, b) || active(t, s, c) {
		t.Errorf("others: caller's %v, other's %v, want true false", active(t, s, b), active(t, s, c))
	}
	_, d, _ := session(t, s, user)
	must(t, s.EndSessions(ctx, user, b, tokenissuer.ScopeGlobal))
	if active(t, s, b) || active(t, s, d) {
		t.Error("global: a session survives")
	}
	if !active(t, s, stranger) {
		t.Error("another user's session ended")
	}
}

func deleteUser(t *testing.T, s tokenissuer.Store) {
	ctx := context.Background()
	user, sid, token := session(t, s, "")
	_, strangerSID, _ := session(t, s, "")
	must(t, s.DeleteUser(ctx, user))
	if _, err := s.User(ctx, user); !errors.Is(err, tokenissuer.ErrUserNotFound) {
		t.Errorf("deleted user: %v", err)
	}
	if active(t, s, sid) {
		t.Error("a deleted user's session is active")
	}
	if _, err := s.RotateRefreshToken(ctx, token, tokenissuer.RefreshToken{Token: "rt-late", CreatedAt: t0}); !errors.Is(err, tokenissuer.ErrTokenNotFound) {
		t.Errorf("a deleted user's refresh token: %v, want ErrTokenNotFound", err)
	}
	if err := s.DeleteUser(ctx, user); !errors.Is(err, tokenissuer.ErrUserNotFound) {
		t.Errorf("deleting again: %v, want ErrUserNotFound", err)
	}
	if err := s.DeleteUser(ctx, "not-a-uuid"); !errors.Is(err, tokenissuer.ErrUserNotFound) {
		t.Errorf("deleting a non-UUID: %v, want ErrUserNotFound", err)
	}
	if !active(t, s, strangerSID) {
		t.Error("another user's session ended")
	}
	if err := s.IssueRefreshToken(ctx, tokenissuer.RefreshToken{Token: "rt-ghost", UserID: user, SessionID: uuid.New(), CreatedAt: t0}); !errors.Is(err, tokenissuer.ErrUserNotFound) {
		t.Errorf("a token for a deleted user: %v, want ErrUserNotFound", err)
	}
}
