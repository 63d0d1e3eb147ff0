package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/portfoliotracker/tracker/shared/readmodel"
	"github.com/portfoliotracker/tracker/shared/readmodel/dynamosource"
)

const replayUsage = `usage: tracker replay [--database-url DSN] [--events-table NAME] [--segments N] [--readers N] [--batch N]

Rebuilds every read model from the event store: applies pending migrations, empties
the projection tables (profiles and latest prices are kept), lists the aggregates
with a parallel Scan of the events table, and re-applies each one's events through
the projector. Replaying twice gives identical tables. The API sees partial read
models while it runs; the live projector may keep running.

  --database-url DSN   the Postgres DSN; default $DATABASE_URL
  --events-table NAME  the DynamoDB events table; default $EVENTS_TABLE
  --segments N         parallel Scan segments (default 4)
  --readers N          aggregates read at once (default 4)
  --batch N            events per projector transaction (default 500)

AWS settings come from the usual environment (AWS_REGION, credentials,
AWS_ENDPOINT_URL for a local stack).

Exit status: 0 on success, 2 on bad flags, 1 when the rebuild failed or had events
it could not apply (listed on stderr).
`

func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("database-url", "", "")
	table := fs.String("events-table", "", "")
	segments := fs.Int("segments", 4, "")
	readers := fs.Int("readers", 4, "")
	batch := fs.Int("batch", 500, "")
	fail := inputFailer("replay", stderr)
	if code, done := parseFlags(fs, args, replayUsage, stdout, fail); done {
		return code
	}
	url := databaseURL(*dsn)
	if url == "" {
		return fail("--database-url (or DATABASE_URL) is required")
	}
	if *table == "" {
		*table = os.Getenv("EVENTS_TABLE")
	}
	if *table == "" {
		return fail("--events-table (or EVENTS_TABLE) is required")
	}
	if *segments < 1 || *segments > 64 || *readers < 1 || *readers > 64 || *batch < 1 || *batch > 10_000 {
		return fail("--segments and --readers must be 1 to 64, --batch 1 to 10000")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tracker replay: AWS configuration: %v\n", errLine(err))
		return exitInternal
	}
	src := dynamosource.New(dynamodb.NewFromConfig(cfg), *table, *segments)
	pool, err := readmodel.Open(ctx, url, readmodel.PoolOptions{MaxConns: 2, ApplicationName: "tracker-replay"})
	if err != nil {
		return fail("%v", err)
	}
	defer pool.Close()
	if _, err := readmodel.Migrate(ctx, pool); err != nil {
		fmt.Fprintf(stderr, "tracker replay: %v\n", errLine(err))
		return exitInternal
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := readmodel.Rebuild(ctx, pool, src, readmodel.RebuildOptions{
		BatchSize: *batch, Readers: *readers, Logger: log,
	})
	fmt.Fprintf(stdout, "replayed %d events of %d aggregates in %d batches (%s)\n", st.Events, st.Aggregates, st.Batches, st.Duration.Round(1e6))
	for _, f := range st.Failures {
		fmt.Fprintf(stderr, "tracker replay: %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tracker replay: %v\n", errLine(err))
		return exitInternal
	}
	return exitOK
}
