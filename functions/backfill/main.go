// Command backfill fills the daily closes of every symbol the read models need,
// back to where they are needed (docs/architecture.md §6, "History that fills
// itself"): every minute it reconciles the per-symbol backfill records with the
// portfolios, alert rules and watches, and fetches what is missing from the
// history provider within its rate limit (shared across invocations through the
// rate-limits table). An operator's {"symbol":"AAPL","from":"2024-01-01"} adds
// a symbol before the run. See shared/app/history (handler.go decodes the input).
//
// Settings: declared once with the topology (shared/platform/topology, function
// "backfill": name, meaning, default) and read through shared/platform/config.
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

	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
	"github.com/portfoliotracker/tracker/shared/app/history"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	fail := func(msg string) {
		log.Error("backfill: " + msg)
		os.Exit(1)
	}
	env, err := settings.LoadFunction("backfill")
	if err != nil {
		fail(err.Error())
	}
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	rateTable, source, currency := env.String("RATE_LIMITS_TABLE"), env.String("HISTORY_SOURCE"), env.String("PRICE_CURRENCY")
	keys := map[string][3]string{ // plain key, its secret's ARN, base URL
		marketdata.SourcePolygon:      {env.String("POLYGON_API_KEY"), env.String("POLYGON_API_KEY_SECRET_ARN"), env.String("POLYGON_BASE_URL")},
		marketdata.SourceAlphaVantage: {env.String("ALPHAVANTAGE_API_KEY"), env.String("ALPHAVANTAGE_API_KEY_SECRET_ARN"), env.String("ALPHAVANTAGE_BASE_URL")},
	}
	switch source {
	case marketdata.SourceSimulated, marketdata.SourcePolygon, marketdata.SourceAlphaVantage:
	default:
		fail("HISTORY_SOURCE must be simulated, polygon or alphavantage")
	}
	seed, err := env.Uint("SIM_SEED")
	if err != nil {
		fail("SIM_SEED must be an unsigned integer")
	}
	lookback, err1 := env.Int("HISTORY_LOOKBACK_DAYS")
	maxDays, err2 := env.Int("HISTORY_MAX_DAYS")
	chunkDays, err3 := env.Int("HISTORY_CHUNK_DAYS")
	if err1 != nil || err2 != nil || err3 != nil || lookback < 1 || maxDays < 1 || chunkDays < 1 {
		fail("HISTORY_LOOKBACK_DAYS, HISTORY_MAX_DAYS and HISTORY_CHUNK_DAYS must be positive integers")
	}
	deps := lazy.New(func(ctx context.Context) (*history.Service, error) {
		pool, err := readmodel.OpenConfigured(ctx, "backfill", database)
		if err != nil {
			return nil, err
		}
		cfg := history.Config{Store: readmodel.NewSymbolHistory(pool), Closes: readmodel.IngestStore{DB: pool},
			Lookback: lookback, MaxDays: maxDays, ChunkDays: chunkDays, QuoteCurrency: currency, Logger: log}
		if source == marketdata.SourceSimulated {
			// One walk per symbol over its whole range: chunks of their own would
			// each be scaled to today's price apart, and jump where they meet.
			cfg.Bars, cfg.ChunkDays = marketdata.SimBars{Seed: seed}, maxDays+1
			return history.New(cfg), nil
		}
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		k := keys[source]
		key := k[0]
		if key == "" && k[1] != "" {
			if key, err = secrets.String(ctx, k[1]); err != nil {
				return nil, err
			}
		}
		if key == "" {
			return nil, fmt.Errorf("no API key for %s", source)
		}
		opts := marketdata.ClientOptions{BaseURL: k[2], APIKey: key,
			Limiter: marketdata.NewWindowLimiter(dynamoprices.NewCounter(dynamodb.NewFromConfig(awsCfg), rateTable), nil)}
		switch source {
		case marketdata.SourcePolygon:
			cfg.Bars = marketdata.NewPolygon(opts)
		case marketdata.SourceAlphaVantage:
			cfg.Bars = marketdata.NewAlphaVantage(opts)
		}
		return history.New(cfg), nil
	})
	lambda.Start(func(ctx context.Context, in json.RawMessage) (history.Output, error) {
		svc, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "backfill: dependencies unavailable", "error", err.Error())
			return history.Output{}, err
		}
		return handle(ctx, svc, in)
	})
}
