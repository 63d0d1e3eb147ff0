// Package tokenissuer is the local stand-in for Supabase Auth (GoTrue), for
// tests and the local stack. It holds ES256 and RS256 signing keys and a
// legacy HS256 secret, serves the public keys as a JWKS at
// /auth/v1/.well-known/jwks.json, mints access tokens shaped like Supabase's
// (Mint, for tests that need any token), and speaks the GoTrue endpoints
// supabase-js and supabase-go use: sign-up, password sign-in, rotating
// refresh tokens, the user, logout, settings, health and the admin user API,
// with Supabase's token response, user object, claims and both error shapes,
// behind the apikey check of Supabase's gateway (AnonKey, ServiceRoleKey).
// Users live in a Store: the local Postgres auth.users (PGStore) in the local
// stack, memory (MemStore) otherwise.
//
//	iss, err := tokenissuer.NewServer() // httptest server on 127.0.0.1
//	defer iss.Close()
//	v, err := auth.NewVerifier(iss.Config())
//	tok := iss.Mint("8d0c...", tokenissuer.WithEmail("a@example.com"))
//
// Never use its keys for anything real: they are generated per process.
package tokenissuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// Issuer mints tokens and serves its JWKS. Its methods are safe for concurrent use.
type Issuer struct {
	// HMACSecret is the legacy JWT secret for HS256 tokens. It is not in the JWKS;
	// give it to a verifier with Config.HMACSecret to accept HS256.
	HMACSecret []byte
	// RSAKey signs RS256 tokens. Its public half is in the JWKS under RSAKeyID.
	RSAKey   *rsa.PrivateKey
	RSAKeyID string

	mu      sync.Mutex
	baseURL string
	ecKeys  []ecKey // ecKeys[len-1] signs ES256 tokens; all are in the JWKS
	down    bool
	server  *httptest.Server

	jwksRequests atomic.Int64

	// The GoTrue side.
	store      Store
	anonKey    string
	serviceKey string
	origins    []string // CORS
	log        *slog.Logger
	now        func() time.Time
}

// Setting changes an Issuer that New makes.
type Setting func(*Issuer)

// WithStore keeps users and sessions in s (default: a new MemStore).
func WithStore(s Store) Setting { return func(i *Issuer) { i.store = s } }

// WithCORSOrigins lets browsers on these origins call the Auth endpoints
// ("*": any origin). None by default.
func WithCORSOrigins(origins ...string) Setting {
	return func(i *Issuer) { i.origins = append(i.origins, origins...) }
}

// WithLogger logs the endpoints' internal errors (default: discarded).
func WithLogger(l *slog.Logger) Setting { return func(i *Issuer) { i.log = l } }

type ecKey struct {
	kid string
	key *ecdsa.PrivateKey
}

// New returns an issuer whose tokens carry iss = baseURL + "/auth/v1", baseURL
// being where its Handler will be served (a Supabase project URL's stand-in,
// such as "http://127.0.0.1:54321"). It generates fresh keys.
//
// The anon and service-role keys (AnonKey, ServiceRoleKey) are HS256 JWTs
// signed with HMACSecret, as Supabase's legacy API keys are.
func New(baseURL string, settings ...Setting) (*Issuer, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	i := &Issuer{
		// Supabase's legacy secrets are printable strings used as raw bytes.
		HMACSecret: []byte(base64.RawURLEncoding.EncodeToString(secret) + "-legacy-jwt-secret"),
		RSAKey:     rk,
		RSAKeyID:   newKeyID(),
		baseURL:    strings.TrimRight(baseURL, "/"),
		ecKeys:     []ecKey{{kid: newKeyID(), key: ek}},
		log:        nopLogger,
		now:        time.Now,
	}
	for _, s := range settings {
		s(i)
	}
	if i.store == nil {
		i.store = NewMemStore()
	}
	i.anonKey, i.serviceKey = i.apiKey("anon"), i.apiKey("service_role")
	return i, nil
}

// apiKey is a Supabase legacy API key: an HS256 JWT with iss "supabase",
// the project's ref and the role, valid for ten years.
func (i *Issuer) apiKey(role string) string {
	iat := time.Now().Unix()
	header := map[string]any{"alg": auth.AlgHS256, "typ": "JWT"}
	claims := map[string]any{"iss": "supabase", "ref": "local", "role": role, "iat": iat, "exp": iat + 10*365*24*3600}
	input := encJSON(header) + "." + encJSON(claims)
	mac := hmac.New(sha256.New, i.HMACSecret)
	mac.Write([]byte(input))
	return input + "." + enc(mac.Sum(nil))
}

// AnonKey is the project's public API key (the apikey of a browser's
// requests).
func (i *Issuer) AnonKey() string { return i.anonKey }

// ServiceRoleKey is the project's secret API key: apikey and bearer token of
// the admin routes (shared/adapters/supabaseadmin).
func (i *Issuer) ServiceRoleKey() string { return i.serviceKey }

// Store is where the issuer keeps users and sessions.
func (i *Issuer) Store() Store { return i.store }

// SeedUser makes sure a confirmed e-mail user with this ID exists and can
// sign in with password (Store.SeedUser: an existing user keeps the password
// it has).
func (i *Issuer) SeedUser(ctx context.Context, id, email, password, displayName string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	now := i.now()
	meta := map[string]any{"email": strings.ToLower(email), "email_verified": true, "phone_verified": false, "sub": id}
	if displayName != "" {
		meta["display_name"] = displayName
	}
	return i.store.SeedUser(ctx, User{ID: id, Email: email, PasswordHash: hash, EmailConfirmedAt: now,
		AppMetadata: map[string]any{"provider": "email", "providers": []any{"email"}}, UserMetadata: meta,
		CreatedAt: now, UpdatedAt: now})
}

// NewServer returns an issuer served by an httptest server on 127.0.0.1. Close
// it when done.
func NewServer(settings ...Setting) (*Issuer, error) {
	i, err := New("", settings...)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(i.Handler())
	i.mu.Lock()
	i.server, i.baseURL = srv, srv.URL
	i.mu.Unlock()
	return i, nil
}

// Close stops the server NewServer started.
func (i *Issuer) Close() {
	i.mu.Lock()
	srv := i.server
	i.server = nil
	i.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// BaseURL is the project URL stand-in ("https://<ref>.supabase.co").
func (i *Issuer) BaseURL() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.baseURL
}

// IssuerURL is the iss of minted tokens.
func (i *Issuer) IssuerURL() string { return i.BaseURL() + "/auth/v1" }

// JWKSURL is where Handler serves the JWKS.
func (i *Issuer) JWKSURL() string { return i.BaseURL() + auth.JWKSPath }

// Config returns a verifier configuration for this issuer: its iss and JWKS URL,
// without the HMAC secret (add it to accept HS256 tokens).
func (i *Issuer) Config() auth.Config {
	return auth.Config{Issuer: i.IssuerURL(), JWKSURL: i.JWKSURL()}
}

// ES256KeyID is the kid of the key that currently signs ES256 tokens.
func (i *Issuer) ES256KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.ecKeys[len(i.ecKeys)-1].kid
}

// ES256Key is the key that currently signs ES256 tokens.
func (i *Issuer) ES256Key() *ecdsa.PrivateKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.ecKeys[len(i.ecKeys)-1].key
}

// RotateES256 adds a new ES256 key to the JWKS and signs ES256 tokens with it from
// now on; the old keys stay published (as Supabase does during a rotation). It
// returns the new kid.
func (i *Issuer) RotateES256() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	kid := newKeyID()
	i.mu.Lock()
	i.ecKeys = append(i.ecKeys, ecKey{kid: kid, key: k})
	i.mu.Unlock()
	return kid, nil
}

// SetDown makes the JWKS endpoint answer 503 (true) or serve again (false).
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	i.down = down
	i.mu.Unlock()
}

// JWKSRequests counts the requests the JWKS endpoint has received.
func (i *Issuer) JWKSRequests() int64 { return i.jwksRequests.Load() }

// Handler serves GET /auth/v1/.well-known/jwks.json (open, as on Supabase)
// and the GoTrue endpoints below /auth/v1 (behind the apikey check), with
// CORS for the configured origins; everything else is 404.
func (i *Issuer) Handler() http.Handler {
	gotrue := http.NewServeMux()
	i.routes(gotrue)
	mux := http.NewServeMux()
	mux.Handle(authPrefix+"/", i.requireAPIKey(gotrue))
	mux.HandleFunc("GET "+auth.JWKSPath, func(w http.ResponseWriter, _ *http.Request) {
		i.jwksRequests.Add(1)
		i.mu.Lock()
		down := i.down
		i.mu.Unlock()
		if down {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=600")
		_, _ = w.Write(i.JWKS())
	})
	return i.cors(mux)
}

// JWKS returns the JWK Set document, shaped like Supabase's.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	ecs := append([]ecKey(nil), i.ecKeys...)
	i.mu.Unlock()
	keys := make([]map[string]any, 0, len(ecs)+1)
	for _, k := range ecs {
		pt, err := k.key.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			panic(err)
		}
		keys = append(keys, map[string]any{
			"kty": "EC", "crv": "P-256", "alg": auth.AlgES256, "kid": k.kid, "use": "sig",
			"key_ops": []string{"verify"}, "ext": true,
			"x": enc(pt[1:33]), "y": enc(pt[33:65]),
		})
	}
	keys = append(keys, map[string]any{
		"kty": "RSA", "alg": auth.AlgRS256, "kid": i.RSAKeyID, "use": "sig",
		"key_ops": []string{"verify"}, "ext": true,
		"n": enc(i.RSAKey.N.Bytes()), "e": enc(bigEndian(i.RSAKey.E)),
	})
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// Option changes one token that Mint makes.
type Option func(*minting)

type minting struct {
	alg       string
	now       time.Time
	ttl       time.Duration
	header    map[string]any
	claims    map[string]any
	hmacKey   []byte
	signature []byte
	hasSig    bool
}

// WithAlg picks the signing algorithm: "ES256" (default), "RS256", "HS256" (with
// HMACSecret unless WithHMACKey), or anything else for an unsigned token with that
// header alg and an empty signature (use "none" for the classic attack).
func WithAlg(alg string) Option { return func(m *minting) { m.alg = alg } }

// WithIssuedAt sets iat (default now); exp follows as iat + TTL.
func WithIssuedAt(t time.Time) Option { return func(m *minting) { m.now = t } }

// WithTTL sets exp = iat + d (default one hour, as Supabase).
func WithTTL(d time.Duration) Option { return func(m *minting) { m.ttl = d } }

// WithExpiresAt sets exp.
func WithExpiresAt(t time.Time) Option { return WithClaim("exp", t.Unix()) }

// WithNotBefore sets nbf (Supabase sets none).
func WithNotBefore(t time.Time) Option { return WithClaim("nbf", t.Unix()) }

// WithEmail sets the email claim.
func WithEmail(email string) Option { return WithClaim("email", email) }

// WithRole sets the role claim (default "authenticated").
func WithRole(role string) Option { return WithClaim("role", role) }

// WithAudience sets aud: a string or a []string.
func WithAudience(aud any) Option { return WithClaim("aud", aud) }

// WithIssuer sets iss.
func WithIssuer(iss string) Option { return WithClaim("iss", iss) }

// WithClaim sets any claim, overriding the defaults.
func WithClaim(name string, value any) Option {
	return func(m *minting) { m.claims[name] = value }
}

// WithoutClaim removes a claim (e.g. "exp", "sub").
func WithoutClaim(name string) Option {
	return func(m *minting) { m.claims[name] = deleted{} }
}

// WithHeader sets a JOSE header parameter after signing choices are made, so
// WithHeader("alg", "RS256") relabels an ES256-signed token. A nil value removes
// the parameter.
func WithHeader(name string, value any) Option {
	return func(m *minting) { m.header[name] = value }
}

// WithHMACKey signs an HS256 token with key instead of HMACSecret (for example
// with an RSA public key's bytes, the algorithm-confusion attack).
func WithHMACKey(key []byte) Option { return func(m *minting) { m.hmacKey = key } }

// WithSignature replaces the signature with sig (raw bytes, base64url-encoded by Mint).
func WithSignature(sig []byte) Option {
	return func(m *minting) { m.signature, m.hasSig = sig, true }
}

type deleted struct{}

// Mint returns a signed access token for userID with Supabase's claims: iss, sub,
// aud "authenticated", exp (iat + 1 h), iat, role "authenticated", aal,
// amr, session_id, is_anonymous, app_metadata, user_metadata, phone, and email
// when given. It panics only if the options produce something JSON cannot encode.
func (i *Issuer) Mint(userID string, opts ...Option) string {
	m := &minting{
		alg:    auth.AlgES256,
		now:    time.Now(),
		ttl:    time.Hour,
		header: map[string]any{},
		claims: map[string]any{},
	}
	for _, o := range opts {
		o(m)
	}
	iat := m.now.Unix()
	claims := map[string]any{
		"iss":           i.IssuerURL(),
		"sub":           userID,
		"aud":           auth.DefaultAudience,
		"exp":           m.now.Add(m.ttl).Unix(),
		"iat":           iat,
		"phone":         "",
		"app_metadata":  map[string]any{"provider": "email", "providers": []string{"email"}},
		"user_metadata": map[string]any{},
		"role":          "authenticated",
		"aal":           "aal1",
		"amr":           []map[string]any{{"method": "password", "timestamp": iat}},
		"session_id":    newKeyID(),
		"is_anonymous":  false,
	}
	for k, v := range m.claims {
		if _, del := v.(deleted); del {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	header := map[string]any{"alg": m.alg, "typ": "JWT"}
	var sign func(input string) []byte
	switch m.alg {
	case auth.AlgES256:
		i.mu.Lock()
		k := i.ecKeys[len(i.ecKeys)-1]
		i.mu.Unlock()
		header["kid"] = k.kid
		sign = func(input string) []byte {
			d := sha256.Sum256([]byte(input))
			r, s, err := ecdsa.Sign(rand.Reader, k.key, d[:])
			if err != nil {
				panic(err)
			}
			sig := make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
			return sig
		}
	case auth.AlgRS256:
		header["kid"] = i.RSAKeyID
		sign = func(input string) []byte {
			d := sha256.Sum256([]byte(input))
			sig, err := rsa.SignPKCS1v15(rand.Reader, i.RSAKey, crypto.SHA256, d[:])
			if err != nil {
				panic(err)
			}
			return sig
		}
	case auth.AlgHS256:
		key := i.HMACSecret
		if m.hmacKey != nil {
			key = m.hmacKey
		}
		sign = func(input string) []byte {
			mac := hmac.New(sha256.New, key)
			mac.Write([]byte(input))
			return mac.Sum(nil)
		}
	default:
		sign = func(string) []byte { return nil }
	}
	for k, v := range m.header {
		if v == nil {
			delete(header, k)
		} else {
			header[k] = v
		}
	}
	input := encJSON(header) + "." + encJSON(claims)
	sig := sign(input)
	if m.hasSig {
		sig = m.signature
	}
	return input + "." + enc(sig)
}

// Token assembles a compact JWS from a header, a claims object and a signature,
// none of them checked: for tests that need a token Mint will not make.
func Token(header, claims map[string]any, signature []byte) string {
	return encJSON(header) + "." + encJSON(claims) + "." + enc(signature)
}

func encJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("tokenissuer: cannot encode %T: %v", v, err))
	}
	return enc(b)
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func bigEndian(e int) []byte {
	var b []byte
	for ; e > 0; e >>= 8 {
		b = append([]byte{byte(e)}, b...)
	}
	return b
}

// newKeyID returns a random UUID-shaped ID, as Supabase's kids and session IDs are.
func newKeyID() string { return uuid.New() }
