package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

const quotasBackfillUsage = `usage: tracker quotas-backfill [--database-url DSN] [--quotas-table NAME]

Counts what every user already holds against the quotas kept in the DynamoDB
quotas table (portfolios per user, distinct symbols per user), from the read
models: run it once after the deployment that introduced the quotas, so that a
user's existing portfolios and symbols count. It only adds: running it again
changes nothing, and a user already past a limit keeps what they have (and can
add nothing new). Prints the users past a limit.

  --database-url DSN   the Postgres DSN; default $DATABASE_URL
  --quotas-table NAME  the DynamoDB quotas table; default $QUOTAS_TABLE

Exit status: 0 on success, 2 on bad flags, 1 when the database or DynamoDB refuses.
`

func runQuotasBackfill(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quotas-backfill", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("database-url", "", "")
	table := fs.String("quotas-table", "", "")
	fail := inputFailer("quotas-backfill", stderr)
	if code, done := parseFlags(fs, args, quotasBackfillUsage, stdout, fail); done {
		return code
	}
	url := databaseURL(*dsn)
	if url == "" {
		return fail("--database-url (or DATABASE_URL) is required")
	}
	if *table == "" {
		*table = env.String("QUOTAS_TABLE")
	}
	if *table == "" {
		return fail("--quotas-table (or QUOTAS_TABLE) is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	internal := func(err error) int {
		fmt.Fprintf(stderr, "tracker quotas-backfill: %v\n", errLine(err))
		return exitInternal
	}
	pool, err := readmodel.Open(ctx, url, readmodel.PoolOptions{MaxConns: 1, ApplicationName: "tracker-quotas"})
	if err != nil {
		return fail("%v", err)
	}
	defer pool.Close()
	held, err := readmodel.ReadQuotaHoldings(ctx, pool)
	if err != nil {
		return internal(err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return internal(err)
	}
	store := dynamoquota.New(dynamodb.NewFromConfig(cfg), *table)
	for _, q := range []struct {
		quota   quota.Quota
		members map[string][]string
	}{{quota.PortfoliosPerUser, held.Portfolios}, {quota.SymbolsPerUser, held.Symbols}} {
		users := slices.Sorted(maps.Keys(q.members))
		over := 0
		for _, u := range users {
			if err := store.Seed(ctx, q.quota, u, q.members[u]); err != nil {
				return internal(err)
			}
			if n := len(q.members[u]); n > q.quota.Limit {
				over++
				fmt.Fprintf(stdout, "%s: user %s holds %d (limit %d)\n", q.quota.Name, u, n, q.quota.Limit)
			}
		}
		fmt.Fprintf(stdout, "%s: %d users counted, %d past the limit\n", q.quota.Name, len(users), over)
	}
	return exitOK
}
