package users

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/notify"
	"github.com/portfoliotracker/tracker/shared/domain/user"
)

// Config wires a Service. Profiles is required; without PhoneCodes the phone
// routes, without the erasers or Auth DELETE /me, answer ErrUnavailable.
type Config struct {
	Profiles    Profiles
	PhoneCodes  PhoneCodes
	Auth        AuthUsers
	ReadModels  ReadModelEraser
	Events      EventEraser
	Connections ConnectionEraser
	Quotas      QuotaEraser
	// PhoneCodeKey keys the phone codes' hashes (HMAC-SHA256): only the
	// server holds it, so a stored hash read by anyone else cannot be
	// brute-forced offline. Without it the phone routes answer ErrUnavailable.
	PhoneCodeKey []byte
	Logger       *slog.Logger
	// Now and NewCode are the clock and the code generator (tests set them).
	Now     func() time.Time
	NewCode func() (string, error)
}

// Service is the user service.
type Service struct {
	cfg Config
	log *slog.Logger
}

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewCode == nil {
		cfg.NewCode = randomCode
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, log: log}
}

// KindKnown says whether s is an alert kind (notification preferences' byKind).
func KindKnown(s string) bool { return slices.Contains(alerts.Kinds, alerts.Kind(s)) }

// Profile returns the caller's profile. A user without a profile row (signed up
// where the trigger on auth.users could not be installed) gets one made from
// Supabase Auth; an erased user gets ErrErased.
func (s *Service) Profile(ctx context.Context, userID string) (user.Profile, error) {
	p, err := s.cfg.Profiles.Profile(ctx, userID)
	if !errors.Is(err, ErrNoProfile) {
		return p, err
	}
	if err := s.RefuseErased(ctx, userID); err != nil {
		return user.Profile{}, err
	}
	if s.cfg.Auth == nil {
		return user.Profile{}, fmt.Errorf("profile of %s: %w (and no Supabase Auth admin to make it from)", userID, ErrNoProfile)
	}
	a, err := s.cfg.Auth.AuthUser(ctx, userID)
	if err != nil {
		return user.Profile{}, fmt.Errorf("profile of %s from Supabase Auth: %w", userID, err)
	}
	fresh := user.New(userID, a.Email, a.EmailConfirmed, s.cfg.Now().UTC())
	fresh.DisplayName = a.DisplayName
	s.log.InfoContext(ctx, "users: profile created from Supabase Auth", "userId", userID)
	return s.cfg.Profiles.CreateProfile(ctx, fresh)
}

// Patch is what PATCH /me changes; a nil field is left as it is. Phone "" removes
// the phone. Notifications maps the current preferences to the new ones (the
// API applies the JSON merge patch there), so a concurrent change is merged, not
// overwritten.
type Patch struct {
	DisplayName   *string
	TimeZone      *string
	Locale        *string
	BaseCurrency  *string
	Phone         *string
	Notifications func(notify.Preferences) (notify.Preferences, error)
}

// maxPatchAttempts bounds the re-reads of a profile that keeps changing under a patch.
const maxPatchAttempts = 5

// Update applies the patch: validated as a whole (user.Profile.Validate, with
// the alert kinds), written if the profile did not change meanwhile (else read
// again and re-applied). A changed phone is no longer verified.
func (s *Service) Update(ctx context.Context, userID string, patch Patch) (user.Profile, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.Profile(ctx, userID)
		if err != nil {
			return user.Profile{}, err
		}
		next, err := apply(cur, patch)
		if err != nil {
			return user.Profile{}, err
		}
		saved, err := s.cfg.Profiles.UpdateProfile(ctx, next, cur.UpdatedAt)
		if errors.Is(err, ErrProfileChanged) && attempt < maxPatchAttempts {
			continue
		}
		return saved, err
	}
}

// apply returns cur with the patch applied and validated.
func apply(cur user.Profile, patch Patch) (user.Profile, error) {
	next := cur
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&next.DisplayName, patch.DisplayName)
	set(&next.TimeZone, patch.TimeZone)
	set(&next.Locale, patch.Locale)
	set(&next.BaseCurrency, patch.BaseCurrency)
	set(&next.Phone, patch.Phone)
	if next.Phone != cur.Phone {
		next.PhoneVerified = false
	}
	if patch.Notifications != nil {
		prefs, err := patch.Notifications(cur.Notifications)
		if err != nil {
			return user.Profile{}, err
		}
		next.Notifications = prefs
	}
	if err := next.Validate(KindKnown); err != nil {
		return user.Profile{}, err
	}
	return next, nil
}

// RefuseErased is ErrErased for a user whose erasure began: the API refuses
// their requests that would store something new (their access token stays
// valid until it expires).
func (s *Service) RefuseErased(ctx context.Context, userID string) error {
	_, erased, err := s.cfg.Profiles.ErasedAt(ctx, userID)
	if err != nil {
		return err
	}
	if erased {
		return ErrErased
	}
	return nil
}

// AccountErased says whether the user's erasure began (command.Accounts: the
// command service appends no event of an erased user).
func (s *Service) AccountErased(ctx context.Context, userID string) (bool, error) {
	_, erased, err := s.cfg.Profiles.ErasedAt(ctx, userID)
	return erased, err
}

// randomCode is six decimal digits from crypto/rand.
func randomCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("phone code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
