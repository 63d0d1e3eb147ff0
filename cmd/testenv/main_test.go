package main

import (
	"bytes"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
)

// The test binary doubles as the command: with this variable set it runs main's logic on its arguments, so the
// tests exercise the real process (signals, exit codes, Pdeathsig) without building a separate binary.
const beTestenv = "TESTENV_TEST_BE_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(beTestenv) == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

func testenvCommand(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), beTestenv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// The command gets the emulators' addresses in the standard variables and its exit status is passed on; a failing
// command keeps the logs; afterwards the emulator no longer answers.
func TestRunHandsOverEmulatorsAndPassesExitStatus(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "env")
	cmd, stderr := testenvCommand(t, "run", "-services", "kinesis", "--", "sh", "-c",
		`printf '%s|%s|%s|%s' "$PT_TESTENV_KINESIS_URL" "$AWS_ENDPOINT_URL_KINESIS" "$AWS_REGION" "$AWS_ACCESS_KEY_ID" > "$0"; exit 3`, out)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit: %v, want status 3; stderr:\n%s", err, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(string(data), "|")
	if len(got) != 4 || !strings.HasPrefix(got[0], "http://127.0.0.1:") || got[1] != got[0] ||
		got[2] != "us-east-1" || got[3] != "test" {
		t.Fatalf("command saw %q", got)
	}
	u, err := url.Parse(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Errorf("kinesis-mock still answers at %s after the run", u.Host)
	}
	kept := regexp.MustCompile(`logs kept in (\S+)`).FindStringSubmatch(stderr.String())
	if kept == nil {
		t.Fatalf("a failed command should keep the logs; stderr:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(kept[1], "kinesis-mock.log")); err != nil {
		t.Errorf("kept logs: %v", err)
	}
	os.RemoveAll(kept[1])
}

// kill -9 of testenv mid-run leaves no emulator, PostgreSQL child or command running; a later clean removes its
// folder and PostgreSQL's shared memory segment.
func TestKill9LeavesNothingRunning(t *testing.T) {
	t.Parallel()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd, stderr := testenvCommand(t, "run", "--", "sh", "-c", `echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 60`, ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()

	deadline := time.Now().Add(2 * time.Minute)
	var commandPID int
	for commandPID == 0 {
		if data, err := os.ReadFile(ready); err == nil {
			commandPID, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		select {
		case err := <-waited:
			t.Fatalf("testenv ended before the command started: %v; stderr:\n%s", err, stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("command not started after 2 minutes; stderr:\n%s", stderr)
		}
	}

	root, err := emulator.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, ".local", "testenv", "run-"+strconv.Itoa(cmd.Process.Pid)+"-*"))
	if len(dirs) != 1 {
		t.Fatalf("want one set folder for pid %d, got %v", cmd.Process.Pid, dirs)
	}
	st, err := emulator.ReadState(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{commandPID}
	for _, p := range st.Procs {
		pids = append(pids, p.PID)
		if p.Name == "PostgreSQL" {
			pids = append(pids, childPIDs(p.PID)...)
		}
	}
	if len(pids) < 1+3+3 {
		t.Fatalf("expected the command, 3 emulators and PostgreSQL's children, got pids %v (state %+v)", pids, st)
	}
	shmID := postgresShmID(t, filepath.Join(st.PostgresDir, "data"))

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-waited
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var running []string
		for _, pid := range pids {
			if isRunning(pid) {
				running = append(running, strconv.Itoa(pid))
			}
		}
		if len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still running 10s after kill -9 of testenv: pids %s", strings.Join(running, " "))
		}
	}

	clean, stderr := testenvCommand(t, "clean")
	if err := clean.Run(); err != nil {
		t.Fatalf("clean: %v; stderr:\n%s", err, stderr)
	}
	if _, err := os.Stat(dirs[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s survived clean (%v)", dirs[0], err)
	}
	if shmID != "" {
		if data, err := os.ReadFile("/proc/sysvipc/shm"); err == nil && shmRow(string(data), shmID) {
			t.Errorf("PostgreSQL's shared memory segment %s survived clean", shmID)
		}
	}
}

// isRunning: a process that exists and is not a zombie. PIDs could be reused within the test's few seconds only
// on a machine starting thousands of processes; the check accepts that.
func isRunning(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	fields := strings.Fields(string(data[i+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func childPIDs(parent int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			out = append(out, pid)
		}
	}
	return out
}

// postgresShmID reads the SysV segment id from postmaster.pid (seventh line: key and id).
func postgresShmID(t *testing.T, data string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 7 || len(strings.Fields(lines[6])) != 2 {
		return ""
	}
	return strings.Fields(lines[6])[1]
}

func shmRow(table, id string) bool {
	for _, line := range strings.Split(table, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == id {
			return true
		}
	}
	return false
}
