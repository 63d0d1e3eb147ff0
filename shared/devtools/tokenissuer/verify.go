package tokenissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
)

// bearerClaims are the claims of a token the stand-in signed, as GoTrue reads
// a bearer token: signature and expiry checked, the rest for the handler.
type bearerClaims struct {
	Sub       string  `json:"sub"`
	Role      string  `json:"role"`
	SessionID string  `json:"session_id"`
	Exp       float64 `json:"exp"`
}

// verify checks that raw is a token this issuer signed (with a key it holds
// now: an ES256 key of the JWKS, the RSA key or the HMAC secret) and that it
// has not expired. Its errors read as GoTrue's reasons do.
func (i *Issuer) verify(raw string, now time.Time) (bearerClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return bearerClaims{}, errors.New("token is malformed: token contains an invalid number of segments")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil || json.Unmarshal(hb, &header) != nil {
		return bearerClaims{}, errors.New("token is malformed: could not base64 decode or JSON parse a segment")
	}
	if !i.signatureValid(header.Alg, header.Kid, parts[0]+"."+parts[1], sig) {
		return bearerClaims{}, errors.New("token signature is invalid: signature is invalid")
	}
	var c bearerClaims
	if err := json.Unmarshal(cb, &c); err != nil {
		return bearerClaims{}, errors.New("token is malformed: could not JSON decode claim")
	}
	if c.Exp == 0 || now.After(time.Unix(int64(c.Exp), 0)) {
		return bearerClaims{}, errors.New("token has invalid claims: token is expired")
	}
	return c, nil
}

func (i *Issuer) signatureValid(alg, kid, input string, sig []byte) bool {
	digest := sha256.Sum256([]byte(input))
	switch alg {
	case auth.AlgES256:
		i.mu.Lock()
		var key *ecdsa.PrivateKey
		for _, k := range i.ecKeys {
			if k.kid == kid {
				key = k.key
			}
		}
		i.mu.Unlock()
		if key == nil || len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(&key.PublicKey, digest[:], r, s)
	case auth.AlgRS256:
		return kid == i.RSAKeyID && rsa.VerifyPKCS1v15(&i.RSAKey.PublicKey, crypto.SHA256, digest[:], sig) == nil
	case auth.AlgHS256:
		mac := hmac.New(sha256.New, i.HMACSecret)
		mac.Write([]byte(input))
		return hmac.Equal(mac.Sum(nil), sig)
	}
	return false
}
