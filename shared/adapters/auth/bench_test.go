package auth_test

import (
	"context"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

// The verify path with a warm JWKS cache: what the authorizer does per request.
//
//	go test -run '^$' -bench Verify -benchmem ./shared/adapters/auth
func benchmarkVerify(b *testing.B, alg string) {
	v, err := auth.NewVerifier(withHMAC(shared))
	if err != nil {
		b.Fatal(err)
	}
	tok := shared.Mint(userID, tokenissuer.WithAlg(alg), tokenissuer.WithEmail("ada@example.com"))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyES256(b *testing.B) { benchmarkVerify(b, auth.AlgES256) }
func BenchmarkVerifyRS256(b *testing.B) { benchmarkVerify(b, auth.AlgRS256) }
func BenchmarkVerifyHS256(b *testing.B) { benchmarkVerify(b, auth.AlgHS256) }

// BenchmarkRejectGarbage is the cost of refusing an unparseable token.
func BenchmarkRejectGarbage(b *testing.B) {
	v, err := auth.NewVerifier(withHMAC(shared))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, "eyJhbGciOiJub25lIn0.e30."); err == nil {
			b.Fatal("accepted")
		}
	}
}
