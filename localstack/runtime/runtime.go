// Package runtime runs Lambda functions locally: each function's real bootstrap
// binary is started as a process behind a local implementation of the Lambda
// Runtime API (2018-06-01), so a function's main.go, aws-lambda-go's
// lambda.Start and its environment-variable configuration run exactly as they
// do on AWS.
//
// The model follows Lambda's: one instance is one process handling one
// invocation at a time; an invocation takes an idle instance or cold-starts a
// new one up to the function's concurrency; a timeout, a crash or a failed init
// kills the instance, and the next invocation gets a fresh one. Each instance
// has its own loopback listener, so every Runtime API request identifies its
// process without bookkeeping, and a timeout knows which process to kill.
//
// A handler's returned error is handled (FunctionError.Unhandled false). A panic
// is posted to the same /error endpoint, and aws-lambda-go then exits; so the
// result of an /error post is given when the instance next asks for an event
// (handled) or exits (unhandled). One deliberate difference from AWS: an
// instance that has posted its result but not yet asked for the next event is
// waited for rather than replaced by a cold start, so that sequential calls
// reuse one warm instance.
//
// Throttling: by default an invocation that finds every instance busy waits for
// one (as long as its context allows) instead of failing with
// invoke.ErrThrottled. Locally that is what callers want: a stream poller or a
// test would only retry. Function.ThrottleWhenBusy turns on AWS's behaviour for
// synchronous invokes.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

const (
	// MaxResponseSize is the largest response payload Lambda returns from a
	// synchronous invocation: 6 MiB plus the 100 bytes AWS measurably allows.
	MaxResponseSize = 6*1024*1024 + 100
	// MaxRequestSize is the largest synchronous invocation payload.
	MaxRequestSize = 6 * 1024 * 1024

	defaultTimeout        = 3 * time.Second
	defaultInitTimeout    = 10 * time.Second
	defaultMemoryMB       = 128
	defaultMaxConcurrency = 10
	defaultRegion         = "us-east-1"
	// localAccount is the account ID in local ARNs (LocalStack uses the same).
	localAccount = "000000000000"
	// closeGrace is how long Close waits after SIGTERM before SIGKILL.
	closeGrace = time.Second
)

var (
	// ErrClosed is returned by every call made after Close, and by invocations
	// cut short by it.
	ErrClosed = errors.New("lambda runtime closed")
	// ErrRequestTooLarge: the invocation payload exceeds MaxRequestSize.
	ErrRequestTooLarge = errors.New("request payload exceeds the 6 MB invocation limit")
)

// Function is one Lambda function as the local runtime runs it.
type Function struct {
	Name string
	// Binary is the path of the function's bootstrap executable, built for the host.
	Binary string
	// Env holds KEY=VALUE pairs added to a minimal base environment (PATH, HOME,
	// TZ, LANG, region and placeholder credentials). The runtime sets Lambda's
	// reserved variables itself and they win over Env, except AWS_REGION,
	// AWS_DEFAULT_REGION and the credentials, which Env may set.
	Env []string
	// Timeout is the limit per invocation; 0 means AWS's default of 3 s.
	Timeout time.Duration
	// InitTimeout limits the init phase (start until the first /next); 0 means
	// AWS's 10 s.
	InitTimeout time.Duration
	// MemoryMB is reported to the function (AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
	// it is not enforced. 0 means 128.
	MemoryMB int
	// MaxConcurrency caps the instances alive at once (reserved concurrency);
	// 0 means 10.
	MaxConcurrency int
	// ThrottleWhenBusy makes Invoke fail with invoke.ErrThrottled when every
	// allowed instance is busy, as AWS's synchronous Invoke does, instead of
	// waiting for one.
	ThrottleWhenBusy bool
	// Dir is the working directory; default the binary's folder.
	Dir string
	// Output receives every instance's stdout and stderr, line by line, each
	// line prefixed with "[name#n] " (n numbers the function's instances). Nil
	// discards them.
	Output io.Writer
}

// Stats counts what happened to one function since it was registered.
type Stats struct {
	Instances   int // processes alive now: starting, idle or busy
	Idle        int // of which idle
	Invocations int64
	Errors      int64 // invocations that ended in a *invoke.FunctionError
	Timeouts    int64
	ColdStarts  int64 // processes started
	InitErrors  int64
	Throttles   int64
}

// Runtime runs registered functions. Its methods are safe for concurrent use.
type Runtime struct {
	logger *slog.Logger

	// outMu serialises writes to the functions' Output writers, which are often
	// one shared writer (os.Stderr) fed by many instances.
	outMu sync.Mutex

	mu     sync.Mutex
	funcs  map[string]*function
	closed bool
	done   chan struct{}
	// procs counts processes started and not yet reaped, so Close can wait for
	// all of them, including one started while Close runs.
	procs sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New returns an empty Runtime. A nil logger discards logs.
func New(logger *slog.Logger) *Runtime {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{logger: logger, funcs: map[string]*function{}, done: make(chan struct{})}
}

// Register adds a function. Its binary must exist and be executable; nothing is
// started until the first Invoke or Warm.
func (r *Runtime) Register(f Function) error {
	if f.Name == "" || strings.ContainsAny(f.Name, " /:") {
		return fmt.Errorf("register function %q: invalid name", f.Name)
	}
	if f.Timeout < 0 || f.InitTimeout < 0 || f.MemoryMB < 0 || f.MaxConcurrency < 0 {
		return fmt.Errorf("register function %s: negative limit", f.Name)
	}
	bin, err := filepath.Abs(f.Binary)
	if err != nil {
		return fmt.Errorf("register function %s: %w", f.Name, err)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("register function %s: %w", f.Name, err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("register function %s: %s is not an executable file", f.Name, bin)
	}
	f.Binary = bin
	if f.Timeout == 0 {
		f.Timeout = defaultTimeout
	}
	if f.InitTimeout == 0 {
		f.InitTimeout = defaultInitTimeout
	}
	if f.MemoryMB == 0 {
		f.MemoryMB = defaultMemoryMB
	}
	if f.MaxConcurrency == 0 {
		f.MaxConcurrency = defaultMaxConcurrency
	}
	if f.Dir == "" {
		f.Dir = filepath.Dir(bin)
	}
	fn := newFunction(r, f)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("register function %s: %w", f.Name, ErrClosed)
	}
	if _, ok := r.funcs[f.Name]; ok {
		return fmt.Errorf("register function %s: already registered", f.Name)
	}
	r.funcs[f.Name] = fn
	return nil
}

func (r *Runtime) function(name string) (*function, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("function %s: %w", name, ErrClosed)
	}
	f, ok := r.funcs[name]
	if !ok {
		return nil, fmt.Errorf("function %s: %w", name, invoke.ErrUnknownFunction)
	}
	return f, nil
}

// Invoke runs one invocation synchronously and returns the function's response
// payload. It implements invoke.Invoker; see there for the errors. When ctx
// ends first, Invoke returns ctx's error but the invocation carries on to its
// end or its timeout, as a Lambda invocation does when its caller hangs up.
func (r *Runtime) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	f, err := r.function(function)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	if len(payload) > MaxRequestSize {
		return nil, fmt.Errorf("invoke %s: %w (%d bytes)", function, ErrRequestTooLarge, len(payload))
	}
	for {
		inst, err := f.acquire(ctx)
		if err != nil {
			var fe *invoke.FunctionError
			if errors.As(err, &fe) {
				f.stats.errors.Add(1)
			}
			return nil, err
		}
		res := inst.invoke(ctx, payload)
		if res.retry {
			// The instance died before it took the event: nothing ran, so
			// another instance may run it.
			continue
		}
		return res.payload, res.err
	}
}

// Warm starts one instance of the function and waits until its init is done
// (its first /next), then leaves it idle. It returns the init error, if any. It
// does nothing when the function already has MaxConcurrency instances.
func (r *Runtime) Warm(ctx context.Context, function string) error {
	f, err := r.function(function)
	if err != nil {
		return err
	}
	if !f.reserveSlot() {
		return nil
	}
	inst, err := f.start(ctx)
	if err != nil {
		return err
	}
	f.release(inst)
	return nil
}

// Kill sends SIGKILL to every live instance of the function, busy or not, and
// returns how many it signalled. Invocations in flight end with an Unhandled
// Runtime.ExitError; the next invocation cold-starts.
func (r *Runtime) Kill(function string) int {
	return r.killEach(function, (*instance).kill)
}

// KillBusy sends SIGKILL to the instances of the function that are running an
// invocation: the process took the event from /next and the runtime has no
// result from it yet. It returns how many it signalled; idle and starting
// instances are left alone. Fault-injection tests use it to kill a function
// mid-batch rather than between batches: a result posted after the check is
// still the invocation's (it was complete before the process died), and the
// rest end with an Unhandled Runtime.ExitError, as with Kill.
func (r *Runtime) KillBusy(function string) int {
	return r.killEach(function, (*instance).killIfBusy)
}

// killEach applies kill to every live instance of the function and counts those
// it signalled.
func (r *Runtime) killEach(function string, kill func(*instance) bool) int {
	r.mu.Lock()
	f := r.funcs[function]
	r.mu.Unlock()
	if f == nil {
		return 0
	}
	n := 0
	for _, inst := range f.liveInstances() {
		if kill(inst) {
			n++
		}
	}
	return n
}

// Stats returns the function's counters; the zero Stats for an unknown name.
func (r *Runtime) Stats(function string) Stats {
	r.mu.Lock()
	f := r.funcs[function]
	r.mu.Unlock()
	if f == nil {
		return Stats{}
	}
	return f.snapshot()
}

// Close stops every instance: SIGTERM to each process group, SIGKILL to what is
// left after a grace period, then it waits until every process is reaped and its
// output copied. Later calls return the first call's result.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.close() })
	return r.closeErr
}

func (r *Runtime) close() error {
	r.mu.Lock()
	r.closed = true
	close(r.done)
	funcs := make([]*function, 0, len(r.funcs))
	for _, f := range r.funcs {
		funcs = append(funcs, f)
	}
	r.mu.Unlock()

	all := func() []*instance {
		var out []*instance
		for _, f := range funcs {
			out = append(out, f.liveInstances()...)
		}
		return out
	}
	insts := all()
	for _, inst := range insts {
		inst.terminate()
	}
	grace := time.After(closeGrace)
wait:
	for _, inst := range insts {
		select {
		case <-inst.exited:
		case <-grace:
			break wait
		}
	}
	for _, inst := range all() {
		inst.kill()
	}
	r.procs.Wait()

	// Output goroutines end when the last writer of a pipe is gone; a
	// grandchild that left the process group could hold it open, so bound the wait.
	outputs := time.NewTimer(closeGrace)
	defer outputs.Stop()
	for _, inst := range insts {
		select {
		case <-inst.outputDone:
		case <-outputs.C:
			return fmt.Errorf("close lambda runtime: output of %s still open after its process exited", inst.label)
		}
	}
	return nil
}

// baseEnv is the environment every instance of f starts with, apart from the
// per-instance AWS_LAMBDA_RUNTIME_API and log stream name. Later entries win
// (os/exec keeps the last value of a duplicated key).
func baseEnv(f Function) (env []string, region string) {
	region = defaultRegion
	for _, kv := range f.Env {
		if v, ok := strings.CutPrefix(kv, "AWS_REGION="); ok && v != "" {
			region = v
		}
	}
	env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		// A neutral HOME keeps the developer's ~/.aws config and credentials
		// out of the functions, as on AWS.
		"HOME=" + os.TempDir(),
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		// Placeholder credentials: the SDK needs some to sign requests to the
		// local emulators, and without them it would probe instance metadata.
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
	}
	for _, kv := range f.Env {
		// AWS_LAMBDA_MAX_CONCURRENCY would make aws-lambda-go poll /next from
		// several goroutines (Lambda Managed Instances); an instance here runs
		// one invocation at a time.
		if strings.HasPrefix(kv, "AWS_LAMBDA_MAX_CONCURRENCY=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_LAMBDA_FUNCTION_NAME="+f.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+f.Name,
		"_HANDLER="+filepath.Base(f.Binary),
		"LAMBDA_TASK_ROOT="+f.Dir,
		"LAMBDA_RUNTIME_DIR="+f.Dir,
	)
	return env, region
}
