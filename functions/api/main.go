// Command api is the HTTPS API Lambda (API Gateway HTTP API, payload format 2.0,
// behind the Lambda authorizer). It reads its configuration, builds its adapters
// on the first invocation, and serves package httpapi.
//
// Settings: declared once with the topology (shared/platform/topology, function
// "api": name, meaning, default) and read through shared/platform/config.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/command"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
)

type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	env, err := settings.LoadFunction("api")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	table, quotasTable := env.String("EVENTS_TABLE"), env.String("QUOTAS_TABLE")
	database := readmodel.DatabaseConfig{URL: env.String("API_DATABASE_URL"), SecretARN: env.String("API_DATABASE_SECRET_ARN")}
	snapshotEvery, err := env.Int("SNAPSHOT_EVERY")
	if err != nil || snapshotEvery < 1 {
		log.Error("api: SNAPSHOT_EVERY must be a positive integer")
		os.Exit(1)
	}
	deps := lazy.New(func(ctx context.Context) (handler, error) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		dynamo := dynamodb.NewFromConfig(cfg)
		store := dynamostore.New(dynamo, table, dynamostore.Options{SnapshotEvery: snapshotEvery})
		quotas := dynamoquota.New(dynamo, quotasTable)
		db, err := readmodel.OpenAPI(ctx, "api", database)
		if err != nil {
			return nil, err
		}
		srv := httpapi.New(httpapi.Config{
			Commands:    command.New(store, command.Options{SnapshotEvery: snapshotEvery, Logger: log, Quotas: quotas}),
			Events:      store,
			Queries:     readmodel.NewQueries(db),
			Alerts:      readmodel.NewAlertRules(db),
			Analytics:   readmodel.NewMetrics(db),
			Suggestions: readmodel.NewSuggestions(db),
			Logger:      log,
			Quotas:      quotas,
		})
		return httplambda.Handler(srv), nil
	})
	lambda.Start(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		h, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "api: dependencies unavailable", "error", err.Error())
			return events.APIGatewayV2HTTPResponse{StatusCode: 503, Headers: map[string]string{"Content-Type": "application/json", "Retry-After": "1"},
				Body: `{"error":{"code":"unavailable","message":"the service is starting or its database is unreachable; retry"}}`}, nil
		}
		return h(ctx, req)
	})
}
