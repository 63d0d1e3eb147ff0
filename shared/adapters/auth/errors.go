package auth

import "fmt"

// kind is a sentinel error that may belong to a parent class, so that
// errors.Is(ErrTokenExpired, ErrTokenInvalid) holds while ErrTokenExpired stays
// distinguishable.
type kind struct {
	msg    string
	parent error
}

func (k *kind) Error() string { return k.msg }

// Unwrap returns k's class, so errors.Is walks up the hierarchy
// (ErrInvalidIssuer -> ErrInvalidClaims -> ErrTokenInvalid).
func (k *kind) Unwrap() error { return k.parent }

// ErrTokenInvalid is matched (errors.Is) by every error Verify returns because of the
// token itself. Such a token must be refused (401/403). Every more specific token
// error below also matches it.
var ErrTokenInvalid error = &kind{msg: "invalid token"}

// Token errors. Each also matches ErrTokenInvalid.
var (
	// ErrTokenMalformed: not a JWS compact serialisation we can read (segments,
	// base64url, JSON, size).
	ErrTokenMalformed error = &kind{"malformed token", ErrTokenInvalid}
	// ErrUnsupportedAlgorithm: the header names an algorithm we never accept
	// ("none", HS384, PS256, ...) or HS256 while no HMAC secret is configured.
	ErrUnsupportedAlgorithm error = &kind{"unsupported algorithm", ErrTokenInvalid}
	// ErrAlgorithmMismatch: the header's alg is not the algorithm of the key that the
	// token selected (algorithm confusion).
	ErrAlgorithmMismatch error = &kind{"algorithm does not match the key", ErrTokenInvalid}
	// ErrUnknownKey: the token's kid is not in the JWKS, even after a refetch, or
	// the token has no kid and is not HS256.
	ErrUnknownKey error = &kind{"unknown signing key", ErrTokenInvalid}
	// ErrSignatureInvalid: the signature does not verify with the selected key.
	ErrSignatureInvalid error = &kind{"invalid signature", ErrTokenInvalid}
	// ErrTokenExpired: now is past exp (plus the allowed clock skew).
	ErrTokenExpired error = &kind{"token expired", ErrTokenInvalid}
	// ErrTokenNotYetValid: nbf or iat lies in the future (beyond the clock skew).
	ErrTokenNotYetValid error = &kind{"token not yet valid", ErrTokenInvalid}
	// ErrInvalidClaims: a required claim is missing or wrong (iss, aud, sub, exp,
	// role). The more specific errors below also match it.
	ErrInvalidClaims error = &kind{"invalid claims", ErrTokenInvalid}
)

// Claim errors. Each matches ErrInvalidClaims and ErrTokenInvalid.
var (
	ErrInvalidIssuer   error = &kind{"invalid issuer", ErrInvalidClaims}
	ErrInvalidAudience error = &kind{"invalid audience", ErrInvalidClaims}
	ErrMissingSubject  error = &kind{"missing subject", ErrInvalidClaims}
	ErrRoleNotAllowed  error = &kind{"role not allowed", ErrInvalidClaims}
)

// ErrKeysUnavailable means the verifier could not obtain verification keys (the JWKS
// endpoint is unreachable or answers garbage and no usable cached copy exists, or
// the HMAC secret could not be loaded). It is an infrastructure failure, not a
// verdict on the token: it does NOT match ErrTokenInvalid.
var ErrKeysUnavailable error = &kind{msg: "verification keys unavailable"}

// wrap returns an error that matches k (and its ancestors) and carries detail.
func wrap(k error, format string, args ...any) error {
	return &detailed{kind: k, detail: fmt.Sprintf(format, args...)}
}

// detailed is a kind plus a human detail. It never contains the token.
type detailed struct {
	kind   error
	detail string
	cause  error
}

func (d *detailed) Error() string {
	if d.detail == "" {
		return d.kind.Error()
	}
	return d.kind.Error() + ": " + d.detail
}

// Unwrap exposes the kind and, if any, the underlying cause.
func (d *detailed) Unwrap() []error {
	if d.cause != nil {
		return []error{d.kind, d.cause}
	}
	return []error{d.kind}
}
