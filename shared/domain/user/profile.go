// Package user is a person's own settings, the profile the user service keeps
// (GET/PATCH /me): display name, time zone, locale, default base currency,
// contact details and their verification, and notification preferences. The
// e-mail address and its confirmation come from Supabase Auth, never from the
// user directly.
package user

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
)

// Profile is one user's settings.
type Profile struct {
	UserID        string
	Email         string // from Supabase Auth
	EmailVerified bool   // Supabase Auth's email_confirmed_at is set
	// Phone is E.164 (+14155550100); PhoneVerified once the user typed the code
	// sent to it. SMS goes only to a verified phone, e-mail only to a verified
	// address.
	Phone         string
	PhoneVerified bool
	DisplayName   string
	TimeZone      string // IANA name, default "UTC"
	Locale        string // BCP 47, default "en-US"
	BaseCurrency  string // default base of new portfolios, ISO 4217, default "USD"
	Notifications notify.Preferences
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Defaults of a new profile.
const (
	DefaultTimeZone     = "UTC"
	DefaultLocale       = "en-US"
	DefaultBaseCurrency = "USD"
	MaxDisplayName      = 100 // runes
)

// ErrInvalidProfile is matched by every *FieldError; refused preferences match
// notify.ErrInvalidPreferences instead.
var ErrInvalidProfile = errors.New("invalid profile")

// FieldError names the refused field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes a *FieldError match ErrInvalidProfile.
func (e *FieldError) Unwrap() error { return ErrInvalidProfile }

var (
	localePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$`)
	e164Pattern   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Location returns the profile's time zone (UTC when unset or unknown).
func (p Profile) Location() *time.Location {
	if loc, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// Validate checks the fields a user may set; kindKnown says whether a string is
// an alert kind (for the preferences' per-kind channels).
func (p Profile) Validate(kindKnown func(string) bool) error {
	if n := utf8.RuneCountInString(p.DisplayName); n > MaxDisplayName || !utf8.ValidString(p.DisplayName) {
		return &FieldError{"displayName", fmt.Sprintf("at most %d characters", MaxDisplayName)}
	}
	if strings.ContainsFunc(p.DisplayName, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &FieldError{"displayName", "no control characters"}
	}
	if p.TimeZone == "" || len(p.TimeZone) > 64 || strings.Contains(p.TimeZone, "..") || p.TimeZone == "Local" {
		return &FieldError{"timeZone", "want an IANA time zone such as Europe/Berlin"}
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil {
		return &FieldError{"timeZone", "unknown time zone " + fmt.Sprintf("%q", p.TimeZone)}
	}
	if !localePattern.MatchString(p.Locale) {
		return &FieldError{"locale", "want a BCP 47 tag such as en-US or de-DE"}
	}
	if !currency.IsISO(p.BaseCurrency) {
		return &FieldError{"baseCurrency", "want an ISO 4217 code such as USD"}
	}
	if p.Phone != "" && !e164Pattern.MatchString(p.Phone) {
		return &FieldError{"phone", "want E.164, such as +14155550100"}
	}
	return p.Notifications.Validate(kindKnown)
}

// New returns the profile of a user seen for the first time.
func New(userID, email string, emailVerified bool, now time.Time) Profile {
	return Profile{UserID: userID, Email: email, EmailVerified: emailVerified, TimeZone: DefaultTimeZone,
		Locale: DefaultLocale, BaseCurrency: DefaultBaseCurrency, Notifications: notify.DefaultPreferences(),
		CreatedAt: now, UpdatedAt: now}
}
