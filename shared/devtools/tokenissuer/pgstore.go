package tokenissuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// PGStore is the Store on a local cluster's auth.users and auth.refresh_tokens
// (the columns migration 0020 adds where Supabase's are missing), so that the
// profile trigger on auth.users follows sign-ups as it does on Supabase.
type PGStore struct {
	pool *pgxpool.Pool
}

var _ Store = (*PGStore)(nil)

// NewPGStore returns the Store on pool's database, which must be migrated
// (shared/adapters/readmodel.Migrate).
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

const userColumns = `id::text, coalesce(email, ''), coalesce(phone, ''), coalesce(encrypted_password, ''),
	email_confirmed_at, phone_confirmed_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
	is_anonymous, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var (
		u                               User
		emailConf, phoneConf, lastLogin *time.Time
		app, meta                       []byte
	)
	err := row.Scan(&u.ID, &u.Email, &u.Phone, &u.PasswordHash, &emailConf, &phoneConf, &lastLogin, &app, &meta,
		&u.IsAnonymous, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("read auth.users: %w", err)
	}
	for dst, src := range map[*time.Time]*time.Time{&u.EmailConfirmedAt: emailConf, &u.PhoneConfirmedAt: phoneConf, &u.LastSignInAt: lastLogin} {
		if src != nil {
			*dst = *src
		}
	}
	if err := json.Unmarshal(app, &u.AppMetadata); err != nil {
		return User{}, fmt.Errorf("raw_app_meta_data of %s: %w", u.ID, err)
	}
	if err := json.Unmarshal(meta, &u.UserMetadata); err != nil {
		return User{}, fmt.Errorf("raw_user_meta_data of %s: %w", u.ID, err)
	}
	return stored(u), nil
}

// userArgs are u's values for the insert's columns, in order: id, email,
// phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
// last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_anonymous,
// created_at, updated_at.
func userArgs(u User) []any {
	u = stored(u)
	app, _ := json.Marshal(u.AppMetadata)
	meta, _ := json.Marshal(u.UserMetadata)
	return []any{u.ID, nullString(u.Email), nullString(u.Phone), nullString(u.PasswordHash),
		nullTime(u.EmailConfirmedAt), nullTime(u.PhoneConfirmedAt), nullTime(u.LastSignInAt),
		string(app), string(meta), u.IsAnonymous, u.CreatedAt, u.UpdatedAt}
}

const insertUser = `insert into auth.users (id, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
	last_sign_in_at, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at)
	values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

func (s *PGStore) CreateUser(ctx context.Context, u User) error {
	if _, err := s.pool.Exec(ctx, insertUser, userArgs(u)...); err != nil {
		if isUniqueViolation(err) {
			return ErrUserExists
		}
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

func (s *PGStore) SeedUser(ctx context.Context, u User) error {
	_, err := s.pool.Exec(ctx, insertUser+` on conflict (id) do update
		set encrypted_password = coalesce(auth.users.encrypted_password, excluded.encrypted_password),
		    email_confirmed_at = coalesce(auth.users.email_confirmed_at, excluded.email_confirmed_at)`, userArgs(u)...)
	if isUniqueViolation(err) {
		return ErrUserExists
	}
	if err != nil {
		return fmt.Errorf("seed user: %w", err)
	}
	return nil
}

func (s *PGStore) User(ctx context.Context, id string) (User, error) {
	if !uuid.Valid(id) {
		return User{}, ErrUserNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `select `+userColumns+` from auth.users where id = $1`, id))
}

func (s *PGStore) UserByEmail(ctx context.Context, email string) (User, error) {
	if email == "" {
		return User{}, ErrUserNotFound
	}
	return scanUser(s.pool.QueryRow(ctx, `select `+userColumns+` from auth.users where lower(email) = lower($1)`, email))
}

func (s *PGStore) Users(ctx context.Context, page, perPage int) ([]User, int, error) {
	var total int
	if err := s.pool.QueryRow(ctx, `select count(*) from auth.users`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	rows, err := s.pool.Query(ctx, `select `+userColumns+` from auth.users order by created_at desc, id::text
		limit $1 offset $2`, perPage, (page-1)*perPage)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return users, total, nil
}

func (s *PGStore) DeleteUser(ctx context.Context, id string) error {
	if !uuid.Valid(id) {
		return ErrUserNotFound
	}
	tag, err := s.pool.Exec(ctx, `delete from auth.users where id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUserNotFound
	}
	return nil
}

func (s *PGStore) RecordSignIn(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `update auth.users set last_sign_in_at = $2, updated_at = $2 where id = $1`, id, micro(at))
	if err != nil {
		return fmt.Errorf("record sign-in: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrUserNotFound
	}
	return nil
}

func (s *PGStore) IssueRefreshToken(ctx context.Context, t RefreshToken) error {
	_, err := s.pool.Exec(ctx, `insert into auth.refresh_tokens (token, user_id, session_id, parent, created_at, updated_at)
		values ($1, $2, $3, nullif($4, ''), $5, $5)`, t.Token, t.UserID, t.SessionID, t.Parent, micro(t.CreatedAt))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: no such user
		return ErrUserNotFound
	}
	if err != nil {
		return fmt.Errorf("issue refresh token: %w", err)
	}
	return nil
}

// RotateRefreshToken relies on the row lock of the update: of two concurrent
// rotations, the second waits for the first and then finds the token revoked.
func (s *PGStore) RotateRefreshToken(ctx context.Context, old string, next RefreshToken) (RefreshToken, error) {
	next.Parent, next.Revoked, next.CreatedAt = old, false, micro(next.CreatedAt)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `update auth.refresh_tokens set revoked = true, updated_at = $2
			where token = $1 and not revoked returning user_id::text, session_id::text`, old, next.CreatedAt).
			Scan(&next.UserID, &next.SessionID)
		if err == nil {
			_, err = tx.Exec(ctx, `insert into auth.refresh_tokens (token, user_id, session_id, parent, created_at, updated_at)
				values ($1, $2, $3, $4, $5, $5)`, next.Token, next.UserID, next.SessionID, old, next.CreatedAt)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return errTokenUnusable
	})
	if errors.Is(err, errTokenUnusable) {
		return RefreshToken{}, s.revokeSessionOf(ctx, old)
	}
	if err != nil {
		return RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	return next, nil
}

var errTokenUnusable = errors.New("refresh token revoked or unknown")

// revokeSessionOf revokes the session of a used token (ErrTokenReused), or
// reports an unknown one (ErrTokenNotFound).
func (s *PGStore) revokeSessionOf(ctx context.Context, token string) error {
	tag, err := s.pool.Exec(ctx, `update auth.refresh_tokens set revoked = true, updated_at = now()
		where session_id = (select session_id from auth.refresh_tokens where token = $1)`, token)
	switch {
	case err != nil:
		return fmt.Errorf("revoke session: %w", err)
	case tag.RowsAffected() == 0:
		return ErrTokenNotFound
	}
	return ErrTokenReused
}

func (s *PGStore) SessionActive(ctx context.Context, sessionID string) (bool, error) {
	if !uuid.Valid(sessionID) {
		return false, nil
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `select exists (select 1 from auth.refresh_tokens where session_id = $1 and not revoked)`, sessionID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("session: %w", err)
	}
	return ok, nil
}

func (s *PGStore) EndSessions(ctx context.Context, userID, sessionID string, scope LogoutScope) error {
	var err error
	switch scope {
	case ScopeLocal:
		_, err = s.pool.Exec(ctx, `delete from auth.refresh_tokens where user_id = $1 and session_id::text = $2`, userID, sessionID)
	case ScopeOthers:
		_, err = s.pool.Exec(ctx, `delete from auth.refresh_tokens where user_id = $1 and session_id::text <> $2`, userID, sessionID)
	default:
		_, err = s.pool.Exec(ctx, `delete from auth.refresh_tokens where user_id = $1`, userID)
	}
	if err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
