package auth

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Claims is what a verified Supabase access token says about its bearer.
type Claims struct {
	// UserID is the sub claim: the Supabase auth user's ID (a UUID).
	UserID string
	// Role is the role claim ("authenticated" for signed-in users, including
	// anonymous sign-ins).
	Role string
	// Email is the email claim, if any.
	Email string
	// SessionID is Supabase's session_id claim, if any.
	SessionID string
	// IsAnonymous is Supabase's is_anonymous claim.
	IsAnonymous bool
	// AAL is the authenticator assurance level ("aal1", "aal2"), if any.
	AAL string

	Issuer    string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time // zero if absent
	NotBefore time.Time // zero if absent

	// KeyID and Algorithm name the key that verified the token.
	KeyID     string
	Algorithm string
}

// maxSubjectLength bounds sub; Supabase's is a 36-character UUID.
const maxSubjectLength = 255

// payload is the JSON claims set. Claims we check are decoded strictly (a wrong
// JSON type rejects the token); informational ones leniently (a wrong type is
// ignored), so a custom access-token hook cannot lock users out by accident.
type payload struct {
	Iss         *string        `json:"iss"`
	Sub         *string        `json:"sub"`
	Aud         audience       `json:"aud"`
	Exp         *numericDate   `json:"exp"`
	Nbf         *numericDate   `json:"nbf"`
	Iat         *numericDate   `json:"iat"`
	Role        *string        `json:"role"`
	Email       lenientString  `json:"email"`
	SessionID   lenientString  `json:"session_id"`
	AAL         lenientString  `json:"aal"`
	IsAnonymous lenientBoolean `json:"is_anonymous"`
}

// audience is the aud claim: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

// numericDate is an RFC 7519 NumericDate: a JSON number of seconds since the
// epoch, possibly fractional.
type numericDate struct{ time.Time }

// maxNumericDate keeps conversions exact and far from int64 overflow (year ~285,000).
const maxNumericDate = 1 << 53

func (d *numericDate) UnmarshalJSON(b []byte) error {
	// b is a valid JSON value (the decoder checked); only a number parses.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return &json.UnsupportedValueError{Str: "NumericDate is not a number"}
	}
	f = math.Max(-maxNumericDate, math.Min(maxNumericDate, f))
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

type lenientString string

func (s *lenientString) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		*s = lenientString(v)
	}
	return nil
}

type lenientBoolean bool

func (v *lenientBoolean) UnmarshalJSON(b []byte) error {
	var x bool
	if json.Unmarshal(b, &x) == nil {
		*v = lenientBoolean(x)
	}
	return nil
}

// claimRules are the checks applied to a verified payload.
type claimRules struct {
	issuer   string
	audience string
	roles    []string
	skew     time.Duration
}

// check decodes and validates a payload whose signature has been verified.
func (r *claimRules) check(raw []byte, now time.Time) (Claims, error) {
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Claims{}, wrap(ErrTokenMalformed, "payload is not a valid claims object")
	}
	if p.Exp == nil {
		return Claims{}, wrap(ErrInvalidClaims, "no exp")
	}
	if !now.Before(p.Exp.Add(r.skew)) {
		return Claims{}, wrap(ErrTokenExpired, "expired at %s", p.Exp.Format(time.RFC3339))
	}
	if p.Nbf != nil && now.Add(r.skew).Before(p.Nbf.Time) {
		return Claims{}, wrap(ErrTokenNotYetValid, "nbf %s", p.Nbf.Format(time.RFC3339))
	}
	if p.Iat != nil && now.Add(r.skew).Before(p.Iat.Time) {
		return Claims{}, wrap(ErrTokenNotYetValid, "iat %s is in the future", p.Iat.Format(time.RFC3339))
	}
	if p.Iss == nil || *p.Iss != r.issuer {
		got := "none"
		if p.Iss != nil {
			got = quote(*p.Iss)
		}
		return Claims{}, wrap(ErrInvalidIssuer, "iss %s", got)
	}
	if !slices.Contains(p.Aud, r.audience) {
		return Claims{}, wrap(ErrInvalidAudience, "aud does not contain %s", quote(r.audience))
	}
	if p.Sub == nil || *p.Sub == "" {
		return Claims{}, wrap(ErrMissingSubject, "no sub")
	}
	if len(*p.Sub) > maxSubjectLength || !utf8.ValidString(*p.Sub) {
		return Claims{}, wrap(ErrInvalidClaims, "sub is not a plausible user ID")
	}
	role := ""
	if p.Role != nil {
		role = *p.Role
	}
	if len(r.roles) > 0 && !slices.Contains(r.roles, role) {
		return Claims{}, wrap(ErrRoleNotAllowed, "role %s", quote(role))
	}
	c := Claims{
		UserID:      *p.Sub,
		Role:        role,
		Email:       string(p.Email),
		SessionID:   string(p.SessionID),
		IsAnonymous: bool(p.IsAnonymous),
		AAL:         string(p.AAL),
		Issuer:      *p.Iss,
		Audience:    []string(p.Aud),
		ExpiresAt:   p.Exp.Time,
	}
	if p.Iat != nil {
		c.IssuedAt = p.Iat.Time
	}
	if p.Nbf != nil {
		c.NotBefore = p.Nbf.Time
	}
	return c, nil
}
