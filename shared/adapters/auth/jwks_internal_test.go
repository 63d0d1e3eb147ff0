package auth

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	// A valid P-256 point (the generator) and a 2048-bit RSA modulus stand-in.
	gx := "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY"
	gy := "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"
	n2048 := base64.RawURLEncoding.EncodeToString(append([]byte{0xc1}, make([]byte, 255)...))
	n1024 := base64.RawURLEncoding.EncodeToString(append([]byte{0xc1}, make([]byte, 127)...))
	doc := `{"keys":[
		{"kty":"EC","crv":"P-256","kid":"ec","x":"` + gx + `","y":"` + gy + `","alg":"ES256","use":"sig","key_ops":["verify"]},
		{"kty":"EC","crv":"P-256","kid":"ec-noalg","x":"` + gx + `","y":"` + gy + `"},
		{"kty":"EC","crv":"P-256","kid":"ec","x":"` + gx + `","y":"` + gy + `","alg":"ES256"},
		{"kty":"EC","crv":"P-256","kid":"ec-rs","x":"` + gx + `","y":"` + gy + `","alg":"RS256"},
		{"kty":"EC","crv":"P-256","kid":"ec-enc","x":"` + gx + `","y":"` + gy + `","use":"enc"},
		{"kty":"EC","crv":"P-256","kid":"ec-sign-only","x":"` + gx + `","y":"` + gy + `","key_ops":["sign"]},
		{"kty":"EC","crv":"P-256","kid":"ec-off-curve","x":"` + gx + `","y":"` + gx + `"},
		{"kty":"EC","crv":"P-384","kid":"ec-384","x":"` + gx + `","y":"` + gy + `"},
		{"kty":"EC","crv":"P-256","x":"` + gx + `","y":"` + gy + `"},
		{"kty":"RSA","kid":"rsa","n":"` + n2048 + `","e":"AQAB","alg":"RS256"},
		{"kty":"RSA","kid":"rsa-noalg","n":"` + n2048 + `","e":"AQAB"},
		{"kty":"RSA","kid":"rsa-ps","n":"` + n2048 + `","e":"AQAB","alg":"PS256"},
		{"kty":"RSA","kid":"rsa-1024","n":"` + n1024 + `","e":"AQAB"},
		{"kty":"RSA","kid":"rsa-e-even","n":"` + n2048 + `","e":"AQAA"},
		{"kty":"RSA","kid":"rsa-e-huge","n":"` + n2048 + `","e":"AQAAAAAB"},
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","alg":"HS256"},
		{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"` + gx + `"},
		{"kty":"EC","kid":7},
		"not an object",
		null
	]}`
	keys, err := parseJWKS([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for kid, k := range keys {
		ids = append(ids, kid+"="+k.alg)
	}
	slices.Sort(ids)
	want := []string{"ec-noalg=ES256", "ec=ES256", "rsa-noalg=RS256", "rsa=RS256"}
	if !slices.Equal(ids, want) {
		t.Fatalf("keys = %v, want %v", ids, want)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"keys":{}}`, `{"keys":null}`, strings.Repeat("[", 100000)} {
		if _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("%.20q accepted", bad)
		}
	}
}
