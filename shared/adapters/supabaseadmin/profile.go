package supabaseadmin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Profile is the application's copy of a user's contact details (the
// profiles table of the read model).
type Profile struct {
	UserID      string
	Email       string // "" for phone-only users
	DisplayName string
	// UpdatedAt is the auth user's updated_at: the version of the data, so an
	// older sync never overwrites a newer one.
	UpdatedAt time.Time
}

// ProfileStore keeps profiles. UpsertProfile inserts p, or replaces the stored
// profile only if p.UpdatedAt is later than the stored UpdatedAt; an equal or
// older p is ignored without error (syncs may run twice or out of order).
type ProfileStore interface {
	UpsertProfile(ctx context.Context, p Profile) error
}

// ProfileStoreFunc adapts a function to ProfileStore. The Postgres store is
// readmodel.Profiles.Upsert: wrap it with
//
//	supabaseadmin.ProfileStoreFunc(func(ctx context.Context, p supabaseadmin.Profile) error {
//		return profiles.Upsert(ctx, p.UserID, p.Email, p.DisplayName, p.UpdatedAt)
//	})
//
// so that neither package imports the other (the API and the projector never link
// the Supabase client). The store keeps the newest write: a late or repeated sync
// never overwrites a newer one.
type ProfileStoreFunc func(ctx context.Context, p Profile) error

// UpsertProfile implements ProfileStore.
func (f ProfileStoreFunc) UpsertProfile(ctx context.Context, p Profile) error { return f(ctx, p) }

// ProfileFromUser is the profile SyncProfile stores for u. UpdatedAt falls back
// to CreatedAt if the user has no updated_at.
func ProfileFromUser(u User) Profile {
	p := Profile{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName, UpdatedAt: u.UpdatedAt}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = u.CreatedAt
	}
	return p
}

// SyncProfile copies userID's e-mail and display name from dir into store.
// When the user does not exist the error matches ErrUserNotFound (the caller
// decides whether that means deleting the profile); other Directory errors are
// returned as they are, and a store failure is wrapped.
func SyncProfile(ctx context.Context, dir Directory, store ProfileStore, userID string) error {
	if dir == nil || store == nil {
		return errors.New("supabaseadmin: SyncProfile needs a Directory and a ProfileStore")
	}
	u, err := dir.User(ctx, userID)
	if err != nil {
		return err
	}
	if !strings.EqualFold(u.ID, strings.TrimSpace(userID)) {
		return fmt.Errorf("%w: directory returned user %q for %q", ErrUpstream, u.ID, userID)
	}
	p := ProfileFromUser(u)
	if p.UpdatedAt.IsZero() {
		return fmt.Errorf("%w: user %s has neither updated_at nor created_at", ErrUpstream, u.ID)
	}
	if err := store.UpsertProfile(ctx, p); err != nil {
		return fmt.Errorf("supabaseadmin: sync profile %s: store: %w", u.ID, err)
	}
	return nil
}

// MemoryProfiles is an in-memory ProfileStore with readmodel.Profiles'
// semantics, for tests and local runs. The zero value is ready to use.
type MemoryProfiles struct {
	mu       sync.Mutex
	profiles map[string]Profile
}

var _ ProfileStore = (*MemoryProfiles)(nil)

// UpsertProfile implements ProfileStore.
func (m *MemoryProfiles) UpsertProfile(ctx context.Context, p Profile) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.UserID == "" {
		return errors.New("profile has no user id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.profiles == nil {
		m.profiles = map[string]Profile{}
	}
	if old, ok := m.profiles[p.UserID]; ok && !old.UpdatedAt.Before(p.UpdatedAt) {
		return nil
	}
	m.profiles[p.UserID] = p
	return nil
}

// Profile returns the stored profile of userID.
func (m *MemoryProfiles) Profile(userID string) (Profile, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.profiles[userID]
	return p, ok
}
