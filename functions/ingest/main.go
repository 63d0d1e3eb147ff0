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
	stream, errorsStream, rateTable := env.String("MARKET_DATA_STREAM"), env.String("MARKET_DATA_ERRORS_STREAM"), env.String("RATE_LIMITS_TABLE")
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	apiKey, apiKeyARN, baseURL := env.String("MARKET_DATA_API_KEY"), env.String("MARKET_DATA_API_KEY_SECRET_ARN"), env.String("MARKET_DATA_BASE_URL")
	source, replayFile := env.String("PRICE_SOURCE"), env.String("REPLAY_FILE")
	switch source {
	case marketdata.SourceSimulated, marketdata.SourceFinnhub, marketdata.SourceAlphaVantage, marketdata.SourcePolygon, marketdata.SourceReplay:
	default:
		fail("PRICE_SOURCE must be simulated, finnhub, alphavantage, polygon or replay")
	}
	seed, err := env.Uint("SIM_SEED")
	if err != nil {
		fail("SIM_SEED must be an unsigned integer")
	}
	type wired struct {
		handler  *ingest.Handler
		warnings []string
	}
	deps := lazy.New(func(ctx context.Context) (wired, error) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return wired{}, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "ingest", database)
		if err != nil {
			return wired{}, err
		}
		kc := kinesis.NewFromConfig(cfg)
		store := readmodel.IngestStore{DB: pool}
		c := ingest.Config{Watch: ingest.Watchlists{ingest.WatchListFunc(store.HeldSymbols), ingest.WatchListFunc(store.AlertSymbols)},
			Closes: store, Updates: kinesispub.IngestPublisher{Publisher: kinesispub.New(kc, stream, kinesispub.Options{})}, Logger: log}
		if errorsStream != "" {
			c.Errors = kinesispub.IngestPublisher{Publisher: kinesispub.New(kc, errorsStream, kinesispub.Options{})}
		}
		// One key serves the one chosen provider (plain value first, then the secret).
		keys := func(ctx context.Context, _ string) (string, error) {
			if apiKey != "" || apiKeyARN == "" {
				return apiKey, nil
			}
			return secrets.String(ctx, apiKeyARN)
		}
		// Daily bars for the backfill mode come from the quote provider when it
		// has them (Finnhub's are not on free keys: none, as before).
		history := marketdata.SourceSimulated
		if source == marketdata.SourceAlphaVantage || source == marketdata.SourcePolygon {
			history = source
		}
		src, err := marketdata.Open(ctx, marketdata.Selection{Quotes: source, History: history}, marketdata.OpenOptions{
			Keys: keys, BaseURLs: map[string]string{source: baseURL}, Seed: seed, ReplayFile: replayFile,
			Limiter: marketdata.NewWindowLimiter(dynamoprices.NewCounter(dynamodb.NewFromConfig(cfg), rateTable), nil)})
		if err != nil {
			return wired{}, err
		}
		c.Quotes, c.Bars = src.Quotes, src.Bars
		if src.QuoteSource == marketdata.SourceFinnhub {
			c.Bars = nil
			// 60 calls a minute: a longer watch list is served in turns.
			c.RotateBy = marketdata.DefaultLimits()[marketdata.SourceFinnhub][0].Max
		}
		return wired{ingest.New(c), src.Warnings}, nil
	})
	lambda.Start(func(ctx context.Context, in json.RawMessage) (ingest.Output, error) {
		d, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "ingest: dependencies unavailable", "error", err.Error())
			return ingest.Output{}, err
		}
		for _, w := range d.warnings {
			log.ErrorContext(ctx, "ingest: "+w)
		}
		return handle(ctx, d.handler, in)
	})
}
