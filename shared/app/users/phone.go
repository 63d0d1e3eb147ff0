package users

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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
// through the notifier's outbox; only its keyed hash is kept. The rate limits
// are checked by the store under the profile's lock, in the transaction that
// queues the code: parallel requests send at most the limit.
func (s *Service) StartPhoneVerification(ctx context.Context, userID, phone string) (PhoneCodeSent, error) {
	if s.cfg.PhoneCodes == nil || len(s.cfg.PhoneCodeKey) == 0 {
		return PhoneCodeSent{}, ErrUnavailable
	}
	p, err := s.profileWithPhone(ctx, userID, phone)
	if err != nil {
		return PhoneCodeSent{}, err
	}
	now := s.cfg.Now().UTC()
	code, err := s.cfg.NewCode()
	if err != nil {
		return PhoneCodeSent{}, err
	}
	nonce, err := nonce()
	if err != nil {
		return PhoneCodeSent{}, err
	}
	pending := PhoneCode{Phone: p.Phone, Hash: s.codeHash(userID, p.Phone, code), ExpiresAt: now.Add(PhoneCodeTTL)}
	payload, err := json.Marshal(map[string]string{"phone": p.Phone, "code": code})
	if err != nil {
		return PhoneCodeSent{}, err
	}
	sent, err := s.cfg.PhoneCodes.StartPhoneCode(ctx, userID, pending, "phone_code:"+userID+":"+nonce, payload, now,
		CodeLimits{PerHour: MaxPhoneCodesPerHour, Interval: PhoneCodeInterval})
	if err != nil {
		return PhoneCodeSent{}, err
	}
	if !sent.Queued {
		return PhoneCodeSent{}, rateLimited(sent, now)
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

// rateLimited says why the store refused a code and when the next is allowed:
// within PhoneCodeInterval of the last, or past MaxPhoneCodesPerHour.
func rateLimited(sent CodesSent, now time.Time) error {
	if wait := sent.Last.Add(PhoneCodeInterval).Sub(now); !sent.Last.IsZero() && wait > 0 {
		return &RateLimitedError{RetryAfter: wait, Reason: "a code was sent less than a minute ago"}
	}
	return &RateLimitedError{RetryAfter: time.Hour / MaxPhoneCodesPerHour, Reason: fmt.Sprintf("at most %d codes an hour", MaxPhoneCodesPerHour)}
}

// VerifyPhone checks the code typed against the pending one and marks the phone
// verified. Every guess is counted before it is compared (the store's
// GuessPhoneCode), so MaxWrongCodes bounds parallel guesses too; past it the
// code is dead.
func (s *Service) VerifyPhone(ctx context.Context, userID, code string) (user.Profile, error) {
	if s.cfg.PhoneCodes == nil || len(s.cfg.PhoneCodeKey) == 0 {
		return user.Profile{}, ErrUnavailable
	}
	if len(code) != 6 || !allDigits(code) {
		return user.Profile{}, ErrBadCode
	}
	now := s.cfg.Now().UTC()
	pending, err := s.cfg.PhoneCodes.GuessPhoneCode(ctx, userID, now, MaxWrongCodes)
	if err != nil {
		return user.Profile{}, err
	}
	if !hmac.Equal([]byte(s.codeHash(userID, pending.Phone, code)), []byte(pending.Hash)) {
		if pending.Attempts >= MaxWrongCodes {
			return user.Profile{}, ErrTooManyAttempts
		}
		return user.Profile{}, ErrWrongCode
	}
	if err := s.cfg.PhoneCodes.ConfirmPhone(ctx, userID, pending, now, MaxWrongCodes); err != nil {
		return user.Profile{}, err
	}
	return s.Profile(ctx, userID)
}

// codeHash binds the code to the user and the number it was sent to (a code
// sent to an old number never verifies a new one), keyed with the server's
// secret: six digits are a million guesses, which an unkeyed hash would give
// away to anyone who read it.
func (s *Service) codeHash(userID, phone, code string) string {
	m := hmac.New(sha256.New, s.cfg.PhoneCodeKey)
	m.Write([]byte("phone-code:v2\x00" + userID + "\x00" + phone + "\x00" + code))
	return "v2:" + hex.EncodeToString(m.Sum(nil))
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
