// Command apiecho is the smallest HTTP API function: it answers 200 with the
// route it was called on. The overhead benchmark runs it behind the local
// gateway and runtime, so what it measures is theirs, not a handler's.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: req.RouteKey}, nil
	})
}
