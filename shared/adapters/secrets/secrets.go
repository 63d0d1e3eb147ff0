// Package secrets reads configuration that must not sit in plain environment
// variables (docs/architecture.md §4: Supabase settings come from Secrets Manager). Functions
// read them lazily, on the first invocation that needs them.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// ErrEmpty is returned for a secret that exists but holds no value yet (the stack
// creates secrets empty for the operator to fill).
var ErrEmpty = errors.New("secret has no value yet")

// Database is what a database secret holds: the Postgres DSN and, optionally,
// the PEM of the root certificate that signs the server's (Supabase's
// prod-ca-2021.crt), for a DSN with sslmode=verify-full.
type Database struct {
	URL      string
	RootCert string
}

// ReadDatabase returns the database to connect to: dsn itself when set (local
// runs), or the secret named by arn (deployed). urlVar and arnVar name the
// variables they came from, for the error when both are empty.
func ReadDatabase(ctx context.Context, dsn, arn, urlVar, arnVar string) (Database, error) {
	if dsn != "" {
		return Database{URL: dsn}, nil
	}
	if arn == "" {
		return Database{}, fmt.Errorf("set %s or %s", urlVar, arnVar)
	}
	s, err := String(ctx, arn)
	if err != nil {
		return Database{}, err
	}
	return ParseDatabaseSecret(s)
}

// String reads a secret's string value.
func String(ctx context.Context, arn string) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("aws config: %w", err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if noValueYet(err) {
		return "", fmt.Errorf("secret %s: %w", arn, ErrEmpty)
	}
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", arn, err)
	}
	if out.SecretString == nil || strings.TrimSpace(*out.SecretString) == "" {
		return "", fmt.Errorf("secret %s: %w", arn, ErrEmpty)
	}
	return *out.SecretString, nil
}

// noValueYet tells a secret created without a value (no AWSCURRENT version:
// "can't find the specified secret value") from a secret that does not exist.
func noValueYet(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	return errors.As(err, &nf) && strings.Contains(strings.ToLower(nf.ErrorMessage()), "secret value")
}

// ParseDatabaseSecret accepts a DSN, or JSON with the DSN under "url" (or "uri",
// "DATABASE_URL") or as the RDS-style fields username, password, host, port,
// dbname; the JSON may add "root_certificate", the PEM of the server's root CA.
func ParseDatabaseSecret(s string) (Database, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		if s == "" {
			return Database{}, errors.New("database secret is empty")
		}
		return Database{URL: s}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Database{}, errors.New("database secret is neither a DSN nor JSON")
	}
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case float64:
			return fmt.Sprint(v)
		}
		return ""
	}
	db := Database{RootCert: str("root_certificate")}
	for _, k := range []string{"url", "uri", "DATABASE_URL"} {
		if v := str(k); v != "" {
			db.URL = v
			return db, nil
		}
	}
	if str("host") == "" || str("username") == "" {
		return Database{}, errors.New(`database secret JSON has no "url" and no host/username`)
	}
	u := &url.URL{Scheme: "postgres", User: url.UserPassword(str("username"), str("password")), Host: str("host"), Path: "/" + str("dbname")}
	if p := str("port"); p != "" {
		u.Host += ":" + p
	}
	if u.Path == "/" {
		u.Path = "/postgres"
	}
	db.URL = u.String()
	return db, nil
}
