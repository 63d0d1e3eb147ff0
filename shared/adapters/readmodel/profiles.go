package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
)

// Profiles keeps the profiles table in step with Supabase Auth (email and display
// name for notifications). The rows come from the auth admin API
// (shared/adapters/supabaseadmin.SyncProfile); this package only writes them, so the API
// and the projector do not link the Supabase client.
type Profiles struct{ pool *pgxpool.Pool }

// NewProfiles returns the profile writer.
func NewProfiles(pool *pgxpool.Pool) *Profiles { return &Profiles{pool: pool} }

// upsertProfile keeps the newest: a sync that arrives late or twice never
// overwrites what a newer one wrote (updated_at is GoTrue's).
const upsertProfile = `insert into profiles (user_id, email, display_name, created_at, updated_at)
values ($1, nullif($2, ''), nullif($3, ''), now(), $4)
on conflict (user_id) do update
   set email        = excluded.email,
       display_name = excluded.display_name,
       updated_at   = excluded.updated_at
 where profiles.updated_at < excluded.updated_at`

// Upsert writes one user's profile.
func (p *Profiles) Upsert(ctx context.Context, userID, email, displayName string, updatedAt time.Time) error {
	if !isUUID(userID) {
		return fmt.Errorf("profile of %q: %w", userID, supabaseadmin.ErrUserNotFound)
	}
	if _, err := p.pool.Exec(ctx, upsertProfile, userID, email, displayName, updatedAt.UTC()); err != nil {
		return fmt.Errorf("upsert profile of %s: %w", userID, err)
	}
	return nil
}
