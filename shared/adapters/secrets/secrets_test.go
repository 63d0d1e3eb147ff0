package secrets

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestParseSecret(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:6543/postgres":                                          "postgres://u:p@h:6543/postgres",
		` {"url": "postgres://u:p@h:6543/postgres"} `:                             "postgres://u:p@h:6543/postgres",
		`{"DATABASE_URL": "postgres://x"}`:                                        "postgres://x",
		`{"username":"u","password":"p@ss","host":"h","port":6543,"dbname":"db"}`: "postgres://u:p%40ss@h:6543/db",
		`{"username":"u","password":"p","host":"h"}`:                              "postgres://u:p@h/postgres",
	} {
		got, err := ParseDatabaseSecret(in)
		if err != nil || got.URL != want || got.RootCert != "" {
			t.Errorf("%s: %q %v, want %q", in, got, err, want)
		}
	}
	got, err := ParseDatabaseSecret(`{"url": "postgres://u:p@h:6543/postgres?sslmode=verify-full", "root_certificate": "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"}`)
	if err != nil || got.URL != "postgres://u:p@h:6543/postgres?sslmode=verify-full" || !strings.HasPrefix(got.RootCert, "-----BEGIN CERTIFICATE-----\nMII") {
		t.Errorf("with a root certificate: %+v %v", got, err)
	}
	for _, in := range []string{"", "  ", "{", `{"host":"h"}`} {
		if _, err := ParseDatabaseSecret(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestNoValueYetTellsAnEmptySecretFromAMissingOne(t *testing.T) {
	empty := &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")}
	missing := &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	if !noValueYet(fmt.Errorf("get: %w", empty)) {
		t.Error("a secret without a value was not recognised")
	}
	if noValueYet(missing) || noValueYet(nil) {
		t.Error("a missing secret (or no error) counted as one without a value")
	}
}
