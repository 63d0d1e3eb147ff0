// Command api is the HTTPS API Lambda (API Gateway HTTP API, payload format 2.0,
// behind the Lambda authorizer). It reads its configuration, builds its adapters
// on the first invocation, and serves package httpapi.
//
// Settings: declared once with the topology (shared/platform/topology, function
// "api": name, meaning, default) and read through shared/platform/config.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/httplambda"
	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/functions/edge/marketkeys"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
	"github.com/portfoliotracker/tracker/shared/adapters/supabaseadmin"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/symbolsearch"
	"github.com/portfoliotracker/tracker/shared/app/users"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

func main() {
	log := logging.New("api", nil)
	env, err := settings.LoadFunction("api")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	table, quotasTable, rateTable := env.String("EVENTS_TABLE"), env.String("QUOTAS_TABLE"), env.String("RATE_LIMITS_TABLE")
	connectionsTable := env.String("CONNECTIONS_TABLE")
	// The symbol search is the quote source's, else the history source's.
	sources := marketdata.Selection{Quotes: env.String(topology.PriceSourceEnvVar), History: env.String(topology.HistorySourceEnvVar)}
	keys := marketkeys.Func(map[string]marketkeys.Key{
		marketdata.SourceFinnhub:      {Value: env.String("FINNHUB_API_KEY"), SecretARN: env.String("FINNHUB_API_KEY_SECRET_ARN")},
		marketdata.SourcePolygon:      {Value: env.String("POLYGON_API_KEY"), SecretARN: env.String("POLYGON_API_KEY_SECRET_ARN")},
		marketdata.SourceAlphaVantage: {Value: env.String("ALPHAVANTAGE_API_KEY"), SecretARN: env.String("ALPHAVANTAGE_API_KEY_SECRET_ARN")},
	})
	baseURLs := map[string]string{marketdata.SourceFinnhub: env.String("FINNHUB_BASE_URL"),
		marketdata.SourcePolygon: env.String("POLYGON_BASE_URL"), marketdata.SourceAlphaVantage: env.String("ALPHAVANTAGE_BASE_URL")}
	database := readmodel.DatabaseConfig{URL: env.String("API_DATABASE_URL"), SecretARN: env.String("API_DATABASE_SECRET_ARN")}
	// Supabase Auth's admin API (GET /me of a user without a profile, DELETE
	// /me): the service-role key as a plain value (local runs) or a secret.
	authAdmin, err := authAdminOf(env.String(topology.SupabaseURLEnvVar),
		serviceRoleKey(env.String("SUPABASE_SERVICE_ROLE_KEY"), env.String("SUPABASE_SERVICE_ROLE_KEY_ARN")))
	if err != nil {
		log.Error("api: " + err.Error())
		os.Exit(1)
	}
	snapshotEvery, err := env.Int("SNAPSHOT_EVERY")
	if err != nil || snapshotEvery < 1 {
		log.Error("api: SNAPSHOT_EVERY must be a positive integer")
		os.Exit(1)
	}
	deps := lazy.New(func(ctx context.Context) (handler, error) {
		cfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
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
		// The search's own share of each provider's quota, counted with every
		// other call to it: users' searches never starve the poll or the backfill.
		counter := dynamoprices.NewCounter(dynamo, rateTable)
		search := symbolSearch(ctx, log, sources, marketdata.OpenOptions{Keys: keys, BaseURLs: baseURLs,
			Limiter: marketdata.Share{Use: "search", Own: marketdata.NewWindowLimiter(counter, marketdata.WithUse("search", marketdata.SearchLimits())),
				Shared: marketdata.NewWindowLimiter(counter, nil)}})
		profiles := readmodel.NewUsers(db)
		// The notification key signs the unsubscribe links and keys the phone
		// codes' hashes (each under its own prefix); without it those routes
		// refuse (503, or every link refused), the rest of the API works.
		codeKey, err := notificationKey(ctx, env.String("NOTIFICATION_KEY"), env.String("NOTIFICATION_KEY_SECRET_ARN"))
		if err != nil {
			log.ErrorContext(ctx, "api: phone verification and unsubscribe links unavailable", "error", err.Error())
		}
		conns := wsconn.New(dynamo, connectionsTable, wsconn.Options{})
		people := users.New(users.Config{Profiles: profiles, PhoneCodes: profiles, ReadModels: profiles, Auth: authAdmin,
			Events: dynamostore.NewEraser(dynamo, table), Connections: conns, Quotas: dynamoquota.NewEraser(dynamo, quotasTable),
			PhoneCodeKey: codeKey, Logger: log})
		srv := httpapi.New(httpapi.Config{
			Notifications:  readmodel.NewNotificationHistory(db),
			UnsubscribeKey: codeKey,
			Commands: command.New(store, command.Options{SnapshotEvery: snapshotEvery, Logger: log, Quotas: quotas,
				Rates: readmodel.NewFXRates(db), Accounts: people}),
			Events:      store,
			Queries:     readmodel.NewQueries(db),
			Alerts:      readmodel.NewAlertRules(db),
			Analytics:   readmodel.NewMetrics(db),
			Suggestions: readmodel.NewSuggestions(db),
			Logger:      log,
			Quotas:      quotas,
			Symbols:     search,
			Users:       people,
			Metrics:     emf.New(os.Stdout, map[string]string{"Function": "api"}),
			Gauges:      readmodel.PoolGauges(db.Pool()),
		})
		return httplambda.Handler(srv), nil
	})
	lambdatrace.Start("api", env, func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		h, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "api: dependencies unavailable", "error", err.Error())
			return events.APIGatewayV2HTTPResponse{StatusCode: 503, Headers: map[string]string{"Content-Type": "application/json", "Retry-After": "1"},
				Body: `{"error":{"code":"unavailable","message":"the service is starting or its database is unreachable; retry"}}`}, nil
		}
		return h(ctx, req)
	})
}

// symbolSearch is GET /symbols' searcher, nil (503 search_unavailable) when the
// providers cannot be set up: a key that cannot be read costs the search, never
// the rest of the API.
func symbolSearch(ctx context.Context, log *slog.Logger, sources marketdata.Selection, opts marketdata.OpenOptions) httpapi.SymbolSearch {
	market, err := marketdata.Open(ctx, sources, opts)
	if err != nil {
		log.ErrorContext(ctx, "api: symbol search unavailable", "error", err.Error())
		return nil
	}
	for _, w := range market.Warnings {
		log.ErrorContext(ctx, "api: "+w)
	}
	if market.Search == nil {
		return nil
	}
	return symbolsearch.New(market.Search, symbolsearch.Options{})
}

// serviceRoleKey reads the plain key when given, else the secret.
func serviceRoleKey(plain, arn string) supabaseadmin.KeyFunc {
	if plain != "" {
		return func(context.Context) (string, error) { return plain, nil }
	}
	return supabaseadmin.SecretKey(secrets.String, arn)
}

// notificationKey reads the plain key when given, else the secret.
func notificationKey(ctx context.Context, plain, arn string) ([]byte, error) {
	if plain != "" {
		return []byte(plain), nil
	}
	if arn == "" {
		return nil, errors.New("neither NOTIFICATION_KEY nor NOTIFICATION_KEY_SECRET_ARN is set")
	}
	key, err := secrets.String(ctx, arn)
	if err != nil {
		return nil, fmt.Errorf("the notification key: %w", err)
	}
	return []byte(key), nil
}

// authAdminOf is Supabase Auth's admin API, nil without a project URL (then
// DELETE /me answers 503, and GET /me of a user without a profile 404).
func authAdminOf(url string, key supabaseadmin.KeyFunc) (users.AuthUsers, error) {
	if url == "" {
		return nil, nil
	}
	client, err := supabaseadmin.New(supabaseadmin.Config{URL: url, ServiceKey: key})
	if err != nil {
		return nil, err
	}
	return authUsers{client}, nil
}
