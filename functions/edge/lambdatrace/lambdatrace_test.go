package lambdatrace_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

func install(t *testing.T) (*lambdatrace.Provider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	p := lambdatrace.Install("api", sdktrace.NewBatchSpanProcessor(exp), sdktrace.AlwaysSample())
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	return p, exp
}

// An HTTP API request's span is named by its route, continues the request's
// traceparent, carries the status, and is exported (flushed) by the time the
// handler has returned; the handler's context has the request ID for the logs
// and the AWS calls' spans under the invocation's.
func TestWrapTracesAnInvocationAndItsAWSCalls(t *testing.T) {
	p, exp := install(t)
	ddb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer ddb.Close()
	cfg, err := config.LoadDefaultConfig(context.Background(), lambdatrace.AWS, config.WithRegion("eu-west-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("k", "s", "")))
	if err != nil {
		t.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddb.URL) })

	var requestID string
	h := lambdatrace.Wrap(p, "api", func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		requestID = logging.RequestID(ctx)
		item := &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}}
		if _, err := client.PutItem(ctx, item); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		// A call of a phase summarised by its own span gets none.
		_, err := client.PutItem(tracing.Quiet(ctx), item)
		return events.APIGatewayV2HTTPResponse{StatusCode: 201}, err
	})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	req := events.APIGatewayV2HTTPRequest{RouteKey: "POST /portfolios", Headers: map[string]string{
		"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	if _, err := h(ctx, req); err != nil {
		t.Fatal(err)
	}
	if requestID != "req-1" {
		t.Errorf("request ID in the handler's context %q, want req-1", requestID)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans exported after the invocation, want 2 (flushed): %v", len(spans), spans)
	}
	call, inv := spans[0], spans[1]
	if inv.Name != "POST /portfolios" || inv.SpanKind != trace.SpanKindServer || inv.Parent.SpanID().String() != "00f067aa0ba902b7" ||
		inv.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("invocation span %s kind %v parent %v trace %v", inv.Name, inv.SpanKind, inv.Parent, inv.SpanContext.TraceID())
	}
	status := false
	for _, a := range inv.Attributes {
		status = status || (a.Key == "http.response.status_code" && a.Value.AsInt64() == 201)
	}
	if !status {
		t.Errorf("attributes %v: no status 201", inv.Attributes)
	}
	if call.Name != "DynamoDB.PutItem" || call.Parent.SpanID() != inv.SpanContext.SpanID() || call.SpanKind != trace.SpanKindClient {
		t.Errorf("AWS call span %s parent %v kind %v, want DynamoDB.PutItem under the invocation", call.Name, call.Parent, call.SpanKind)
	}
}

// Tracing off (no endpoint): no provider, the handler runs as it is, with the
// request ID for the logs still.
func TestSetupWithoutEndpointIsOff(t *testing.T) {
	p, err := lambdatrace.Setup(context.Background(), "api", env{topology.StageEnvVar: "dev"})
	if err != nil || p != nil {
		t.Fatalf("Setup without an endpoint: %v %v, want nil, nil", p, err)
	}
	t.Cleanup(func() { emf.SetStage("") })
	var line bytes.Buffer
	emf.New(&line, map[string]string{"Function": "api"}).Emit(emf.Metric{Name: "Requests", Value: 1})
	if !strings.Contains(line.String(), `"Stage":"dev"`) {
		t.Errorf("the metrics do not carry the stage: %s", line.String())
	}
	if _, err := lambdatrace.Setup(context.Background(), "api", env{lambdatrace.EndpointEnvVar: "http://127.0.0.1:1/v1/traces", lambdatrace.SampleRatioEnvVar: "2"}); err == nil {
		t.Error("a sample ratio of 2 accepted")
	}
	h := lambdatrace.Wrap(nil, "prices", func(ctx context.Context, _ struct{}) (string, error) {
		return logging.RequestID(ctx) + trace.SpanFromContext(ctx).SpanContext().TraceID().String(), nil
	})
	out, _ := h(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "r"}), struct{}{})
	if out != "r00000000000000000000000000000000" {
		t.Errorf("got %q", out)
	}
}

type env map[string]string

func (e env) String(name string) string { return e[name] }
