package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// portAttempts bounds retries when the free port we picked is taken before the emulator binds it.
const portAttempts = 3

// startDynamoDB runs DynamoDB Local in memory with one database for every credential and region (-sharedDb), so
// that all test processes see the same tables whatever their configuration. Its working directory is a folder of
// the set because it writes a metadata file there.
func (s *Set) startDynamoDB(ctx context.Context) (string, error) {
	lib, err := dynamoDBLocalDir(s.root)
	if err != nil {
		return "", err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("DynamoDB Local needs Java 17 or later on PATH: %w", err)
	}
	work := filepath.Join(s.dir, "dynamodb")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", fmt.Errorf("DynamoDB Local: %w", err)
	}
	storage := []string{"-inMemory"}
	if s.opts.Persist {
		storage = []string{"-dbPath", work}
	}
	return s.startWithPort(ctx, DynamoDB, "DynamoDB Local", syscall.SIGTERM, func(port int) (*exec.Cmd, error) {
		args := []string{
			"-Djava.library.path=" + filepath.Join(lib, "DynamoDBLocal_lib"),
			// A test run is short: C1 only and the serial collector start fastest and use least memory.
			"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
			"-jar", filepath.Join(lib, "DynamoDBLocal.jar")}
		args = append(args, storage...)
		cmd := exec.Command(java, append(args, "-sharedDb", "-port", strconv.Itoa(port), "-disableTelemetry")...)
		cmd.Dir = work
		return cmd, nil
	}, func(ctx context.Context, endpoint string) error {
		client := dynamodb.New(dynamodb.Options{
			Region: Region, BaseEndpoint: aws.String(endpoint), Credentials: dummyCredentials(),
			Retryer: aws.NopRetryer{}, HTTPClient: probeHTTPClient,
		})
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		return err
	})
}

// startKinesis runs kinesis-mock (Scala.js on Node) from its package folder. Every simulated delay is zero, so a
// new stream is ACTIVE at once, and the account limits are lifted: one instance serves every test package of a
// run, and the defaults (10 on-demand streams, 50 shards) would run out.
func (s *Set) startKinesis(ctx context.Context) (string, error) {
	dir, err := kinesisMockDir(s.root)
	if err != nil {
		return "", err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("kinesis-mock needs Node 20 or later on PATH: %w", err)
	}
	// SIGKILL is its stop signal: on SIGTERM it waits for open keep-alive connections to close (a test process's
	// idle SDK connections, in lazy mode), and it has nothing to save.
	var persist []string
	if s.opts.Persist {
		work := filepath.Join(s.dir, "kinesis")
		if err := os.MkdirAll(work, 0o755); err != nil {
			return "", fmt.Errorf("kinesis-mock: %w", err)
		}
		// Written every few seconds: a crash loses at most that much of the price stream, which the simulated
		// feed replaces within a minute.
		persist = []string{"SHOULD_PERSIST_DATA=true", "LOAD_DATA_IF_EXISTS=true", "PERSIST_PATH=" + work,
			"PERSIST_FILE_NAME=kinesis-data.json", "PERSIST_INTERVAL=5s"}
	}
	return s.startWithPort(ctx, Kinesis, "kinesis-mock", syscall.SIGKILL, func(port int) (*exec.Cmd, error) {
		tlsPort, err := freePort()
		if err != nil {
			return nil, err
		}
		// The absolute path to main.js makes the command line name this package, so that a sweep can tell our
		// process from any other `node main.js`.
		cmd := exec.Command(node, filepath.Join(dir, "main.js"))
		cmd.Dir = dir
		cmd.Env = append(withoutPrefixes(cmd.Environ(), "AWS_", "KINESIS_MOCK_"),
			"KINESIS_MOCK_PLAIN_PORT="+strconv.Itoa(port),
			"KINESIS_MOCK_TLS_PORT="+strconv.Itoa(tlsPort),
			"AWS_REGION="+Region,
			"LOG_LEVEL=WARN",
			"SHARD_LIMIT=100000",
			"ON_DEMAND_STREAM_COUNT_LIMIT=100000",
			"CREATE_STREAM_DURATION=0ms",
			"DELETE_STREAM_DURATION=0ms",
			"REGISTER_STREAM_CONSUMER_DURATION=0ms",
			"DEREGISTER_STREAM_CONSUMER_DURATION=0ms",
			"START_STREAM_ENCRYPTION_DURATION=0ms",
			"STOP_STREAM_ENCRYPTION_DURATION=0ms",
			"MERGE_SHARDS_DURATION=0ms",
			"SPLIT_SHARD_DURATION=0ms",
			"UPDATE_SHARD_COUNT_DURATION=0ms",
			"UPDATE_STREAM_MODE_DURATION=0ms",
		)
		cmd.Env = append(cmd.Env, persist...)
		return cmd, nil
	}, func(ctx context.Context, endpoint string) error {
		client := kinesis.New(kinesis.Options{
			Region: Region, BaseEndpoint: aws.String(endpoint), Credentials: dummyCredentials(),
			Retryer: aws.NopRetryer{}, HTTPClient: probeHTTPClient,
		})
		_, err := client.ListStreams(ctx, &kinesis.ListStreamsInput{Limit: aws.Int32(1)})
		return err
	})
}

// startWithPort starts an HTTP emulator on a free port and waits until probe succeeds against it, retrying with
// another port if the one picked was taken in between.
func (s *Set) startWithPort(ctx context.Context, kind Kind, name string, stopSig syscall.Signal,
	command func(port int) (*exec.Cmd, error), probe func(ctx context.Context, endpoint string) error) (string, error) {
	var lastErr error
	for range portAttempts {
		port, err := s.port(kind)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		cmd, err := command(port)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		p, err := spawn(name, cmd, filepath.Join(s.dir, logName(name)), nil, stopSig)
		if err != nil {
			return "", err
		}
		if err := s.addProc(kind, p); err != nil {
			_ = p.stop(0)
			return "", err
		}
		endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
		err = waitReady(ctx, p, func(ctx context.Context) error { return probe(ctx, endpoint) })
		if err == nil {
			s.answered(kind, port)
			return endpoint, nil
		}
		lastErr = startFailure(p, port, err)
		_ = p.stop(0) // it is broken or gone; Stop must not report it again
		s.dropProc(p)
		if !errors.Is(lastErr, errPortTaken) || s.pinnedPort(kind) > 0 {
			break
		}
	}
	return "", lastErr
}

// logName is the log file of an emulator: "DynamoDB Local" → dynamodb-local.log.
func logName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), " ", "-") + ".log"
}

// probeHTTPClient leaves no idle connection behind: an emulator should not have to wait for the harness's
// readiness probes when it shuts down.
var probeHTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func dummyCredentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("test", "test", "")
}

// withoutPrefixes returns env without the variables whose names start with one of prefixes.
func withoutPrefixes(env []string, prefixes ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
