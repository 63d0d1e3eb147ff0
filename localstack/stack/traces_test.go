package stack

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
)

// The functions' exporter's protobuf reaches the collector, which answers the trace
// as a tree with its links.
func TestCollectorTakesTheGoExportersSpans(t *testing.T) {
	store := newTraceStore()
	mux := http.NewServeMux()
	store.traceRoutes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	exp := lambdatrace.NewExporter(srv.URL+"/v1/traces", srv.Client())
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "api"))))
	tr := tp.Tracer("test")
	rootCtx, root := tr.Start(ctx, "POST /portfolios", trace.WithSpanKind(trace.SpanKindServer))
	_, other := tr.Start(ctx, "elsewhere")
	other.End()
	_, child := tr.Start(rootCtx, "eventstore append", trace.WithLinks(trace.Link{SpanContext: other.SpanContext()}))
	child.End()
	root.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(srv.URL + "/traces/" + root.SpanContext().TraceID().String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /traces/{id}: %d", resp.StatusCode)
	}
	tree, ok := store.tree(root.SpanContext().TraceID().String())
	if !ok || tree.Spans != 2 || len(tree.Roots) != 1 {
		t.Fatalf("tree %+v", tree)
	}
	r := tree.Roots[0]
	if r.Name != "POST /portfolios" || r.Service != "api" || r.Kind != "server" || len(r.Children) != 1 || r.ParentMissing {
		t.Fatalf("root %+v", r)
	}
	c := r.Children[0]
	if c.Name != "eventstore append" || c.ParentSpanID != r.SpanID || len(c.Links) != 1 || c.Links[0].SpanID != other.SpanContext().SpanID().String() {
		t.Errorf("child %+v", c)
	}
	var out bytes.Buffer
	PrintTree(&out, tree)
	if !strings.Contains(out.String(), "\n    eventstore append [api]") {
		t.Errorf("printed:\n%s", out.String())
	}
	if resp, _ := http.Get(srv.URL + "/traces/00000000000000000000000000000001"); resp.StatusCode != 404 {
		t.Errorf("unknown trace: %d, want 404", resp.StatusCode)
	}
}

// OTLP JSON (hex IDs, integers as strings) is taken too; a span whose parent
// was not collected is marked.
func TestCollectorTakesOTLPJSON(t *testing.T) {
	store := newTraceStore()
	mux := http.NewServeMux()
	store.traceRoutes(mux)
	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"prices"}}]},
	 "scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","parentSpanId":"1111111111111111",
	  "name":"prices batch record","kind":5,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000002000000",
	  "attributes":[{"key":"n","value":{"intValue":"3"}}],"status":{"code":2,"message":"boom"}}]}]}]}`
	req := httptest.NewRequest("POST", "/v1/traces", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	tree, ok := store.tree("4BF92F3577B34DA6A3CE929D0E0E4736")
	if !ok || len(tree.Roots) != 1 {
		t.Fatalf("tree %+v", tree)
	}
	s := tree.Roots[0]
	if !s.ParentMissing || s.Service != "prices" || s.Kind != "consumer" || s.DurationMs != 2 || s.Status != "ERROR: boom" || s.Attributes["n"] != int64(3) {
		t.Errorf("span %+v", s)
	}
	bad := httptest.NewRequest("POST", "/v1/traces", strings.NewReader("not protobuf \xff"))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, bad)
	if rec.Code != 400 {
		t.Errorf("garbage: %d, want 400", rec.Code)
	}
}
