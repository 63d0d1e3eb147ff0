package readmodel

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// queryTracer gives each query and each batch of queries a span
// ("postgres SELECT"), the child of the span in the query's context; a query
// outside a recorded span (a sampled-out trace, tracing off) costs one check.
// The statement's text goes on the span (its first queryTextMax bytes, cut
// to valid UTF-8: the exporter's protobuf refuses anything else): the values
// are bound parameters, never on it.
type queryTracer struct{}

const queryTextMax = 256

var dbSystem = attribute.String("db.system.name", "postgresql")

func startQuery(ctx context.Context, sql string) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	op := operation(sql)
	ctx, _ = tracing.Start(ctx, "postgres "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(dbSystem, attribute.String("db.operation.name", op), attribute.String("db.query.text", queryText(sql))))
	return ctx
}

// queryText is the statement's first queryTextMax bytes, valid UTF-8 (a copy
// only when the cut split a character).
func queryText(sql string) string {
	if sql = sql[:min(len(sql), queryTextMax)]; utf8.ValidString(sql) {
		return sql
	}
	return strings.ToValidUTF8(sql, "")
}

func endQuery(ctx context.Context, err error) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		tracing.End(span, err)
	}
}

// operation is the statement's first keyword, upper-case ("SELECT", "WITH").
func operation(sql string) string {
	sql = strings.TrimLeft(sql, " \t\r\n(")
	end := strings.IndexAny(sql, " \t\r\n(;")
	if end < 0 {
		end = len(sql)
	}
	return strings.ToUpper(sql[:min(end, 16)])
}

func (queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return startQuery(ctx, d.SQL)
}

func (queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	endQuery(ctx, d.Err)
}

func (queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	ctx, _ = tracing.Start(ctx, "postgres BATCH", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(dbSystem, attribute.String("db.operation.name", "BATCH"), attribute.Int("db.operation.batch.size", d.Batch.Len())))
	return ctx
}

func (queryTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	endQuery(ctx, d.Err)
}
