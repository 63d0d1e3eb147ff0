// Package logging builds the project's one log shape (docs/observability.md,
// "Logs"): JSON lines on stdout with time, level, msg, function, requestId,
// traceId and correlationId, whichever of the last three the context knows,
// then the record's own attributes. At INFO and above it never writes a token,
// an e-mail address or an IP address: attributes whose key names one are
// redacted, as are values that look like an e-mail address or a JWT and the
// addresses and JWTs inside a longer text, an error's (DEBUG keeps them, for a
// developer's local run).
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Keys of the shape's fields.
const (
	KeyFunction      = "function"
	KeyRequestID     = "requestId"
	KeyTraceID       = "traceId"
	KeyCorrelationID = "correlationId"
)

// Redacted replaces what may not be written at INFO.
const Redacted = "[redacted]"

type requestKey struct{}

type request struct{ id, correlation string }

// WithRequest returns ctx carrying the invocation's request ID (the Lambda
// request ID) and, when known, its correlation ID (the API request's, carried
// on to the events it causes), which every record logged with ctx carries.
func WithRequest(ctx context.Context, requestID, correlationID string) context.Context {
	return context.WithValue(ctx, requestKey{}, request{requestID, correlationID})
}

// WithCorrelation returns ctx with its correlation ID set to id (the request ID kept).
func WithCorrelation(ctx context.Context, id string) context.Context {
	r, _ := ctx.Value(requestKey{}).(request)
	r.correlation = id
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestID is the request ID ctx carries, "" when none.
func RequestID(ctx context.Context) string {
	r, _ := ctx.Value(requestKey{}).(request)
	return r.id
}

// New is function's logger on stdout at level (nil: INFO).
func New(function string, level slog.Leveler) *slog.Logger {
	return slog.New(NewHandler(os.Stdout, function, level))
}

// NewHandler is the shape's handler writing to w.
func NewHandler(w io.Writer, function string, level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	j := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return &handler{next: j.WithAttrs([]slog.Attr{slog.String(KeyFunction, function)})}
}

// handler adds the context's fields after the function's and redacts, at INFO
// and above, what may not be written there (attributes given With are
// redacted at every level: they are written at every level). A field of the
// shape a caller gives too (a logger With its own requestId) is written once:
// the context's value, else the caller's.
type handler struct {
	next    slog.Handler
	own     []slog.Attr // the shape's fields given With, written when the context lacks them
	grouped bool        // With attributes now go into a group, not beside the shape's
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	var attrs [3]slog.Attr
	n := 0
	if req, ok := ctx.Value(requestKey{}).(request); ok {
		if req.id != "" {
			attrs[n], n = slog.String(KeyRequestID, req.id), n+1
		}
		if req.correlation != "" {
			attrs[n], n = slog.String(KeyCorrelationID, req.correlation), n+1
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs[n], n = slog.String(KeyTraceID, sc.TraceID().String()), n+1
	}
	shape := attrs[:n]
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	for _, a := range h.own {
		if !hasKey(shape, a.Key) {
			shape = append(shape, a)
		}
	}
	out.AddAttrs(shape...)
	r.Attrs(func(a slog.Attr) bool {
		if !h.grouped && shapeKey(a.Key) {
			if hasKey(shape, a.Key) {
				return true
			}
			shape = append(shape, a)
		}
		if r.Level >= slog.LevelInfo {
			a = sanitize(a)
		}
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	next := *h
	next.own = slices.Clone(h.own)
	clean := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if !h.grouped && shapeKey(a.Key) {
			next.own = append(slices.DeleteFunc(next.own, func(o slog.Attr) bool { return o.Key == a.Key }), a)
			continue
		}
		clean = append(clean, sanitize(a))
	}
	next.next = h.next.WithAttrs(clean)
	return &next
}

func (h *handler) WithGroup(name string) slog.Handler {
	next := *h
	next.next, next.grouped = h.next.WithGroup(name), true
	return &next
}

// shapeKey: a field the handler writes from the context.
func shapeKey(k string) bool {
	return k == KeyRequestID || k == KeyTraceID || k == KeyCorrelationID
}

func hasKey(as []slog.Attr, k string) bool {
	return slices.ContainsFunc(as, func(a slog.Attr) bool { return a.Key == k })
}

// sanitize redacts an attribute that names or holds a secret or personal data.
func sanitize(a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = sanitize(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if v := a.Value.String(); sensitiveValue(v) {
			return slog.String(a.Key, Redacted)
		} else if r := redactWithin(v); r != v {
			return slog.String(a.Key, r)
		}
	case slog.KindAny:
		// An error is written as its text, which may quote what its cause was
		// given (a provider names the address it refused).
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, redactWithin(err.Error()))
		}
	}
	return a
}

var (
	emailWithin = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	jwtWithin   = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`)
)

// redactWithin replaces the e-mail addresses and JWTs inside a longer text
// (an error's), keeping the rest of it; the cheap test first, as most texts
// hold neither.
func redactWithin(v string) string {
	if strings.IndexByte(v, '@') >= 0 {
		v = emailWithin.ReplaceAllLiteralString(v, Redacted)
	}
	if strings.Contains(v, "eyJ") {
		v = jwtWithin.ReplaceAllLiteralString(v, Redacted)
	}
	return v
}

// sensitiveKey: a key naming a token, a secret, an e-mail or an IP address.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"token", "authorization", "password", "secret", "apikey", "api_key", "email", "e-mail",
		"ipaddress", "ip_address", "sourceip", "clientip", "remoteaddr", "forwarded"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return k == "ip"
}

// sensitiveValue: a string that looks like an e-mail address or a JWT.
func sensitiveValue(v string) bool {
	if at := strings.IndexByte(v, '@'); at > 0 && at < len(v)-3 && !strings.ContainsAny(v, " \t\n") && strings.Contains(v[at:], ".") {
		return true
	}
	return strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") == 2
}
