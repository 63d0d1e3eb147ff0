// Command ingest is the scheduled market-data ingest (docs/architecture.md §1, §6): every minute
// it publishes a MarketDataUpdated record per watched symbol on
// market-data-updates (daily closes are the backfill function's). See
// shared/app/ingest (handler.go decodes the schedule's input).
//
// Settings: declared once with the topology (shared/platform/topology, function
// "ingest": name, meaning, default) and read through shared/platform/config.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/functions/edge/marketkeys"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoprices"
	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/ingest"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func main() {
	log := logging.New("ingest", nil)
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
	source, replayFile := env.String(topology.PriceSourceEnvVar), env.String("REPLAY_FILE")
	baseURLs := map[string]string{marketdata.SourceFinnhub: env.String("FINNHUB_BASE_URL"),
		marketdata.SourcePolygon: env.String("POLYGON_BASE_URL"), marketdata.SourceAlphaVantage: env.String("ALPHAVANTAGE_BASE_URL")}
	pricesTable := env.String("PRICES_TABLE")
	skipFresherThan, err := env.Duration("POLL_SKIP_FRESHER_THAN")
	if err != nil {
		fail("POLL_SKIP_FRESHER_THAN must be a duration such as 90s")
	}
	switch source {
	case marketdata.SourceSimulated, marketdata.SourceFinnhub, marketdata.SourceAlphaVantage, marketdata.SourcePolygon, marketdata.SourceReplay:
	default:
		fail("PRICE_SOURCE must be simulated, finnhub, alphavantage, polygon or replay")
	}
	// Each provider's key: its plain variable, else its secret's ARN (a
	// deployment grants the chosen provider's secret only).
	keys := marketkeys.Func(map[string]marketkeys.Key{
		marketdata.SourceFinnhub:      {Value: env.String("FINNHUB_API_KEY"), SecretARN: env.String("FINNHUB_API_KEY_SECRET_ARN")},
		marketdata.SourcePolygon:      {Value: env.String("POLYGON_API_KEY"), SecretARN: env.String("POLYGON_API_KEY_SECRET_ARN")},
		marketdata.SourceAlphaVantage: {Value: env.String("ALPHAVANTAGE_API_KEY"), SecretARN: env.String("ALPHAVANTAGE_API_KEY_SECRET_ARN")},
	})
	seed, err := env.Uint("SIM_SEED")
	if err != nil {
		fail("SIM_SEED must be an unsigned integer")
	}
	type wired struct {
		handler  *ingest.Handler
		warnings []string
	}
	deps := lazy.New(func(ctx context.Context) (wired, error) {
		cfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
		if err != nil {
			return wired{}, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "ingest", database)
		if err != nil {
			return wired{}, err
		}
		kc, ddb := kinesis.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg)
		c := ingest.Config{Watch: readmodel.IngestStore{DB: pool}, Flags: readmodel.NewSymbolFlags(pool),
			// The stream's trades are Finnhub's: what it quoted lately is not polled.
			Latest: dynamoprices.NewLatest(ddb, pricesTable), SkipFresherThan: skipFresherThan, StreamSource: marketdata.SourceFinnhub,
			Updates: kinesispub.IngestPublisher{Publisher: kinesispub.New(kc, stream, kinesispub.Options{})}, Logger: log}
		src, err := marketdata.Open(ctx, marketdata.Selection{Quotes: source}, marketdata.OpenOptions{
			Keys: keys, BaseURLs: baseURLs, Seed: seed, ReplayFile: replayFile,
			Limiter: marketdata.NewWindowLimiter(dynamoprices.NewCounter(ddb, rateTable), nil)})
		if err != nil {
			return wired{}, err
		}
		c.Quotes = src.Quotes
		if src.QuoteSource == marketdata.SourceFinnhub {
			// 60 calls a minute: a longer watch list is served in turns.
			c.RotateBy = marketdata.DefaultLimits()[marketdata.SourceFinnhub][0].Max
		}
		return wired{ingest.New(c), src.Warnings}, nil
	})
	lambdatrace.Start("ingest", env, func(ctx context.Context, in json.RawMessage) (ingest.Output, error) {
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
