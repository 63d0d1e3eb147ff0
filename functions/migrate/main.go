// Command migrate applies the read models' schema migrations. The stack invokes it
// once per deployment, after the database secret exists and before traffic
// reaches new code; migrations are idempotent and serialised by an advisory lock,
// so a repeated or concurrent invocation is harmless.
//
// Environment: DATABASE_URL (local) or DATABASE_SECRET_ARN (deployed).
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/portfoliotracker/tracker/shared/readmodel"
	"github.com/portfoliotracker/tracker/shared/secrets"
)

// result is what the invocation answers (and what a deployment log shows).
type result struct {
	Applied []int  `json:"applied"`
	Skipped string `json:"skipped,omitempty"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	lambda.Start(func(ctx context.Context) (result, error) {
		dsn, err := secrets.DatabaseURL(ctx, os.Getenv("DATABASE_URL"), os.Getenv("DATABASE_SECRET_ARN"))
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
		pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{ApplicationName: "migrate"})
		if err != nil {
			return result{}, err
		}
		defer pool.Close()
		applied, err := readmodel.Migrate(ctx, pool)
		if err != nil {
			return result{}, err
		}
		log.InfoContext(ctx, "migrations applied", "applied", applied)
		return result{Applied: applied}, nil
	})
}
