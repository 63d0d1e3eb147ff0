package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testRoot(t *testing.T) string {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Every process of a stopped set is gone, PostgreSQL's own children included, and so is its folder.
func TestStopLeavesNoProcessBehind(t *testing.T) {
	t.Parallel()
	set, err := NewSet(testRoot(t), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	started, err := set.StartAll(ctx, AllKinds)
	if err != nil {
		_ = set.Stop(true)
		t.Fatalf("start: %v", err)
	}
	for _, s := range started {
		t.Logf("%s ready in %.1fs at %s", s.Kind, s.Took.Seconds(), s.Addr)
	}

	st, err := ReadState(set.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Procs) != len(AllKinds) {
		t.Fatalf("state records %d processes, want %d: %+v", len(st.Procs), len(AllKinds), st.Procs)
	}
	ids := append([]ProcID(nil), st.Procs...)
	for _, id := range st.Procs {
		if !matches(id) {
			t.Errorf("recorded %s (pid %d) does not match a running process", id.Name, id.PID)
		}
		for _, child := range children(id.PID) {
			if cid, err := identify(child); err == nil {
				ids = append(ids, cid)
			}
		}
	}
	if len(ids) <= len(st.Procs) {
		t.Errorf("found no PostgreSQL child processes: the check below would prove little")
	}

	if err := set.Stop(false); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, id := range ids {
		if alive(id) {
			t.Errorf("pid %d (%s) still running after Stop", id.PID, strings.Join(id.Args, " "))
		}
	}
	for _, dir := range []string{set.Dir(), st.PostgresDir} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Stop (%v)", dir, err)
		}
	}
}

// A sweep kills what a dead owner left running, but only processes whose identity still matches the record, and
// leaves the sets of live owners alone.
func TestSweepKillsOnlyVerifiedLeftoversOfDeadOwners(t *testing.T) {
	t.Parallel()
	root := testRoot(t)
	base := filepath.Join(root, ".local", "testenv")

	leftover := startSleep(t)
	stranger := startSleep(t) // its PID will be recorded with another command line: it must survive
	leftoverID, err := identify(leftover.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	strangerID, err := identify(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	strangerID.Args = []string{"/usr/bin/java", "-jar", "DynamoDBLocal.jar"}

	me, err := identify(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadOwner := me
	deadOwner.Start++ // same PID, another start time: a process that no longer exists

	dead := writeFakeSet(t, base, State{Owner: deadOwner, Created: time.Now(), Procs: []ProcID{leftoverID, strangerID}})
	live := writeFakeSet(t, base, State{Owner: me, Created: time.Now(), Procs: []ProcID{strangerID}})
	keptRecent := writeFakeSet(t, base, State{Owner: deadOwner, Created: time.Now(), Keep: true})
	keptOld := writeFakeSet(t, base, State{Owner: deadOwner, Created: time.Now().Add(-2 * keepFor), Keep: true})
	t.Cleanup(func() { os.RemoveAll(live); os.RemoveAll(keptRecent) })

	if err := Sweep(root); err != nil {
		t.Fatalf("Sweep: %v", err)
	}

	waited := make(chan error, 1)
	go func() { waited <- leftover.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("leftover ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("leftover of a dead owner still running after Sweep")
	}
	if !alive(strangerID) {
		t.Errorf("a process whose command line does not match the record was killed")
	}
	for dir, wantGone := range map[string]bool{dead: true, live: false, keptRecent: false, keptOld: true} {
		_, err := os.Stat(dir)
		if gone := errors.Is(err, os.ErrNotExist); gone != wantGone {
			t.Errorf("%s: gone = %v, want %v", filepath.Base(dir), gone, wantGone)
		}
	}
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := StartLocked(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func writeFakeSet(t *testing.T, base string, st State) string {
	t.Helper()
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "fake-")
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// An emulator that dies at start is reported with its name, port, cause and the end of its log.
func TestStartFailureShowsTheLog(t *testing.T) {
	fakeBin := t.TempDir()
	script := "#!/bin/sh\necho 'Error: could not reserve enough space for object heap' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "java"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))

	set, err := NewSet(testRoot(t), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer set.Stop(false)
	_, err = set.Start(t.Context(), DynamoDB)
	if err == nil {
		t.Fatal("start with a broken java succeeded")
	}
	for _, want := range []string{"DynamoDB Local on port", "exited before it answered", "could not reserve enough space",
		filepath.Join(set.Dir(), "dynamodb-local.log")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestExternalAWS(t *testing.T) {
	for _, c := range []struct {
		flag, endpoint string
		want, wantErr  bool
	}{
		{"", "", false, false},
		{"", "http://localhost:4566", false, false},
		{"1", "http://localhost:4566", true, false},
		{"1", "", false, true},
	} {
		t.Setenv(EnvExternalAWS, c.flag)
		t.Setenv("AWS_ENDPOINT_URL", c.endpoint)
		got, err := ExternalAWS()
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%s=%q AWS_ENDPOINT_URL=%q: got %v, %v", EnvExternalAWS, c.flag, c.endpoint, got, err)
		}
	}
}
