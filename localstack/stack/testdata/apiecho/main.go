// Command apiecho is the smallest HTTP API function: it answers 200 with the
// route it was called on. The overhead benchmark runs it behind the local
// gateway and runtime, so what it measures is theirs, not a handler's; the
// failure test asks it to misbehave by path.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		switch req.RawPath {
		case "/panic":
			panic("apiecho: asked to panic")
		case "/exit":
			os.Exit(3)
		case "/sleep":
			<-ctx.Done()
			time.Sleep(time.Second)
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: req.RouteKey}, nil
	})
}
