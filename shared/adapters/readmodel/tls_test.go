package readmodel_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

// testCA returns a self-signed CA certificate as PEM.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now(),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// A remote database is reached only over TLS that verifies the server against
// a root certificate; a process given anything less refuses to open its pool.
func TestPoolConfigRefusesUnverifiedRemoteDatabases(t *testing.T) {
	ca := testCA(t)
	caFile := filepath.Join(t.TempDir(), "prod-ca-2021.crt")
	if err := os.WriteFile(caFile, []byte(ca), 0o600); err != nil {
		t.Fatal(err)
	}
	const remote = "postgres://pt_api.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
	refused := map[string]string{
		"no sslmode (prefer: may not encrypt)":          remote,
		"sslmode=disable":                               remote + "?sslmode=disable",
		"sslmode=require (encrypts, verifies nothing)":  remote + "?sslmode=require",
		"sslmode=verify-ca (no host name check)":        remote + "?sslmode=verify-ca&sslrootcert=" + caFile,
		"sslmode=verify-full without a root":            remote + "?sslmode=verify-full",
		"a loopback first host, a remote second":        "postgres://u:pw@127.0.0.1:5432,db.example.com:5432/x?sslmode=disable",
		"a private address is not this machine":         "postgres://u:pw@10.0.0.5:5432/x?sslmode=require",
		"sslmode=require with a root: verify-ca really": remote + "?sslmode=require&sslrootcert=" + caFile,
	}
	for name, dsn := range refused {
		_, err := readmodel.PoolConfig(dsn, readmodel.PoolOptions{})
		if !errors.Is(err, readmodel.ErrUnverifiedTLS) || !strings.Contains(err.Error(), "verify-full") || strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: %v, want ErrUnverifiedTLS naming verify-full (and no password)", name, err)
		}
	}
	accepted := map[string]struct {
		dsn      string
		rootCert string
	}{
		"verify-full with sslrootcert":        {remote + "?sslmode=verify-full&sslrootcert=" + caFile, ""},
		"verify-full with the secret's PEM":   {remote + "?sslmode=verify-full", ca},
		"verify-full with the system's roots": {remote + "?sslmode=verify-full&sslrootcert=system", ""},
		"loopback without TLS":                {"postgres://u:pw@127.0.0.1:54322/tracker?sslmode=disable", ""},
		"localhost":                           {"postgres://u:pw@localhost:54322/tracker", ""},
		"IPv6 loopback":                       {"postgres://u:pw@[::1]:54322/tracker?sslmode=disable", ""},
		"a Unix socket":                       {"host=/tmp user=u dbname=tracker", ""},
	}
	for name, c := range accepted {
		cfg, err := readmodel.PoolConfig(c.dsn, readmodel.PoolOptions{RootCert: c.rootCert})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if tc := cfg.ConnConfig.TLSConfig; c.rootCert != "" && (tc == nil || tc.RootCAs == nil || tc.InsecureSkipVerify || tc.ServerName != "aws-0-eu-west-1.pooler.supabase.com") {
			t.Errorf("%s: the PEM is not the root of a verifying TLS configuration: %+v", name, tc)
		}
	}
	if _, err := readmodel.PoolConfig(remote+"?sslmode=verify-full", readmodel.PoolOptions{RootCert: "not a certificate"}); err == nil {
		t.Error("a root certificate that is no PEM accepted")
	}
}

// The api and ws functions open their database through OpenAPI: given an
// unverified remote DSN they refuse, whatever else is right.
func TestOpenAPIRefusesAnUnverifiedDSN(t *testing.T) {
	dsn := "postgres://pt_api.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres?sslmode=require"
	if _, err := readmodel.OpenAPI(t.Context(), "api", readmodel.DatabaseConfig{URL: dsn}); !errors.Is(err, readmodel.ErrUnverifiedTLS) {
		t.Errorf("OpenAPI: %v, want ErrUnverifiedTLS", err)
	}
}
