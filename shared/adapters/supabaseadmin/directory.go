package supabaseadmin

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// User is what the application needs to know about a Supabase Auth user.
type User struct {
	ID    string // auth.users.id, a UUID in canonical lower-case form
	Email string // "" for phone-only users
	Phone string
	// DisplayName is user_metadata's "full_name", else "name", else
	// "display_name" (the first non-blank string); "" if none.
	DisplayName    string
	EmailConfirmed bool // email_confirmed_at is set
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastSignInAt   time.Time // zero if the user never signed in
}

// Directory looks users up in Supabase Auth.
type Directory interface {
	// User returns one user. It fails with ErrUserNotFound when there is no such
	// user (or userID is not a UUID).
	User(ctx context.Context, userID string) (User, error)
	// Users returns one page of users, page counting from 1, at most perPage
	// (1..MaxPerPage) of them. A page shorter than perPage is the last one.
	Users(ctx context.Context, page, perPage int) ([]User, error)
}

// MaxPerPage is the largest page Users asks for.
const MaxPerPage = 1000

// Sentinel errors; every error from Client matches exactly one of them.
var (
	ErrUserNotFound    = errors.New("supabaseadmin: user not found")
	ErrUnauthorized    = errors.New("supabaseadmin: unauthorized: check the service-role key")
	ErrUpstream        = errors.New("supabaseadmin: auth upstream error")
	ErrInvalidArgument = errors.New("supabaseadmin: invalid argument")
	// ErrServiceKey: the KeyFunc failed or returned "" (no request was made;
	// the next call tries again).
	ErrServiceKey = errors.New("supabaseadmin: service-role key unavailable")
)

// Error describes a failed Directory call. Match it with errors.Is against the
// sentinels, or errors.As for the details. It never holds the service-role key.
type Error struct {
	Op     string // "get user", "list users" or "delete user"
	UserID string // for "get user" and "delete user"
	Status int    // HTTP status; 0 if no response was received
	Code   string // GoTrue's error_code, when the body had one
	Msg    string // what the server or the failure said, redacted and truncated

	kind  error // one of the sentinels
	cause error // the underlying error, if any (transport, decoding)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("supabaseadmin: ")
	b.WriteString(e.Op)
	if e.UserID != "" {
		b.WriteString(" ")
		b.WriteString(e.UserID)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.kind.Error(), "supabaseadmin: "))
	var detail []string
	if e.Status != 0 {
		detail = append(detail, "HTTP "+strconv.Itoa(e.Status))
	}
	if e.Code != "" {
		detail = append(detail, e.Code)
	}
	if e.Msg != "" {
		detail = append(detail, e.Msg)
	}
	if len(detail) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(detail, ": "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel and, if any, the cause (so a timeout matches
// both ErrUpstream and context.DeadlineExceeded).
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// displayName picks the display name out of user_metadata.
func displayName(meta map[string]any) string {
	for _, k := range []string{"full_name", "name", "display_name"} {
		if s, ok := meta[k].(string); ok {
			if s = strings.TrimSpace(s); s != "" {
				return s
			}
		}
	}
	return ""
}
