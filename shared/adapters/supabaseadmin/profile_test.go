package supabaseadmin_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
)

// putUser calls PUT /auth/v1/admin/users/{id} on the fake as an admin would.
func putUser(t *testing.T, f *fakeGoTrue, id, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, f.srv.URL+"/auth/v1/admin/users/"+id, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("apikey", serviceKey)
	req.Header.Set("Authorization", "Bearer "+serviceKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %s", resp.Status)
	}
}

func TestSyncProfile(t *testing.T) {
	f := newFakeGoTrue(t)
	fu := f.add(aliceID, "alice@example.com", map[string]any{"name": "alice"})
	dir := newClient(t, f, serviceKey)
	var store supabaseadmin.MemoryProfiles
	ctx := context.Background()

	if err := supabaseadmin.SyncProfile(ctx, dir, &store, aliceID); err != nil {
		t.Fatalf("SyncProfile: %v", err)
	}
	p, ok := store.Profile(aliceID)
	if !ok || p.Email != "alice@example.com" || p.DisplayName != "alice" || !p.UpdatedAt.Equal(fu.UpdatedAt) {
		t.Fatalf("profile %+v, %v", p, ok)
	}

	// The user changes their name and e-mail; the next sync picks it up.
	putUser(t, f, aliceID, `{"email":"alice@example.org","user_metadata":{"full_name":"Alice Liddell"}}`)
	if err := supabaseadmin.SyncProfile(ctx, dir, &store, aliceID); err != nil {
		t.Fatalf("SyncProfile: %v", err)
	}
	p, _ = store.Profile(aliceID)
	if p.Email != "alice@example.org" || p.DisplayName != "Alice Liddell" || !p.UpdatedAt.Equal(fu.UpdatedAt) {
		t.Errorf("after update: %+v", p)
	}

	// A sync that read an older version (it ran late) does not win.
	stale := supabaseadmin.Profile{UserID: aliceID, Email: "old@example.com", UpdatedAt: fu.UpdatedAt.Add(-time.Hour)}
	if err := store.UpsertProfile(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if p2, _ := store.Profile(aliceID); p2 != p {
		t.Errorf("stale write applied: %+v", p2)
	}
}

func TestSyncProfileUserNotFound(t *testing.T) {
	f := newFakeGoTrue(t)
	dir := newClient(t, f, serviceKey)
	var store supabaseadmin.MemoryProfiles
	err := supabaseadmin.SyncProfile(context.Background(), dir, &store, nobody)
	if !errors.Is(err, supabaseadmin.ErrUserNotFound) {
		t.Fatalf("got %v, want ErrUserNotFound", err)
	}
	if _, ok := store.Profile(nobody); ok {
		t.Error("profile stored")
	}
}

type failingStore struct{ err error }

func (s failingStore) UpsertProfile(context.Context, supabaseadmin.Profile) error { return s.err }

type stubDirectory struct{ user supabaseadmin.User }

func (d stubDirectory) User(context.Context, string) (supabaseadmin.User, error) { return d.user, nil }
func (d stubDirectory) Users(context.Context, int, int) ([]supabaseadmin.User, error) {
	return []supabaseadmin.User{d.user}, nil
}

func TestSyncProfileFailures(t *testing.T) {
	ctx := context.Background()
	alice := supabaseadmin.User{ID: aliceID, Email: "alice@example.com", UpdatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}

	errDB := errors.New("pool exhausted")
	err := supabaseadmin.SyncProfile(ctx, stubDirectory{alice}, failingStore{errDB}, aliceID)
	if !errors.Is(err, errDB) {
		t.Errorf("store failure: %v", err)
	}

	err = supabaseadmin.SyncProfile(ctx, stubDirectory{alice}, &supabaseadmin.MemoryProfiles{}, bobID)
	if !errors.Is(err, supabaseadmin.ErrUpstream) {
		t.Errorf("wrong user: %v", err)
	}

	undated := alice
	undated.UpdatedAt = time.Time{}
	err = supabaseadmin.SyncProfile(ctx, stubDirectory{undated}, &supabaseadmin.MemoryProfiles{}, aliceID)
	if !errors.Is(err, supabaseadmin.ErrUpstream) {
		t.Errorf("undated user: %v", err)
	}

	if err := supabaseadmin.SyncProfile(ctx, nil, &supabaseadmin.MemoryProfiles{}, aliceID); err == nil {
		t.Error("nil Directory accepted")
	}
	if err := supabaseadmin.SyncProfile(ctx, stubDirectory{alice}, nil, aliceID); err == nil {
		t.Error("nil ProfileStore accepted")
	}

	// Without updated_at the profile is versioned by created_at.
	created := alice
	created.UpdatedAt, created.CreatedAt = time.Time{}, alice.UpdatedAt
	var store supabaseadmin.MemoryProfiles
	if err := supabaseadmin.SyncProfile(ctx, stubDirectory{created}, &store, aliceID); err != nil {
		t.Fatal(err)
	}
	if p, _ := store.Profile(aliceID); !p.UpdatedAt.Equal(alice.UpdatedAt) {
		t.Errorf("profile %+v", p)
	}
}

func TestMemoryProfiles(t *testing.T) {
	var m supabaseadmin.MemoryProfiles
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for _, p := range []supabaseadmin.Profile{
		{UserID: aliceID, Email: "v2", UpdatedAt: t0.Add(time.Second)},
		{UserID: aliceID, Email: "v1", UpdatedAt: t0},                        // older: ignored
		{UserID: aliceID, Email: "v2-again", UpdatedAt: t0.Add(time.Second)}, // equal: ignored
	} {
		if err := m.UpsertProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := m.Profile(aliceID); p.Email != "v2" {
		t.Errorf("got %+v", p)
	}
	if err := m.UpsertProfile(ctx, supabaseadmin.Profile{}); err == nil {
		t.Error("empty user id accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.UpsertProfile(cctx, supabaseadmin.Profile{UserID: bobID, UpdatedAt: t0}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
