package readmodel_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// A query and a batch made in a traced context get their spans under the
// caller's, with the statement's text; a query outside any span gets none.
func TestQueriesGetSpansUnderTheCallersSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracing.SetProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { tracing.SetProvider(noop.NewTracerProvider()) })
	pool, _ := rmtest.DB(t)

	ctx, parent := tracing.Start(context.Background(), "invocation")
	var n int
	if err := pool.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT 2")
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SELECT no_such_column FROM pg_class"); err == nil {
		t.Fatal("a bad statement succeeded")
	}
	if err := pool.QueryRow(context.Background(), "SELECT 3").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// A query of a phase summarised by its own span (tracing.Quiet) gets none.
	if err := pool.QueryRow(tracing.Quiet(ctx), "SELECT 4").Scan(&n); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var got []string
	for _, s := range rec.Ended() {
		if s.Name() == "invocation" {
			continue
		}
		got = append(got, s.Name())
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s: parent %v, want the caller's span", s.Name(), s.Parent())
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		switch {
		case s.Name() == "postgres BATCH" && attrs["db.operation.batch.size"] != "2":
			t.Errorf("batch span attributes %v", attrs)
		case s.Name() == "postgres SELECT" && attrs["db.query.text"] == "SELECT 3":
			t.Error("a query outside any span was traced")
		case s.Name() == "postgres SELECT" && attrs["db.query.text"] == "SELECT 4":
			t.Error("a query under Quiet was traced")
		}
	}
	want := []string{"postgres SELECT", "postgres BATCH", "postgres SELECT"}
	if len(got) != len(want) {
		t.Fatalf("spans %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("spans %v, want %v", got, want)
		}
	}
	if last := rec.Ended()[2]; last.Status().Code.String() != "Error" {
		t.Errorf("the failed statement's span has status %v, want Error", last.Status())
	}
}
