package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

// FuzzVerify feeds raw strings to Verify: it must never panic, must answer
// with a token error or a keys error (never anything else), and whatever it
// accepts must name a user.
//
//	go test -run '^$' -fuzz FuzzVerify -fuzztime 30s ./shared/adapters/auth
func FuzzVerify(f *testing.F) {
	iss := shared
	v, err := auth.NewVerifier(withHMAC(iss))
	if err != nil {
		f.Fatal(err)
	}
	long := time.Now().Add(24 * time.Hour * 365 * 50)
	for _, tok := range []string{
		iss.Mint(userID, tokenissuer.WithExpiresAt(long)),
		iss.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256), tokenissuer.WithExpiresAt(long)),
		iss.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256), tokenissuer.WithExpiresAt(long)),
		iss.Mint(userID, tokenissuer.WithAlg("none")),
		iss.Mint(userID, tokenissuer.WithHeader("alg", auth.AlgRS256)),
		iss.Mint(userID, tokenissuer.WithAudience([]string{"a", "authenticated"})),
		"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "e30.e30.e30",
	} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, auth.ErrTokenInvalid) && !errors.Is(err, auth.ErrKeysUnavailable) {
				t.Fatalf("unclassified error %T: %v", err, err)
			}
			if c.UserID != "" {
				t.Fatalf("claims with an error: %+v", c)
			}
			if len(raw) > 40 && strings.Contains(err.Error(), raw) {
				t.Fatalf("error contains the token")
			}
			return
		}
		if c.UserID == "" || c.Issuer != iss.IssuerURL() {
			t.Fatalf("accepted without a user or with a wrong issuer: %+v", c)
		}
	})
}
