package lambdatrace_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
)

// A span in OTLP's form keeps its IDs, parent, kind, times, attributes, links
// and error status, under its resource and scope.
func TestTracesDataKeepsWhatASpanSays(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "prices"))))
	tr := tp.Tracer("scope")
	ctx, parent := tr.Start(context.Background(), "parent")
	_, other := tr.Start(context.Background(), "other")
	_, child := tr.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(trace.Link{SpanContext: other.SpanContext()}),
		trace.WithAttributes(attribute.Int("n", 3), attribute.Bool("b", true), attribute.StringSlice("s", []string{"x"})))
	child.RecordError(errors.New("boom"))
	child.SetStatus(codes.Error, "boom")
	child.End()
	other.End()
	parent.End()

	data := lambdatrace.TracesData(exp.GetSpans().Snapshots())
	if len(data.ResourceSpans) != 1 || len(data.ResourceSpans[0].ScopeSpans) != 1 {
		t.Fatalf("%d resources", len(data.ResourceSpans))
	}
	rs := data.ResourceSpans[0]
	if kv := rs.Resource.Attributes; len(kv) != 1 || kv[0].Key != "service.name" || kv[0].Value.GetStringValue() != "prices" {
		t.Errorf("resource %v", kv)
	}
	ss := rs.ScopeSpans[0]
	if ss.Scope.Name != "scope" || len(ss.Spans) != 3 {
		t.Fatalf("scope %v, %d spans", ss.Scope, len(ss.Spans))
	}
	c := ss.Spans[0]
	psid, osid, ctid := parent.SpanContext().SpanID(), other.SpanContext().SpanID(), child.SpanContext().TraceID()
	if c.Name != "child" || c.Kind != tracepb.Span_SPAN_KIND_CONSUMER || string(c.ParentSpanId) != string(psid[:]) || string(c.TraceId) != string(ctid[:]) ||
		c.EndTimeUnixNano < c.StartTimeUnixNano || c.StartTimeUnixNano == 0 {
		t.Errorf("child %v", c)
	}
	if c.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || c.Status.GetMessage() != "boom" || len(c.Events) != 1 {
		t.Errorf("status %v, events %v", c.Status, c.Events)
	}
	if len(c.Links) != 1 || string(c.Links[0].SpanId) != string(osid[:]) {
		t.Errorf("links %v", c.Links)
	}
	attrs := map[string]string{}
	for _, kv := range c.Attributes {
		attrs[kv.Key] = kv.Value.String()
	}
	if len(attrs) != 3 || c.Attributes[0].Value.GetIntValue() != 3 || !c.Attributes[1].Value.GetBoolValue() ||
		c.Attributes[2].Value.GetArrayValue().GetValues()[0].GetStringValue() != "x" {
		t.Errorf("attributes %v", c.Attributes)
	}
	if ss.Spans[2].ParentSpanId != nil {
		t.Errorf("root span has parent %x", ss.Spans[2].ParentSpanId)
	}
}
