//go:build browser

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBrowser runs the web app's browser tests (web/e2e, Playwright in Debian's
// Chromium) against one local stack that serves the built app (web/out) on a
// free port: the journeys on a desktop and a phone viewport, the accessibility
// scan and screenshot of every page, and, with PT_MEASURE=1, the measurements
// of BENCHMARKS.md. `make test-web` (part of `make test`) runs it after building
// the app and installing the tests' packages; the build tag keeps it out of
// `go test ./...`, which runs beside other packages on a small machine, while
// the journeys time the live value.
//
// The stack runs the demo (the pages are scanned as alice, who has a history,
// alerts and deliveries) and a simulated feed every second, so a price moves
// well within the journey's 2 s; PT_PLAYWRIGHT_ARGS passes arguments to
// `playwright test` (make screenshots: --grep @pages).
func TestBrowser(t *testing.T) {
	root := repoRoot(t)
	for _, need := range []struct{ path, make string }{
		{filepath.Join(root, "web", "out", "index.html"), "make web"},
		{filepath.Join(root, "web", "e2e", "node_modules", "@playwright", "test"), "make test-web"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			t.Fatalf("%s is missing: run the browser tests with `make test-web` (it runs %s first)", need.path, need.make)
		}
	}
	t0 := time.Now()
	s := startStackWith(t, "PT_LOCAL_DEMO=true", "PT_LOCAL_TICK=1s", "PT_LOCAL_WEB_DIR="+filepath.Join(root, "web", "out"))
	t.Logf("stack ready in %s", time.Since(t0).Round(100*time.Millisecond))

	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	args := []string{filepath.Join("node_modules", ".bin", "playwright"), "test"}
	if extra := os.Getenv("PT_PLAYWRIGHT_ARGS"); extra != "" {
		args = append(args, strings.Fields(extra)...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = filepath.Join(root, "web", "e2e")
	cmd.Env = append(os.Environ(),
		"PT_WEB_URL="+fmt.Sprintf("http://localhost:%d", s.ports["WEB"]),
		"PT_API_URL="+s.url("HTTP"), "PT_ADMIN_URL="+s.url("ADMIN"), "PT_AUTH_URL="+s.url("AUTH"),
		"PT_OUT_DIR="+filepath.Join(root, ".local"), "CI=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Playwright starts Chromium in process groups of its own; a timeout kills the whole group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t1 := time.Now()
	err := cmd.Run()
	t.Logf("playwright ran for %s", time.Since(t1).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("playwright test: %v (traces of failed tests: web/e2e/test-results; open one with `cd web/e2e && npx playwright show-trace <trace.zip>`)", err)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}
