package readmodel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

// Our verifier is PostgreSQL's: a role given the password in clear gets a
// random salt, and the verifier computed here with that salt is the one stored.
func TestSCRAMVerifierMatchesPostgreSQL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	role := "scram_" + hex.EncodeToString(b)
	const password = "Correct-Horse-Battery-Staple-42!"
	if _, err := conn.Exec(ctx, "set password_encryption = 'scram-sha-256'; create role "+role+" password '"+password+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "drop role "+role) })
	var stored string
	if err := conn.QueryRow(ctx, "select rolpassword from pg_authid where rolname = $1", role).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
	_, rest, _ := strings.Cut(stored, ":")
	saltB64, _, _ := strings.Cut(rest, "$")
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		t.Fatalf("salt of %q: %v", stored, err)
	}
	got, err := scramVerifier(role, password, salt)
	if err != nil || got != stored {
		t.Errorf("verifier\n%s (err %v)\nPostgreSQL stored\n%s", got, err, stored)
	}
}
