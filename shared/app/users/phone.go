package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/user"
)

// Phone verification's bounds: a code lives 10 minutes and takes 5 wrong
// guesses (a one-in-200,000 chance of guessing it); a new one may be asked for
// a minute after the last, at most 5 an hour (each is an SMS we pay for, to a
// number nobody has proven to own).
const (
	PhoneCodeTTL         = 10 * time.Minute
	MaxWrongCodes        = 5
	PhoneCodeInterval    = time.Minute
	MaxPhoneCodesPerHour = 5
)

// PhoneCodeSent says where and until when the code is valid.
type PhoneCodeSent struct {
	Phone     string
	ExpiresAt time.Time
}

// StartPhoneVerification sends a new code to the profile's phone (phone, if
// not "", replaces it first, as PATCH /me would). The code goes out by SMS
// through the notifier's outbox; only its hash is kept.
func (s *Service) StartPhoneVerification(ctx context.Context, userID, phone string) (PhoneCodeSent, error) {
	if s.cfg.PhoneCodes == nil {
		return PhoneCodeSent{}, ErrUnavailable
	}
	p, err := s.profileWithPhone(ctx, userID, phone)
	if err != nil {
		return PhoneCodeSent{}, err
	}
	now := s.cfg.Now().UTC()
	if err := s.checkCodeRate(ctx, userID, now); err != nil {
		return PhoneCodeSent{}, err
	}
	code, err := s.cfg.NewCode()
	if err != nil {
		return PhoneCodeSent{}, err
	}
	nonce, err := nonce()
	if err != nil {
		return PhoneCodeSent{}, err
	}
	pending := PhoneCode{Phone: p.Phone, Hash: codeHash(userID, p.Phone, code), ExpiresAt: now.Add(PhoneCodeTTL)}
	payload, err := json.Marshal(map[string]string{"phone": p.Phone, "code": code})
	if err != nil {
		return PhoneCodeSent{}, err
	}
	if err := s.cfg.PhoneCodes.StartPhoneCode(ctx, userID, pending, "phone_code:"+userID+":"+nonce, payload, now); err != nil {
		return PhoneCodeSent{}, err
	}
	return PhoneCodeSent{Phone: p.Phone, ExpiresAt: pending.ExpiresAt}, nil
}

// profileWithPhone returns the profile, its phone set to phone first if given,
// refusing one without a phone or whose phone is verified already.
func (s *Service) profileWithPhone(ctx context.Context, userID, phone string) (user.Profile, error) {
	var p user.Profile
	var err error
	if phone != "" {
		p, err = s.Update(ctx, userID, Patch{Phone: &phone})
	} else {
		p, err = s.Profile(ctx, userID)
	}
	switch {
	case err != nil:
		return user.Profile{}, err
	case p.Phone == "":
		return user.Profile{}, ErrNoPhone
	case p.PhoneVerified:
		return user.Profile{}, ErrPhoneVerified
	}
	return p, nil
}

// checkCodeRate refuses a code within PhoneCodeInterval of the last, or past
// MaxPhoneCodesPerHour.
func (s *Service) checkCodeRate(ctx context.Context, userID string, now time.Time) error {
	n, last, err := s.cfg.PhoneCodes.CodesSent(ctx, userID, now.Add(-time.Hour))
	if err != nil {
		return err
	}
	if wait := last.Add(PhoneCodeInterval).Sub(now); !last.IsZero() && wait > 0 {
		return &RateLimitedError{RetryAfter: wait, Reason: "a code was sent less than a minute ago"}
	}
	if n >= MaxPhoneCodesPerHour {
		return &RateLimitedError{RetryAfter: time.Hour / MaxPhoneCodesPerHour, Reason: fmt.Sprintf("at most %d codes an hour", MaxPhoneCodesPerHour)}
	}
	return nil
}

// VerifyPhone checks the code typed against the pending one and marks the phone
// verified. Wrong codes count; past MaxWrongCodes the code is dead.
func (s *Service) VerifyPhone(ctx context.Context, userID, code string) (user.Profile, error) {
	if s.cfg.PhoneCodes == nil {
		return user.Profile{}, ErrUnavailable
	}
	if len(code) != 6 || !allDigits(code) {
		return user.Profile{}, ErrBadCode
	}
	pending, err := s.cfg.PhoneCodes.PendingPhoneCode(ctx, userID)
	if err != nil {
		return user.Profile{}, err
	}
	now := s.cfg.Now().UTC()
	switch {
	case pending.Attempts >= MaxWrongCodes:
		return user.Profile{}, ErrTooManyAttempts
	case !now.Before(pending.ExpiresAt):
		return user.Profile{}, ErrCodeExpired
	}
	if subtle.ConstantTimeCompare([]byte(codeHash(userID, pending.Phone, code)), []byte(pending.Hash)) != 1 {
		n, err := s.cfg.PhoneCodes.CountWrongCode(ctx, userID)
		if err != nil {
			return user.Profile{}, err
		}
		if n >= MaxWrongCodes {
			return user.Profile{}, ErrTooManyAttempts
		}
		return user.Profile{}, ErrWrongCode
	}
	if err := s.cfg.PhoneCodes.ConfirmPhone(ctx, userID, pending.Phone, now); err != nil {
		return user.Profile{}, err
	}
	return s.Profile(ctx, userID)
}

// codeHash binds the code to the user and the number it was sent to: a code
// sent to an old number never verifies a new one.
func codeHash(userID, phone, code string) string {
	h := sha256.Sum256([]byte("phone-code:v1\x00" + userID + "\x00" + phone + "\x00" + code))
	return "v1:" + hex.EncodeToString(h[:])
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// nonce names one code in the outbox's source key.
func nonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("phone code nonce: " + err.Error())
	}
	return hex.EncodeToString(b), nil
}
