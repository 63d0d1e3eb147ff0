// Command authorizer is the Lambda authorizer of both APIs: the HTTP API (REQUEST
// authorizer, payload 2.0, simple responses) and the WebSocket API's $connect.
// It verifies Supabase access tokens (shared/adapters/auth) and answers in the event's
// shape (functions/edge/lambdaauth). Configuration is in config.go.
package main

import (
	"os"

	"github.com/portfoliotracker/tracker/functions/edge/lambdaauth"
	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
)

func main() {
	env, err := config.LoadFunction("authorizer")
	if err != nil {
		logging.New("authorizer", nil).Error("authorizer: configuration", "error", err.Error())
		os.Exit(1)
	}
	logger := logging.New("authorizer", logLevel(env.String))
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
	lambdatrace.Start("authorizer", env, lambdaauth.New(v, logger).Measured(emf.New(os.Stdout, map[string]string{"Function": "authorizer"})))
}
