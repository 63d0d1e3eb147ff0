// Command testenv runs a command with the integration-test emulators (DynamoDB Local, kinesis-mock, PostgreSQL,
// aws-ses-v2-local) started once for the whole command, and stops them when it ends:
//
//	testenv run [-services dynamodb,kinesis,postgres,ses] [-keep-logs] -- go test ./...
//	testenv clean
//
// `make test` uses it so that one set of emulators serves every package's test process (go test runs one process
// per package) instead of each starting its own JVM. It hands them over through the environment, the contract of
// package shared/devtools/testenv: PT_TESTENV_DYNAMODB_URL, PT_TESTENV_KINESIS_URL, PT_TESTENV_POSTGRES_DSN, the standard
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_DYNAMODB_STREAMS and AWS_ENDPOINT_URL_KINESIS, and dummy AWS
// credentials with region us-east-1.
//
// It lives beside shared/devtools/testenv rather than under localstack/ because it is that package's other half and
// nothing more: the local stack is a long-lived developer environment with its own lifecycle and topology, while
// this is a test fixture that must die with its run. The emulators and the command are started with
// Pdeathsig=SIGKILL, so even `kill -9` of testenv leaves nothing running; the emulators' PIDs are recorded under
// .local/testenv so the next run (or `testenv clean`) can also remove what such a run left on disk.
//
// With PT_EXTERNAL_AWS=1 and AWS_ENDPOINT_URL set, the AWS emulators are not started and tests use that endpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

const usage = `usage:
  testenv run [-services dynamodb,kinesis,postgres,ses] [-keep-logs] -- command [args...]
      start the emulators, run the command with their addresses in its environment, stop them
  testenv clean
      kill what crashed runs left running and remove their folders under .local/testenv
`

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stderr)
	case "clean":
		root, err := emulator.FindRoot()
		if err == nil {
			err = emulator.Sweep(root)
		}
		if err != nil {
			fmt.Fprintf(stderr, "testenv: clean: %v\n", err)
			return 1
		}
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stderr, usage)
		return 0
	}
	fmt.Fprintf(stderr, "testenv: unknown subcommand %q\n%s", args[0], usage)
	return 2
}

func runCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("testenv run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	services := fs.String("services", "dynamodb,kinesis,postgres,ses", "comma-separated emulators to start")
	keepLogs := fs.Bool("keep-logs", false, "keep the emulators' logs even if the command succeeds")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	command := fs.Args()
	if len(command) == 0 {
		fmt.Fprintf(stderr, "testenv run: no command given\n%s", usage)
		return 2
	}
	kinds, err := parseKinds(*services)
	if err != nil {
		fmt.Fprintf(stderr, "testenv run: -services: %v\n", err)
		return 2
	}
	external, err := emulator.ExternalAWS()
	if err != nil {
		fmt.Fprintf(stderr, "testenv run: %v\n", err)
		return 2
	}
	if external {
		kinds = slices.DeleteFunc(kinds, func(k emulator.Kind) bool { return k != emulator.Postgres })
		fmt.Fprintf(stderr, "testenv: %s=1: AWS services at %s\n", emulator.EnvExternalAWS, emulator.ExternalAWSEndpoint())
	}
	root, err := emulator.FindRoot()
	if err != nil {
		fmt.Fprintf(stderr, "testenv run: %v\n", err)
		return 1
	}

	// From here on a signal must not kill us before we have stopped the emulators: catch it, and pass it on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	set, err := emulator.NewSet(root, "run")
	if err != nil {
		fmt.Fprintf(stderr, "testenv run: %v\n", err)
		return 1
	}
	started, err := startAll(set, kinds, sigs)
	for _, s := range started {
		if s.Addr != "" {
			fmt.Fprintf(stderr, "testenv: %-8s ready in %4.1fs at %s\n", s.Kind, s.Took.Seconds(), s.Addr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "testenv run: starting emulators: %v\n", err)
		stop(set, true, stderr)
		return 1
	}

	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = commandEnv(cmd.Environ(), root, started)
	if err := emulator.StartLocked(cmd); err != nil { // Pdeathsig: the command does not outlive us either
		fmt.Fprintf(stderr, "testenv run: %v\n", err)
		stop(set, true, stderr)
		return 127
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var code int
wait:
	for {
		select {
		case sig := <-sigs:
			// A Ctrl-C reaches the command from the terminal anyway; a kill aimed at us must reach it too. We
			// stop the emulators when it has ended.
			_ = cmd.Process.Signal(sig)
		case err := <-waited:
			code = exitCode(err)
			break wait
		}
	}
	if !stop(set, *keepLogs || code != 0, stderr) && code == 0 {
		code = 1
	}
	return code
}

// startTimeout bounds the start of the emulators: about 3 s on an idle 2-core machine, but a loaded one (CI,
// several engineers' tests) has been seen to need 20 s for the JVM.
const startTimeout = 3 * time.Minute

// startAll starts the emulators, giving up early if a signal arrives meanwhile.
func startAll(set *emulator.Set, kinds []emulator.Kind, sigs <-chan os.Signal) ([]emulator.Started, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	done := make(chan struct{})
	watched := make(chan os.Signal, 1)
	go func() {
		defer close(watched)
		select {
		case sig := <-sigs:
			watched <- sig
			cancel()
		case <-done:
		}
	}()
	started, err := set.StartAll(ctx, kinds)
	close(done)
	if sig, ok := <-watched; ok {
		return started, errors.Join(err, fmt.Errorf("interrupted by %v", sig))
	}
	return started, err
}

// stop stops the set and says where the logs are if they are kept. It reports whether all went well.
func stop(set *emulator.Set, keepLogs bool, stderr io.Writer) bool {
	err := set.Stop(keepLogs)
	if err != nil {
		fmt.Fprintf(stderr, "testenv: stopping emulators: %v\n", err)
	}
	if keepLogs || err != nil {
		fmt.Fprintf(stderr, "testenv: emulator logs kept in %s (removed by a later run after a day)\n", set.Dir())
	}
	return err == nil
}

// commandEnv is the command's environment: ours, plus the emulators' addresses, plus (if an AWS emulator runs)
// the hermetic AWS settings that keep every AWS client on the emulators.
func commandEnv(base []string, root string, started []emulator.Started) []string {
	env := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	env[emulator.EnvRoot] = root
	for _, s := range started {
		if s.Kind == emulator.Postgres {
			continue
		}
		set, unset := emulator.HermeticAWSEnv()
		for k, v := range set {
			env[k] = v
		}
		for _, k := range unset {
			delete(env, k)
		}
		break
	}
	for _, s := range started {
		for k, v := range emulator.Env(s.Kind, s.Addr) {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func parseKinds(list string) ([]emulator.Kind, error) {
	var kinds []emulator.Kind
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		k, err := emulator.ParseKind(name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// exitCode is the command's exit status as a shell reports it (128+n when killed by signal n).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}
