package runtime

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// invState is where an invocation is in its exchange with the runtime.
type invState int

const (
	// invDispatched: handed to the instance, no result posted yet.
	invDispatched invState = iota
	// invResponded: a response (or a refusal of it) was posted and returned.
	invResponded
	// invErrorPosted: an error was posted. Whether it was handled is known from
	// what the process does next: /next (handled) or exit (a panic: aws-lambda-go
	// posts the panic, then exits).
	invErrorPosted
)

type invocation struct {
	id       string
	trace    string
	payload  []byte
	deadline time.Time
	timer    *time.Timer
	done     chan result // buffered; receives exactly one result

	// Guarded by the instance's mu.
	state     invState
	delivered bool // the runtime received it from /next
	finished  bool // its result was sent on done
	posted    *invoke.FunctionError
}

type result struct {
	payload []byte
	err     error
	// retry: the instance died before it received the event, so the event
	// never ran and may go to another instance.
	retry bool
}

// instance is one process of a function and its Runtime API server.
type instance struct {
	f     *function
	label string // name#n, the prefix of its output lines
	cmd   *exec.Cmd
	pid   int
	srv   *http.Server

	// work carries the invocation to the /next request waiting for it. Its
	// capacity of one lets Invoke hand over without waiting for the request
	// to reach its select.
	work       chan *invocation
	initDone   chan struct{} // closed at the first /next, an init error or an exit before either
	exited     chan struct{} // closed once the process is reaped
	outputDone chan struct{} // closed when its output pipe reaches EOF
	dead       atomic.Bool
	ready      atomic.Bool // its first /next came: init is done

	mu          sync.Mutex
	inv         *invocation // current invocation, until the next /next
	nextWaiting bool
	initClosed  bool
	initErr     *invoke.FunctionError
	abandoned   bool   // its starter stopped waiting: join the pool when ready
	lastLine    string // last output line during init, for init error messages

	finishing bool // guarded by f.mu; see function.finishing

	// killed: the process died of a signal. A kill is not the function's own
	// failure, so it does not feed the init back-off.
	killed bool
}

// spawn starts a process for f; the caller holds a slot for it.
func (f *function) spawn() (*instance, error) {
	rt := f.rt
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start %s: runtime API listener: %w", f.cfg.Name, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("start %s: output pipe: %w", f.cfg.Name, err)
	}
	f.mu.Lock()
	f.seq++
	seq := f.seq
	f.mu.Unlock()

	inst := &instance{
		f:          f,
		label:      fmt.Sprintf("%s#%d", f.cfg.Name, seq),
		work:       make(chan *invocation, 1),
		initDone:   make(chan struct{}),
		exited:     make(chan struct{}),
		outputDone: make(chan struct{}),
	}
	inst.srv = &http.Server{
		Handler:           inst,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(rt.logger.Handler(), slog.LevelDebug),
	}
	cmd := exec.Command(f.cfg.Binary)
	cmd.Dir = f.cfg.Dir
	cmd.Env = append(slices.Clip(f.env),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_LOG_STREAM_NAME="+logStreamName(),
	)
	// One pipe for both streams keeps stdout and stderr lines in the order written.
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = procAttr()
	inst.cmd = cmd

	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		_, _, _ = ln.Close(), pr.Close(), pw.Close()
		return nil, fmt.Errorf("start %s: %w", f.cfg.Name, ErrClosed)
	}
	rt.procs.Add(1)
	rt.mu.Unlock()

	go func() { _ = inst.srv.Serve(ln) }()
	if err := cmd.Start(); err != nil {
		rt.procs.Done()
		_, _, _ = inst.srv.Close(), pr.Close(), pw.Close()
		return nil, fmt.Errorf("start %s: %w", f.cfg.Name, err)
	}
	_ = pw.Close() // the child holds its own copy; EOF comes when it exits
	inst.pid = cmd.Process.Pid
	f.mu.Lock()
	f.live[inst] = struct{}{}
	f.mu.Unlock()
	rt.logger.Debug("lambda instance started", "function", f.cfg.Name, "instance", inst.label, "pid", inst.pid)

	go inst.copyOutput(pr)
	go inst.wait()
	select {
	case <-rt.done:
		// Close ran after the closed check and may have missed this one.
		inst.kill()
	default:
	}
	return inst, nil
}

// copyOutput copies the process's output to the function's Output line by
// line, prefixed with the instance label.
func (inst *instance) copyOutput(pipe *os.File) {
	defer close(inst.outputDone)
	defer func() { _ = pipe.Close() }()
	out := inst.f.cfg.Output
	prefix := "[" + inst.label + "] "
	br := bufio.NewReaderSize(pipe, 64<<10)
	var buf []byte
	for {
		// A line longer than the buffer comes out in buffer-sized pieces, each
		// a line of its own: the pipe must keep draining or the process blocks.
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if !inst.ready.Load() {
				s := strings.TrimSpace(string(line))
				inst.mu.Lock()
				if s != "" {
					inst.lastLine = s
				}
				inst.mu.Unlock()
			}
			if out != nil {
				buf = append(append(buf[:0], prefix...), line...)
				if buf[len(buf)-1] != '\n' {
					buf = append(buf, '\n')
				}
				inst.f.rt.outMu.Lock()
				_, _ = out.Write(buf)
				inst.f.rt.outMu.Unlock()
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// wait reaps the process and settles what it leaves behind.
func (inst *instance) wait() {
	err := inst.cmd.Wait()
	defer inst.f.rt.procs.Done()
	if !inst.ready.Load() {
		// Let the output catch up so an init failure can quote its last line.
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-inst.outputDone:
		case <-t.C:
		}
		t.Stop()
	}
	f := inst.f
	reason := "Runtime exited without providing a reason"
	if err != nil {
		reason = "Runtime exited with error: " + err.Error()
	}
	closed := false
	select {
	case <-f.rt.done:
		closed = true
	default:
	}

	var ws syscall.WaitStatus
	if st := inst.cmd.ProcessState; st != nil {
		ws, _ = st.Sys().(syscall.WaitStatus)
	}
	inst.dead.Store(true)
	// Out of the pool before anyone hears of the exit, so what they see next
	// (Stats, a retry) no longer counts this instance.
	f.exited(inst)
	inst.mu.Lock()
	inst.killed = ws.Signaled()
	if inv := inst.inv; inv != nil {
		inv.timer.Stop()
		if !inv.finished {
			switch {
			case inv.state == invErrorPosted:
				fe := *inv.posted
				fe.Unhandled = true
				inst.finish(inv, result{err: &fe})
			case !inv.delivered:
				inst.finish(inv, result{retry: true})
			case closed:
				inst.finish(inv, result{err: fmt.Errorf("invoke %s: request %s: %w", f.cfg.Name, inv.id, ErrClosed)})
			default:
				msg := fmt.Sprintf("RequestId: %s Error: %s", inv.id, reason)
				inst.finish(inv, result{err: &invoke.FunctionError{
					Function: f.cfg.Name, Type: "Runtime.ExitError", Message: msg, Unhandled: true,
					Payload: errorDoc("Runtime.ExitError", msg),
				}})
			}
		}
	}
	if !inst.initClosed {
		msg := reason + " (during init)"
		if inst.lastLine != "" {
			msg += "; last output: " + inst.lastLine
		}
		inst.initErr = &invoke.FunctionError{
			Function: f.cfg.Name, Type: "Runtime.InitError", Message: msg, Unhandled: true,
			Payload: errorDoc("Runtime.InitError", msg),
		}
		inst.initClosed = true
		close(inst.initDone)
	}
	inst.mu.Unlock()

	close(inst.exited)
	_ = inst.srv.Close()
	level := slog.LevelInfo
	if closed {
		level = slog.LevelDebug
	}
	f.rt.logger.Log(context.Background(), level, "lambda instance exited",
		"function", f.cfg.Name, "instance", inst.label, "pid", inst.pid, "status", reason)
}

// finish delivers an invocation's result. Called with inst.mu held.
func (inst *instance) finish(inv *invocation, res result) {
	if inv.finished {
		return
	}
	inv.finished = true
	inst.f.deliver(inv, res)
}

// deliver sends the result of an invocation already marked finished.
func (f *function) deliver(inv *invocation, res result) {
	var fe *invoke.FunctionError
	if errors.As(res.err, &fe) {
		f.stats.errors.Add(1)
	}
	inv.done <- res
}

// invoke runs one invocation on this instance, which the caller took from the
// pool. A result with retry set means the event never reached the process.
func (inst *instance) invoke(ctx context.Context, payload []byte) result {
	f := inst.f
	inv := &invocation{
		id:      newRequestID(),
		trace:   newTraceID(),
		payload: payload,
		done:    make(chan result, 1),
	}
	inst.mu.Lock()
	if inst.dead.Load() {
		inst.mu.Unlock()
		return result{retry: true}
	}
	inv.deadline = time.Now().Add(f.cfg.Timeout)
	inv.timer = time.AfterFunc(f.cfg.Timeout, func() { inst.timeout(inv) })
	inst.inv = inv
	inst.mu.Unlock()
	inst.work <- inv

	select {
	case res := <-inv.done:
		return res
	case <-ctx.Done():
		return result{err: fmt.Errorf("invoke %s: request %s: %w", f.cfg.Name, inv.id, ctx.Err())}
	}
}

// timeout ends an invocation that ran past the function's timeout and kills the
// process, as Lambda does; the next invocation cold-starts.
func (inst *instance) timeout(inv *invocation) {
	f := inst.f
	inst.mu.Lock()
	if inst.inv != inv || inst.dead.Load() {
		inst.mu.Unlock()
		return
	}
	if !inv.finished {
		if inv.state == invErrorPosted {
			fe := *inv.posted
			fe.Unhandled = true
			inst.finish(inv, result{err: &fe})
		} else {
			f.stats.timeouts.Add(1)
			inst.finish(inv, result{err: fmt.Errorf("invoke %s: request %s: %w after %.2f seconds",
				f.cfg.Name, inv.id, invoke.ErrTimeout, f.cfg.Timeout.Seconds())})
		}
	}
	inst.mu.Unlock()
	f.rt.logger.Warn("lambda invocation timed out; killing its instance",
		"function", f.cfg.Name, "instance", inst.label, "requestId", inv.id, "timeout", f.cfg.Timeout)
	inst.kill()
}

// abandon is called when the starter stops waiting for init: the instance
// joins the pool once ready instead of being wasted.
func (inst *instance) abandon() {
	inst.mu.Lock()
	readyNow := inst.initClosed && inst.initErr == nil
	if !readyNow {
		inst.abandoned = true
	}
	failed := inst.initClosed && inst.initErr != nil
	inst.mu.Unlock()
	switch {
	case readyNow:
		inst.f.release(inst)
	case failed:
		inst.kill()
	}
}

// initError returns the init failure, if any, and whether the process was
// killed by a signal before it finished init.
func (inst *instance) initError() (*invoke.FunctionError, bool) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.initErr, inst.killed
}

func (inst *instance) kill() bool { return inst.signal(syscall.SIGKILL) }

// killIfBusy kills the instance if it is running an invocation (delivered, no
// result yet); inst.mu is held across the check and the signal, so no result can
// be recorded in between.
func (inst *instance) killIfBusy() bool {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	inv := inst.inv
	if inv == nil || !inv.delivered || inv.finished || inv.state != invDispatched {
		return false
	}
	return inst.kill()
}

func (inst *instance) terminate() { inst.signal(syscall.SIGTERM) }

func (inst *instance) signal(sig syscall.Signal) bool {
	if inst.dead.Load() {
		return false
	}
	// The negative PID addresses the process group (see procAttr), so helpers
	// the bootstrap started go with it.
	if err := syscall.Kill(-inst.pid, sig); err != nil {
		return inst.cmd.Process.Signal(sig) == nil
	}
	return true
}

// newRequestID returns a random (version 4) UUID, the form of Lambda request IDs.
func newRequestID() string { return uuid.New() }

// newTraceID returns an X-Ray trace header as Lambda passes it (not sampled).
func newTraceID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%x;Parent=%x;Sampled=0", time.Now().Unix(), b[:12], b[12:])
}

func logStreamName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(b[:])
}
