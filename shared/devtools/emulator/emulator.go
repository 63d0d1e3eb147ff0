// Package emulator starts, shares and stops the real emulators: DynamoDB Local (Java), kinesis-mock (Node),
// aws-ses-v2-local (Node) and a private PostgreSQL 15 cluster.
//
// Two kinds of user: shared/devtools/testenv and its command, which start a throwaway Set (NewSet) for a `go test` run and
// hand it to every test process through the environment variables declared here; and the local stack
// (localstack/), which opens a persistent Set (Open) in a fixed folder on fixed ports, so that `make run` keeps its
// data across restarts.
//
// Every emulator is a child process started with Pdeathsig=SIGKILL, so a harness that dies, even by kill -9, takes
// its emulators with it. Each Set also records its processes (PID, start time, command line) in a state file, so
// the next Set can kill what a crashed run left behind after checking that the PID still is that process (see
// Sweep). The package is Linux-only: it relies on Pdeathsig and /proc, as the project's machines and CI do.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/config"
)

// Kind names an emulator.
type Kind string

// The emulators a Set can start.
const (
	DynamoDB Kind = "dynamodb" // DynamoDB Local; it also serves the DynamoDB Streams API.
	Kinesis  Kind = "kinesis"  // kinesis-mock
	Postgres Kind = "postgres" // a private PostgreSQL 15 cluster
	SES      Kind = "ses"      // aws-ses-v2-local: the SESv2 API, an inbox viewer at / and the sent mail at GET /store
)

// AllKinds lists every emulator, in the order a summary prints them.
var AllKinds = []Kind{DynamoDB, Kinesis, Postgres, SES}

// ParseKind accepts the names above.
func ParseKind(s string) (Kind, error) {
	for _, k := range AllKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown emulator %q (want one of %v)", s, AllKinds)
}

// Region is the region every emulator client uses. DynamoDB Local ignores it (-sharedDb); kinesis-mock puts it in
// stream ARNs.
const Region = "us-east-1"

// Environment variables of the harness contract.
const (
	// EnvDynamoDBURL, EnvKinesisURL and EnvPostgresDSN carry the address of an emulator a harness started. They are
	// ours, not the SDK's: an AWS_ENDPOINT_URL_DYNAMODB a developer exported for `make run` must not make tests write
	// into the local stack, so testenv trusts the standard variables only when its own one says a harness set them.
	EnvDynamoDBURL = "PT_TESTENV_DYNAMODB_URL"
	EnvKinesisURL  = "PT_TESTENV_KINESIS_URL"
	EnvPostgresDSN = "PT_TESTENV_POSTGRES_DSN" // superuser DSN to the cluster's maintenance database
	EnvSESURL      = "PT_TESTENV_SES_URL"
	// EnvRoot overrides where the repository is (it holds .tools/npm and .local/testenv); normally it is found by
	// walking up from the working directory to this module's go.mod.
	EnvRoot = "PT_TESTENV_ROOT"
	// EnvExternalAWS=1 together with AWS_ENDPOINT_URL makes tests use that endpoint (LocalStack, or AWS itself) for
	// every AWS service instead of starting DynamoDB Local and kinesis-mock. PostgreSQL is still started locally.
	EnvExternalAWS = "PT_EXTERNAL_AWS"
)

// Settings are the variables the harness reads (shared/platform/config); the
// test harness (shared/devtools/testenv) and cmd/testenv read them too.
var Settings = []config.Setting{
	{Name: EnvDynamoDBURL, Meaning: "the address of a DynamoDB Local a harness started"},
	{Name: EnvKinesisURL, Meaning: "the address of a kinesis-mock a harness started"},
	{Name: EnvPostgresDSN, Meaning: "the superuser DSN of a PostgreSQL cluster a harness started"},
	{Name: EnvSESURL, Meaning: "the address of an aws-ses-v2-local a harness started"},
	{Name: EnvRoot, Meaning: "the repository root (found from the working directory when unset)"},
	{Name: EnvExternalAWS, Meaning: "1: use AWS_ENDPOINT_URL for every AWS service instead of the emulators"},
	{Name: "AWS_ENDPOINT_URL", Meaning: "the external AWS endpoint (LocalStack, or AWS) with " + EnvExternalAWS + "=1"},
	{Name: envPGBin, Default: defaultPGBin, Meaning: "the folder of PostgreSQL's initdb and postgres"},
}

// env reads Settings.
var env = config.New("testenv", Settings)

// Provided is the address of the emulator of kind k a harness started, or "".
func Provided(k Kind) string { return env.String(ProvidedVar(k)) }

// ProvidedVar is the harness variable that carries the address of an emulator of kind k.
func ProvidedVar(k Kind) string {
	switch k {
	case DynamoDB:
		return EnvDynamoDBURL
	case Kinesis:
		return EnvKinesisURL
	case SES:
		return EnvSESURL
	default:
		return EnvPostgresDSN
	}
}

// Env returns the variables that hand the emulator of kind k at addr to a test process: the harness variable and,
// for AWS services, the standard per-service endpoint variables, so that SDK clients built with
// config.LoadDefaultConfig find the emulator the way production code finds its endpoint.
func Env(k Kind, addr string) map[string]string {
	env := map[string]string{ProvidedVar(k): addr}
	switch k {
	case DynamoDB:
		env["AWS_ENDPOINT_URL_DYNAMODB"] = addr
		env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = addr // DynamoDB Local serves the Streams API on the same port
	case Kinesis:
		env["AWS_ENDPOINT_URL_KINESIS"] = addr
	case SES:
		env["AWS_ENDPOINT_URL_SESV2"] = addr
	}
	return env
}

// HermeticAWSEnv returns what a test process's environment needs for AWS clients to reach only the emulators: set
// holds variables to set, unset variables to remove. Dummy static credentials mean nothing can reach a real account
// even if an endpoint were missed; the shared config files are replaced by /dev/null so that a developer's
// ~/.aws (profiles, ignore_configured_endpoint_urls, credential_process) cannot leak in; a generic AWS_ENDPOINT_URL
// is removed so that a service we do not emulate fails instead of reaching whatever it points at.
func HermeticAWSEnv() (set map[string]string, unset []string) {
	set = map[string]string{
		"AWS_REGION":                  Region,
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true", // no IMDS probing (seconds of timeouts) off EC2
	}
	unset = []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}
	return set, unset
}

// ExternalAWS reports whether PT_EXTERNAL_AWS=1 asks for an external AWS endpoint. Asking without AWS_ENDPOINT_URL is
// an error rather than a silent fallback: quietly starting emulators would hide the mistake, and quietly using the
// SDK's default endpoints would send test traffic to whatever account the credentials belong to.
func ExternalAWS() (bool, error) {
	if env.String(EnvExternalAWS) != "1" {
		return false, nil
	}
	if ExternalAWSEndpoint() == "" {
		return false, fmt.Errorf("%s=1 needs AWS_ENDPOINT_URL (the LocalStack or AWS endpoint to use)", EnvExternalAWS)
	}
	return true, nil
}

// ExternalAWSEndpoint is AWS_ENDPOINT_URL, the endpoint ExternalAWS means.
func ExternalAWSEndpoint() string { return env.String("AWS_ENDPOINT_URL") }

// Set is one group of emulators sharing a folder under .local/testenv, a state file and a lifetime.
// Its methods are safe for concurrent use.
type Set struct {
	root string
	dir  string
	opts Options

	mu      sync.Mutex
	state   State
	procs   []*proc
	running map[Kind]*proc // the process serving each kind, until StopEmulator
	ports   map[Kind]int   // the port each kind was started on: a restart takes it again
	pgDir   string         // PostgreSQL's own folder, owned by the postgres user; may be outside dir (see postgresDir)
	stopped bool
}

// NewSet first sweeps what crashed runs left behind (see Sweep), then creates a folder for a new set under
// root/.local/testenv, named after prefix and this process's PID, and its state file.
func NewSet(root, prefix string) (*Set, error) {
	base := filepath.Join(root, ".local", "testenv")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("create the emulators' folder: %w", err)
	}
	// Best effort: a leftover we cannot remove must not stop this run, and Sweep only touches folders whose
	// owning process is gone.
	_ = Sweep(root)

	dir, err := os.MkdirTemp(base, fmt.Sprintf("%s-%d-", prefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("create the emulators' folder: %w", err)
	}
	// MkdirTemp makes 0700; PostgreSQL runs as another user and must be able to traverse into its subfolder.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", dir, err)
	}
	owner, err := identify(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("read this process's identity from /proc: %w", err)
	}
	s := &Set{root: root, dir: dir, state: State{Owner: owner, Created: time.Now().UTC()}, running: map[Kind]*proc{}, ports: map[Kind]int{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeStateLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// Options make a Set long-lived, for the local stack.
type Options struct {
	// Persist keeps every emulator's data in the set's folder across restarts: DynamoDB Local with -dbPath,
	// kinesis-mock's persistence file, and a PostgreSQL cluster that is created once and reused. Stop then
	// removes nothing.
	Persist bool
	// Ports fixes an emulator's port; an absent or zero entry picks a free one.
	Ports map[Kind]int
}

// Open opens the set in dir (created if missing) with opts. Unlike NewSet it neither sweeps nor picks a fresh
// folder: the folder is the caller's, and its data outlives the set when opts.Persist is set. Its processes still
// die with this one (Pdeathsig).
func Open(root, dir string, opts Options) (*Set, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the emulators' folder: %w", err)
	}
	owner, err := identify(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("read this process's identity from /proc: %w", err)
	}
	s := &Set{root: root, dir: dir, opts: opts, state: State{Owner: owner, Created: time.Now().UTC()},
		running: map[Kind]*proc{}, ports: map[Kind]int{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeStateLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// port returns the fixed port for k, the port it had before StopEmulator, or a free one.
func (s *Set) port(k Kind) (int, error) {
	if p := s.pinnedPort(k); p > 0 {
		return p, nil
	}
	return freePort()
}

// pinnedPort is the port k must take (0: any): the configured one, or the one it had, so that clients holding its
// address find it again after a restart. A start on a pinned port does not move to another when it is taken.
func (s *Set) pinnedPort(k Kind) int {
	if p := s.opts.Ports[k]; p > 0 {
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ports[k]
}

// Dir is the set's folder: logs, the state file, working directories.
func (s *Set) Dir() string { return s.dir }

// Start starts the emulator of kind k and returns its address once it answers requests: an http:// endpoint for
// the AWS emulators, a superuser DSN for PostgreSQL.
func (s *Set) Start(ctx context.Context, k Kind) (string, error) {
	s.mu.Lock()
	stopped := s.stopped
	p := s.running[k]
	s.mu.Unlock()
	if stopped {
		return "", fmt.Errorf("start %s: the emulator set in %s is already stopped", k, s.dir)
	}
	if p != nil && !p.exited() {
		return "", fmt.Errorf("start %s: already running (pid %d)", k, p.id.PID)
	}
	switch k {
	case DynamoDB:
		return s.startDynamoDB(ctx)
	case Kinesis:
		return s.startKinesis(ctx)
	case Postgres:
		return s.startPostgres(ctx)
	case SES:
		return s.startSES(ctx)
	}
	return "", fmt.Errorf("start %q: unknown emulator", k)
}

// Started is what StartAll reports for one emulator.
type Started struct {
	Kind Kind
	Addr string
	Took time.Duration
}

// StartAll starts the given emulators in parallel (the JVM's start dominates; the others hide behind it) and
// returns them in the order asked. On error the ones that did start keep running: the caller stops the set.
func (s *Set) StartAll(ctx context.Context, kinds []Kind) ([]Started, error) {
	out := make([]Started, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			addr, err := s.Start(ctx, k)
			out[i], errs[i] = Started{Kind: k, Addr: addr, Took: time.Since(t0)}, err
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// Stop stops every emulator of the set (gracefully, then SIGKILL after a grace period) and removes PostgreSQL's
// data. Unless keepLogs, it removes the set's folder too; with keepLogs the logs stay for a day (see Sweep). It
// reports an emulator that had died before Stop, since tests that ran against it saw a broken environment.
func (s *Set) Stop(keepLogs bool) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()

	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.stop(10 * time.Second)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		keepLogs = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Persist {
		s.state.Procs = nil
		return errors.Join(err, s.writeStateLocked())
	}
	if s.pgDir != "" {
		if rmErr := os.RemoveAll(s.pgDir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove PostgreSQL's data: %w", rmErr))
		}
	}
	if !keepLogs {
		if rmErr := os.RemoveAll(s.dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", s.dir, rmErr))
		}
		return err
	}
	s.state.Keep = true
	s.state.Procs = nil
	return errors.Join(err, s.writeStateLocked())
}

// addProc records a started process of kind k in the set and in the state file, so that a crash from now on leaves
// enough behind for Sweep to find it.
func (s *Set) addProc(k Kind, p *proc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.procs = append(s.procs, p)
	s.running[k] = p
	s.state.Procs = append(s.state.Procs, p.id)
	return s.writeStateLocked()
}

// answered records the port on which the emulator of kind k came up.
func (s *Set) answered(k Kind, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ports[k] = port
}

// StopEmulator stops the emulator of kind k the way Stop does (its graceful signal first) and leaves the rest of
// the set running: an outage, for fault-injection tests. Start(k) brings it back on the same port with the data it
// had, which is why only a persistent set (Options.Persist) allows it; kinesis-mock loses what it had not yet
// written to its file (at most its persistence interval).
func (s *Set) StopEmulator(k Kind) error {
	s.mu.Lock()
	p, persist, stopped := s.running[k], s.opts.Persist, s.stopped
	s.mu.Unlock()
	switch {
	case stopped:
		return fmt.Errorf("stop %s: the emulator set in %s is already stopped", k, s.dir)
	case !persist:
		return fmt.Errorf("stop %s: only a persistent set (Options.Persist) keeps an emulator's data across a restart", k)
	case p == nil:
		return fmt.Errorf("stop %s: not running", k)
	}
	err := p.stop(10 * time.Second)
	s.dropProc(p)
	return err
}

// dropProc forgets a process that failed to start or was stopped on its own (it has exited).
func (s *Set) dropProc(p *proc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.procs {
		if q == p {
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			break
		}
	}
	for k, q := range s.running {
		if q == p {
			delete(s.running, k)
		}
	}
	for i, id := range s.state.Procs {
		if id.PID == p.id.PID && id.Start == p.id.Start {
			s.state.Procs = append(s.state.Procs[:i], s.state.Procs[i+1:]...)
			break
		}
	}
	_ = s.writeStateLocked() // a stale entry is harmless: Sweep checks identity before it kills
}
