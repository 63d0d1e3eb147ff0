// Command prices is the Kinesis consumer of market-data-updates (docs/architecture.md §1): it
// keeps the latest price per symbol (DynamoDB prices table and Postgres
// latest_prices), the daily closes (Postgres daily_closes), evaluates price alert
// rules, revalues the portfolios holding the ticked symbols (recorded as
// PortfolioValueCalculated in the valuations read model, which it also thins
// past the retention), evaluates their value_drop rules and pushes valuations and
// alerts; see shared/app/prices (handler.go decodes the trigger). It returns
// events.KinesisEventResponse with the failed records (ReportBatchItemFailures):
// those whose durable writes still failed after the retries within the
// invocation, never those whose pushes did; it fails the invocation when every
// symbol did (a dependency is down). Records that can never apply (poison, ticks
// a store refuses) go to the failure destination (docs/architecture.md,
// "Self-healing consumers").
//
// Settings: declared once with the topology (shared/platform/topology, function
// "prices": name, meaning, default) and read through shared/platform/config.
//
// Alert rules, their state and their firing history are in Postgres
// (readmodel.AlertRules, the table alert_rules written through the API): each
// batch's firings are recorded in alert_history before they are pushed (best
// effort, after the batch's durable work, within a time budget). Weight
// drift and the risk rules (drawdown, VaR, concentration) are the analytics
// function's; this one evaluates the price rules and value_drop.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/failuredest"
	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/prices"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func main() {
	log := logging.New("prices", nil)
	env, err := settings.LoadFunction("prices")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	table, currency, failures := env.String("PRICES_TABLE"), env.String("PRICE_CURRENCY"), env.String(topology.FailureDestinationEnvVar)
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	connections, endpoint := env.String("CONNECTIONS_TABLE"), env.First("WEBSOCKET_ENDPOINT", "WEBSOCKET_CALLBACK_URL")
	deps := lazy.New(func(ctx context.Context) (*prices.Consumer, error) {
		cfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
		if err != nil {
			return nil, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "prices", database)
		if err != nil {
			return nil, err
		}
		sink, err := failuredest.Open(cfg, failures)
		if err != nil {
			return nil, err
		}
		db := dynamodb.NewFromConfig(cfg)
		var notifier pricing.Notifier = push.LogNotifier{Logger: log}
		// Every batch fans out to the owners of thousands of portfolios, most of
		// them offline: look up only the users connected a second ago. A post
		// gets a second (they take tens of milliseconds); the batch's pushes
		// get prices.DefaultPushBudget in all.
		if pusher, ok := push.Configured(cfg, db, connections, endpoint, push.Options{Logger: log, ConnectedUsersFor: time.Second, PostTimeout: time.Second,
			Metrics: emf.New(os.Stdout, map[string]string{"Function": "prices"})}); ok {
			notifier = pusher
		}
		return prices.New(prices.Config{
			Latest:     dynamoprices.NewLatest(db, table),
			DB:         readmodel.NewPricesConsumerStore(pool),
			Alerts:     readmodel.NewConsumerAlertRules(pool),
			Notifier:   notifier,
			Currency:   currency,
			Quarantine: sink,
			Metrics:    os.Stdout,
			Gauges:     readmodel.PoolGauges(pool),
			Logger:     log,
		}), nil
	})
	lambdatrace.Start("prices", env, func(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
		c, err := deps.Get(ctx)
		if err != nil {
			// Nothing was processed: the whole batch is retried (bounded by the mapping).
			log.ErrorContext(ctx, "prices: dependencies unavailable", "error", err.Error())
			return events.KinesisEventResponse{}, err
		}
		return handle(ctx, c, ev)
	})
}
