package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/localstack/runtime"
)

// fnBinary is testdata/fn built once for the host, as the local stack builds
// each function's bootstrap.
var fnBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runtime-test-fn-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fnBinary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", fnBinary, "./testdata/fn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test function:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// start returns a Runtime with the test function registered as "fn".
func start(t testing.TB, mod func(*runtime.Function)) *runtime.Runtime {
	t.Helper()
	rt := runtime.New(slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	fn := runtime.Function{Name: "fn", Binary: fnBinary, Output: testWriter{t}}
	if mod != nil {
		mod(&fn)
	}
	if err := rt.Register(fn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func call(t testing.TB, rt *runtime.Runtime, event string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return rt.Invoke(ctx, "fn", []byte(event))
}

func mustCall(t testing.TB, rt *runtime.Runtime, event string) []byte {
	t.Helper()
	out, err := call(t, rt, event)
	if err != nil {
		t.Fatalf("invoke %s: %v", event, err)
	}
	return out
}

func pidOf(t testing.TB, rt *runtime.Runtime) int {
	t.Helper()
	var pid int
	if err := json.Unmarshal(mustCall(t, rt, `{"action":"pid"}`), &pid); err != nil || pid == 0 {
		t.Fatalf("pid: %v", err)
	}
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitDead polls until the process is gone (killed and reaped).
func waitDead(t testing.TB, pid int) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	t.Fatalf("process %d still alive", pid)
}

func functionError(t testing.TB, err error) *invoke.FunctionError {
	t.Helper()
	var fe *invoke.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("want *invoke.FunctionError, got %T: %v", err, err)
	}
	return fe
}

func TestEchoReusesWarmInstance(t *testing.T) {
	rt := start(t, nil)
	event := `{"action":"echo","text":"héllo","n":[1,2,3]}`
	for i := range 3 {
		out := mustCall(t, rt, event)
		if string(out) != event {
			t.Fatalf("call %d: got %s, want %s", i, out, event)
		}
	}
	st := rt.Stats("fn")
	if st.ColdStarts != 1 || st.Invocations != 3 || st.Instances != 1 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

type contextInfo struct {
	RequestID    string `json:"requestId"`
	FunctionArn  string `json:"functionArn"`
	DeadlineMS   int64  `json:"deadlineMs"`
	TraceID      string `json:"traceId"`
	FunctionName string `json:"functionName"`
	MemoryMB     int    `json:"memoryMB"`
	Version      string `json:"version"`
}

func TestInvocationContext(t *testing.T) {
	rt := start(t, func(f *runtime.Function) {
		f.Timeout = 7 * time.Second
		f.MemoryMB = 512
	})
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 2 {
		before := time.Now()
		var info contextInfo
		if err := json.Unmarshal(mustCall(t, rt, `{"action":"context"}`), &info); err != nil {
			t.Fatal(err)
		}
		if !uuid.MatchString(info.RequestID) || seen[info.RequestID] {
			t.Fatalf("request ID %q not a fresh UUID", info.RequestID)
		}
		seen[info.RequestID] = true
		deadline := time.UnixMilli(info.DeadlineMS)
		if lo, hi := before.Add(7*time.Second-time.Millisecond), time.Now().Add(7*time.Second); deadline.Before(lo) || deadline.After(hi) {
			t.Fatalf("deadline %v outside [%v, %v]", deadline, lo, hi)
		}
		if info.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:fn" {
			t.Fatalf("arn %q", info.FunctionArn)
		}
		if !strings.HasPrefix(info.TraceID, "Root=1-") || !strings.Contains(info.TraceID, ";Parent=") {
			t.Fatalf("trace ID %q", info.TraceID)
		}
		if info.FunctionName != "fn" || info.MemoryMB != 512 || info.Version != "$LATEST" {
			t.Fatalf("lambdacontext %+v", info)
		}
	}
}

func TestEnvironment(t *testing.T) {
	rt := start(t, func(f *runtime.Function) {
		f.Env = []string{"FOO=bar", "AWS_REGION=eu-west-1", "AWS_LAMBDA_FUNCTION_NAME=spoofed", "AWS_LAMBDA_MAX_CONCURRENCY=4"}
	})
	keys := []string{"FOO", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API",
		"TZ", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_ACCESS_KEY_ID", "AWS_LAMBDA_LOG_STREAM_NAME", "GOPATH"}
	ev, _ := json.Marshal(map[string]any{"action": "env", "keys": keys})
	var env map[string]string
	if err := json.Unmarshal(mustCall(t, rt, string(ev)), &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"FOO": "bar", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "fn",
		"TZ": ":UTC", "_HANDLER": "bootstrap", "LAMBDA_TASK_ROOT": filepath.Dir(fnBinary),
		"AWS_LAMBDA_MAX_CONCURRENCY": "", "AWS_ACCESS_KEY_ID": "local", "GOPATH": "",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(env["AWS_LAMBDA_RUNTIME_API"]) {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", env["AWS_LAMBDA_RUNTIME_API"])
	}
	if !strings.Contains(env["AWS_LAMBDA_LOG_STREAM_NAME"], "[$LATEST]") {
		t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q", env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	var info contextInfo
	_ = json.Unmarshal(mustCall(t, rt, `{"action":"context"}`), &info)
	if info.FunctionArn != "arn:aws:lambda:eu-west-1:000000000000:function:fn" {
		t.Errorf("arn %q does not follow AWS_REGION", info.FunctionArn)
	}
}

func TestHandledErrorKeepsInstance(t *testing.T) {
	rt := start(t, nil)
	pid := pidOf(t, rt)
	for _, c := range []struct{ event, typ string }{
		{`{"action":"error","text":"no such portfolio"}`, "errorString"},
		{`{"action":"custom-error","text":"bad input"}`, "customError"},
	} {
		_, err := call(t, rt, c.event)
		fe := functionError(t, err)
		if fe.Unhandled || fe.Type != c.typ || fe.Function != "fn" {
			t.Fatalf("%s: got %+v", c.event, fe)
		}
		var doc struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(fe.Payload, &doc); err != nil || doc.ErrorType != c.typ || doc.ErrorMessage != fe.Message {
			t.Fatalf("payload %s (%v)", fe.Payload, err)
		}
	}
	if got := pidOf(t, rt); got != pid {
		t.Fatalf("instance replaced after a handled error: pid %d, then %d", pid, got)
	}
	if st := rt.Stats("fn"); st.Errors != 2 || st.ColdStarts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStreamErrorInTrailers(t *testing.T) {
	rt := start(t, nil)
	pid := pidOf(t, rt)
	_, err := call(t, rt, `{"action":"broken-stream"}`)
	fe := functionError(t, err)
	if fe.Unhandled || fe.Type != "streamError" || fe.Message != "disk on fire" {
		t.Fatalf("got %+v", fe)
	}
	if got := pidOf(t, rt); got != pid {
		t.Fatal("instance replaced after a handled stream error")
	}
}

func TestPanicIsUnhandledAndReplacesInstance(t *testing.T) {
	rt := start(t, nil)
	pid := pidOf(t, rt)
	_, err := call(t, rt, `{"action":"panic","text":"boom"}`)
	fe := functionError(t, err)
	if !fe.Unhandled || fe.Message != "boom" || fe.Type != "string" {
		t.Fatalf("got %+v", fe)
	}
	if !bytes.Contains(fe.Payload, []byte(`"stackTrace"`)) {
		t.Fatalf("panic payload without stack trace: %s", fe.Payload)
	}
	waitDead(t, pid)
	if got := pidOf(t, rt); got == pid {
		t.Fatal("panicked instance reused")
	}
	if st := rt.Stats("fn"); st.ColdStarts != 2 || st.Instances != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExitDuringInvocation(t *testing.T) {
	rt := start(t, nil)
	_, err := call(t, rt, `{"action":"exit","code":3}`)
	fe := functionError(t, err)
	if !fe.Unhandled || fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "exit status 3") {
		t.Fatalf("got %+v", fe)
	}
	if out := mustCall(t, rt, `{"action":"echo"}`); string(out) != `{"action":"echo"}` {
		t.Fatalf("after exit: %s", out)
	}
}

func TestTimeoutKillsInstance(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.Timeout = 300 * time.Millisecond })
	pid := pidOf(t, rt)
	begin := time.Now()
	_, err := call(t, rt, `{"action":"sleep","ms":5000}`)
	if !errors.Is(err, invoke.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if d := time.Since(begin); d < 300*time.Millisecond || d > 1500*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
	waitDead(t, pid)
	if got := pidOf(t, rt); got == pid {
		t.Fatal("timed-out instance reused")
	}
	if st := rt.Stats("fn"); st.Timeouts != 1 || st.ColdStarts != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInitExit(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.Env = []string{"FN_INIT=exit"} })
	_, err := call(t, rt, `{"action":"echo"}`)
	fe := functionError(t, err)
	if !fe.Unhandled || fe.Type != "Runtime.InitError" || !strings.Contains(fe.Message, "exit status 1") ||
		!strings.Contains(fe.Message, "init failed: missing configuration") {
		t.Fatalf("got %+v", fe)
	}
	if err := rt.Warm(context.Background(), "fn"); functionError(t, err).Type != "Runtime.InitError" {
		t.Fatalf("Warm: %v", err)
	}
	if st := rt.Stats("fn"); st.Instances != 0 || st.InitErrors != 2 || st.Errors != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInitCrashLoopBacksOff(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.Env = []string{"FN_INIT=exit"} })
	end := time.Now().Add(time.Second)
	calls := 0
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := rt.Invoke(ctx, "fn", []byte(`{}`))
		cancel()
		if err == nil {
			t.Fatal("init failure succeeded")
		}
		calls++
	}
	// Without a back-off every call would fork a process; with it (100, 200,
	// 400 ms ...) a second of retries starts only a few.
	st := rt.Stats("fn")
	if st.ColdStarts > 6 || calls < 10 {
		t.Fatalf("%d calls started %d processes", calls, st.ColdStarts)
	}
	t.Logf("%d calls in 1s started %d processes", calls, st.ColdStarts)
}

func TestInitErrorPosted(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.Env = []string{"FN_INIT=post"} })
	_, err := call(t, rt, `{"action":"echo"}`)
	fe := functionError(t, err)
	if !fe.Unhandled || fe.Type != "Custom.InitFailure" || fe.Message != "cannot connect" {
		t.Fatalf("got %+v", fe)
	}
	// The process hangs after posting; the runtime must have killed it.
	waitNoInstances(t, rt)
}

func TestInitTimeout(t *testing.T) {
	rt := start(t, func(f *runtime.Function) {
		f.Env = []string{"FN_INIT=hang"}
		f.InitTimeout = 300 * time.Millisecond
	})
	_, err := call(t, rt, `{"action":"echo"}`)
	fe := functionError(t, err)
	if !fe.Unhandled || fe.Type != "Runtime.InitError" || !strings.Contains(fe.Message, "did not finish within 300ms") {
		t.Fatalf("got %+v", fe)
	}
	waitNoInstances(t, rt)
}

func waitNoInstances(t *testing.T, rt *runtime.Runtime) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if rt.Stats("fn").Instances == 0 {
			return
		}
	}
	t.Fatalf("instances left: %+v", rt.Stats("fn"))
}

func TestConcurrencyLimit(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.MaxConcurrency = 3 })
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	pids := make(chan int, n)
	var peak int
	var mu sync.Mutex
	stop := make(chan struct{})
	go func() { // sample the live instance count while the calls run
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			in := rt.Stats("fn").Instances
			mu.Lock()
			peak = max(peak, in)
			mu.Unlock()
		}
	}()
	begin := time.Now()
	for range n {
		wg.Go(func() {
			out, err := call(t, rt, `{"action":"sleep","ms":150}`)
			if err != nil {
				errs <- err
				return
			}
			var res struct{ PID int }
			errs <- json.Unmarshal(out, &res)
			pids <- res.PID
		})
	}
	wg.Wait()
	close(stop)
	close(errs)
	close(pids)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	distinct := map[int]bool{}
	for p := range pids {
		distinct[p] = true
	}
	st := rt.Stats("fn")
	mu.Lock()
	defer mu.Unlock()
	if len(distinct) > 3 || st.ColdStarts > 3 || peak > 3 || st.Invocations != n {
		t.Fatalf("%d processes served the calls, peak %d live; stats %+v", len(distinct), peak, st)
	}
	// 12 calls of 150 ms on 3 instances take at least 4 rounds.
	if d := time.Since(begin); d < 600*time.Millisecond {
		t.Fatalf("12 calls finished in %v: more than 3 ran at once", d)
	}
}

func TestThrottleWhenBusy(t *testing.T) {
	rt := start(t, func(f *runtime.Function) {
		f.MaxConcurrency = 1
		f.ThrottleWhenBusy = true
	})
	done := make(chan error, 1)
	go func() {
		_, err := call(t, rt, `{"action":"sleep","ms":400}`)
		done <- err
	}()
	waitBusy(t, rt)
	if _, err := call(t, rt, `{"action":"echo"}`); !errors.Is(err, invoke.ErrThrottled) {
		t.Fatalf("want ErrThrottled, got %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := rt.Stats("fn"); st.Throttles != 1 {
		t.Fatalf("stats %+v", st)
	}
	mustCall(t, rt, `{"action":"echo"}`)
}

// waitBusy waits until the single instance has taken an invocation.
func waitBusy(t *testing.T, rt *runtime.Runtime) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if st := rt.Stats("fn"); st.Invocations >= 1 && st.Idle == 0 && st.Instances == 1 {
			return
		}
	}
	t.Fatalf("never busy: %+v", rt.Stats("fn"))
}

func TestWaitForFreeInstance(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.MaxConcurrency = 1 })
	done := make(chan error, 1)
	go func() {
		_, err := call(t, rt, `{"action":"sleep","ms":400}`)
		done <- err
	}()
	waitBusy(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := rt.Invoke(ctx, "fn", []byte(`{"action":"echo"}`))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	// A patient caller is answered by the same instance once it is free (no
	// second cold start beside the busy one); the impatient caller above showed
	// that a busy instance makes callers wait.
	mustCall(t, rt, `{"action":"echo"}`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := rt.Stats("fn"); st.ColdStarts != 1 || st.Instances != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWarmRespectsConcurrency(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.MaxConcurrency = 1 })
	for range 2 {
		if err := rt.Warm(context.Background(), "fn"); err != nil {
			t.Fatal(err)
		}
	}
	if st := rt.Stats("fn"); st.ColdStarts != 1 || st.Instances != 1 || st.Idle != 1 {
		t.Fatalf("stats %+v", st)
	}
	mustCall(t, rt, `{"action":"echo"}`)
	if st := rt.Stats("fn"); st.ColdStarts != 1 {
		t.Fatalf("a warmed function cold-started: %+v", st)
	}
}

func TestSlowInitOutlivesImpatientCaller(t *testing.T) {
	rt := start(t, func(f *runtime.Function) { f.Env = []string{"FN_INIT_DELAY_MS=300"} })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := rt.Invoke(ctx, "fn", []byte(`{"action":"echo"}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	// The instance finishes its init anyway and joins the pool.
	for end := time.Now().Add(5 * time.Second); rt.Stats("fn").Idle != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never idle: %+v", rt.Stats("fn"))
		}
	}
	mustCall(t, rt, `{"action":"echo"}`)
	if st := rt.Stats("fn"); st.ColdStarts != 1 || st.Invocations != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKill(t *testing.T) {
	rt := start(t, nil)
	for range 2 {
		if err := rt.Warm(context.Background(), "fn"); err != nil {
			t.Fatal(err)
		}
	}
	if st := rt.Stats("fn"); st.Instances != 2 || st.Idle != 2 {
		t.Fatalf("after Warm: %+v", st)
	}
	// One of them busy when the kill comes.
	done := make(chan error, 1)
	go func() {
		_, err := call(t, rt, `{"action":"sleep","ms":5000}`)
		done <- err
	}()
	for end := time.Now().Add(5 * time.Second); rt.Stats("fn").Idle != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("never busy")
		}
	}
	if n := rt.Kill("fn"); n != 2 {
		t.Fatalf("Kill = %d, want 2", n)
	}
	fe := functionError(t, <-done)
	if !fe.Unhandled || fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "signal: killed") {
		t.Fatalf("in-flight invocation: %+v", fe)
	}
	waitNoInstances(t, rt)
	mustCall(t, rt, `{"action":"echo"}`)
	if st := rt.Stats("fn"); st.ColdStarts != 3 {
		t.Fatalf("stats %+v", st)
	}
	if n := rt.Kill("nope"); n != 0 {
		t.Fatalf("Kill(unknown) = %d", n)
	}
}

// KillBusy kills only the instances running an invocation: the busy one's
// caller gets the Runtime.ExitError, the idle one lives on.
func TestKillBusy(t *testing.T) {
	rt := start(t, nil)
	for range 2 {
		if err := rt.Warm(context.Background(), "fn"); err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.KillBusy("fn"); n != 0 {
		t.Fatalf("KillBusy with every instance idle = %d, want 0", n)
	}
	done := make(chan error, 1)
	go func() {
		_, err := call(t, rt, `{"action":"sleep","ms":5000}`)
		done <- err
	}()
	killed := 0
	for end := time.Now().Add(5 * time.Second); killed == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("never busy")
		}
		killed = rt.KillBusy("fn")
	}
	if killed != 1 {
		t.Fatalf("KillBusy = %d, want 1", killed)
	}
	fe := functionError(t, <-done)
	if !fe.Unhandled || fe.Type != "Runtime.ExitError" || !strings.Contains(fe.Message, "signal: killed") {
		t.Fatalf("in-flight invocation: %+v", fe)
	}
	for end := time.Now().Add(5 * time.Second); rt.Stats("fn").Instances != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("stats %+v, want the idle instance alone", rt.Stats("fn"))
		}
	}
	mustCall(t, rt, `{"action":"echo"}`)
	if st := rt.Stats("fn"); st.ColdStarts != 2 || st.Instances != 1 {
		t.Fatalf("stats %+v: the idle instance should have served the next call", st)
	}
	if n := rt.KillBusy("nope"); n != 0 {
		t.Fatalf("KillBusy(unknown) = %d", n)
	}
}

func TestCloseLeavesNoProcess(t *testing.T) {
	rt := runtime.New(nil)
	if err := rt.Register(runtime.Function{Name: "fn", Binary: fnBinary}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := rt.Warm(context.Background(), "fn"); err != nil {
			t.Fatal(err)
		}
	}
	// Plus one busy instance.
	done := make(chan error, 1)
	go func() {
		_, err := call(t, rt, `{"action":"sleep","ms":10000}`)
		done <- err
	}()
	for end := time.Now().Add(5 * time.Second); rt.Stats("fn").Idle != 2; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never busy: %+v", rt.Stats("fn"))
		}
	}
	pids := children(t)
	if len(pids) != 3 {
		t.Fatalf("%d instance processes before Close, want 3: %v", len(pids), pids)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d alive after Close", pid)
		}
	}
	if left := children(t); len(left) != 0 {
		t.Errorf("processes left after Close: %v", left)
	}
	if err := <-done; !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("in-flight invocation: want ErrClosed, got %v", err)
	}
	if st := rt.Stats("fn"); st.Instances != 0 {
		t.Errorf("stats after Close %+v", st)
	}
	if err := rt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := call(t, rt, `{"action":"echo"}`); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Invoke after Close: %v", err)
	}
}

// children lists this test process's child processes running the test
// function, from /proc.
func children(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Skip("no /proc")
	}
	var out []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		var pid, ppid int
		var state string
		if _, err := fmt.Sscan(s[:open], &pid); err != nil {
			continue
		}
		if _, err := fmt.Sscan(s[end+1:], &state, &ppid); err != nil {
			continue
		}
		if ppid == os.Getpid() && s[open+1:end] == "bootstrap" {
			out = append(out, pid)
		}
	}
	return out
}

func TestResponseSize(t *testing.T) {
	rt := start(t, nil)
	// A JSON string of n bytes is n+2 bytes with its quotes.
	out, err := call(t, rt, fmt.Sprintf(`{"action":"big","size":%d}`, runtime.MaxResponseSize-2))
	if err != nil || len(out) != runtime.MaxResponseSize {
		t.Fatalf("response of exactly the limit: %d bytes, %v", len(out), err)
	}
	_, err = call(t, rt, fmt.Sprintf(`{"action":"big","size":%d}`, runtime.MaxResponseSize-1))
	fe := functionError(t, err)
	if fe.Type != "Function.ResponseSizeTooLarge" || !fe.Unhandled {
		t.Fatalf("got %+v", fe)
	}
	mustCall(t, rt, `{"action":"echo"}`)

	if _, err := call(t, rt, `"`+strings.Repeat("x", runtime.MaxRequestSize)+`"`); !errors.Is(err, runtime.ErrRequestTooLarge) {
		t.Fatalf("oversized request: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestOutputLines(t *testing.T) {
	var out syncBuffer
	rt := runtime.New(nil)
	if err := rt.Register(runtime.Function{Name: "fn", Binary: fnBinary, Output: &out, MaxConcurrency: 4}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			text := fmt.Sprintf("line-%02d-%s", i, strings.Repeat("z", 2000))
			mustCall(t, rt, fmt.Sprintf(`{"action":"print","text":%q}`, text))
		})
	}
	wg.Wait()
	if err := rt.Close(); err != nil { // Close waits for the output to be copied
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^\[fn#[1-4]\] (stderr: )?line-(\d\d)-(z+)$`)
	counts := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(out.b.String(), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || len(m[3]) != 2000 {
			if strings.Contains(l, "line-") {
				t.Fatalf("mangled line %.120q", l)
			}
			continue
		}
		counts[m[2]+m[1]]++
	}
	if len(counts) != 32 {
		t.Fatalf("want 16 stdout and 16 stderr lines, got %d distinct: %v", len(counts), counts)
	}
}

func TestRegisterAndUnknown(t *testing.T) {
	rt := start(t, nil)
	if err := rt.Register(runtime.Function{Name: "fn", Binary: fnBinary}); err == nil {
		t.Error("duplicate name accepted")
	}
	if err := rt.Register(runtime.Function{Name: "x", Binary: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing binary accepted")
	}
	if err := rt.Register(runtime.Function{Name: "y", Binary: t.TempDir()}); err == nil {
		t.Error("directory accepted as binary")
	}
	if _, err := rt.Invoke(context.Background(), "nope", nil); !errors.Is(err, invoke.ErrUnknownFunction) {
		t.Errorf("unknown function: %v", err)
	}
	if err := rt.Warm(context.Background(), "nope"); !errors.Is(err, invoke.ErrUnknownFunction) {
		t.Errorf("Warm unknown function: %v", err)
	}
	var _ invoke.Invoker = rt
}
