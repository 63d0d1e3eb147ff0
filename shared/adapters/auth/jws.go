package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"strings"
)

// The only algorithms this package ever verifies. Which one applies to a token is
// decided by the key the token selects, never by the token's header: the header's
// alg must merely agree with it.
const (
	AlgES256 = "ES256" // ECDSA P-256 SHA-256, signature r||s (64 bytes)
	AlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 SHA-256
	AlgHS256 = "HS256" // HMAC SHA-256 (Supabase's legacy JWT secret)
)

// MaxTokenLength bounds the input Verify looks at. Supabase access tokens are
// about 1 KB; API Gateway limits a request's headers to 10 KB.
const MaxTokenLength = 16 << 10

// b64 is base64url without padding, rejecting non-canonical encodings (set
// trailing bits), so one token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// header is the part of the JOSE header we read. jku, jwk, x5u and x5c are
// deliberately ignored: keys never come from the token.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// token is a parsed, not yet verified, compact JWS.
type token struct {
	header       header
	signingInput string // base64url(header) "." base64url(payload)
	payload      string // base64url, decoded only after the signature verified
	signature    []byte
}

// parse splits and decodes a compact JWS. It never panics and never allocates
// more than a small multiple of len(raw).
func parse(raw string) (*token, error) {
	switch {
	case raw == "":
		return nil, wrap(ErrTokenMalformed, "empty")
	case len(raw) > MaxTokenLength:
		return nil, wrap(ErrTokenMalformed, "longer than %d bytes", MaxTokenLength)
	}
	// Only the base64url alphabet and dots: the decoder would otherwise skip
	// CR and LF, giving one token several spellings.
	for i := 0; i < len(raw); i++ {
		if !isTokenByte(raw[i]) {
			return nil, wrap(ErrTokenMalformed, "byte %d is not base64url", i)
		}
	}
	h, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, wrap(ErrTokenMalformed, "want 3 segments")
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, wrap(ErrTokenMalformed, "want 3 segments")
	}
	if h == "" || p == "" {
		return nil, wrap(ErrTokenMalformed, "empty segment")
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, wrap(ErrTokenMalformed, "header is not base64url")
	}
	t := &token{signingInput: raw[:len(h)+1+len(p)], payload: p}
	if err := json.Unmarshal(hb, &t.header); err != nil {
		return nil, wrap(ErrTokenMalformed, "header is not a JSON object")
	}
	switch t.header.Alg {
	case AlgES256, AlgRS256, AlgHS256:
	case "":
		return nil, wrap(ErrTokenMalformed, "header has no alg")
	default:
		// "none" in any spelling lands here, as does every algorithm we do not use.
		return nil, wrap(ErrUnsupportedAlgorithm, "alg %s", quote(t.header.Alg))
	}
	if len(t.header.Crit) > 0 && string(t.header.Crit) != "null" {
		return nil, wrap(ErrTokenMalformed, "crit header parameters are not supported")
	}
	if s == "" {
		return nil, wrap(ErrSignatureInvalid, "empty signature")
	}
	if t.signature, err = b64.DecodeString(s); err != nil {
		return nil, wrap(ErrTokenMalformed, "signature is not base64url")
	}
	return t, nil
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// key is one verification key. Its alg is fixed when the key is built (from the
// JWK's kty/crv/alg, or HS256 for the configured secret) and is the only
// algorithm it will ever verify.
type key struct {
	kid  string
	alg  string
	ec   *ecdsa.PublicKey
	rsa  *rsa.PublicKey
	hmac []byte
}

// verify checks sig over input with the key's own algorithm.
func (k *key) verify(input string, sig []byte) bool {
	switch k.alg {
	case AlgES256:
		if k.ec == nil || len(sig) != 64 { // JOSE raw r||s, never ASN.1
			return false
		}
		d := digest(input)
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, d[:], r, s)
	case AlgRS256:
		if k.rsa == nil || len(sig) != k.rsa.Size() {
			return false
		}
		d := digest(input)
		return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, d[:], sig) == nil
	case AlgHS256:
		if len(k.hmac) == 0 || len(sig) != sha256.Size {
			return false
		}
		m := hmac.New(sha256.New, k.hmac)
		_, _ = io.WriteString(m, input)
		return hmac.Equal(m.Sum(nil), sig)
	}
	return false
}

func digest(s string) [sha256.Size]byte {
	h := sha256.New()
	_, _ = io.WriteString(h, s)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// quote renders an attacker-controlled string for an error message: quoted,
// escaped and cut short.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}
