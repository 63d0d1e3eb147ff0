package tracing_test

import (
	"context"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkStartBatch10k is the prices consumer's tracing of a 10,000-tick
// batch (StartBatch and End), every span sampled into a discarding exporter:
// from one publisher span (an ingest run), and from 100 (a worst case).
//
//	go test -run '^$' -bench StartBatch -benchmem -cpu 1 ./shared/platform/tracing/
func BenchmarkStartBatch10k(b *testing.B) {
	for _, producers := range []int{1, 100} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			tracing.SetProvider(tp)
			defer tracing.SetProvider(noop.NewTracerProvider())
			tps := make([]string, producers)
			for i := range tps {
				ctx, span := tracing.Start(context.Background(), "publisher")
				tps[i] = tracing.Traceparent(ctx)
				span.End()
			}
			for b.Loop() {
				batch := tracing.StartBatch(context.Background(), "prices batch", 10000, func(i int) string { return tps[i%producers] })
				_ = batch.Last()
				batch.End(nil)
			}
		})
	}
}
