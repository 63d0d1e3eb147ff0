package lambdatrace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.opentelemetry.io/otel/codes"
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

// deadlineExporter keeps the deadline of the context each export is given.
type deadlineExporter struct{ deadlines []time.Time }

func (d *deadlineExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	dl, _ := ctx.Deadline()
	d.deadlines = append(d.deadlines, dl)
	return nil
}

func (d *deadlineExporter) Shutdown(context.Context) error { return nil }

// The flush at the end of an invocation ends before the invocation's
// deadline: a collector slow to answer costs spans, never a timed-out
// invocation (a stream batch done and then retried).
func TestFlushEndsBeforeTheInvocationsDeadline(t *testing.T) {
	exp := &deadlineExporter{}
	p := lambdatrace.Install("projector", sdktrace.NewBatchSpanProcessor(exp), sdktrace.AlwaysSample())
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	h := lambdatrace.Wrap(p, "projector", func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil })
	deadline := time.Now().Add(time.Second) // less than the flush's own bound left
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := h(ctx, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if len(exp.deadlines) != 1 || exp.deadlines[0].IsZero() || exp.deadlines[0].After(deadline) {
		t.Errorf("export deadlines %v, want one, by the invocation's %v", exp.deadlines, deadline)
	}
}

// A handler that panics still has its span ended, marked in error and
// flushed before the panic goes on to the runtime (which then ends the
// process, and with it whatever was not exported).
func TestWrapEndsAndFlushesThePanickingInvocation(t *testing.T) {
	p, exp := install(t)
	h := lambdatrace.Wrap(p, "prices", func(context.Context, struct{}) (struct{}, error) { panic("boom") })
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		_, _ = h(context.Background(), struct{}{})
	}()
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "prices" || spans[0].Status.Code != codes.Error {
		t.Fatalf("spans after a panic %v, want the invocation's, in error", spans)
	}
}

// A collector that refuses the spans (X-Ray without Transaction Search, a
// role without PutSpans) is told in the log, in the project's shape, at the
// end of each invocation that lost its spans; the invocation itself succeeds.
func TestAFailedExportIsLogged(t *testing.T) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Transaction Search is not enabled", http.StatusBadRequest)
	}))
	defer collector.Close()
	p := lambdatrace.Install("ingest", sdktrace.NewBatchSpanProcessor(lambdatrace.NewExporter(collector.URL, collector.Client())), sdktrace.AlwaysSample())
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	var logs bytes.Buffer
	lambdatrace.SetLog(p, slog.New(logging.NewHandler(&logs, "ingest", nil)))
	h := lambdatrace.Wrap(p, "ingest", func(context.Context, struct{}) (string, error) { return "done", nil })
	if out, err := h(context.Background(), struct{}{}); out != "done" || err != nil {
		t.Fatalf("invocation %q %v, want it done despite the collector", out, err)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["level"] != "WARN" || line["function"] != "ingest" ||
		!strings.Contains(fmt.Sprint(line["error"]), "HTTP 400") {
		t.Errorf("log %q (%v), want one WARN line of the failed export", logs.String(), err)
	}
}

// A caller's traceparent names the trace and the parent the API continues,
// not whether it is sampled: the stage's ratio decides (any client could
// otherwise have every request of prod sampled, or none).
func TestTheStageSamplesACallersTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := lambdatrace.Install("api", sdktrace.NewBatchSpanProcessor(exp), sdktrace.NeverSample())
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	var sc trace.SpanContext
	h := lambdatrace.Wrap(p, "api", func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		sc = trace.SpanContextFromContext(ctx)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	})
	req := events.APIGatewayV2HTTPRequest{RouteKey: "GET /me", Headers: map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	if _, err := h(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 || sc.IsSampled() {
		t.Errorf("%d spans exported, sampled %v: the caller's flag overrode the stage's sampler", n, sc.IsSampled())
	}
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace %v, want the caller's continued", sc.TraceID())
	}
}

// A caller's X-Correlation-Id is written on every line of its request: one
// that is not a plain bounded ID (an e-mail address, ten kilobytes) gives way
// to API Gateway's request ID.
func TestOnlyAPlainCorrelationIDIsTaken(t *testing.T) {
	for header, want := range map[string]string{"web-7f3a.2_b": "web-7f3a.2_b", "alice@example.test": "gw-1",
		strings.Repeat("a", 200): "gw-1", "a b": "gw-1"} {
		var logs bytes.Buffer
		log := slog.New(logging.NewHandler(&logs, "api", nil))
		h := lambdatrace.Wrap(nil, "api", func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			log.InfoContext(ctx, "request")
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
		})
		req := events.APIGatewayV2HTTPRequest{RouteKey: "GET /me", Headers: map[string]string{"x-correlation-id": header}}
		req.RequestContext.RequestID = "gw-1"
		if _, err := h(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		var line map[string]any
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line["correlationId"] != want {
			t.Errorf("X-Correlation-Id %.20q: correlationId %v (%v), want %q", header, line["correlationId"], err, want)
		}
	}
}
