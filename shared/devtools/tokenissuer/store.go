package tokenissuer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// User is a Supabase Auth user as the stand-in keeps it: the columns of
// auth.users it reads and writes.
type User struct {
	ID    string // a canonical lower-case UUID
	Email string // lower-case; "" for none
	Phone string // "" for none
	// PasswordHash is the bcrypt hash (encrypted_password); "" for none. It
	// never leaves the stand-in.
	PasswordHash     string
	EmailConfirmedAt time.Time // zero: not confirmed
	PhoneConfirmedAt time.Time
	LastSignInAt     time.Time // zero: never signed in
	AppMetadata      map[string]any
	UserMetadata     map[string]any
	IsAnonymous      bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// RefreshToken is one link of a session's chain of refresh tokens: each
// refresh revokes the token used and issues its child.
type RefreshToken struct {
	Token     string
	UserID    string
	SessionID string
	Parent    string // the token it replaced; "" for a session's first
	Revoked   bool
	CreatedAt time.Time
}

// LogoutScope says which of a user's sessions a logout ends.
type LogoutScope string

// The scopes of POST /logout, as GoTrue names them.
const (
	ScopeGlobal LogoutScope = "global" // every session of the user
	ScopeLocal  LogoutScope = "local"  // the caller's session
	ScopeOthers LogoutScope = "others" // every session but the caller's
)

// Errors of a Store.
var (
	ErrUserNotFound  = errors.New("tokenissuer: user not found")
	ErrUserExists    = errors.New("tokenissuer: a user with this e-mail or ID exists")
	ErrTokenNotFound = errors.New("tokenissuer: refresh token not found")
	// ErrTokenReused: the token was already used (revoked). Rotate has then
	// revoked every token of its session: a stolen token's replay ends the
	// session for thief and owner alike, as GoTrue's reuse detection does.
	ErrTokenReused = errors.New("tokenissuer: refresh token already used")
)

// Store keeps the stand-in's users and sessions. Two implementations pass one
// contract suite (tokenissuer/storetest): PGStore on the local Postgres
// auth.users and auth.refresh_tokens, and MemStore. Times are stored to the
// microsecond, as Postgres keeps them.
type Store interface {
	// CreateUser stores a new user; ErrUserExists if its ID or e-mail
	// (case-insensitively) is taken.
	CreateUser(ctx context.Context, u User) error
	// SeedUser creates u, or, for an existing user with u's ID, sets the
	// password hash and confirmation it lacks (a user created before the
	// stand-in kept passwords); ErrUserExists if another user has u's e-mail.
	SeedUser(ctx context.Context, u User) error
	// User returns the user with that ID; ErrUserNotFound if none.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail finds a user by e-mail, case-insensitively; ErrUserNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// Users returns one page (from 1) of users, newest first, and how many
	// there are in all.
	Users(ctx context.Context, page, perPage int) ([]User, int, error)
	// DeleteUser deletes the user and its refresh tokens; ErrUserNotFound.
	DeleteUser(ctx context.Context, id string) error
	// RecordSignIn sets the user's last sign-in time.
	RecordSignIn(ctx context.Context, id string, at time.Time) error

	// IssueRefreshToken stores the first token of a new session.
	IssueRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken revokes the unrevoked token old and stores next as
	// its child in the same session (next's UserID, SessionID and Parent are
	// filled in), returning next. Of concurrent rotations of one token exactly
	// one succeeds. A revoked old fails with ErrTokenReused after revoking its
	// whole session; an unknown one with ErrTokenNotFound.
	RotateRefreshToken(ctx context.Context, old string, next RefreshToken) (RefreshToken, error)
	// SessionActive tells whether the session has an unrevoked token.
	SessionActive(ctx context.Context, sessionID string) (bool, error)
	// EndSessions deletes the tokens of the user's sessions that scope names
	// relative to sessionID.
	EndSessions(ctx context.Context, userID, sessionID string, scope LogoutScope) error
}

// MemStore is the in-memory Store, for tests. The zero value is not usable:
// call NewMemStore.
type MemStore struct {
	mu     sync.Mutex
	users  map[string]User
	tokens map[string]*RefreshToken
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{users: map[string]User{}, tokens: map[string]*RefreshToken{}}
}

// stored is u as Postgres would give it back: times to the microsecond, in
// UTC, maps never nil, the e-mail in lower case.
func stored(u User) User {
	for _, t := range []*time.Time{&u.EmailConfirmedAt, &u.PhoneConfirmedAt, &u.LastSignInAt, &u.CreatedAt, &u.UpdatedAt} {
		*t = micro(*t)
	}
	u.Email = strings.ToLower(u.Email)
	u.AppMetadata = cloneMap(u.AppMetadata)
	u.UserMetadata = cloneMap(u.UserMetadata)
	return u
}

func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *MemStore) emailTaken(email, exceptID string) bool {
	if email == "" {
		return false
	}
	for id, u := range s.users {
		if id != exceptID && u.Email == strings.ToLower(email) {
			return true
		}
	}
	return false
}

func (s *MemStore) CreateUser(_ context.Context, u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.ID]; ok || s.emailTaken(u.Email, "") {
		return ErrUserExists
	}
	s.users[u.ID] = stored(u)
	return nil
}

func (s *MemStore) SeedUser(_ context.Context, u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emailTaken(u.Email, u.ID) {
		return ErrUserExists
	}
	old, ok := s.users[u.ID]
	if !ok {
		s.users[u.ID] = stored(u)
		return nil
	}
	if old.PasswordHash == "" {
		old.PasswordHash = u.PasswordHash
	}
	if old.EmailConfirmedAt.IsZero() {
		old.EmailConfirmedAt = micro(u.EmailConfirmedAt)
	}
	s.users[u.ID] = old
	return nil
}

func (s *MemStore) User(_ context.Context, id string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, ErrUserNotFound
	}
	return stored(u), nil
}

func (s *MemStore) UserByEmail(_ context.Context, email string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if email != "" && u.Email == strings.ToLower(email) {
			return stored(u), nil
		}
	}
	return User{}, ErrUserNotFound
}

func (s *MemStore) Users(_ context.Context, page, perPage int) ([]User, int, error) {
	s.mu.Lock()
	all := make([]User, 0, len(s.users))
	for _, u := range s.users {
		all = append(all, stored(u))
	}
	s.mu.Unlock()
	slices.SortFunc(all, newestFirst)
	from := min((page-1)*perPage, len(all))
	return all[from:min(from+perPage, len(all))], len(all), nil
}

// newestFirst orders users as GoTrue's admin list does: created_at
// descending (and by ID, for a stable page).
func newestFirst(a, b User) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (s *MemStore) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return ErrUserNotFound
	}
	delete(s.users, id)
	for k, t := range s.tokens {
		if t.UserID == id {
			delete(s.tokens, k)
		}
	}
	return nil
}

func (s *MemStore) RecordSignIn(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return ErrUserNotFound
	}
	u.LastSignInAt, u.UpdatedAt = micro(at), micro(at)
	s.users[id] = u
	return nil
}

func (s *MemStore) IssueRefreshToken(_ context.Context, t RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[t.UserID]; !ok {
		return ErrUserNotFound
	}
	t.CreatedAt = micro(t.CreatedAt)
	s.tokens[t.Token] = &t
	return nil
}

func (s *MemStore) RotateRefreshToken(_ context.Context, old string, next RefreshToken) (RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[old]
	switch {
	case !ok:
		return RefreshToken{}, ErrTokenNotFound
	case t.Revoked:
		for _, o := range s.tokens {
			if o.SessionID == t.SessionID {
				o.Revoked = true
			}
		}
		return RefreshToken{}, ErrTokenReused
	}
	t.Revoked = true
	next.UserID, next.SessionID, next.Parent, next.Revoked = t.UserID, t.SessionID, old, false
	next.CreatedAt = micro(next.CreatedAt)
	s.tokens[next.Token] = &next
	return next, nil
}

func (s *MemStore) SessionActive(_ context.Context, sessionID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.SessionID == sessionID && !t.Revoked {
			return true, nil
		}
	}
	return false, nil
}

func (s *MemStore) EndSessions(_ context.Context, userID, sessionID string, scope LogoutScope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		if t.UserID == userID && inScope(scope, t.SessionID, sessionID) {
			delete(s.tokens, k)
		}
	}
	return nil
}

// inScope tells whether a logout of scope by the caller's session ends the
// session of a token.
func inScope(scope LogoutScope, tokenSession, callerSession string) bool {
	switch scope {
	case ScopeLocal:
		return tokenSession == callerSession
	case ScopeOthers:
		return tokenSession != callerSession
	}
	return true
}
