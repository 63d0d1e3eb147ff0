package gateway_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/functions/edge/lambdaauth"
	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

// lambda stands in for the runtime: named handlers behind invoke.Func, each
// call counted.
type lambda struct {
	mu    sync.Mutex
	fns   map[string]func(context.Context, []byte) ([]byte, error)
	calls map[string]int
}

func newLambda() *lambda {
	return &lambda{fns: map[string]func(context.Context, []byte) ([]byte, error){}, calls: map[string]int{}}
}

func (l *lambda) set(name string, fn func(context.Context, []byte) ([]byte, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fns[name] = fn
}

func (l *lambda) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[name]
}

func (l *lambda) invoker() invoke.Invoker {
	return invoke.Func(func(ctx context.Context, name string, payload []byte) ([]byte, error) {
		l.mu.Lock()
		fn, ok := l.fns[name]
		l.calls[name]++
		l.mu.Unlock()
		if !ok {
			return nil, invoke.ErrUnknownFunction
		}
		return fn(ctx, payload)
	})
}

// handler runs a typed Go handler the way the Lambda runtime does: the event is
// decoded from the JSON payload, the result encoded to JSON, and a returned
// error becomes a function error.
func handler[E, R any](name string, fn func(context.Context, E) (R, error)) func(context.Context, []byte) ([]byte, error) {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev E
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, &invoke.FunctionError{Function: name, Type: "Runtime.UnmarshalError", Message: err.Error()}
		}
		out, err := fn(ctx, ev)
		if err != nil {
			return nil, &invoke.FunctionError{Function: name, Type: "errorString", Message: err.Error()}
		}
		return json.Marshal(out)
	}
}

// realAuthorizer is the project's authorizer handler with a tokenissuer.
func realAuthorizer(t testing.TB) (*tokenissuer.Issuer, func(context.Context, []byte) ([]byte, error)) {
	t.Helper()
	iss, err := tokenissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	cfg := iss.Config()
	// Short, so a test can watch the authorizer recover from a JWKS outage.
	cfg.MinRefreshInterval = 10 * time.Millisecond
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := lambdaauth.New(v, nil)
	return iss, handler("authorizer", h.Handle)
}

// expiredToken mints a token that expired an hour ago.
func expiredToken() tokenissuer.Option {
	return tokenissuer.WithIssuedAt(time.Now().Add(-2 * time.Hour))
}
