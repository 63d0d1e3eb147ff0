// Command ingest is the scheduled market-data ingest (docs/architecture.md §1, §6): every minute
// it publishes a MarketDataUpdated record per watched symbol on
// market-data-updates; with a backfill input it stores daily closes instead. See
// shared/app/ingest (handler.go decodes the schedule's input).
//
// Settings: declared once with the topology (shared/platform/topology, function
// "ingest": name, meaning, default) and read through shared/platform/config.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
	"github.com/portfoliotracker/tracker/shared/app/ingest"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	fail := func(msg string) {
		log.Error("ingest: " + msg)
		os.Exit(1)
	}
	env, err := settings.LoadFunction("ingest")
	if err != nil {
		fail(err.Error())
	}
	stream, rateTable := env.String("MARKET_DATA_STREAM"), env.String("RATE_LIMITS_TABLE")
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	baseURL, source := env.String("MARKET_DATA_BASE_URL"), env.String(topology.PriceSourceEnvVar)
	switch source {
	case marketdata.SourceSimulated, marketdata.SourceFinnhub, marketdata.SourceAlphaVantage:
	default:
		fail("PRICE_SOURCE must be simulated, finnhub or alphavantage")
	}
	// The chosen provider's key: its plain variable, else its secret's ARN (a
	// deployment grants the chosen provider's secret only).
	keys := map[string][2]string{
		marketdata.SourceFinnhub:      {env.String("FINNHUB_API_KEY"), env.String("FINNHUB_API_KEY_SECRET_ARN")},
		marketdata.SourcePolygon:      {env.String("POLYGON_API_KEY"), env.String("POLYGON_API_KEY_SECRET_ARN")},
		marketdata.SourceAlphaVantage: {env.String("ALPHAVANTAGE_API_KEY"), env.String("ALPHAVANTAGE_API_KEY_SECRET_ARN")},
	}
	apiKey, apiKeyARN := keys[source][0], keys[source][1]
	seed, err := env.Uint("SIM_SEED")
	if err != nil {
		fail("SIM_SEED must be an unsigned integer")
	}
	deps := lazy.New(func(ctx context.Context) (*ingest.Handler, error) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "ingest", database)
		if err != nil {
			return nil, err
		}
		kc := kinesis.NewFromConfig(cfg)
		store := readmodel.IngestStore{DB: pool}
		c := ingest.Config{Watch: ingest.Watchlists{ingest.WatchListFunc(store.HeldSymbols), ingest.WatchListFunc(store.AlertSymbols)},
			Closes: store, Updates: kinesispub.IngestPublisher{Publisher: kinesispub.New(kc, stream, kinesispub.Options{})}, Logger: log}
		if source == marketdata.SourceSimulated {
			c.Quotes, c.Bars = marketdata.SimQuotes{Seed: seed}, marketdata.SimBars{Seed: seed}
			return ingest.New(c), nil
		}
		key := apiKey
		if key == "" && apiKeyARN != "" {
			if key, err = secrets.String(ctx, apiKeyARN); err != nil {
				return nil, err
			}
		}
		if key == "" {
			return nil, fmt.Errorf("no API key for %s", source)
		}
		opts := marketdata.ClientOptions{BaseURL: baseURL, APIKey: key,
			Limiter: marketdata.NewWindowLimiter(dynamoprices.NewCounter(dynamodb.NewFromConfig(cfg), rateTable), nil)}
		switch source {
		case marketdata.SourceFinnhub:
			c.Quotes = marketdata.NewFinnhub(opts)
			// 60 calls a minute: a longer watch list is served in turns.
			c.RotateBy = marketdata.DefaultLimits()[marketdata.SourceFinnhub][0].Max
		case marketdata.SourceAlphaVantage:
			av := marketdata.NewAlphaVantage(opts)
			c.Quotes, c.Bars = av, av
		}
		return ingest.New(c), nil
	})
	lambda.Start(func(ctx context.Context, in json.RawMessage) (ingest.Output, error) {
		h, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "ingest: dependencies unavailable", "error", err.Error())
			return ingest.Output{}, err
		}
		return handle(ctx, h, in)
	})
}
