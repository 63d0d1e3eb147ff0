// Package tracing is the project's face of OpenTelemetry tracing (docs/observability.md,
// "Tracing"): the tracer every package starts its spans with, the W3C traceparent
// that carries a trace across the asynchronous hops (the traceparent attribute
// of an event item, the traceparent field of a Kinesis price record), the spans
// of a consumer's batch (one per batch, linked to a child of each record's
// traceparent), and the slog handler that writes the project's one log shape
// with the trace ID. It uses only the OpenTelemetry API (go.opentelemetry.io/otel/trace),
// which takes no net/http: the SDK half (the provider, the exporter, the sampler,
// the flush at the end of an invocation) is functions/edge/lambdatrace's, which
// installs its provider here with SetProvider. Until then every span is a no-op.
package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName names the tracer of the whole project.
const InstrumentationName = "github.com/portfoliotracker/tracker"

// AttrTraceparent is the name of the traceparent on an event item and in a
// Kinesis price record.
const AttrTraceparent = "traceparent"

type holder struct {
	tracer trace.Tracer
	on     bool // an SDK's provider: not the no-op one
}

var current atomic.Pointer[holder]

func init() { SetProvider(noop.NewTracerProvider()) }

// SetProvider makes tp the provider of every span started afterwards.
func SetProvider(tp trace.TracerProvider) {
	_, off := tp.(noop.TracerProvider)
	current.Store(&holder{tracer: tp.Tracer(InstrumentationName), on: !off})
}

// Tracer is the project's tracer (a no-op one until SetProvider).
func Tracer() trace.Tracer { return current.Load().tracer }

// Start starts a span named name, a child of the span in ctx.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, opts...)
}

// End ends span, recording err (if any) as its error status.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Quiet is ctx with the span in it kept as the parent of what starts under it
// but no longer recording, so that the calls made under it get no span of their
// own: the AWS SDK middleware (lambdatrace.AWS) and the PostgreSQL tracer start
// one only under a recording span. A phase of many alike calls (the prices
// batch's five hundred DynamoDB puts) is one span with their counts, instead of
// a span each; a span started explicitly under it (Start) is still recorded,
// and Traceparent still names the phase's span.
func Quiet(ctx context.Context) context.Context {
	return trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(ctx))
}

// TraceID is the trace ID of the span in ctx as 32 hex digits, "" when none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// Traceparent is the W3C traceparent of the span in ctx
// ("00-<trace ID>-<span ID>-<flags>"), "" when ctx carries no valid span: what
// a writer puts on an event item or a Kinesis record for its consumer to
// continue the trace.
func Traceparent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	var b [55]byte
	copy(b[:], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// ErrTraceparent is returned for a traceparent that is not W3C version 00's.
var ErrTraceparent = errors.New("tracing: not a W3C traceparent")

// ParseTraceparent reads a W3C traceparent as a remote span context: version
// 00 exactly, a later version by its first four fields (W3C's forward
// compatibility), lower-case hex, neither ID all zeros.
func ParseTraceparent(s string) (trace.SpanContext, error) {
	switch {
	case len(s) < 55, s[2] != '-', s[35] != '-', s[52] != '-', s[:2] == "ff", isUpperHex(s[:55]),
		len(s) > 55 && (s[:2] == "00" || s[55] != '-'):
		return trace.SpanContext{}, ErrTraceparent
	}
	var ver, flags [1]byte
	_, err0 := hex.Decode(ver[:], []byte(s[:2]))
	tid, err1 := trace.TraceIDFromHex(s[3:35])
	sid, err2 := trace.SpanIDFromHex(s[36:52])
	_, err3 := hex.Decode(flags[:], []byte(s[53:55]))
	if err0 != nil || err1 != nil || err2 != nil || err3 != nil {
		return trace.SpanContext{}, ErrTraceparent
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid,
		TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled, Remote: true}), nil
}

// ContextWithTraceparent is ctx with the traceparent's span as the remote
// parent of the spans started from it; ctx unchanged when tp is empty or not
// valid (a consumer never fails on a missing or bad traceparent: the trace
// starts anew).
func ContextWithTraceparent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	sc, err := ParseTraceparent(tp)
	if err != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// Batch is the spans of one batch of records a consumer processes together
// (a DynamoDB stream or Kinesis batch): the batch's span, a child of the
// invocation's, and for each producer span the records' traceparents name a
// record span, the child of that traceparent, so that the producer's trace
// continues through the consumer. Records that carry the same traceparent (the
// ticks one ingest run published, the events of one command) share their
// record span: one per producer, not one per record, keeps a batch of ten
// thousand ticks from one publisher at one span. A span has one parent, so the
// batch's span is linked to the record spans (and each record span to the
// batch's) instead.
type Batch struct {
	span    trace.Span
	ctx     context.Context
	records []trace.Span      // the record spans, one per distinct traceparent
	ctxs    []context.Context // the record spans' contexts (records[k]'s is ctxs[k])
	// spanOf is, by record index, 1 + the index of its record span in ctxs; 0:
	// none. Four bytes a record, not a context's sixteen: a prices batch has
	// ten thousand records and a handful of record spans.
	spanOf []int32
	last   int // the last record with a span, -1 when none
}

// StartBatch starts the spans of a batch named name of n records, record i
// carrying traceparent(i) ("" when it carries none); the records' spans are
// named name + " record". Work for the batch as a whole runs in Context();
// work for one record in Record(i). Without a provider it costs the batch's
// no-op span and calls traceparent never. The batch's span sampled out (the
// invocation's trace was), the records' spans are still started: each keeps
// its producer's sampling decision, so that a sampled trade's trace goes on
// through a consumer whose own invocation was not sampled.
func StartBatch(ctx context.Context, name string, n int, traceparent func(i int) string, attrs ...attribute.KeyValue) *Batch {
	b := &Batch{last: -1}
	b.ctx, b.span = Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(attrs, attribute.Int("messaging.batch.message_count", n))...))
	if !current.Load().on {
		return b
	}
	batchLink := trace.Link{SpanContext: b.span.SpanContext()}
	var (
		prevTP   string
		prevSpan int32 // 1 + the index of prevTP's record span; 0: none (or not valid)
		seen     map[string]int32
	)
	for i := range n {
		tp := traceparent(i)
		if tp == "" {
			continue
		}
		if tp != prevTP {
			var ok bool
			if prevSpan, ok = seen[tp]; !ok {
				prevSpan = b.startRecord(ctx, name, tp, batchLink)
				if seen == nil {
					seen = map[string]int32{}
				}
				seen[tp] = prevSpan
			}
			prevTP = tp
		}
		if prevSpan == 0 {
			continue // not a valid traceparent
		}
		if b.spanOf == nil {
			b.spanOf = make([]int32, n)
		}
		b.spanOf[i], b.last = prevSpan, i
	}
	return b
}

// startRecord starts the record span continuing tp, the child of the
// producer's span (not of the invocation's), keeps its context (the batch's
// values and deadline kept) and returns 1 + its index; 0 for a traceparent
// that does not parse.
func (b *Batch) startRecord(ctx context.Context, name, tp string, batchLink trace.Link) int32 {
	sc, err := ParseTraceparent(tp)
	if err != nil {
		return 0
	}
	_, span := Start(trace.ContextWithRemoteSpanContext(ctx, sc), name+" record",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(batchLink))
	b.records = append(b.records, span)
	b.ctxs = append(b.ctxs, trace.ContextWithSpan(b.ctx, span))
	b.span.AddLink(trace.Link{SpanContext: span.SpanContext()})
	return int32(len(b.ctxs))
}

// Context is the batch span's context, ctx's values kept.
func (b *Batch) Context() context.Context { return b.ctx }

// Record is the context of record i's span (the batch's when record i carries
// no traceparent), with the batch's values and deadline.
func (b *Batch) Record(i int) context.Context {
	if i >= 0 && i < len(b.spanOf) && b.spanOf[i] != 0 {
		return b.ctxs[b.spanOf[i]-1]
	}
	return b.ctx
}

// Last is the context of the batch's last record that carries a traceparent,
// else the batch's: where the work the batch causes as a whole (the pushes of
// a prices batch) is parented, a span having one parent.
func (b *Batch) Last() context.Context { return b.Record(b.last) }

// End ends the record spans and the batch's, recording err on the batch's.
func (b *Batch) End(err error) {
	for _, s := range b.records {
		s.End()
	}
	End(b.span, err)
}

// isUpperHex reports an upper-case hex digit, which W3C forbids.
func isUpperHex(s string) bool {
	for i := range len(s) {
		if s[i] >= 'A' && s[i] <= 'F' {
			return true
		}
	}
	return false
}
