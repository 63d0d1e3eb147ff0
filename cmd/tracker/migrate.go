package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
)

const migrateUsage = `usage: tracker migrate [--database-url DSN]

Applies the read models' schema migrations (embedded in the binary) that the
database has not applied yet, each in its own transaction, and prints what it
applied. Safe to run again, and from several places at once.

  --database-url DSN   the Postgres DSN; default $DATABASE_URL. Supabase's
                       transaction pooler (port 6543) and a direct connection both work.

Exit status: 0 on success, 2 on bad flags, 1 when the database refuses.
`

func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("database-url", "", "")
	fail := inputFailer("migrate", stderr)
	if code, done := parseFlags(fs, args, migrateUsage, stdout, fail); done {
		return code
	}
	url := databaseURL(*dsn)
	if url == "" {
		return fail("--database-url (or DATABASE_URL) is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pool, err := readmodel.Open(ctx, url, readmodel.PoolOptions{MaxConns: 1, ApplicationName: "tracker-migrate"})
	if err != nil {
		return fail("%v", err)
	}
	defer pool.Close()
	applied, err := readmodel.Migrate(ctx, pool)
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied migration %04d\n", v)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tracker migrate: %v\n", errLine(err))
		return exitInternal
	}
	all, err := readmodel.Migrations()
	if err != nil {
		fmt.Fprintf(stderr, "tracker migrate: %v\n", errLine(err))
		return exitInternal
	}
	fmt.Fprintf(stdout, "schema at version %04d (%d applied now)\n", all[len(all)-1].Version, len(applied))
	return exitOK
}

// databaseURL is the flag's value, or $DATABASE_URL.
func databaseURL(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return env.String("DATABASE_URL")
}

// errLine keeps an error from elsewhere (Postgres, AWS) on one line.
func errLine(err error) string { return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ") }
