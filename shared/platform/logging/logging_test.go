package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/platform/logging"
)

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func TestShapeCarriesFunctionRequestTraceAndCorrelation(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(&buf, "prices", nil))
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	ctx = logging.WithRequest(ctx, "req-1", "corr-1")
	log.InfoContext(ctx, "batch", "records", 3)
	m := decode(t, buf.Bytes())
	want := map[string]any{"level": "INFO", "msg": "batch", "function": "prices", "requestId": "req-1",
		"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "correlationId": "corr-1", "records": float64(3)}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], v, buf.Bytes())
		}
	}
	buf.Reset()
	log.Info("no context")
	if m := decode(t, buf.Bytes()); m["requestId"] != nil || m["traceId"] != nil || m["function"] != "prices" {
		t.Errorf("without a context: %s", buf.Bytes())
	}
}

func TestNoTokenEmailOrIPAtInfo(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(&buf, "api", slog.LevelDebug))
	jwt := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	attrs := []any{"token", "abc", "Authorization", "Bearer x", "userEmail", "a@b.example", "sourceIp", "192.0.2.1",
		"note", "alice@example.test", "raw", jwt, slog.Group("req", "accessToken", "t"), "symbol", "AAPL"}
	log.Info("info", attrs...)
	m := decode(t, buf.Bytes())
	for _, k := range []string{"token", "Authorization", "userEmail", "sourceIp", "note", "raw"} {
		if m[k] != logging.Redacted {
			t.Errorf("INFO %s = %v, want redacted", k, m[k])
		}
	}
	if g, _ := m["req"].(map[string]any); g["accessToken"] != logging.Redacted {
		t.Errorf("INFO group req = %v, want its token redacted", m["req"])
	}
	if m["symbol"] != "AAPL" {
		t.Errorf("symbol = %v, want AAPL kept", m["symbol"])
	}
	buf.Reset()
	// An error's text carries what its provider put in it (SES names the
	// address it refused): the address and the token go, the rest stays.
	sesErr := errors.New("MessageRejected: Email address is not verified: bob@example.test")
	log.Warn("notification not sent", "error", sesErr.Error(), "err", sesErr, "reason", "bad token "+jwt+" for carol@example.test.")
	m = decode(t, buf.Bytes())
	for k, want := range map[string]string{"error": "MessageRejected: Email address is not verified: " + logging.Redacted,
		"err":    "MessageRejected: Email address is not verified: " + logging.Redacted,
		"reason": "bad token " + logging.Redacted + " for " + logging.Redacted + "."} {
		if m[k] != want {
			t.Errorf("WARN %s = %v, want %q", k, m[k], want)
		}
	}
	buf.Reset()
	log.Debug("debug", "note", "alice@example.test")
	if m := decode(t, buf.Bytes()); m["note"] != "alice@example.test" {
		t.Errorf("DEBUG note = %v, want it kept", m["note"])
	}
}

// A field of the shape given again by the caller (a logger With its own
// requestId, as the authorizer's and the API's were) is written once: the
// context's value wins, the caller's stands in when the context has none.
func TestTheShapesFieldsAreWrittenOnce(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logging.NewHandler(&buf, "api", nil)).With("requestId", "from-with")
	log.InfoContext(logging.WithRequest(context.Background(), "req-1", ""), "refused", "requestId", "from-record", "status", 400)
	if n := bytes.Count(buf.Bytes(), []byte(`"requestId":`)); n != 1 || decode(t, buf.Bytes())["requestId"] != "req-1" {
		t.Errorf("%d requestIds in %s, want one, the context's", n, buf.Bytes())
	}
	buf.Reset()
	log.Info("no context")
	if n := bytes.Count(buf.Bytes(), []byte(`"requestId":`)); n != 1 || decode(t, buf.Bytes())["requestId"] != "from-with" {
		t.Errorf("%d requestIds in %s, want the logger's", n, buf.Bytes())
	}
}
