// Command migrate applies the read models' schema migrations and ensures the
// login role of the internet-facing functions (api, ws). The stack invokes it
// once per deployment, after the database secrets exist and before traffic
// reaches new code; migrations are idempotent and serialised by an advisory lock,
// so a repeated or concurrent invocation is harmless.
//
// Settings: declared once with the topology (shared/platform/topology, function
// "migrate": name, meaning, default) and read through shared/platform/config.
// It migrates with the owner's DSN and makes the api and ws functions' DSN user
// their login role (readmodel.EnsureAPILogin: created, or its password set, on
// every run).
package main

import (
	"context"
	"errors"
	"os"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
	"github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
)

// result is what the invocation answers (and what a deployment log shows).
type result struct {
	Applied []int  `json:"applied"`
	Skipped string `json:"skipped,omitempty"`
	// APILogin is the login role ensured for the api and ws functions, or why
	// none was.
	APILogin string `json:"apiLogin,omitempty"`
}

func main() {
	log := logging.New("migrate", nil)
	env, err := config.LoadFunction("migrate")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	ownerDB := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	apiDB := readmodel.DatabaseConfig{URL: env.String("API_DATABASE_URL"), SecretARN: env.String("API_DATABASE_SECRET_ARN")}
	lambdatrace.StartWithoutInput("migrate", env, func(ctx context.Context) (result, error) {
		owner, err := secrets.ReadDatabase(ctx, ownerDB.URL, ownerDB.SecretARN, readmodel.EnvDatabaseURL, readmodel.EnvDatabaseSecretARN)
		if errors.Is(err, secrets.ErrEmpty) {
			// The first deployment creates the secret empty: the operator fills it
			// afterwards (infra/README.md), and the next deployment migrates. Failing
			// here would roll the first deployment back for good.
			log.WarnContext(ctx, "database secret not set yet: migrations skipped")
			return result{Skipped: "database secret not set"}, nil
		}
		if err != nil {
			return result{}, err
		}
		pool, err := readmodel.Open(ctx, owner.URL, readmodel.PoolOptions{ApplicationName: "migrate", RootCert: owner.RootCert})
		if err != nil {
			return result{}, err
		}
		defer pool.Close()
		applied, err := readmodel.Migrate(ctx, pool)
		if err != nil {
			return result{}, err
		}
		log.InfoContext(ctx, "migrations applied", "applied", applied)
		res := result{Applied: applied}
		res.APILogin, err = ensureAPILogin(ctx, pool, apiDB)
		if err != nil {
			return res, err
		}
		log.InfoContext(ctx, "API login role", "role", res.APILogin)
		return res, nil
	})
}

// ensureAPILogin makes the API's DSN's user its login role; an API secret not
// filled yet is skipped, as the owner's is (the api and ws functions answer 503
// until it is).
func ensureAPILogin(ctx context.Context, owner readmodel.Beginner, db readmodel.DatabaseConfig) (string, error) {
	if db.URL == "" && db.SecretARN == "" {
		return "skipped: no API database configured", nil
	}
	api, err := secrets.ReadDatabase(ctx, db.URL, db.SecretARN, readmodel.EnvAPIDatabaseURL, readmodel.EnvAPIDatabaseSecretARN)
	if errors.Is(err, secrets.ErrEmpty) {
		return "skipped: API database secret not set", nil
	}
	if err != nil {
		return "", err
	}
	// The api and ws functions would refuse an unverified connection at their
	// first request; refusing it here fails the deployment instead.
	if _, err := readmodel.PoolConfig(api.URL, readmodel.PoolOptions{RootCert: api.RootCert}); err != nil {
		return "", err
	}
	login, err := readmodel.APILoginOf(api.URL)
	if err != nil {
		return "", err
	}
	if err := readmodel.EnsureAPILogin(ctx, owner, login); err != nil {
		return "", err
	}
	return login.Role, nil
}
