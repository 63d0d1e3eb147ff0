// Command projector is the Lambda that keeps the read models (Supabase Postgres)
// in step with the events table's DynamoDB stream: handler.go decodes the stream
// records, and the projection service (shared/app/projection, where the batch
// semantics are) applies them through readmodel.Projector.
//
// Settings: declared once with the topology (shared/platform/topology, function
// "projector": name, meaning, default) and read through shared/platform/config.
//
// The pool (1–2 connections, simple protocol) is created once per container.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/failuredest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/dynamosource"
	"github.com/portfoliotracker/tracker/shared/app/projection"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func main() {
	log := slog.New(logging.NewHandler(os.Stderr, "projector", nil))
	env, err := settings.LoadFunction("projector")
	if err != nil {
		log.Error(err.Error())
		os.Exit(1)
	}
	table, failures := env.String("EVENTS_TABLE"), env.String(topology.FailureDestinationEnvVar)
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	if database.URL == "" && database.SecretARN == "" {
		log.Error("projector: set DATABASE_URL or DATABASE_SECRET_ARN")
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), lambdatrace.AWS)
	if err != nil {
		log.Error("projector: AWS configuration", "err", err)
		os.Exit(1)
	}
	sink, err := failuredest.Open(cfg, failures)
	if err != nil {
		log.Error("projector: "+topology.FailureDestinationEnvVar, "err", err)
		os.Exit(1)
	}
	build := func(ctx context.Context) (projection.Projector, error) {
		pool, err := readmodel.OpenConfigured(ctx, "projector", database)
		if err != nil {
			return nil, err
		}
		return readmodel.NewProjector(pool, readmodel.ProjectorOptions{Logger: log, Quarantine: sink,
			Source: dynamosource.New(dynamodb.NewFromConfig(cfg), table, 0)}), nil
	}
	svc := projection.NewLazy(build, projection.Options{Logger: log, Quarantine: sink})
	lambdatrace.Start("projector", env, handler{svc}.Handle)
}
