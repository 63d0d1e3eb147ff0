// Command stream is the live quote stream (docs/architecture.md §6): invoked
// every minute, the one invocation holding the lease keeps Finnhub's trade
// WebSocket open for most of its fifteen minutes and publishes the watch list's
// trades, coalesced per symbol and interval, as MarketDataUpdated records on
// market-data-updates; the others return at once. It is deployed only when the
// quote source streams (topology.StreamingQuotes). See shared/app/streaming
// (handler.go makes the invocation's input).
//
// Settings: declared once with the topology (shared/platform/topology, function
// "stream": name, meaning, default) and read through shared/platform/config.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/functions/edge/marketkeys"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamolease"
	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/streaming"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
)

func main() {
	log := logging.New("stream", nil)
	fail := func(msg string) {
		log.Error("stream: " + msg)
		os.Exit(1)
	}
	env, err := settings.LoadFunction("stream")
	if err != nil {
		fail(err.Error())
	}
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	keys := marketkeys.Func(map[string]marketkeys.Key{
		marketdata.SourceFinnhub: {Value: env.String("FINNHUB_API_KEY"), SecretARN: env.String("FINNHUB_API_KEY_SECRET_ARN")}})
	s := wiring{LeasesTable: env.String("LEASES_TABLE"), Stream: env.String("MARKET_DATA_STREAM"), StreamURL: env.String("FINNHUB_STREAM_URL"), Logger: log}
	if s.Interval, err = env.Duration("STREAM_INTERVAL"); err != nil || s.Interval <= 0 {
		fail("STREAM_INTERVAL must be a positive duration")
	}
	if s.WatchRefresh, err = env.Duration("STREAM_WATCH_REFRESH"); err != nil || s.WatchRefresh <= 0 {
		fail("STREAM_WATCH_REFRESH must be a positive duration")
	}
	if s.MaxSymbols, err = env.Int("STREAM_MAX_SYMBOLS"); err != nil || s.MaxSymbols <= 0 {
		fail("STREAM_MAX_SYMBOLS must be a positive integer")
	}

	// The database is opened by the first invocation that takes the lease: the
	// one a minute that finds it held costs a conditional write, not a
	// connection of the pooler's.
	store := lazy.New(func(ctx context.Context) (readmodel.IngestStore, error) {
		pool, err := readmodel.OpenConfigured(ctx, "stream", database)
		return readmodel.IngestStore{DB: pool}, err
	})
	watchList := watchListFunc(func(ctx context.Context) ([]string, error) {
		rm, err := store.Get(ctx)
		if err != nil {
			return nil, err
		}
		watched, err := rm.WatchList(ctx, time.Now())
		if err != nil {
			return nil, err
		}
		return mostNeededFirst(watched), nil
	})
	// The clients are the container's; the service, and with it the trade
	// stream and its set of subscriptions, is each invocation's own: a warm
	// container must not carry the symbols an earlier invocation subscribed.
	deps := lazy.New(func(ctx context.Context) (wiring, error) {
		cfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
		if err != nil {
			return wiring{}, err
		}
		key, err := keys(ctx, marketdata.SourceFinnhub)
		if err != nil {
			return wiring{}, err
		}
		if key == "" {
			return wiring{}, errNoKey
		}
		s.DynamoDB, s.Kinesis, s.Token = dynamodb.NewFromConfig(cfg), kinesis.NewFromConfig(cfg), key
		s.Watch = watchList
		return s, nil
	})
	lambdatrace.Start("stream", env, func(ctx context.Context, _ json.RawMessage) (streaming.Output, error) {
		w, err := deps.Get(ctx)
		if errors.Is(err, errNoKey) {
			// Not an invocation error: a retry would not find a key either.
			log.ErrorContext(ctx, "stream: "+err.Error()+"; nothing streams, the REST poll serves every symbol")
			return streaming.Output{}, nil
		}
		if err != nil {
			log.ErrorContext(ctx, "stream: dependencies unavailable", "error", err.Error())
			return streaming.Output{}, err
		}
		return w.invoke(ctx)
	})
}

// errNoKey: the stream was deployed without a Finnhub key.
var errNoKey = errors.New("no Finnhub API key (FINNHUB_API_KEY or its secret)")

// wiring is what the stream is made of; the end-to-end test builds it with the
// emulators' clients, a local WebSocket server and a clock it ticks.
type wiring struct {
	DynamoDB    dynamolease.DynamoDB
	Kinesis     kinesispub.API
	LeasesTable string
	Stream      string
	Watch       streaming.WatchList
	// StreamURL is Finnhub's WebSocket ("" = its own); Token the API key.
	StreamURL, Token string
	// Trades, when set, replaces the Finnhub stream built from StreamURL and
	// Token (the test wraps that one to see the trades arrive).
	Trades                 streaming.TradeStream
	Interval, WatchRefresh time.Duration
	MaxSymbols             int
	Clock                  streaming.Clock
	Logger                 *slog.Logger
}

// trades is Finnhub's trade stream in our symbols; what does not stop it
// (a dropped connection, a malformed trade) is logged as a MarketDataError.
func (w wiring) trades() streaming.TradeStream {
	return finnhubTrades{marketdata.NewFinnhubStream(marketdata.FinnhubStreamOptions{
		URL: w.StreamURL, Token: w.Token,
		OnError: func(e *marketdata.MarketDataError) {
			b, _ := json.Marshal(e)
			w.Logger.Warn("MarketDataError", "event", json.RawMessage(b))
		},
	})}
}

// invoke runs one invocation on a service, and with it a trade stream, of its
// own: a warm container must not carry the subscriptions of an earlier one.
func (w wiring) invoke(ctx context.Context) (streaming.Output, error) {
	return handle(ctx, w.service())
}

func (w wiring) service() *streaming.Service {
	trades := w.Trades
	if trades == nil {
		trades = w.trades()
	}
	clock := w.Clock
	if clock == nil {
		clock = streaming.SystemClock{}
	}
	return streaming.New(streaming.Config{
		Lease:   dynamolease.New(w.DynamoDB, w.LeasesTable, clock.Now),
		Watch:   w.Watch,
		Stream:  trades,
		Updates: kinesispub.IngestPublisher{Publisher: kinesispub.New(w.Kinesis, w.Stream, kinesispub.Options{})},
		Clock:   clock, Logger: w.Logger,
		Interval: w.Interval, WatchRefresh: w.WatchRefresh, MaxSymbols: w.MaxSymbols,
	})
}

// watchListFunc is a function as the stream's watch list: the symbols of the
// read models' complete watch list (readmodel.IngestStore.WatchList).
type watchListFunc func(ctx context.Context) ([]string, error)

func (f watchListFunc) Symbols(ctx context.Context) ([]string, error) { return f(ctx) }

// streamPriority orders the reasons a symbol is watched by how much a live
// price matters: what users hold before a live view somebody opened, so that
// watches (anyone may open them) never push a holding off the capped
// connection.
var streamPriority = []market.WatchReason{market.WatchHeld, market.WatchBenchmark, market.WatchFX, market.WatchAlert, market.WatchWatched}

// mostNeededFirst is the watch list's symbols by their most pressing reason,
// then by name.
func mostNeededFirst(watched []market.WatchedSymbol) []string {
	rank := func(w market.WatchedSymbol) int {
		best := len(streamPriority)
		for _, r := range w.Reasons {
			if i := slices.Index(streamPriority, r); i >= 0 && i < best {
				best = i
			}
		}
		return best
	}
	sorted := slices.Clone(watched)
	slices.SortStableFunc(sorted, func(a, b market.WatchedSymbol) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Symbol, b.Symbol))
	})
	symbols := make([]string, len(sorted))
	for i, w := range sorted {
		symbols[i] = w.Symbol
	}
	return symbols
}
