package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spawner starts child processes from one goroutine locked to its OS thread for the life of the process.
//
// Pdeathsig fires when the *thread* that forked the child exits, not the process (see PR_SET_PDEATHSIG in
// prctl(2) and golang/go#27505). The Go runtime ends a thread when a goroutine that locked it exits without
// unlocking; a test or library doing that on a thread we had forked from would SIGKILL our emulators mid-run.
// A thread locked by a goroutine that never returns is never ended, and no other goroutine runs on it.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// StartLocked starts cmd (see spawner) and arranges that it is killed if this process dies: it sets Pdeathsig to
// SIGKILL on cmd.SysProcAttr, creating it if needed. Use it for every child that must not outlive the harness.
func StartLocked(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked, on purpose: see spawner
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

// proc is one running emulator process.
type proc struct {
	name    string // for messages: "DynamoDB Local", "kinesis-mock", "PostgreSQL", "initdb"
	logPath string
	stopSig syscall.Signal // the graceful stop signal
	id      ProcID
	cmd     *exec.Cmd

	done     chan struct{} // closed when the process has exited and been reaped
	waitErr  error         // valid after done
	stopOnce sync.Once
}

// spawn starts cmd with its output appended to logPath, in its own process group (a Ctrl-C in the terminal reaches
// the harness, which stops emulators in order, not the emulators directly), optionally as another user.
func spawn(name string, cmd *exec.Cmd, logPath string, cred *syscall.Credential, stopSig syscall.Signal) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	defer logFile.Close() // the child has its own copy of the descriptor
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := StartLocked(cmd); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, cmd.Path, err)
	}
	p := &proc{name: name, logPath: logPath, stopSig: stopSig, cmd: cmd, done: make(chan struct{})}
	p.id = ProcID{Name: name, PID: cmd.Process.Pid, Args: cmd.Args}
	// The start time tells this process from a later one that reuses its PID. Reading it can only fail if the
	// child is already gone, and then there is nothing to protect.
	p.id.Start, _ = procStart(p.id.PID)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends the graceful signal, waits up to grace, then SIGKILLs the process group. It returns an error if the
// process had died before the first call to stop, since whatever ran against it saw a broken environment.
func (p *proc) stop(grace time.Duration) error {
	var crashed error
	p.stopOnce.Do(func() {
		if p.exited() {
			crashed = fmt.Errorf("%s (pid %d) had exited during the run (%v); log: %s%s",
				p.name, p.id.PID, p.waitErr, p.logPath, tailSuffix(p.logPath))
		}
	})
	if p.exited() {
		return crashed
	}
	_ = p.cmd.Process.Signal(p.stopSig) // fails only if it has just exited, which is the goal
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.id.PID, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.id.PID)
	}
}

// waitReady polls probe until it succeeds, the process exits, or ctx ends. probe gets a short deadline of its own
// so that one hung request cannot eat the whole budget.
func waitReady(ctx context.Context, p *proc, probe func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it answered (%v)", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("did not answer in time: %w (last attempt: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// errPortTaken marks a start that failed because another process took the free port we picked before the
// emulator bound it; the caller retries with another port.
var errPortTaken = errors.New("port already in use")

// startFailure builds the error for an emulator that did not come up: which one, on which port, why, and the end of
// its log, so that a CI failure can be diagnosed from the test output alone.
func startFailure(p *proc, port int, cause error) error {
	tail := logTail(p.logPath, 20)
	if strings.Contains(strings.ToLower(tail), "address already in use") {
		cause = fmt.Errorf("%w: %w", errPortTaken, cause)
	}
	return fmt.Errorf("%s on port %d: %w; log: %s%s", p.name, port, cause, p.logPath, tailSuffix(p.logPath))
}

func tailSuffix(path string) string {
	tail := logTail(path, 20)
	if tail == "" {
		return " (empty)"
	}
	return ", last lines:\n" + tail
}

// logTail returns the last n lines of a log file, or "" if it cannot be read.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if strings.TrimSpace(out) == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(out, "\n", "\n    ")
}

// freePort asks the kernel for a port that is free on every interface (DynamoDB Local and kinesis-mock bind all of
// them). Another process could take it before the emulator binds it; startFailure recognises that case so the
// caller can retry.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("find a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ProcID identifies a process across time: a PID alone may since have been reused by an unrelated process.
type ProcID struct {
	Name  string   `json:"name"`
	PID   int      `json:"pid"`
	Start uint64   `json:"start"` // start time in clock ticks since boot (/proc/PID/stat field 22)
	Args  []string `json:"args,omitempty"`
}

// identify reads the identity of a running process.
func identify(pid int) (ProcID, error) {
	start, err := procStart(pid)
	if err != nil {
		return ProcID{}, err
	}
	args, err := procArgs(pid)
	if err != nil {
		return ProcID{}, err
	}
	return ProcID{PID: pid, Start: start, Args: args}, nil
}

// procStart reads a process's start time from /proc/PID/stat. A zombie (exited, not yet reaped by whoever
// inherited it) counts as gone.
func procStart(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces and parentheses: fields are counted
	// after the last ')'. It is followed by field 3 (state); start time is field 22.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return 0, fmt.Errorf("process %d: %w", pid, os.ErrProcessDone)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// procArgs reads a process's command line.
func procArgs(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(data), "\x00"), "\x00"), nil
}

// alive reports whether the process id names is still that process (same PID and start time).
func alive(id ProcID) bool {
	start, err := procStart(id.PID)
	return err == nil && start == id.Start
}

// matches reports whether the process id names is still running the recorded command line: only then may a
// sweep kill it.
func matches(id ProcID) bool {
	if !alive(id) {
		return false
	}
	args, err := procArgs(id.PID)
	return err == nil && strings.Join(args, "\x00") == strings.Join(id.Args, "\x00")
}

// children lists the PIDs whose parent is pid (PostgreSQL's backends and auxiliary processes).
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(data[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
