// Package lazy builds a Lambda's dependencies on its first invocation instead of
// at init: init stays near the ~40 ms of a bare Go function, the build gets the
// invocation's context and deadline, and a failed build (a secret not readable
// yet, a database restarting) is retried by the next invocation rather than
// killing the container.
package lazy

import (
	"context"
	"sync"
)

// Value is built once, on the first Get that succeeds.
type Value[T any] struct {
	build func(context.Context) (T, error)
	mu    sync.Mutex
	done  bool
	v     T
}

// New returns a Value built by build.
func New[T any](build func(context.Context) (T, error)) *Value[T] {
	return &Value[T]{build: build}
}

// Get returns the value, building it if no build has succeeded yet. Concurrent
// callers wait for one build.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return l.v, nil
	}
	v, err := l.build(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	l.v, l.done = v, true
	return v, nil
}
