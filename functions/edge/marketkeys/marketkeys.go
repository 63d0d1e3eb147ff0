// Package marketkeys gives the functions that talk to market-data providers
// (ingest, stream, backfill, api) their keys as marketdata.Open asks for them:
// each provider's plain value when the environment carries one (local runs,
// tests), else its Secrets Manager secret, read once when first asked. A
// deployment grants only the chosen providers' secrets (topology.Sources.For),
// so a provider without either answers "": marketdata.Open then falls back to
// the simulated feed and says so.
package marketkeys

import (
	"context"
	"errors"
	"fmt"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
)

// Key is one provider's key as the configuration names it.
type Key struct {
	Value     string // the plain value (FINNHUB_API_KEY, ...)
	SecretARN string // the secret's ARN (FINNHUB_API_KEY_SECRET_ARN, ...)
}

// Func returns the KeyFunc of keys, by provider name.
func Func(keys map[string]Key) marketdata.KeyFunc {
	return func(ctx context.Context, provider string) (string, error) {
		k := keys[provider]
		if k.Value != "" || k.SecretARN == "" {
			return k.Value, nil
		}
		v, err := secrets.String(ctx, k.SecretARN)
		if errors.Is(err, secrets.ErrEmpty) {
			// Deployed before the operator filled it: no key, so the
			// simulated feed, said loudly by marketdata.Open's warnings.
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("%s key: %w", provider, err)
		}
		return v, nil
	}
}
