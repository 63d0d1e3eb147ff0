package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/dynamosource"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

const replayUsage = `usage: tracker replay [--database-url DSN] [--events-table NAME] [--segments N] [--readers N] [--batch N]
       tracker replay --failures FILE [--aggregate ID]... [--database-url DSN] [--events-table NAME]

Rebuilds every read model from the event store: applies pending migrations, empties
the projection tables (profiles and latest prices are kept), lists the aggregates
with a parallel Scan of the events table, and re-applies each one's events through
the projector. Replaying twice gives identical tables. The API sees partial read
models while it runs; the live projector may keep running.

With --failures or --aggregate, re-projects exactly the aggregates named, each in
one transaction (readers see its old rows until the new ones commit): the
aggregates of the quarantine records a consumer sent to its failure destination,
at any time after the stream's 24 hours. FILE ("-": stdin) holds them as the local
stack writes them (.data/local/failures/<function>.jsonl) or as read off the SQS
queue (aws sqs receive-message output, or message bodies one per line). Lambda's
own on-failure records there name only stream positions: they are listed and
skipped (a full replay covers them). Analytics figures follow on the next event
or daily run.

  --database-url DSN   the Postgres DSN; default $DATABASE_URL
  --events-table NAME  the DynamoDB events table; default $EVENTS_TABLE
  --segments N         parallel Scan segments (default 4)
  --readers N          aggregates read at once (default 4)
  --batch N            events per projector transaction (default 500)
  --failures FILE      re-project the aggregates of these quarantine records
  --aggregate ID       re-project this aggregate (repeatable)

AWS settings come from the usual environment (AWS_REGION, credentials,
AWS_ENDPOINT_URL for a local stack).

Exit status: 0 on success, 2 on bad flags or an unreadable failures file, 1 when
the replay failed or had events it could not apply (listed on stderr: they are
quarantined again).
`

// aggregateFlag collects repeated --aggregate values.
type aggregateFlag []string

func (a *aggregateFlag) String() string { return strings.Join(*a, ",") }

func (a *aggregateFlag) Set(v string) error {
	if v == "" || strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
		return fmt.Errorf("bad aggregate ID %q", v)
	}
	*a = append(*a, v)
	return nil
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dsn := fs.String("database-url", "", "")
	table := fs.String("events-table", "", "")
	segments := fs.Int("segments", 4, "")
	readers := fs.Int("readers", 4, "")
	batch := fs.Int("batch", 500, "")
	failures := fs.String("failures", "", "")
	var aggregates aggregateFlag
	fs.Var(&aggregates, "aggregate", "")
	fail := inputFailer("replay", stderr)
	if code, done := parseFlags(fs, args, replayUsage, stdout, fail); done {
		return code
	}
	url := databaseURL(*dsn)
	if url == "" {
		return fail("--database-url (or DATABASE_URL) is required")
	}
	if *table == "" {
		*table = env.String("EVENTS_TABLE")
	}
	if *table == "" {
		return fail("--events-table (or EVENTS_TABLE) is required")
	}
	if *segments < 1 || *segments > 64 || *readers < 1 || *readers > 64 || *batch < 1 || *batch > 10_000 {
		return fail("--segments and --readers must be 1 to 64, --batch 1 to 10000")
	}
	ids := []string(aggregates)
	if *failures != "" {
		named, code := aggregatesOfFailures(*failures, os.Stdin, stderr)
		if code != exitOK {
			return code
		}
		if len(named) == 0 && len(ids) == 0 {
			fmt.Fprintf(stdout, "%s: no quarantine record names an aggregate: nothing to replay\n", *failures)
			return exitOK
		}
		ids = append(ids, named...)
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
	opts := readmodel.RebuildOptions{BatchSize: *batch, Readers: *readers, Logger: log}
	var st readmodel.RebuildStats
	if ids != nil {
		st, err = readmodel.Reproject(ctx, pool, src, ids, opts)
		fmt.Fprintf(stdout, "re-projected %d events of %d aggregates in %d transactions (%s)\n", st.Events, st.Aggregates, st.Batches, st.Duration.Round(1e6))
	} else {
		st, err = readmodel.Rebuild(ctx, pool, src, opts)
		fmt.Fprintf(stdout, "replayed %d events of %d aggregates in %d batches (%s)\n", st.Events, st.Aggregates, st.Batches, st.Duration.Round(1e6))
	}
	for _, f := range st.Failures {
		fmt.Fprintf(stderr, "tracker replay: %s\n", f)
	}
	for _, q := range st.Quarantined {
		fmt.Fprintf(stderr, "tracker replay: quarantined again: %s\n", q)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tracker replay: %v\n", errLine(err))
		return exitInternal
	}
	if len(st.Quarantined) > 0 {
		return exitInternal
	}
	return exitOK
}

// aggregatesOfFailures reads a failure destination's messages and returns the
// aggregates its quarantine records name, reporting on stderr what names none.
func aggregatesOfFailures(path string, stdin io.Reader, stderr io.Writer) ([]string, int) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "tracker replay: %v\n", err)
			return nil, exitInput
		}
		defer f.Close()
		r = f
	}
	recs, others, err := quarantine.Read(r)
	if err != nil {
		fmt.Fprintf(stderr, "tracker replay: %s: %v\n", path, errLine(err))
		return nil, exitInput
	}
	var ids []string
	for _, q := range recs {
		if q.AggregateID == "" {
			fmt.Fprintf(stderr, "tracker replay: %s: a %s record names no aggregate (stream sequence number %s): nothing to replay; reason: %s\n",
				path, q.Consumer, q.SequenceNumber, q.Reason)
			continue
		}
		ids = append(ids, q.AggregateID)
	}
	for _, o := range others {
		fmt.Fprintf(stderr, "tracker replay: %s: skipped a message that is no quarantine record (Lambda's on-failure records name only stream positions): %s\n",
			path, truncateLine(string(o), 300))
	}
	return ids, exitOK
}

func truncateLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}
