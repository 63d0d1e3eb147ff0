// Command ws is the WebSocket API Lambda (API Gateway WebSocket API, routes $connect,
// $disconnect and $default; the Lambda authorizer runs on $connect with the token as a query
// parameter). It records connections and their subscriptions in the connections table and
// answers the browser's messages through the management API.
//
// Browser messages on $default (JSON, at most 128 KB, unknown fields refused):
//
//	{"action":"subscribe","portfolioId":"...","symbols":["AAPL"]}   -> {"type":"subscribed","portfolioIds":[...],"symbols":[...]}
//	{"action":"unsubscribe","portfolioId":"...","symbols":[...]}    -> {"type":"unsubscribed",...}
//	{"action":"ping"}                                               -> {"type":"pong"}
//	anything wrong                                                  -> {"type":"error","code":"...","message":"..."}
//
// Settings: declared once with the topology (shared/platform/topology, function
// "ws": name, meaning, default) and read through shared/platform/config.
//
// $connect and $disconnect need DynamoDB only: the database is opened on the first subscribe.
// A subscription to symbols is also recorded in the read models' symbol_watchers (the prices
// function finds there the users watching a symbol they do not hold); a closed connection's
// watches expire with it.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
)

func main() {
	log := logging.New("ws", nil)
	env, err := settings.LoadFunction("ws")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	table, endpoint := env.String("CONNECTIONS_TABLE"), env.First("WEBSOCKET_ENDPOINT", "WEBSOCKET_CALLBACK_URL")
	if endpoint == "" {
		log.Error("ws: WEBSOCKET_ENDPOINT (or WEBSOCKET_CALLBACK_URL) must be set")
		os.Exit(1)
	}
	database := readmodel.DatabaseConfig{URL: env.String("API_DATABASE_URL"), SecretARN: env.String("API_DATABASE_SECRET_ARN")}
	db := lazy.New(func(ctx context.Context) (*readmodel.CallerDB, error) { return readmodel.OpenAPI(ctx, "ws", database) })
	queries := lazy.New(func(ctx context.Context) (*readmodel.Queries, error) {
		d, err := db.Get(ctx)
		if err != nil {
			return nil, err
		}
		return readmodel.NewQueries(d), nil
	})
	deps := lazy.New(func(ctx context.Context) (*Handler, error) {
		cfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS)
		if err != nil {
			return nil, err
		}
		store := wsconn.New(dynamodb.NewFromConfig(cfg), table, wsconn.Options{})
		pusher := push.New(push.NewManagementClient(cfg, endpoint), store, push.Options{Logger: log})
		return &Handler{Conns: store, Portfolios: lazyPortfolios{queries}, Watchers: lazyWatchers{db}, Sender: pusher, Logger: log,
			Metrics: emf.New(os.Stdout, map[string]string{"Function": "ws"})}, nil
	})
	lambdatrace.Start("ws", env, func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		h, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "ws: dependencies unavailable", "error", err.Error())
			return events.APIGatewayProxyResponse{StatusCode: 503}, nil
		}
		return h.Handle(ctx, req)
	})
}

// lazyPortfolios opens the database on the first ownership check.
type lazyPortfolios struct {
	q *lazy.Value[*readmodel.Queries]
}

func (l lazyPortfolios) GetPortfolio(ctx context.Context, userID, portfolioID string) (readmodel.PortfolioView, error) {
	q, err := l.q.Get(ctx)
	if err != nil {
		return readmodel.PortfolioView{}, err
	}
	return q.GetPortfolio(ctx, userID, portfolioID)
}

// lazyWatchers records symbol watches in the read models' database, opened on the
// first subscribe, each as the connection's user.
type lazyWatchers struct {
	db *lazy.Value[*readmodel.CallerDB]
}

func (l lazyWatchers) Watch(ctx context.Context, connectionID, userID string, symbols []string, until time.Time) error {
	d, err := l.db.Get(ctx)
	if err != nil {
		return err
	}
	return readmodel.WatchSymbols(ctx, d.As(userID), connectionID, userID, symbols, until)
}

func (l lazyWatchers) Unwatch(ctx context.Context, connectionID, userID string, symbols []string) error {
	d, err := l.db.Get(ctx)
	if err != nil {
		return err
	}
	return readmodel.UnwatchSymbols(ctx, d.As(userID), connectionID, symbols)
}
