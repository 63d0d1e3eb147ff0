package tracing_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

func recorder(t *testing.T) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tracing.SetProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	return rec
}

func TestTraceparentRoundTrip(t *testing.T) {
	recorder(t)
	ctx, span := tracing.Start(context.Background(), "producer")
	defer span.End()
	tp := tracing.Traceparent(ctx)
	sc, err := tracing.ParseTraceparent(tp)
	if err != nil {
		t.Fatalf("ParseTraceparent(%q): %v", tp, err)
	}
	if sc.TraceID() != span.SpanContext().TraceID() || sc.SpanID() != span.SpanContext().SpanID() || !sc.IsSampled() || !sc.IsRemote() {
		t.Errorf("%q read back as %v, want the span's %v", tp, sc, span.SpanContext())
	}
	if got := tracing.Traceparent(context.Background()); got != "" {
		t.Errorf("Traceparent without a span = %q, want empty", got)
	}
}

func TestParseTraceparentRefusesWhatW3CRefuses(t *testing.T) {
	good := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if _, err := tracing.ParseTraceparent(good); err != nil {
		t.Fatalf("%q: %v", good, err)
	}
	if _, err := tracing.ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"); err != nil {
		t.Errorf("a later version's extra fields: %v", err)
	}
	for _, bad := range []string{"", "garbage", good + "-x", "ff" + good[2:], "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"} {
		if _, err := tracing.ParseTraceparent(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	ctx := tracing.ContextWithTraceparent(context.Background(), "garbage")
	if trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("a bad traceparent gave the context a span")
	}
}

// A batch span is the child of the invocation's, each producer's record span
// the child of the producer's span (one for the records sharing it), and the
// two are linked both ways.
func TestBatchParentsRecordsOnTheirProducers(t *testing.T) {
	rec := recorder(t)
	prodCtx, producer := tracing.Start(context.Background(), "producer")
	tp := tracing.Traceparent(prodCtx)
	producer.End()
	invCtx, inv := tracing.Start(context.Background(), "invocation")
	tps := []string{"", tp, "bad", tp, "bad"}
	b := tracing.StartBatch(invCtx, "projector batch", len(tps), func(i int) string { return tps[i] })
	if trace.SpanFromContext(b.Record(0)) != trace.SpanFromContext(b.Context()) || trace.SpanFromContext(b.Record(2)) != trace.SpanFromContext(b.Context()) {
		t.Error("a record without a (valid) traceparent does not run in the batch's span")
	}
	if trace.SpanFromContext(b.Record(1)) != trace.SpanFromContext(b.Record(3)) || trace.SpanFromContext(b.Record(1)) == trace.SpanFromContext(b.Context()) {
		t.Error("two records of one producer span do not share their record span")
	}
	_, work := tracing.Start(b.Last(), "push")
	work.End()
	b.End(nil)
	inv.End()

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if spans[s.Name()] != nil {
			t.Errorf("two spans named %s", s.Name())
		}
		spans[s.Name()] = s
	}
	batch, record, push := spans["projector batch"], spans["projector batch record"], spans["push"]
	if batch == nil || record == nil || push == nil {
		t.Fatalf("spans %v", spans)
	}
	if batch.Parent().SpanID() != inv.SpanContext().SpanID() {
		t.Errorf("batch parent %v, want the invocation", batch.Parent())
	}
	if record.Parent().SpanID() != producer.SpanContext().SpanID() || record.SpanContext().TraceID() != producer.SpanContext().TraceID() {
		t.Errorf("record parent %v, want the producer %v", record.Parent(), producer.SpanContext())
	}
	if push.Parent().SpanID() != record.SpanContext().SpanID() {
		t.Errorf("push parent %v, want the record's span", push.Parent())
	}
	if l := batch.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != record.SpanContext().SpanID() {
		t.Errorf("batch links %v, want the record span", l)
	}
	if l := record.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != batch.SpanContext().SpanID() {
		t.Errorf("record links %v, want the batch span", l)
	}
}

// A consumer's own invocation sampled out (prod samples a tenth of the traces
// it starts) still continues a sampled producer's trace: the record span keeps
// the producer's decision, or nine in ten sampled trades would stop at the stream.
func TestBatchContinuesASampledProducerWhenTheInvocationIsNot(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracing.SetProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample()))))
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	producer := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	invCtx, inv := tracing.Start(context.Background(), "invocation")
	if inv.IsRecording() {
		t.Fatal("the invocation is sampled; the test needs it not to be")
	}
	tps := []string{producer, "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-00"}
	b := tracing.StartBatch(invCtx, "projector batch", len(tps), func(i int) string { return tps[i] })
	_, work := tracing.Start(b.Record(0), "work")
	work.End()
	b.End(nil)
	inv.End()
	var record, child sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "projector batch record":
			if record != nil {
				t.Errorf("two record spans recorded: the sampled-out producer's is too")
			}
			record = s
		case "work":
			child = s
		default:
			t.Errorf("span %s recorded: not sampled", s.Name())
		}
	}
	if record == nil || child == nil {
		t.Fatalf("the sampled producer's trace stops at the batch: record %v, work %v", record, child)
	}
	if record.Parent().SpanID().String() != "00f067aa0ba902b7" || child.Parent().SpanID() != record.SpanContext().SpanID() {
		t.Errorf("record parent %v, work parent %v: want the producer, then the record", record.Parent(), child.Parent())
	}
}

// Under Quiet the calls' own spans (which start only under a recording span)
// are skipped, while the phase's span stays the parent of what is started
// explicitly and the traceparent written.
func TestQuietKeepsTheParentButStopsRecording(t *testing.T) {
	rec := recorder(t)
	ctx, phase := tracing.Start(context.Background(), "phase")
	quiet := tracing.Quiet(ctx)
	if trace.SpanFromContext(quiet).IsRecording() {
		t.Error("the quiet context's span records: the SDK calls under it would get spans")
	}
	if tracing.Traceparent(quiet) != tracing.Traceparent(ctx) {
		t.Errorf("traceparent %q under Quiet, want the phase's %q", tracing.Traceparent(quiet), tracing.Traceparent(ctx))
	}
	_, child := tracing.Start(quiet, "explicit")
	child.End()
	phase.End()
	ended := rec.Ended()
	if len(ended) != 2 || ended[0].Name() != "explicit" || ended[0].Parent().SpanID() != phase.SpanContext().SpanID() {
		t.Fatalf("spans %v: want the explicit child of the phase, then the phase", ended)
	}
}
