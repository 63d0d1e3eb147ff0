package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultAudience           = "authenticated"
	DefaultClockSkew          = 30 * time.Second
	DefaultFetchTimeout       = 5 * time.Second
	DefaultCacheTTL           = 10 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultStaleIfError       = time.Hour
	// coldRetry caps the spacing of fetch attempts while no keys are held at all,
	// so a failed fetch at cold start does not deny every request for 30 s.
	coldRetry = 2 * time.Second
	// MinHMACSecretLength is the shortest HS256 secret accepted (Supabase's are
	// longer).
	MinHMACSecretLength = 32
)

// JWKSPath is where Supabase Auth serves the project's public keys, below the
// project URL.
const JWKSPath = "/auth/v1/.well-known/jwks.json"

// Config configures a Verifier. Issuer and at least one key source (JWKSURL, or an
// HMAC secret) are required; every other zero value means the default.
type Config struct {
	// Issuer is the exact iss every token must carry:
	// "https://<ref>.supabase.co/auth/v1".
	Issuer string
	// Audience must be one of the token's aud values. Default "authenticated".
	Audience string
	// AllowedRoles, if not empty, lists the role claims accepted.
	AllowedRoles []string

	// JWKSURL serves the ES256/RS256 public keys:
	// "https://<ref>.supabase.co/auth/v1/.well-known/jwks.json". It must be https,
	// or http on a loopback host (local stack, tests). Empty disables ES256/RS256.
	JWKSURL string
	// HMACSecret is Supabase's legacy JWT secret, enabling HS256. Leave it empty
	// (and LoadHMACSecret nil) to refuse HS256 tokens.
	HMACSecret []byte
	// LoadHMACSecret, instead of HMACSecret, loads the legacy secret on the first
	// HS256 token (from Secrets Manager, say). Failures are retried, at most
	// once per MinRefreshInterval, and reported as ErrKeysUnavailable.
	LoadHMACSecret func(context.Context) ([]byte, error)

	// ClockSkew is the leeway for exp, nbf and iat. Default 30 s; negative means none.
	ClockSkew time.Duration
	// HTTPClient fetches the JWKS. Default: a client with FetchTimeout.
	HTTPClient *http.Client
	// FetchTimeout bounds one JWKS fetch. Default 5 s.
	FetchTimeout time.Duration
	// CacheTTL is how long a fetched JWKS is used before it is refetched. Default 10 min.
	CacheTTL time.Duration
	// MinRefreshInterval rate-limits the JWKS fetches that tokens can trigger:
	// at most one refetch for unknown kids per interval, and no attempt at all
	// for an interval after a failed one (2 s while no keys are held yet).
	// Default 30 s.
	MinRefreshInterval time.Duration
	// StaleIfError is how long past CacheTTL the last good JWKS stays usable
	// while refetching fails. Default 1 h; negative means not at all.
	StaleIfError time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// SupabaseConfig returns the Config for a Supabase project URL such as
// "https://abcd.supabase.co": its issuer and JWKS URL, every other field default.
func SupabaseConfig(projectURL string) (Config, error) {
	u, err := url.Parse(strings.TrimRight(projectURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return Config{}, fmt.Errorf("auth: Supabase URL %q is not an absolute http(s) URL", projectURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("auth: Supabase URL %q has a query or fragment", projectURL)
	}
	base := u.String()
	return Config{Issuer: base + "/auth/v1", JWKSURL: base + JWKSPath}, nil
}

// Verifier checks Supabase access tokens. It is safe for concurrent use; make one
// per process and keep it (its JWKS cache is the point).
type Verifier struct {
	rules claimRules
	now   func() time.Time
	jwks  *jwksCache // nil: ES256/RS256 disabled
	hmac  *hmacSource
}

// NewVerifier checks cfg and returns a Verifier. It does no I/O: the JWKS is
// fetched on the first token that needs it.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: Config.Issuer is required")
	}
	if cfg.JWKSURL == "" && len(cfg.HMACSecret) == 0 && cfg.LoadHMACSecret == nil {
		return nil, errors.New("auth: no key source: set JWKSURL and/or an HMAC secret")
	}
	if len(cfg.HMACSecret) > 0 && cfg.LoadHMACSecret != nil {
		return nil, errors.New("auth: set HMACSecret or LoadHMACSecret, not both")
	}
	if n := len(cfg.HMACSecret); n > 0 && n < MinHMACSecretLength {
		return nil, fmt.Errorf("auth: HMAC secret has %d bytes, want at least %d", n, MinHMACSecretLength)
	}
	v := &Verifier{
		rules: claimRules{
			issuer:   cfg.Issuer,
			audience: orDefault(cfg.Audience, DefaultAudience),
			roles:    append([]string(nil), cfg.AllowedRoles...),
			skew:     durationOr(cfg.ClockSkew, DefaultClockSkew),
		},
		now: cfg.Now,
	}
	if v.now == nil {
		v.now = time.Now
	}
	minInterval := durationOr(cfg.MinRefreshInterval, DefaultMinRefreshInterval)
	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, err
		}
		timeout := durationOr(cfg.FetchTimeout, DefaultFetchTimeout)
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: timeout}
		}
		v.jwks = &jwksCache{
			url:          cfg.JWKSURL,
			client:       client,
			timeout:      timeout,
			ttl:          durationOr(cfg.CacheTTL, DefaultCacheTTL),
			minInterval:  minInterval,
			coldRetry:    coldRetry,
			staleIfError: durationOr(cfg.StaleIfError, DefaultStaleIfError),
			now:          v.now,
		}
	}
	switch {
	case len(cfg.HMACSecret) > 0:
		h := &hmacSource{}
		h.key.Store(&key{alg: AlgHS256, hmac: append([]byte(nil), cfg.HMACSecret...)})
		v.hmac = h
	case cfg.LoadHMACSecret != nil:
		v.hmac = &hmacSource{load: cfg.LoadHMACSecret, retry: minInterval, now: v.now}
	}
	return v, nil
}

// Verify checks token (the bare JWT, without "Bearer ") and returns its claims.
// Errors match ErrTokenInvalid (refuse the token; more specific sentinels such
// as ErrTokenExpired also match) or ErrKeysUnavailable (we could not get keys:
// an outage, not a verdict). Verify never panics, whatever the input.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	t, err := parse(raw)
	if err != nil {
		return Claims{}, err
	}
	k, err := v.selectKey(ctx, &t.header)
	if err != nil {
		return Claims{}, err
	}
	// The key decides the algorithm; the header may only agree with it.
	if t.header.Alg != k.alg {
		return Claims{}, wrap(ErrAlgorithmMismatch, "header alg %s, key %s is %s", quote(t.header.Alg), quote(k.kid), k.alg)
	}
	if !k.verify(t.signingInput, t.signature) {
		return Claims{}, wrap(ErrSignatureInvalid, "")
	}
	body, err := b64.DecodeString(t.payload)
	if err != nil {
		return Claims{}, wrap(ErrTokenMalformed, "payload is not base64url")
	}
	c, err := v.rules.check(body, v.now())
	if err != nil {
		return Claims{}, err
	}
	c.KeyID, c.Algorithm = k.kid, k.alg
	return c, nil
}

// selectKey finds the one key the token may be verified with. A kid found in the
// (fresh) JWKS wins, whatever the header's alg says; otherwise an HS256 token goes
// to the HMAC secret, if configured, and anything else to the JWKS by kid.
func (v *Verifier) selectKey(ctx context.Context, h *header) (*key, error) {
	if v.jwks != nil && h.Kid != "" {
		if k := v.jwks.peek(h.Kid); k != nil {
			return k, nil
		}
	}
	if h.Alg == AlgHS256 {
		if v.hmac == nil {
			return nil, wrap(ErrUnsupportedAlgorithm, "HS256 is not enabled")
		}
		return v.hmac.get(ctx)
	}
	if v.jwks == nil {
		return nil, wrap(ErrUnsupportedAlgorithm, "%s is not enabled (no JWKS URL)", h.Alg)
	}
	if h.Kid == "" {
		return nil, wrap(ErrUnknownKey, "token has no kid")
	}
	return v.jwks.lookup(ctx, h.Kid)
}

// JWKSFetches reports how many JWKS fetches this verifier has attempted.
func (v *Verifier) JWKSFetches() int64 {
	if v.jwks == nil {
		return 0
	}
	return v.jwks.fetches.Load()
}

// hmacSource holds the HS256 key, loading it on first use if need be.
type hmacSource struct {
	key   atomic.Pointer[key]
	load  func(context.Context) ([]byte, error)
	retry time.Duration
	now   func() time.Time

	mu        sync.Mutex
	lastErr   error
	lastErrAt time.Time
	// lastKind is what a failed load means for tokens until the next try:
	// ErrKeysUnavailable (an outage) or ErrUnsupportedAlgorithm (a secret that
	// loaded but cannot be one: HS256 is then not accepted, a denial).
	lastKind error
}

func (h *hmacSource) get(ctx context.Context) (*key, error) {
	if k := h.key.Load(); k != nil {
		return k, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if k := h.key.Load(); k != nil {
		return k, nil
	}
	if h.lastErr != nil && h.now().Sub(h.lastErrAt) < h.retry {
		return nil, &detailed{kind: h.lastKind, detail: "HMAC secret: " + h.lastErr.Error(), cause: h.lastErr}
	}
	secret, err := h.load(ctx)
	kind := ErrKeysUnavailable
	if err == nil && len(secret) < MinHMACSecretLength {
		// Empty (never filled in) or too short: a configuration fault, not an
		// outage. Answering it with an error would fail every request with a 500.
		err = fmt.Errorf("secret has %d bytes, want at least %d: HS256 tokens are not accepted", len(secret), MinHMACSecretLength)
		kind = ErrUnsupportedAlgorithm
	}
	if err != nil {
		h.lastErr, h.lastErrAt, h.lastKind = err, h.now(), kind
		return nil, &detailed{kind: kind, detail: "HMAC secret: " + err.Error(), cause: err}
	}
	k := &key{alg: AlgHS256, hmac: append([]byte(nil), secret...)}
	h.key.Store(k)
	return k, nil
}

// checkJWKSURL refuses plain http except to a loopback host: keys fetched in
// clear text could be swapped by anyone on the path.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("auth: JWKS URL %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("auth: JWKS URL %q must be https (plain http only on loopback)", raw)
	}
	return fmt.Errorf("auth: JWKS URL %q must be https", raw)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// durationOr maps zero to def and negative to zero.
func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
