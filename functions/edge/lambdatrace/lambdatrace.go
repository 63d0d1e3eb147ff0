// Package lambdatrace is the SDK half of the project's tracing (the API half is
// shared/platform/tracing, which takes no net/http and so cannot hold the
// OpenTelemetry SDK): the tracer provider a function installs at start, its
// exporter (OTLP/HTTP protobuf, otlp.go) and sampler by setting, the span of
// each invocation with the flush at its end (a Lambda environment may be
// frozen, or never thawed, after it returns), and the spans of the AWS SDK's
// calls.
//
// Settings (topology, every function): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the
// OTLP/HTTP URL spans go to — in AWS X-Ray's OTLP endpoint
// (https://xray.<region>.amazonaws.com/v1/traces, requests signed with SigV4
// for the service "xray"), locally the local stack's collector; empty: no
// tracing at all (the no-op provider, no overhead). OTEL_TRACES_SAMPLER_ARG, the
// fraction of the traces a function starts that it samples (the stage's:
// parent-based, so a trace continued from an event item or a Kinesis record
// keeps its producer's decision; an HTTP caller's traceparent does not: the
// stage decides).
package lambdatrace

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// The settings (declared for every function in shared/platform/topology).
const (
	EndpointEnvVar    = topology.TracesEndpointEnvVar
	SampleRatioEnvVar = topology.TracesSampleRatioEnvVar
)

// Env reads a setting (shared/platform/config's Env.String).
type Env interface{ String(name string) string }

// Provider is an installed tracer provider; nil when tracing is off.
type Provider struct {
	tp   *sdktrace.TracerProvider
	root sdktrace.Sampler // the stage's: the traces the function starts, and its callers'
	log  *slog.Logger     // where failed exports are told
}

// Setup installs function's provider as the settings say (none when the
// endpoint is empty) with shared/platform/tracing.
func Setup(ctx context.Context, function string, env Env) (*Provider, error) {
	stage := env.String(topology.StageEnvVar)
	emf.SetStage(stage)
	endpoint := env.String(EndpointEnvVar)
	if endpoint == "" {
		return nil, nil
	}
	ratio, err := strconv.ParseFloat(cmp.Or(env.String(SampleRatioEnvVar), "1"), 64)
	if err != nil || ratio < 0 || ratio > 1 {
		return nil, fmt.Errorf("lambdatrace: %s must be a number from 0 to 1", SampleRatioEnvVar)
	}
	client, err := httpClient(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return install(function, stage, sdktrace.NewBatchSpanProcessor(NewExporter(endpoint, client)), sdktrace.TraceIDRatioBased(ratio)), nil
}

// Install installs a provider of function's spans into processor, sampling
// the traces it starts with root (and the others as their parent was): Setup's
// end, and the benchmarks' and tests' start.
func Install(function string, processor sdktrace.SpanProcessor, root sdktrace.Sampler) *Provider {
	return install(function, "", processor, root)
}

func install(function, stage string, processor sdktrace.SpanProcessor, root sdktrace.Sampler) *Provider {
	attrs := []attribute.KeyValue{attribute.String("service.name", function), attribute.String("faas.name", function),
		attribute.String("cloud.provider", "aws"), attribute.String("cloud.platform", "aws_lambda")}
	if stage != "" {
		attrs = append(attrs, attribute.String("deployment.environment.name", stage))
	}
	res := resource.NewSchemaless(attrs...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(processor),
		sdktrace.WithSampler(sdktrace.ParentBased(root)))
	tracing.SetProvider(tp)
	p := &Provider{tp: tp, root: root, log: logging.New(function, nil)}
	// The processor's own exports (a full batch, its timer) report their
	// failures to OpenTelemetry's global handler, a plain log.Print line by
	// default: in the project's shape instead.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { p.exportFailed(context.Background(), err) }))
	return p
}

// exportFailed tells a failed export (at WARN: spans are lost, the work is not).
func (p *Provider) exportFailed(ctx context.Context, err error) {
	p.log.WarnContext(ctx, "lambdatrace: spans not exported", "error", err.Error())
}

// Flush exports what the provider holds; a nil provider has nothing.
func (p *Provider) Flush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// flushTimeout bounds the flush at the end of an invocation: a collector that
// does not answer costs spans, never the invocation.
const flushTimeout = 2 * time.Second

// Wrap returns h inside the invocation's span (named function, or the route
// of an HTTP API request), its context carrying the Lambda request ID for the
// logs (shared/platform/logging), and the provider flushed after each
// invocation.
func Wrap[In, Out any](p *Provider, function string, h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		requestID := ""
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			requestID = lc.AwsRequestID
		}
		name, opts, correlation := invocation(function, any(&in))
		ctx = logging.WithRequest(ctx, requestID, correlation)
		if p == nil {
			return h(ctx, in)
		}
		if tp := traceparentOf(any(&in)); tp != "" {
			ctx = p.continueCaller(ctx, tp)
		}
		opts = append(opts, trace.WithAttributes(attribute.String("faas.invocation_id", requestID)))
		ctx, span := tracing.Start(ctx, name, opts...)
		defer func() {
			// The runtime ends the process after a panic: the span that
			// shows it is ended and flushed first.
			if r := recover(); r != nil {
				tracing.End(span, fmt.Errorf("panic: %v", r))
				p.flushBefore(ctx)
				panic(r)
			}
		}()
		out, err := h(ctx, in)
		if r, ok := any(&out).(*events.APIGatewayV2HTTPResponse); ok {
			span.SetAttributes(attribute.Int("http.response.status_code", r.StatusCode))
		}
		tracing.End(span, err)
		p.flushBefore(ctx)
		return out, err
	}
}

// deadlineReserve is the time an invocation keeps after its flush for the
// runtime to post the response.
const deadlineReserve = 200 * time.Millisecond

// flushBefore flushes within flushTimeout and before the invocation's
// deadline (less deadlineReserve): an invocation that did its work must not
// time out on its spans (a stream batch would be retried); none left, the
// spans wait for the next invocation's flush.
func (p *Provider) flushBefore(ctx context.Context) {
	by := time.Now().Add(flushTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-deadlineReserve).Before(by) {
		by = dl.Add(-deadlineReserve)
	}
	if !time.Now().Before(by) {
		return
	}
	flushCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), by)
	if err := p.Flush(flushCtx); err != nil {
		p.exportFailed(ctx, err)
	}
	cancel()
}

// Start sets function's tracing up from env (a setting in error stops the
// function at start, as every bad setting does) and starts the Lambda
// runtime with h wrapped (Wrap).
func Start[In, Out any](function string, env Env, h func(context.Context, In) (Out, error)) {
	lambda.Start(Wrap(mustSetup(function, env), function, h))
}

// StartWithoutInput is Start for a handler that reads no input (the runtime
// decodes none: an invocation may carry no payload).
func StartWithoutInput[Out any](function string, env Env, h func(context.Context) (Out, error)) {
	wrapped := Wrap(mustSetup(function, env), function, func(ctx context.Context, _ struct{}) (Out, error) { return h(ctx) })
	lambda.Start(func(ctx context.Context) (Out, error) { return wrapped(ctx, struct{}{}) })
}

func mustSetup(function string, env Env) *Provider {
	p, err := Setup(context.Background(), function, env)
	if err != nil {
		logging.New(function, nil).Error(err.Error())
		os.Exit(1)
	}
	return p
}

// invocation names an invocation's span: an HTTP API request's by its route
// (a server span), anything else by the function (a consumer's, a
// schedule's). The correlation ID is an API request's X-Correlation-Id when
// it is a plain bounded ID (plainID), else its API Gateway request ID.
func invocation(function string, in any) (string, []trace.SpanStartOption, string) {
	if r, ok := in.(*events.APIGatewayV2HTTPRequest); ok {
		route := cmp.Or(r.RouteKey, r.RequestContext.RouteKey, function)
		return route, []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.route", route), attribute.String("http.request.method", r.RequestContext.HTTP.Method))},
			cmp.Or(plainID(header(r.Headers, "x-correlation-id")), r.RequestContext.RequestID)
	}
	return function, []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}, ""
}

// continueCaller continues the trace of a caller's traceparent with the
// stage's sampling decision, not the caller's flag: any client could otherwise
// have every request sampled (the cost of X-Ray's spans) or none. The decision
// is the root sampler's on a random ID, not on the caller's trace ID, which a
// client chooses. A traceparent that does not parse starts a new trace.
func (p *Provider) continueCaller(ctx context.Context, tp string) context.Context {
	sc, err := tracing.ParseTraceparent(tp)
	if err != nil {
		return ctx
	}
	var id trace.TraceID
	binary.BigEndian.PutUint64(id[:8], rand.Uint64())
	binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	flags := sc.TraceFlags() &^ trace.FlagsSampled
	if p.root.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id}).Decision == sdktrace.RecordAndSample {
		flags |= trace.FlagsSampled
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc.WithTraceFlags(flags))
}

// maxCorrelationID bounds a caller's correlation ID (a UUID is 36 characters).
const maxCorrelationID = 64

// plainID is id when it is a plain bounded ID (letters, digits, '.', '_',
// '-'), else "": a caller's header is written on every log line of its
// request at INFO, where an e-mail address or kilobytes of text may not go.
func plainID(id string) string {
	if len(id) > maxCorrelationID {
		return ""
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return ""
		}
	}
	return id
}

// traceparentOf is the traceparent an HTTP API request carries (a browser's
// or a test's), "" for anything else.
func traceparentOf(in any) string {
	if r, ok := in.(*events.APIGatewayV2HTTPRequest); ok {
		return header(r.Headers, "traceparent")
	}
	return ""
}

func header(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// AWS is a config.LoadDefaultConfig option that gives every call of the
// clients built from the configuration its span ("DynamoDB.PutItem"), a child
// of the span in the call's context.
func AWS(o *config.LoadOptions) error {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("lambdatrace", awsSpan), middleware.After)
	})
	return nil
}

func awsSpan(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return next.HandleInitialize(ctx, in)
	}
	o := awsOperationOf(middleware.GetServiceID(ctx), middleware.GetOperationName(ctx))
	ctx, span := tracing.Start(ctx, o.name, o.opts...)
	out, md, err := next.HandleInitialize(ctx, in)
	tracing.End(span, err)
	return out, md, err
}

// awsOperation is the span name and start options of one operation of one
// service, built once: a call then allocates its span only, not its name and
// options again (the prices batch makes hundreds of calls).
type awsOperation struct {
	name string
	opts []trace.SpanStartOption
}

type awsOperationKey struct{ service, op string }

var awsOperations sync.Map // awsOperationKey → *awsOperation

func awsOperationOf(service, op string) *awsOperation {
	k := awsOperationKey{service, op}
	if o, ok := awsOperations.Load(k); ok {
		return o.(*awsOperation)
	}
	o, _ := awsOperations.LoadOrStore(k, &awsOperation{name: service + "." + op, opts: []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", service), attribute.String("rpc.method", op)),
	}})
	return o.(*awsOperation)
}

// httpClient is the exporter's client: plain, or signing with SigV4 for an
// X-Ray endpoint (xray.<region>.amazonaws.com).
func httpClient(ctx context.Context, endpoint string) (*http.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("lambdatrace: %s %q is not a URL", EndpointEnvVar, endpoint)
	}
	host := u.Hostname()
	if !strings.HasPrefix(host, "xray.") || !strings.HasSuffix(host, ".amazonaws.com") {
		return &http.Client{Timeout: flushTimeout}, nil
	}
	region := strings.TrimSuffix(strings.TrimPrefix(host, "xray."), ".amazonaws.com")
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("lambdatrace: AWS configuration: %w", err)
	}
	return &http.Client{Timeout: flushTimeout, Transport: &sigv4{next: http.DefaultTransport, creds: cfg.Credentials, region: region, signer: v4.NewSigner()}}, nil
}

// sigv4 signs each export request for X-Ray's OTLP endpoint.
type sigv4 struct {
	next   http.RoundTripper
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
}

func (s *sigv4) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		_ = r.Body.Close()
	}
	sum := sha256.Sum256(body)
	creds, err := s.creds.Retrieve(r.Context())
	if err != nil {
		return nil, fmt.Errorf("lambdatrace: credentials: %w", err)
	}
	signed := r.Clone(r.Context())
	signed.Body, signed.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	signed.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if err := s.signer.SignHTTP(r.Context(), creds, signed, hex.EncodeToString(sum[:]), "xray", s.region, time.Now()); err != nil {
		return nil, fmt.Errorf("lambdatrace: sign: %w", err)
	}
	return s.next.RoundTrip(signed)
}
