// Command projector is the Lambda that keeps the read models (Supabase Postgres)
// in step with the events table's DynamoDB stream. See package
// readmodel/streamhandler for the batch semantics.
//
// Environment:
//
//	DATABASE_URL         the Postgres DSN: Supabase's transaction pooler (port 6543).
//	DATABASE_SECRET_ARN  instead of DATABASE_URL: a Secrets Manager secret holding the
//	                     DSN (plain, or JSON with "url" and "root_certificate"), read lazily on the first
//	                     invocation so that init stays small, and kept for the
//	                     container's life.
//
// The pool (1–2 connections, simple protocol) is created once per container.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/portfoliotracker/tracker/shared/readmodel"
	"github.com/portfoliotracker/tracker/shared/readmodel/streamhandler"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if os.Getenv(readmodel.EnvDatabaseURL) == "" && os.Getenv(readmodel.EnvDatabaseSecretARN) == "" {
		log.Error("projector: set DATABASE_URL or DATABASE_SECRET_ARN")
		os.Exit(1)
	}
	build := func(ctx context.Context) (streamhandler.Applier, error) {
		pool, err := readmodel.OpenConfigured(ctx, "projector")
		if err != nil {
			return nil, err
		}
		return readmodel.NewProjector(pool, readmodel.ProjectorOptions{Logger: log}), nil
	}
	h := streamhandler.NewLazy(build, streamhandler.Options{Logger: log})
	lambda.Start(h.Handle)
}
