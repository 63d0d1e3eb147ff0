// Command authorizer is the Lambda authorizer of both APIs: the HTTP API (REQUEST
// authorizer, payload 2.0, simple responses) and the WebSocket API's $connect.
// It verifies Supabase access tokens (shared/adapters/auth) and answers in the event's
// shape (functions/edge/lambdaauth). Configuration is in config.go.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/portfoliotracker/tracker/functions/edge/lambdaauth"
	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

func main() {
	env, err := config.LoadFunction("authorizer")
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("authorizer: configuration", "error", err.Error())
		os.Exit(1)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: logLevel(env.String)}))
	cfg, err := loadConfig(env.String)
	if err != nil {
		logger.Error("authorizer: configuration", "error", err.Error())
		os.Exit(1)
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		logger.Error("authorizer: configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lambdaauth.New(v, logger).Measured(emf.New(os.Stdout, map[string]string{"Function": "authorizer"})))
}
