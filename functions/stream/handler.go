package main

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portfoliotracker/tracker/shared/app/streaming"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// stopMargin is what an invocation keeps of its run after streaming: closing
// the connection, the last flush and the lease's release take well under it.
const stopMargin = 20 * time.Second

// handle is the Lambda handler: the schedule's input carries nothing, so an
// invocation is its own ID (the holder of the lease) and its deadline.
func handle(ctx context.Context, svc *streaming.Service) (streaming.Output, error) {
	in, err := input(ctx)
	if err != nil {
		return streaming.Output{}, err
	}
	out, err := svc.Run(ctx, in)
	emitRun(runMetrics, out)
	return out, err
}

// input is the invocation as the use case takes it: the request ID as the
// lease's holder (a fresh UUID where there is none), streaming until
// stopMargin before the deadline.
func input(ctx context.Context) (streaming.Input, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return streaming.Input{}, errors.New("stream: the invocation has no deadline")
	}
	holder := uuid.New()
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		holder = lc.AwsRequestID
	}
	return streaming.Input{Holder: holder, Until: deadline.Add(-stopMargin)}, nil
}
