package readmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/domain/user"
)

// Users is the user service's PostgreSQL store (migrations 0020, 0023): the
// caller's profile, the pending phone code and its SMS in the notifier's
// outbox, and the erasure of the read models. Over the API's CallerDB every
// statement runs as the caller (RLS), and the erasure's functions erase only
// the caller (auth.uid()); they refuse to run as no user, so erasure needs a
// CallerDB.
type Users struct{ db MetricsDB }

// NewUsers returns the store.
func NewUsers(db MetricsDB) *Users { return &Users{db: db} }

var (
	_ users.Profiles        = (*Users)(nil)
	_ users.PhoneCodes      = (*Users)(nil)
	_ users.ReadModelEraser = (*Users)(nil)
)

const profileColumns = `user_id::text, coalesce(email, ''), email_confirmed_at is not null, coalesce(phone, ''),
       phone_verified_at is not null, coalesce(display_name, ''), time_zone, locale, base_currency,
       notification_preferences, created_at, updated_at`

func scanProfile(row pgx.Row) (user.Profile, error) {
	var p user.Profile
	var prefs []byte
	if err := row.Scan(&p.UserID, &p.Email, &p.EmailVerified, &p.Phone, &p.PhoneVerified, &p.DisplayName, &p.TimeZone,
		&p.Locale, &p.BaseCurrency, &prefs, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return user.Profile{}, err
	}
	if err := json.Unmarshal(prefs, &p.Notifications); err != nil {
		return user.Profile{}, fmt.Errorf("notification preferences of %s: %w", p.UserID, err)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// Profile implements users.Profiles.
func (s *Users) Profile(ctx context.Context, userID string) (user.Profile, error) {
	if !isUUID(userID) {
		return user.Profile{}, users.ErrNoProfile
	}
	p, err := scanProfile(asCaller(s.db, userID).QueryRow(ctx, `select `+profileColumns+` from profiles where user_id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return user.Profile{}, users.ErrNoProfile
	}
	if err != nil {
		return user.Profile{}, fmt.Errorf("profile of %s: %w", userID, err)
	}
	return p, nil
}

// CreateProfile implements users.Profiles.
func (s *Users) CreateProfile(ctx context.Context, p user.Profile) (user.Profile, error) {
	if !isUUID(p.UserID) {
		return user.Profile{}, users.ErrNoProfile
	}
	prefs, err := json.Marshal(p.Notifications)
	if err != nil {
		return user.Profile{}, err
	}
	var confirmed *time.Time
	if p.EmailVerified {
		confirmed = &p.CreatedAt
	}
	if _, err := asCaller(s.db, p.UserID).Exec(ctx, `insert into profiles (user_id, email, display_name, email_confirmed_at,
	        time_zone, locale, base_currency, notification_preferences, created_at, updated_at)
	    values ($1, nullif($2, ''), nullif($3, ''), $4, $5, $6, $7, $8, now(), now())
	    on conflict (user_id) do nothing`,
		p.UserID, p.Email, p.DisplayName, confirmed, p.TimeZone, p.Locale, p.BaseCurrency, string(prefs)); err != nil {
		return user.Profile{}, fmt.Errorf("create the profile of %s: %w", p.UserID, err)
	}
	return s.Profile(ctx, p.UserID)
}

// UpdateProfile implements users.Profiles. updated_at moves forward by at
// least a microsecond, so two updates never leave the same version.
func (s *Users) UpdateProfile(ctx context.Context, p user.Profile, was time.Time) (user.Profile, error) {
	prefs, err := json.Marshal(p.Notifications)
	if err != nil {
		return user.Profile{}, err
	}
	// In an UPDATE, the right-hand columns are the old row's: a new phone
	// clears the verification and the pending code of the old one.
	got, err := scanProfile(asCaller(s.db, p.UserID).QueryRow(ctx, `update profiles
	    set display_name = nullif($2, ''), time_zone = $3, locale = $4, base_currency = $5,
	        notification_preferences = $6,
	        phone_verified_at     = case when phone is distinct from nullif($7, '') or not $8 then null else phone_verified_at end,
	        phone_code_hash       = case when phone is distinct from nullif($7, '') then null else phone_code_hash end,
	        phone_code_expires_at = case when phone is distinct from nullif($7, '') then null else phone_code_expires_at end,
	        phone_code_attempts   = case when phone is distinct from nullif($7, '') then 0 else phone_code_attempts end,
	        phone                 = nullif($7, ''),
	        updated_at = greatest(now(), updated_at + interval '1 microsecond')
	  where user_id = $1 and updated_at = $9
	  returning `+profileColumns,
		p.UserID, p.DisplayName, p.TimeZone, p.Locale, p.BaseCurrency, string(prefs), p.Phone, p.PhoneVerified, was))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.Profile(ctx, p.UserID); err != nil {
			return user.Profile{}, err
		}
		return user.Profile{}, users.ErrProfileChanged
	}
	if err != nil {
		return user.Profile{}, fmt.Errorf("update the profile of %s: %w", p.UserID, err)
	}
	return got, nil
}

// ErasedAt implements users.Profiles.
func (s *Users) ErasedAt(ctx context.Context, userID string) (time.Time, bool, error) {
	if !isUUID(userID) {
		return time.Time{}, false, nil
	}
	var at *time.Time
	if err := asCaller(s.db, userID).QueryRow(ctx, `select public.erased_at()`).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("erasure of %s: %w", userID, err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

// lockProfile is the first statement of a phone code's transaction: the
// profile row's lock, which serializes a user's starts and guesses, so the
// statement after it (a snapshot of its own) sees what the one before wrote.
const lockProfile = `select 1 from profiles where user_id = $1 for update`

// StartPhoneCode implements users.PhoneCodes: the lock, then one statement
// that counts the codes sent, and stores the code with its SMS in the outbox
// only within the limits and for the phone still on the profile.
func (s *Users) StartPhoneCode(ctx context.Context, userID string, c users.PhoneCode, sourceKey string, payload []byte,
	sentAt time.Time, limits users.CodeLimits) (users.CodesSent, error) {
	if !isUUID(userID) {
		return users.CodesSent{}, users.ErrNoProfile
	}
	b := &pgx.Batch{}
	b.Queue(lockProfile, userID)
	b.Queue(`with sent as (
	        select count(*) filter (where created_at >= $8) as in_hour, max(created_at) as last
	          from notification_outbox where user_id = $1 and source = 'phone_code')
	    , pending as (
	        update profiles set phone_code_hash = $3, phone_code_expires_at = $4, phone_code_attempts = 0
	         where user_id = $1 and phone = $2
	           and (select in_hour from sent) < $9
	           and coalesce((select last from sent), '-infinity') <= $10
	        returning user_id)
	    , queued as (
	        insert into notification_outbox (user_id, source, source_key, payload, created_at)
	        select user_id, 'phone_code', $5, $6::jsonb, $7 from pending returning 1)
	    select (select count(*) from queued), in_hour, last,
	           exists (select 1 from profiles where user_id = $1 and phone = $2)
	      from sent`, userID, c.Phone, c.Hash, c.ExpiresAt, sourceKey, string(payload), sentAt,
		sentAt.Add(-time.Hour), limits.PerHour, sentAt.Add(-limits.Interval))
	br := asCaller(s.db, userID).SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	if _, err := br.Exec(); err != nil {
		return users.CodesSent{}, fmt.Errorf("phone code of %s: lock the profile: %w", userID, err)
	}
	var queued int
	var sent users.CodesSent
	var last *time.Time
	var phoneOnProfile bool
	if err := br.QueryRow().Scan(&queued, &sent.InHour, &last, &phoneOnProfile); err != nil {
		return users.CodesSent{}, fmt.Errorf("phone code of %s: %w", userID, err)
	}
	if err := br.Close(); err != nil {
		return users.CodesSent{}, fmt.Errorf("phone code of %s: %w", userID, err)
	}
	if last != nil {
		sent.Last = last.UTC()
	}
	sent.Queued = queued == 1
	if !sent.Queued && !phoneOnProfile {
		return users.CodesSent{}, fmt.Errorf("phone code of %s: %w (or its phone changed)", userID, users.ErrNoProfile)
	}
	return sent, nil
}

// GuessPhoneCode implements users.PhoneCodes: the guess is counted by the
// update that returns the code, only while the code is alive; when it is not,
// the row read in the same statement says why.
func (s *Users) GuessPhoneCode(ctx context.Context, userID string, now time.Time, maxGuesses int) (users.PhoneCode, error) {
	if !isUUID(userID) {
		return users.PhoneCode{}, users.ErrNoPendingCode
	}
	var counted bool
	var phone, hash *string
	var expires *time.Time
	var attempts int
	err := asCaller(s.db, userID).QueryRow(ctx, `with guess as (
	        update profiles set phone_code_attempts = phone_code_attempts + 1
	         where user_id = $1 and phone_code_hash is not null and phone is not null
	           and phone_code_attempts < $3 and phone_code_expires_at > $2
	        returning phone, phone_code_hash, phone_code_expires_at, phone_code_attempts)
	    select true, phone, phone_code_hash, phone_code_expires_at, phone_code_attempts from guess
	    union all
	    select false, phone, phone_code_hash, phone_code_expires_at, phone_code_attempts from profiles
	     where user_id = $1 and not exists (select 1 from guess)`, userID, now, maxGuesses).
		Scan(&counted, &phone, &hash, &expires, &attempts)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return users.PhoneCode{}, users.ErrNoPendingCode
	case err != nil:
		return users.PhoneCode{}, fmt.Errorf("phone code of %s: %w", userID, err)
	case phone == nil || hash == nil || expires == nil:
		return users.PhoneCode{}, users.ErrNoPendingCode
	case !counted && !now.Before(*expires):
		return users.PhoneCode{}, users.ErrCodeExpired
	case !counted:
		return users.PhoneCode{}, users.ErrTooManyAttempts
	}
	return users.PhoneCode{Phone: *phone, Hash: *hash, ExpiresAt: expires.UTC(), Attempts: attempts}, nil
}

// ConfirmPhone implements users.PhoneCodes: the code guessed must still be the
// pending one, alive at the instant.
func (s *Users) ConfirmPhone(ctx context.Context, userID string, c users.PhoneCode, at time.Time, maxGuesses int) error {
	tag, err := asCaller(s.db, userID).Exec(ctx, `update profiles
	     set phone_verified_at = $4, phone_code_hash = null, phone_code_expires_at = null, phone_code_attempts = 0,
	         updated_at = greatest(now(), updated_at + interval '1 microsecond')
	   where user_id = $1 and phone = $2 and phone_code_hash = $3
	     and phone_code_expires_at > $4 and phone_code_attempts <= $5`, userID, c.Phone, c.Hash, at, maxGuesses)
	if err != nil {
		return fmt.Errorf("confirm the phone of %s: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return users.ErrNoPendingCode
	}
	return nil
}

// BeginErasure implements users.ReadModelEraser.
func (s *Users) BeginErasure(ctx context.Context, userID string) (time.Time, error) {
	if !isUUID(userID) {
		return time.Time{}, fmt.Errorf("erase %q: not a user ID", userID)
	}
	var at time.Time
	if err := asCaller(s.db, userID).QueryRow(ctx, `select public.erase_begin()`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("begin the erasure of %s: %w", userID, err)
	}
	return at.UTC(), nil
}

// PortfolioIDs implements users.ReadModelEraser.
func (s *Users) PortfolioIDs(ctx context.Context, userID string) ([]string, error) {
	if !isUUID(userID) {
		return nil, nil
	}
	rows, err := asCaller(s.db, userID).Query(ctx, `select id from portfolios where user_id = $1 order by id`, userID)
	if err != nil {
		return nil, fmt.Errorf("portfolios of %s: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("portfolios of %s: %w", userID, err)
	}
	return ids, nil
}

// ErasedStorePrefix names the read models' counts in an erasure's report.
const ErasedStorePrefix = "postgres."

// EraseReadModels implements users.ReadModelEraser: one statement, one
// transaction (public.erase_read_models, migration 0023).
func (s *Users) EraseReadModels(ctx context.Context, userID string, portfolioIDs []string) ([]users.Count, error) {
	if !isUUID(userID) {
		return nil, fmt.Errorf("erase %q: not a user ID", userID)
	}
	if portfolioIDs == nil {
		portfolioIDs = []string{}
	}
	rows, err := asCaller(s.db, userID).Query(ctx, `select store, erased from public.erase_read_models($1::text[])`, portfolioIDs)
	if err != nil {
		return nil, fmt.Errorf("erase the read models of %s: %w", userID, err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (users.Count, error) {
		var c users.Count
		err := r.Scan(&c.Store, &c.Items)
		c.Store = ErasedStorePrefix + strings.TrimPrefix(c.Store, ErasedStorePrefix)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("erase the read models of %s: %w", userID, err)
	}
	return counts, nil
}
