package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

const userID = "8d0c6f1e-5b3a-4c2d-9e8f-0a1b2c3d4e5f"

// shared is one issuer for the tests that neither take it down nor rotate it
// (RSA key generation is the slow part of setting one up).
var shared *tokenissuer.Issuer

func TestMain(m *testing.M) {
	var err error
	if shared, err = tokenissuer.NewServer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// newIssuer is an issuer of the test's own, for tests that count its requests or
// take it down.
func newIssuer(t testing.TB) *tokenissuer.Issuer {
	t.Helper()
	iss, err := tokenissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	return iss
}

func newVerifier(t testing.TB, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// withHMAC is the shared issuer's config accepting HS256 too.
func withHMAC(iss *tokenissuer.Issuer) auth.Config {
	cfg := iss.Config()
	cfg.HMACSecret = iss.HMACSecret
	return cfg
}

// clock is a settable clock for the cache tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestVerifyValidTokens(t *testing.T) {
	v := newVerifier(t, withHMAC(shared))
	for _, alg := range []string{auth.AlgES256, auth.AlgRS256, auth.AlgHS256} {
		t.Run(alg, func(t *testing.T) {
			tok := shared.Mint(userID, tokenissuer.WithAlg(alg), tokenissuer.WithEmail("ada@example.com"))
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.UserID != userID || c.Role != "authenticated" || c.Email != "ada@example.com" {
				t.Errorf("claims = %+v", c)
			}
			if c.Algorithm != alg || c.Issuer != shared.IssuerURL() || c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() {
				t.Errorf("claims = %+v", c)
			}
			if c.SessionID == "" || c.AAL != "aal1" || c.IsAnonymous {
				t.Errorf("Supabase claims not read: %+v", c)
			}
			switch alg {
			case auth.AlgES256:
				if c.KeyID != shared.ES256KeyID() {
					t.Errorf("kid = %q", c.KeyID)
				}
			case auth.AlgRS256:
				if c.KeyID != shared.RSAKeyID {
					t.Errorf("kid = %q", c.KeyID)
				}
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	v := newVerifier(t, withHMAC(shared))
	now := time.Now()
	cases := []struct {
		name string
		opts []tokenissuer.Option
		want error // nil: valid
	}{
		{"expired", []tokenissuer.Option{tokenissuer.WithIssuedAt(now.Add(-2 * time.Hour))}, auth.ErrTokenExpired},
		{"expired a minute ago", []tokenissuer.Option{tokenissuer.WithExpiresAt(now.Add(-time.Minute))}, auth.ErrTokenExpired},
		{"expired within skew", []tokenissuer.Option{tokenissuer.WithExpiresAt(now.Add(-10 * time.Second))}, nil},
		{"no exp", []tokenissuer.Option{tokenissuer.WithoutClaim("exp")}, auth.ErrInvalidClaims},
		{"null exp", []tokenissuer.Option{tokenissuer.WithClaim("exp", nil)}, auth.ErrInvalidClaims},
		{"exp as string", []tokenissuer.Option{tokenissuer.WithClaim("exp", fmt.Sprint(now.Add(time.Hour).Unix()))}, auth.ErrTokenMalformed},
		{"fractional exp", []tokenissuer.Option{tokenissuer.WithClaim("exp", float64(now.Add(time.Hour).Unix())+0.5)}, nil},
		{"huge exp", []tokenissuer.Option{tokenissuer.WithClaim("exp", 1e300)}, nil},
		{"negative exp", []tokenissuer.Option{tokenissuer.WithClaim("exp", -1e300)}, auth.ErrTokenExpired},
		{"nbf in the future", []tokenissuer.Option{tokenissuer.WithNotBefore(now.Add(2 * time.Minute))}, auth.ErrTokenNotYetValid},
		{"nbf within skew", []tokenissuer.Option{tokenissuer.WithNotBefore(now.Add(10 * time.Second))}, nil},
		{"nbf in the past", []tokenissuer.Option{tokenissuer.WithNotBefore(now.Add(-time.Minute))}, nil},
		{"iat in the future", []tokenissuer.Option{tokenissuer.WithIssuedAt(now.Add(2 * time.Minute))}, auth.ErrTokenNotYetValid},
		{"no iat", []tokenissuer.Option{tokenissuer.WithoutClaim("iat")}, nil},
		{"wrong issuer", []tokenissuer.Option{tokenissuer.WithIssuer("https://evil.supabase.co/auth/v1")}, auth.ErrInvalidIssuer},
		{"issuer with trailing slash", []tokenissuer.Option{tokenissuer.WithIssuer(shared.IssuerURL() + "/")}, auth.ErrInvalidIssuer},
		{"legacy anon key issuer", []tokenissuer.Option{tokenissuer.WithIssuer("supabase"), tokenissuer.WithRole("anon")}, auth.ErrInvalidIssuer},
		{"no issuer", []tokenissuer.Option{tokenissuer.WithoutClaim("iss")}, auth.ErrInvalidIssuer},
		{"wrong audience", []tokenissuer.Option{tokenissuer.WithAudience("anon")}, auth.ErrInvalidAudience},
		{"audience array", []tokenissuer.Option{tokenissuer.WithAudience([]string{"other", "authenticated"})}, nil},
		{"audience array without ours", []tokenissuer.Option{tokenissuer.WithAudience([]string{"other"})}, auth.ErrInvalidAudience},
		{"empty audience array", []tokenissuer.Option{tokenissuer.WithAudience([]string{})}, auth.ErrInvalidAudience},
		{"no audience", []tokenissuer.Option{tokenissuer.WithoutClaim("aud")}, auth.ErrInvalidAudience},
		{"audience of wrong type", []tokenissuer.Option{tokenissuer.WithAudience(42)}, auth.ErrTokenMalformed},
		{"no sub", []tokenissuer.Option{tokenissuer.WithoutClaim("sub")}, auth.ErrMissingSubject},
		{"sub of wrong type", []tokenissuer.Option{tokenissuer.WithClaim("sub", 7)}, auth.ErrTokenMalformed},
		{"email of wrong type is ignored", []tokenissuer.Option{tokenissuer.WithClaim("email", 7)}, nil},
		{"no role", []tokenissuer.Option{tokenissuer.WithoutClaim("role")}, nil},
	}
	for _, alg := range []string{auth.AlgES256, auth.AlgHS256} {
		for _, tc := range cases {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				tok := shared.Mint(userID, append([]tokenissuer.Option{tokenissuer.WithAlg(alg)}, tc.opts...)...)
				_, err := v.Verify(context.Background(), tok)
				checkErr(t, err, tc.want)
			})
		}
	}
	t.Run("empty sub", func(t *testing.T) {
		_, err := v.Verify(context.Background(), shared.Mint(""))
		checkErr(t, err, auth.ErrMissingSubject)
	})
	t.Run("overlong sub", func(t *testing.T) {
		_, err := v.Verify(context.Background(), shared.Mint(strings.Repeat("x", 300)))
		checkErr(t, err, auth.ErrInvalidClaims)
	})
}

func TestAllowedRoles(t *testing.T) {
	cfg := shared.Config()
	cfg.AllowedRoles = []string{"authenticated"}
	v := newVerifier(t, cfg)
	if _, err := v.Verify(context.Background(), shared.Mint(userID)); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithRole("service_role")))
	checkErr(t, err, auth.ErrRoleNotAllowed)
	_, err = v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithoutClaim("role")))
	checkErr(t, err, auth.ErrRoleNotAllowed)
}

// checkErr asserts err matches want (nil: no error) and, for token errors, the
// ErrTokenInvalid class.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("want valid, got %v", err)
	case want == nil:
	case !errors.Is(err, want):
		t.Fatalf("want %v, got %v", want, err)
	case errors.Is(want, auth.ErrTokenInvalid) && !errors.Is(err, auth.ErrTokenInvalid):
		t.Fatalf("%v does not match ErrTokenInvalid", err)
	}
}

func TestAlgorithmNone(t *testing.T) {
	v := newVerifier(t, withHMAC(shared))
	valid := shared.Mint(userID)
	if _, err := v.Verify(context.Background(), valid); err != nil { // warm the JWKS
		t.Fatal(err)
	}
	for _, alg := range []string{"none", "None", "NONE", "nOnE", "HS384", "HS512", "RS512", "PS256", "ES384", "ES512", "EdDSA", "RSA-OAEP"} {
		t.Run(alg, func(t *testing.T) {
			for _, tok := range []string{
				shared.Mint(userID, tokenissuer.WithAlg(alg)),
				shared.Mint(userID, tokenissuer.WithAlg(alg), tokenissuer.WithHeader("kid", shared.ES256KeyID())),
				shared.Mint(userID, tokenissuer.WithAlg(alg), tokenissuer.WithHeader("kid", shared.RSAKeyID)),
				strings.TrimRight(shared.Mint(userID, tokenissuer.WithAlg(alg)), "."), // two segments
				// The signature of a valid token, header relabelled.
				shared.Mint(userID, tokenissuer.WithAlg(alg), tokenissuer.WithSignature(signatureOf(t, valid))),
			} {
				c, err := v.Verify(context.Background(), tok)
				if !errors.Is(err, auth.ErrTokenInvalid) || c.UserID != "" {
					t.Fatalf("alg %q accepted or wrong error: %v", alg, err)
				}
			}
			_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithAlg(alg)))
			checkErr(t, err, auth.ErrUnsupportedAlgorithm)
		})
	}
	t.Run("missing alg", func(t *testing.T) {
		_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithHeader("alg", nil)))
		checkErr(t, err, auth.ErrTokenMalformed)
	})
	t.Run("alg of wrong type", func(t *testing.T) {
		_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithHeader("alg", 256)))
		checkErr(t, err, auth.ErrTokenMalformed)
	})
}

func signatureOf(t *testing.T, tok string) []byte {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := b64(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestAlgorithmConfusion signs HS256 tokens with the RSA (and EC) public key's
// bytes — what a library that lets the header pick the algorithm would verify
// with — and relabels asymmetric tokens.
func TestAlgorithmConfusion(t *testing.T) {
	rsaDER, err := x509.MarshalPKIXPublicKey(&shared.RSAKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS1 := x509.MarshalPKCS1PublicKey(&shared.RSAKey.PublicKey)
	ecDER, err := x509.MarshalPKIXPublicKey(&shared.ES256Key().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"RSA PKIX PEM":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER}),
		"RSA PKCS1 PEM":  pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: rsaPKCS1}),
		"RSA PKIX DER":   rsaDER,
		"RSA PKCS1 DER":  rsaPKCS1,
		"RSA modulus":    shared.RSAKey.N.Bytes(),
		"RSA JWKS":       shared.JWKS(),
		"EC PKIX PEM":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}),
		"EC PKIX DER":    ecDER,
		"EC uncompessed": mustBytes(shared.ES256Key().PublicKey.Bytes()),
	}
	kids := map[string]any{"no kid": nil, "RSA kid": shared.RSAKeyID, "EC kid": shared.ES256KeyID()}
	configs := map[string]auth.Config{"JWKS only": shared.Config(), "JWKS and HMAC": withHMAC(shared)}
	for cname, cfg := range configs {
		for _, warm := range []bool{false, true} {
			v := newVerifier(t, cfg)
			if warm {
				if _, err := v.Verify(context.Background(), shared.Mint(userID)); err != nil {
					t.Fatal(err)
				}
			}
			for sname, secret := range secrets {
				for kname, kid := range kids {
					tok := shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256), tokenissuer.WithHMACKey(secret), tokenissuer.WithHeader("kid", kid))
					c, err := v.Verify(context.Background(), tok)
					if !errors.Is(err, auth.ErrTokenInvalid) || c.UserID != "" {
						t.Errorf("%s, warm=%v, HS256 with %s, %s: accepted or wrong error: %v", cname, warm, sname, kname, err)
					}
				}
			}
		}
	}

	v := newVerifier(t, withHMAC(shared))
	t.Run("ES256 token labelled RS256", func(t *testing.T) {
		tok := shared.Mint(userID, tokenissuer.WithHeader("alg", auth.AlgRS256))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrAlgorithmMismatch)
	})
	t.Run("RS256 token labelled ES256", func(t *testing.T) {
		tok := shared.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256), tokenissuer.WithHeader("alg", auth.AlgES256))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrAlgorithmMismatch)
	})
	t.Run("ES256 token labelled HS256", func(t *testing.T) {
		tok := shared.Mint(userID, tokenissuer.WithHeader("alg", auth.AlgHS256))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrAlgorithmMismatch)
	})
	t.Run("ES256 token naming the RSA kid", func(t *testing.T) {
		tok := shared.Mint(userID, tokenissuer.WithHeader("kid", shared.RSAKeyID))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrAlgorithmMismatch)
	})
	t.Run("RS256 token naming the EC kid", func(t *testing.T) {
		tok := shared.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256), tokenissuer.WithHeader("kid", shared.ES256KeyID()))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrAlgorithmMismatch)
	})
	t.Run("HS256 disabled", func(t *testing.T) {
		v := newVerifier(t, shared.Config())
		_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256)))
		checkErr(t, err, auth.ErrUnsupportedAlgorithm)
	})
	t.Run("HS256 with a wrong secret", func(t *testing.T) {
		tok := shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256), tokenissuer.WithHMACKey([]byte("another secret that is long enough!!")))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrSignatureInvalid)
	})
}

func mustBytes(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestSignatures(t *testing.T) {
	v := newVerifier(t, withHMAC(shared))
	valid := shared.Mint(userID)
	parts := strings.Split(valid, ".")

	t.Run("ES256 ASN.1 signature", func(t *testing.T) {
		input := parts[0] + "." + parts[1]
		d := sha256.Sum256([]byte(input))
		der, err := ecdsa.SignASN1(rand.Reader, shared.ES256Key(), d[:])
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), input+"."+enc(der))
		checkErr(t, err, auth.ErrSignatureInvalid)
	})
	t.Run("tampered payload", func(t *testing.T) {
		other := strings.Split(shared.Mint("someone-else"), ".")
		_, err := v.Verify(context.Background(), parts[0]+"."+other[1]+"."+parts[2])
		checkErr(t, err, auth.ErrSignatureInvalid)
	})
	t.Run("signature of another key", func(t *testing.T) {
		other := newIssuer(t)
		tok := other.Mint(userID, tokenissuer.WithHeader("kid", shared.ES256KeyID()), tokenissuer.WithIssuer(shared.IssuerURL()))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrSignatureInvalid)
	})
	for _, tc := range []struct {
		name string
		sig  []byte
	}{
		{"empty", nil},
		{"short", make([]byte, 63)},
		{"long", make([]byte, 65)},
		{"zero r and s", make([]byte, 64)},
		{"all ones", []byte(strings.Repeat("\xff", 64))},
	} {
		t.Run("ES256 signature "+tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithSignature(tc.sig)))
			checkErr(t, err, auth.ErrSignatureInvalid)
		})
		t.Run("RS256 signature "+tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256), tokenissuer.WithSignature(tc.sig)))
			checkErr(t, err, auth.ErrSignatureInvalid)
		})
		t.Run("HS256 signature "+tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256), tokenissuer.WithSignature(tc.sig)))
			checkErr(t, err, auth.ErrSignatureInvalid)
		})
	}
}

func TestGarbage(t *testing.T) {
	v := newVerifier(t, withHMAC(shared))
	valid := shared.Mint(userID)
	parts := strings.Split(valid, ".")
	e30 := enc([]byte("{}"))
	cases := map[string]string{
		"empty":                "",
		"dot":                  ".",
		"two dots":             "..",
		"one segment":          parts[0],
		"two segments":         parts[0] + "." + parts[1],
		"four segments":        valid + "." + parts[2],
		"five segments (JWE)":  parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2] + "." + parts[2],
		"empty header":         "." + parts[1] + "." + parts[2],
		"empty payload":        parts[0] + ".." + parts[2],
		"bad base64 header":    "!!!." + parts[1] + "." + parts[2],
		"bad base64 signature": parts[0] + "." + parts[1] + ".***",
		"padded base64":        parts[0] + "=." + parts[1] + "." + parts[2],
		// A character of the standard alphabet that base64url lacks, always present
		// (swapping -/_ would leave a token that happens to contain neither valid).
		"standard base64":         parts[0] + "." + parts[1] + ".+" + parts[2][1:],
		"header not JSON":         enc([]byte("alg")) + "." + parts[1] + "." + parts[2],
		"header JSON array":       enc([]byte(`["ES256"]`)) + "." + parts[1] + "." + parts[2],
		"header JSON null":        enc([]byte(`null`)) + "." + parts[1] + "." + parts[2],
		"header empty object":     e30 + "." + parts[1] + "." + parts[2],
		"header with crit":        enc([]byte(`{"alg":"ES256","kid":"k","crit":["b64"],"b64":false}`)) + "." + parts[1] + "." + parts[2],
		"huge":                    strings.Repeat("a", 1<<20),
		"huge three segments":     strings.Repeat("a", 1<<20) + ".a.a",
		"bearer prefix":           "Bearer " + valid,
		"whitespace":              " " + valid,
		"newline":                 valid + "\n",
		"NUL":                     valid + "\x00",
		"unicode":                 "ü.ü.ü",
		"bad base64 payload (HS)": shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256))[:0] + parts[0] + ".!!!." + parts[2],
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tok)
			if !errors.Is(err, auth.ErrTokenInvalid) || c.UserID != "" {
				t.Fatalf("want a token error, got %v (claims %+v)", err, c)
			}
			if len(tok) > 20 && strings.Contains(err.Error(), tok[len(tok)/2:]) {
				t.Fatalf("error message contains the token: %v", err)
			}
		})
	}
	// Non-canonical base64: flip the unused low bits of the last character.
	t.Run("non-canonical signature encoding", func(t *testing.T) {
		sig := []byte(parts[2])
		last := sig[len(sig)-1]
		for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
			if byte(c) != last && sameHighBits(byte(c), last, len(sig)) {
				sig[len(sig)-1] = byte(c)
				break
			}
		}
		_, err := v.Verify(context.Background(), parts[0]+"."+parts[1]+"."+string(sig))
		checkErr(t, err, auth.ErrTokenMalformed)
	})
}

// sameHighBits reports whether base64url characters a and b decode to the same
// bytes when last in an unpadded string of length n (they differ in the padding bits only).
func sameHighBits(a, b byte, n int) bool {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	ia, ib := strings.IndexByte(alphabet, a), strings.IndexByte(alphabet, b)
	var unused uint
	switch n % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		return false
	}
	return ia>>unused == ib>>unused
}

func TestErrorsNeverContainTheToken(t *testing.T) {
	v := newVerifier(t, withHMAC(shared))
	now := time.Now()
	for _, tok := range []string{
		shared.Mint(userID, tokenissuer.WithIssuedAt(now.Add(-3*time.Hour))),
		shared.Mint(userID, tokenissuer.WithIssuer("https://x/auth/v1")),
		shared.Mint(userID, tokenissuer.WithAlg("none")),
		shared.Mint(userID, tokenissuer.WithHeader("kid", "nope")),
		shared.Mint(userID, tokenissuer.WithSignature([]byte("x"))),
	} {
		_, err := v.Verify(context.Background(), tok)
		if err == nil {
			t.Fatal("accepted")
		}
		for _, seg := range strings.Split(tok, ".") {
			if len(seg) > 8 && strings.Contains(err.Error(), seg) {
				t.Fatalf("error %q contains a token segment", err)
			}
		}
	}
}

func TestUnknownKidRefetchesOnceThenRejects(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss.Config())
	if _, err := v.Verify(context.Background(), iss.Mint(userID)); err != nil {
		t.Fatal(err)
	}
	if n := iss.JWKSRequests(); n != 1 {
		t.Fatalf("after the first token: %d JWKS requests, want 1", n)
	}
	for i := range 50 {
		tok := iss.Mint(userID, tokenissuer.WithHeader("kid", fmt.Sprintf("garbage-%d", i)))
		_, err := v.Verify(context.Background(), tok)
		checkErr(t, err, auth.ErrUnknownKey)
	}
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("after 50 unknown kids: %d JWKS requests, want 2 (one refetch)", n)
	}
	if n := v.JWKSFetches(); n != 2 {
		t.Fatalf("JWKSFetches = %d, want 2", n)
	}
	// Known keys still work meanwhile, without fetching.
	if _, err := v.Verify(context.Background(), iss.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256))); err != nil {
		t.Fatal(err)
	}
	t.Run("no kid", func(t *testing.T) {
		_, err := v.Verify(context.Background(), iss.Mint(userID, tokenissuer.WithHeader("kid", nil)))
		checkErr(t, err, auth.ErrUnknownKey)
		if n := iss.JWKSRequests(); n != 2 {
			t.Fatalf("a token without kid fetched the JWKS: %d requests", n)
		}
	})
}

func TestRateLimitWindowReopens(t *testing.T) {
	iss := newIssuer(t)
	clk := newClock()
	cfg := iss.Config()
	cfg.Now = clk.Now
	v := newVerifier(t, cfg)
	mint := func(opts ...tokenissuer.Option) string {
		return iss.Mint(userID, append([]tokenissuer.Option{tokenissuer.WithIssuedAt(clk.Now())}, opts...)...)
	}
	if _, err := v.Verify(context.Background(), mint()); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), mint(tokenissuer.WithHeader("kid", "garbage")))
	checkErr(t, err, auth.ErrUnknownKey)
	// A rotation right after: the new kid waits for the rate limit to reopen.
	if _, err := iss.RotateES256(); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), mint())
	checkErr(t, err, auth.ErrUnknownKey)
	clk.Advance(auth.DefaultMinRefreshInterval)
	if _, err := v.Verify(context.Background(), mint()); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	if n := iss.JWKSRequests(); n != 3 {
		t.Fatalf("%d JWKS requests, want 3", n)
	}
}

func TestKeyRotation(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, iss.Config())
	old := iss.Mint(userID)
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	kid, err := iss.RotateES256()
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), iss.Mint(userID))
	if err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if c.KeyID != kid {
		t.Fatalf("kid = %q, want %q", c.KeyID, kid)
	}
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("token of the old key: %v", err)
	}
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d JWKS requests, want 2", n)
	}
}

func TestJWKSDownAtStart(t *testing.T) {
	iss := newIssuer(t)
	iss.SetDown(true)
	clk := newClock()
	cfg := iss.Config()
	cfg.Now = clk.Now
	v := newVerifier(t, cfg)
	tok := iss.Mint(userID)
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, auth.ErrKeysUnavailable) || errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("want ErrKeysUnavailable (and not ErrTokenInvalid), got %v", err)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("error does not say why: %v", err)
	}
	// Retries while no keys are held are spaced by about two seconds, not 30.
	_, _ = v.Verify(context.Background(), tok)
	if n := iss.JWKSRequests(); n != 1 {
		t.Fatalf("%d requests, want 1 (retry rate-limited)", n)
	}
	iss.SetDown(false)
	clk.Advance(3 * time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSDownUsesCachedKeys(t *testing.T) {
	iss := newIssuer(t)
	clk := newClock()
	cfg := iss.Config()
	cfg.Now = clk.Now
	v := newVerifier(t, cfg)
	mint := func() string {
		return iss.Mint(userID, tokenissuer.WithIssuedAt(clk.Now()))
	}
	if _, err := v.Verify(context.Background(), mint()); err != nil {
		t.Fatal(err)
	}
	iss.SetDown(true)

	// Within the TTL: cached keys, no fetch.
	clk.Advance(auth.DefaultCacheTTL - time.Second)
	if _, err := v.Verify(context.Background(), mint()); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	if n := iss.JWKSRequests(); n != 1 {
		t.Fatalf("%d requests within TTL, want 1", n)
	}
	// Past the TTL: a refetch fails, the stale keys serve.
	clk.Advance(2 * time.Second)
	if _, err := v.Verify(context.Background(), mint()); err != nil {
		t.Fatalf("past TTL, refetch failing: %v", err)
	}
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d requests, want 2 (one failed refetch)", n)
	}
	// Rate-limited: no new attempt within the interval.
	for range 10 {
		if _, err := v.Verify(context.Background(), mint()); err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.JWKSRequests(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	// Unknown kids are refused, not waited for.
	_, err := v.Verify(context.Background(), iss.Mint(userID, tokenissuer.WithIssuedAt(clk.Now()), tokenissuer.WithHeader("kid", "new")))
	checkErr(t, err, auth.ErrUnknownKey)
	// Past TTL + StaleIfError: nothing usable.
	clk.Advance(auth.DefaultStaleIfError)
	_, err = v.Verify(context.Background(), mint())
	if !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Fatalf("past stale-if-error: want ErrKeysUnavailable, got %v", err)
	}
	iss.SetDown(false)
	clk.Advance(auth.DefaultMinRefreshInterval)
	if _, err := v.Verify(context.Background(), mint()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSResponses(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
	}{
		"not JSON":    {200, "<html>"},
		"no keys":     {200, `{"foo":[]}`},
		"keys null":   {200, `{"keys":null}`},
		"404":         {404, `{"keys":[]}`},
		"JSON array":  {200, `[]`},
		"huge":        {200, `{"keys":[` + strings.Repeat(`{"kty":"oct"},`, 100_000) + `{}]}`},
		"only unused": {200, `{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			v := newVerifier(t, auth.Config{Issuer: shared.IssuerURL(), JWKSURL: srv.URL + auth.JWKSPath})
			_, err := v.Verify(context.Background(), shared.Mint(userID))
			if name == "only unused" {
				checkErr(t, err, auth.ErrUnknownKey)
				return
			}
			if !errors.Is(err, auth.ErrKeysUnavailable) {
				t.Fatalf("want ErrKeysUnavailable, got %v", err)
			}
		})
	}
}

func TestJWKSTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	v := newVerifier(t, auth.Config{Issuer: shared.IssuerURL(), JWKSURL: srv.URL + auth.JWKSPath, FetchTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := v.Verify(context.Background(), shared.Mint(userID))
	if !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Fatalf("want ErrKeysUnavailable, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestCallerCancellation(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		_, _ = w.Write(shared.JWKS())
	}))
	defer srv.Close()
	v := newVerifier(t, auth.Config{Issuer: shared.IssuerURL(), JWKSURL: srv.URL + auth.JWKSPath})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, shared.Mint(userID))
	if !errors.Is(err, auth.ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrKeysUnavailable from the deadline, got %v", err)
	}
	// The fetch the cancelled caller started carries on for the next caller.
	close(release)
	if _, err := v.Verify(context.Background(), shared.Mint(userID)); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestConcurrentColdStartFetchesOnce(t *testing.T) {
	iss := newIssuer(t)
	v := newVerifier(t, withHMAC(iss))
	toks := []string{iss.Mint(userID), iss.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256)), iss.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256))}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), toks[i%len(toks)]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := iss.JWKSRequests(); n != 1 {
		t.Fatalf("%d JWKS requests, want 1", n)
	}
}

func TestLazyHMACSecret(t *testing.T) {
	clk := newClock()
	var calls atomic.Int64
	fail := atomic.Bool{}
	fail.Store(true)
	v := newVerifier(t, auth.Config{
		Issuer: shared.IssuerURL(),
		Now:    clk.Now,
		LoadHMACSecret: func(context.Context) ([]byte, error) {
			calls.Add(1)
			if fail.Load() {
				return nil, errors.New("secrets manager: throttled")
			}
			return shared.HMACSecret, nil
		},
	})
	tok := shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256), tokenissuer.WithIssuedAt(clk.Now()))
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, auth.ErrKeysUnavailable) || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("want ErrKeysUnavailable, got %v", err)
	}
	_, _ = v.Verify(context.Background(), tok)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d loads, want 1 (retries rate-limited)", n)
	}
	fail.Store(false)
	clk.Advance(auth.DefaultMinRefreshInterval)
	for range 5 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d loads, want 2", n)
	}
	// ES256 is not configured: no JWKS URL.
	_, err = v.Verify(context.Background(), shared.Mint(userID))
	checkErr(t, err, auth.ErrUnsupportedAlgorithm)
}

// A secret that loads but cannot be one (empty: never filled in; too short) is a
// configuration fault: HS256 tokens are refused, a verdict on the token, where an
// outage error would make the authorizer fail every request with a 500.
func TestLazyHMACSecretUnusable(t *testing.T) {
	for _, secret := range []string{"", "short"} {
		v := newVerifier(t, auth.Config{
			Issuer:         shared.IssuerURL(),
			LoadHMACSecret: func(context.Context) ([]byte, error) { return []byte(secret), nil },
		})
		_, err := v.Verify(context.Background(), shared.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256)))
		if !errors.Is(err, auth.ErrUnsupportedAlgorithm) || !errors.Is(err, auth.ErrTokenInvalid) {
			t.Fatalf("secret %q: want ErrUnsupportedAlgorithm, got %v", secret, err)
		}
	}
}

func TestNewVerifierConfig(t *testing.T) {
	long := []byte(strings.Repeat("s", 32))
	for name, cfg := range map[string]auth.Config{
		"no issuer":           {JWKSURL: "https://x.supabase.co" + auth.JWKSPath},
		"no key source":       {Issuer: "https://x.supabase.co/auth/v1"},
		"short secret":        {Issuer: "i", HMACSecret: []byte("short")},
		"secret and loader":   {Issuer: "i", HMACSecret: long, LoadHMACSecret: func(context.Context) ([]byte, error) { return long, nil }},
		"plain http":          {Issuer: "i", JWKSURL: "http://x.supabase.co" + auth.JWKSPath},
		"relative JWKS URL":   {Issuer: "i", JWKSURL: "/auth/v1/.well-known/jwks.json"},
		"ftp JWKS URL":        {Issuer: "i", JWKSURL: "ftp://x.supabase.co/jwks.json"},
		"private network URL": {Issuer: "i", JWKSURL: "http://10.0.0.1/jwks.json"},
	} {
		if _, err := auth.NewVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, cfg := range map[string]auth.Config{
		"https":          {Issuer: "i", JWKSURL: "https://x.supabase.co" + auth.JWKSPath},
		"loopback http":  {Issuer: "i", JWKSURL: "http://127.0.0.1:54321" + auth.JWKSPath},
		"localhost http": {Issuer: "i", JWKSURL: "http://localhost:54321" + auth.JWKSPath},
		"ipv6 loopback":  {Issuer: "i", JWKSURL: "http://[::1]:54321" + auth.JWKSPath},
		"HMAC only":      {Issuer: "i", HMACSecret: long},
	} {
		if _, err := auth.NewVerifier(cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSupabaseConfig(t *testing.T) {
	cfg, err := auth.SupabaseConfig("https://abcdefgh.supabase.co/")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://abcdefgh.supabase.co/auth/v1" || cfg.JWKSURL != "https://abcdefgh.supabase.co/auth/v1/.well-known/jwks.json" {
		t.Fatalf("%+v", cfg)
	}
	for _, bad := range []string{"", "abcdefgh.supabase.co", "https://", "https://x.supabase.co?x=1", "::"} {
		if _, err := auth.SupabaseConfig(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	for _, err := range []error{auth.ErrTokenExpired, auth.ErrTokenMalformed, auth.ErrUnknownKey, auth.ErrInvalidIssuer, auth.ErrMissingSubject, auth.ErrAlgorithmMismatch} {
		if !errors.Is(err, auth.ErrTokenInvalid) {
			t.Errorf("%v is not ErrTokenInvalid", err)
		}
	}
	if !errors.Is(auth.ErrInvalidAudience, auth.ErrInvalidClaims) {
		t.Error("ErrInvalidAudience is not ErrInvalidClaims")
	}
	if errors.Is(auth.ErrKeysUnavailable, auth.ErrTokenInvalid) || errors.Is(auth.ErrTokenExpired, auth.ErrInvalidClaims) {
		t.Error("classes leak")
	}
}
