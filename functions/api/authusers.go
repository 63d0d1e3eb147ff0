package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
	"github.com/portfoliotracker/tracker/shared/app/users"
)

// authUsers is the user service's Supabase Auth (users.AuthUsers) over the
// admin client: its not-found becomes the service's.
type authUsers struct{ client *supabaseadmin.Client }

func (a authUsers) AuthUser(ctx context.Context, userID string) (users.AuthUser, error) {
	u, err := a.client.User(ctx, userID)
	if errors.Is(err, supabaseadmin.ErrUserNotFound) {
		return users.AuthUser{}, fmt.Errorf("%w: %w", users.ErrAuthUserNotFound, err)
	}
	if err != nil {
		return users.AuthUser{}, err
	}
	return users.AuthUser{ID: u.ID, Email: u.Email, EmailConfirmed: u.EmailConfirmed, DisplayName: u.DisplayName, CreatedAt: u.CreatedAt}, nil
}

// userDeleter is supabaseadmin.Client's DeleteUser (gotrue-go's AdminDeleteUser).
type userDeleter interface {
	DeleteUser(ctx context.Context, userID string) error
}

func (a authUsers) DeleteAuthUser(ctx context.Context, userID string) error {
	d, ok := any(a.client).(userDeleter)
	if !ok {
		return errors.New("supabaseadmin: this build's client cannot delete users")
	}
	err := d.DeleteUser(ctx, userID)
	if errors.Is(err, supabaseadmin.ErrUserNotFound) {
		return fmt.Errorf("%w: %w", users.ErrAuthUserNotFound, err)
	}
	return err
}
