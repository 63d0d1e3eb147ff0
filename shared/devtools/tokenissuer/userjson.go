package tokenissuer

import (
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// userJSON is GoTrue's user object.
type userJSON struct {
	ID               string         `json:"id"`
	Aud              string         `json:"aud"`
	Role             string         `json:"role"`
	Email            string         `json:"email"`
	EmailConfirmedAt *time.Time     `json:"email_confirmed_at,omitempty"`
	Phone            string         `json:"phone"`
	PhoneConfirmedAt *time.Time     `json:"phone_confirmed_at,omitempty"`
	ConfirmedAt      *time.Time     `json:"confirmed_at,omitempty"`
	LastSignInAt     *time.Time     `json:"last_sign_in_at,omitempty"`
	AppMetadata      map[string]any `json:"app_metadata"`
	UserMetadata     map[string]any `json:"user_metadata"`
	Identities       []identityJSON `json:"identities"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	IsAnonymous      bool           `json:"is_anonymous"`
}

// identityJSON is the e-mail identity GoTrue lists with an e-mail user.
type identityJSON struct {
	IdentityID   string         `json:"identity_id"`
	ID           string         `json:"id"`
	UserID       string         `json:"user_id"`
	IdentityData map[string]any `json:"identity_data"`
	Provider     string         `json:"provider"`
	LastSignInAt *time.Time     `json:"last_sign_in_at,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	Email        string         `json:"email"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toJSON(u User) userJSON {
	out := userJSON{
		ID: u.ID, Aud: "authenticated", Role: "authenticated", Email: u.Email, Phone: u.Phone,
		EmailConfirmedAt: optTime(u.EmailConfirmedAt), PhoneConfirmedAt: optTime(u.PhoneConfirmedAt),
		LastSignInAt: optTime(u.LastSignInAt), AppMetadata: u.AppMetadata, UserMetadata: u.UserMetadata,
		Identities: []identityJSON{}, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, IsAnonymous: u.IsAnonymous,
	}
	out.ConfirmedAt = out.EmailConfirmedAt
	if out.ConfirmedAt == nil {
		out.ConfirmedAt = out.PhoneConfirmedAt
	}
	if u.Email != "" {
		out.Identities = append(out.Identities, identityJSON{
			IdentityID: uuid.FromNames("tokenissuer-identity", u.ID), ID: u.ID, UserID: u.ID,
			IdentityData: map[string]any{"email": u.Email, "email_verified": !u.EmailConfirmedAt.IsZero(), "phone_verified": false, "sub": u.ID},
			Provider:     "email", LastSignInAt: out.LastSignInAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Email: u.Email,
		})
	}
	return out
}

// session is GoTrue's token response.
type session struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	ExpiresAt    int64    `json:"expires_at"`
	RefreshToken string   `json:"refresh_token"`
	User         userJSON `json:"user"`
}
