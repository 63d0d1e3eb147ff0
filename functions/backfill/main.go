// Command backfill fills the daily closes of every symbol the read models need,
// back to where they are needed (docs/architecture.md §6, "History that fills
// itself"): every minute it reconciles the per-symbol backfill records with the
// portfolios, alert rules and watches, and fetches what is missing from the
// history provider within its rate limit (shared across invocations through the
// rate-limits table), offering the splits and dividends of the days it fills as
// suggested transactions (shared/app/suggestions). An operator's
// {"symbol":"AAPL","from":"2024-01-01"} adds a symbol before the run. See
// shared/app/history (handler.go decodes the input).
//
// Settings: declared once with the topology (shared/platform/topology, function
// "backfill": name, meaning, default) and read through shared/platform/config.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/functions/edge/marketkeys"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func main() {
	log := logging.New("backfill", nil)
	fail := func(msg string) {
		log.Error("backfill: " + msg)
		os.Exit(1)
	}
	env, err := settings.LoadFunction("backfill")
	if err != nil {
		fail(err.Error())
	}
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	rateTable, source, currency := env.String("RATE_LIMITS_TABLE"), env.String(topology.HistorySourceEnvVar), env.String("PRICE_CURRENCY")
	// Each provider's key: its plain variable, else its secret's ARN (a
	// deployment grants the chosen provider's secret only).
	keys := marketkeys.Func(map[string]marketkeys.Key{
		marketdata.SourcePolygon:      {Value: env.String("POLYGON_API_KEY"), SecretARN: env.String("POLYGON_API_KEY_SECRET_ARN")},
		marketdata.SourceAlphaVantage: {Value: env.String("ALPHAVANTAGE_API_KEY"), SecretARN: env.String("ALPHAVANTAGE_API_KEY_SECRET_ARN")},
	})
	baseURLs := map[string]string{marketdata.SourcePolygon: env.String("POLYGON_BASE_URL"), marketdata.SourceAlphaVantage: env.String("ALPHAVANTAGE_BASE_URL")}
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
	type wired struct {
		svc      *history.Service
		warnings []string
	}
	deps := lazy.New(func(ctx context.Context) (wired, error) {
		awsCfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
		if err != nil {
			return wired{}, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "backfill", database)
		if err != nil {
			return wired{}, err
		}
		src, err := marketdata.Open(ctx, marketdata.Selection{History: source}, marketdata.OpenOptions{
			Keys: keys, BaseURLs: baseURLs, Seed: seed,
			Limiter: marketdata.NewWindowLimiter(dynamoprices.NewCounter(dynamodb.NewFromConfig(awsCfg), rateTable), nil)})
		if err != nil {
			return wired{}, err
		}
		cfg := history.Config{Store: readmodel.NewSymbolHistory(pool), Closes: readmodel.IngestStore{DB: pool},
			Bars: src.Bars, Actions: src.Actions, Unknown: readmodel.NewSymbolFlags(pool),
			Offers:   suggestions.NewOfferer(readmodel.NewSuggestions(pool), suggestions.Options{Logger: log}),
			Lookback: lookback, MaxDays: maxDays, ChunkDays: chunkDays, QuoteCurrency: currency, Logger: log}
		if src.HistorySource == marketdata.SourceSimulated {
			// One walk per symbol over its whole range: chunks of their own would
			// each be scaled to today's price apart, and jump where they meet.
			cfg.ChunkDays = maxDays + 1
		}
		return wired{history.New(cfg), src.Warnings}, nil
	})
	lambdatrace.Start("backfill", env, func(ctx context.Context, in json.RawMessage) (history.Output, error) {
		d, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "backfill: dependencies unavailable", "error", err.Error())
			return history.Output{}, err
		}
		for _, w := range d.warnings {
			log.ErrorContext(ctx, "backfill: "+w)
		}
		return handle(ctx, d.svc, in)
	})
}
