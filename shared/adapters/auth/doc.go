// Package auth verifies Supabase access tokens (JWTs) for the Lambda authorizer.
//
// A Verifier accepts exactly three algorithms, each tied to a kind of key:
//
//	ES256  ECDSA P-256 keys from the project's JWKS (Supabase's default)
//	RS256  RSA keys (2048–8192 bits) from the JWKS
//	HS256  the legacy JWT secret, only when one is configured
//
// The key decides the algorithm, never the token: a token selects a key (by kid
// from the JWKS, or the HMAC secret for an HS256 token whose kid the JWKS lacks),
// and its header alg must equal that key's algorithm. So "alg: none", HS256 tokens
// "signed" with an RSA public key, and ES256 tokens relabelled RS256 are all
// refused. ES256 signatures are JOSE's raw r||s (64 bytes), never ASN.1.
//
// Claims: iss must equal Config.Issuer, aud must contain "authenticated" (string
// or array), exp is required, nbf and iat are honoured, all with a clock skew
// (30 s); sub must be non-empty and becomes Claims.UserID.
//
// The JWKS is fetched lazily with a timeout, cached for CacheTTL (10 min), and
// refetched early when a token names an unknown kid (a key rotation). Fetches are
// single-flight; refetches for unknown kids happen at most once per
// MinRefreshInterval (30 s), and after a failed fetch nothing is tried for that
// long either, so garbage kids and a dead endpoint cannot make us hammer it.
// When refetching fails, the last good keys stay in use for StaleIfError (1 h)
// past their TTL.
//
// Errors are sentinels for errors.Is: everything about the token matches
// ErrTokenInvalid (deny), while ErrKeysUnavailable means we could not get keys
// (an outage: do not cache a denial). No error message contains the token.
//
// This package imports nothing from AWS. The API Gateway glue is in
// functions/edge/authctx (reading the caller in the API and WebSocket functions) and
// functions/edge/lambdaauth (the authorizer's handler); shared/devtools/tokenissuer issues
// tokens for tests and the local stack.
package auth
