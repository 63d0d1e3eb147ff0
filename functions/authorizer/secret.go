package main

import (
	"context"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
)

// secretsManagerLoader reads the legacy JWT secret from Secrets Manager when the
// first HS256 token arrives, so a cold start that sees only ES256 tokens never
// builds an AWS client. The secret is a plain string (SecretString), used as raw
// bytes the way Supabase uses it. The endpoint follows AWS_ENDPOINT_URL(_SECRETS_MANAGER).
func secretsManagerLoader(arn string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := secrets.String(ctx, arn)
		if err != nil {
			return nil, err
		}
		// An empty secret is returned as it is: the verifier refuses HS256 tokens
		// with it (a denial), where an error would be an outage (a 500).
		return []byte(strings.TrimSpace(s)), nil
	}
}
