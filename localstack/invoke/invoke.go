// Package invoke is the contract between the local stack's parts: the Lambda
// runtime (localstack/runtime) runs functions, and the gateways, event source
// mappings and schedules invoke them through Invoker, as AWS's front ends call
// Lambda's synchronous Invoke. Keeping it this small lets each part be tested with
// a plain Go function standing in for the runtime.
package invoke

import (
	"context"
	"errors"
	"fmt"
)

// Invoker runs a function by name with a JSON event and returns its JSON result.
//
// Errors: a *FunctionError when the function answered with an error or its
// process died during the invocation; an error wrapping ErrTimeout when it ran
// past its timeout (its instance is killed, as on AWS); ErrUnknownFunction; and
// ErrThrottled when every instance allowed by its concurrency is busy. Anything
// else is a failure of the local stack itself.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Func adapts a plain function to Invoker.
type Func func(ctx context.Context, function string, payload []byte) ([]byte, error)

// Invoke calls f.
func (f Func) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	return f(ctx, function, payload)
}

var (
	// ErrTimeout: the invocation ran past the function's timeout.
	ErrTimeout = errors.New("task timed out")
	// ErrUnknownFunction: no function of that name is registered.
	ErrUnknownFunction = errors.New("function not found")
	// ErrThrottled: the function's concurrency limit is reached.
	ErrThrottled = errors.New("rate exceeded: function concurrency limit reached")
)

// FunctionError is the error a function reported, in the shape of Lambda's
// Invoke response with X-Amz-Function-Error.
type FunctionError struct {
	Function string
	// Type is the runtime's errorType ("errorString", "Runtime.ExitError",
	// "Runtime.InitError", ...), Message its errorMessage.
	Type, Message string
	// Unhandled is true when the process crashed, failed its init or panicked
	// rather than returning an error (Lambda's "Unhandled").
	Unhandled bool
	// Payload is the error document as the runtime posted it, when there was one.
	Payload []byte
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function %s: %s: %s", e.Function, e.Type, e.Message)
}
