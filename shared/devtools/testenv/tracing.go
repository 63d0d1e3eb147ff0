package testenv

import (
	"context"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// The tracing of the hot paths' benchmarks (BENCHMARKS.md, "Tracing
// overhead"): with PT_BENCH_TRACING=1 every span is sampled and exported, in
// batches as in a function, to an exporter that discards it — the cost of the
// instrumentation, not of a network.
var benchTracing = settings.New("testenv", []settings.Setting{
	{Name: "PT_BENCH_TRACING", Meaning: "1: trace the tests and benchmarks (every span sampled, into an exporter that discards them)"},
})

var tracingProvider = sync.OnceValue(func() *lambdatrace.Provider {
	if benchTracing.String("PT_BENCH_TRACING") != "1" {
		return nil
	}
	return lambdatrace.Install("bench", sdktrace.NewBatchSpanProcessor(discardSpans{}), sdktrace.AlwaysSample())
})

// Tracing is the provider PT_BENCH_TRACING=1 installs (nil: tracing off), for
// lambdatrace.Wrap.
func Tracing() *lambdatrace.Provider { return tracingProvider() }

// Invocation starts what a function's invocation would (lambdatrace.Wrap): its
// span, ended, and the provider flushed, by the returned func. Nothing when
// tracing is off.
func Invocation(ctx context.Context, name string) (context.Context, func()) {
	p := Tracing()
	if p == nil {
		return ctx, func() {}
	}
	ctx, span := tracing.Start(ctx, name)
	return ctx, func() {
		span.End()
		_ = p.Flush(context.WithoutCancel(ctx))
	}
}

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
