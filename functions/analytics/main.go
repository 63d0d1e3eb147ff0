// Command analytics computes the portfolios' performance and risk figures and
// rebalancing recommendations (see shared/app/analyticsjob). It is the second and last
// consumer of the events table's stream, recomputing the portfolios a batch
// touched, and runs on EventBridge Scheduler schedules: {"mode":"daily"} after the
// US close (figures, valuation series, risk alerts), {"mode":"weekly"} (the
// same, plus a weekly summary pushed to each user) and {"mode":"refresh"} every
// minute (the portfolios whose figures predate a completed backfill).
//
// Settings: declared once with the topology (shared/platform/topology, function
// "analytics": name, meaning, default) and read through shared/platform/config.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/failuredest"
	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func main() {
	log := logging.New("analytics", nil)
	env, err := settings.LoadFunction("analytics")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	table, benchmark, failures := env.String("EVENTS_TABLE"), env.String("BENCHMARK_SYMBOL"), env.String(topology.FailureDestinationEnvVar)
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	connections, endpoint := env.String("CONNECTIONS_TABLE"), env.First("WEBSOCKET_ENDPOINT", "WEBSOCKET_CALLBACK_URL")
	snapshotEvery, err1 := env.Int("SNAPSHOT_EVERY")
	riskFree, err2 := env.Float("RISK_FREE_RATE")
	concurrency, err3 := env.Int("CONCURRENCY")
	if err1 != nil || err2 != nil || err3 != nil || snapshotEvery < 1 || concurrency < 1 {
		log.Error("analytics: SNAPSHOT_EVERY and CONCURRENCY must be positive integers, RISK_FREE_RATE a number")
		os.Exit(1)
	}
	deps := lazy.New(func(ctx context.Context) (service, error) {
		cfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
		if err != nil {
			return nil, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "analytics", database)
		if err != nil {
			return nil, err
		}
		db := dynamodb.NewFromConfig(cfg)
		store := dynamostore.New(db, table, dynamostore.Options{SnapshotEvery: snapshotEvery})
		sink, err := failuredest.Open(cfg, failures)
		if err != nil {
			return nil, err
		}
		opts := analyticsjob.Options{
			Settings:    analyticsjob.Settings{Benchmark: benchmark, RiskFreeRate: riskFree},
			Concurrency: concurrency,
			Alerts:      readmodel.NewAlertRules(pool),
			Outbox:      readmodel.NewWeeklySummaries(pool),
			Logger:      log,
			Quarantine:  sink,
			Refresh:     analyticsjob.RefreshOptions{Stale: readmodel.NewSymbolHistory(pool)},
		}
		if pusher, ok := push.Configured(cfg, db, connections, endpoint, push.Options{Logger: log}); ok {
			opts.Notifier = pusher
		}
		cmds := command.New(store, command.Options{SnapshotEvery: snapshotEvery, Logger: log})
		return analyticsjob.New(cmds, readmodel.NewMetrics(pool), opts), nil
	})
	lambdatrace.Start("analytics", env, handler(deps.Get, log))
}
