// Package testenv gives integration tests real emulators: DynamoDB Local (with DynamoDB Streams), kinesis-mock,
// aws-ses-v2-local and a private PostgreSQL 15 cluster. A test asks for what it needs and gets a client or a DSN:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestAppend(t *testing.T) {
//		db := testenv.DynamoDB(t)                   // *dynamodb.Client
//		table := testenv.UniqueName(t, "events")    // no collision with other tests or packages
//		dsn := testenv.Postgres(t)                  // a fresh database, dropped when the test ends
//		...
//	}
//
// Where the emulators come from, first match wins:
//
//   - With PT_EXTERNAL_AWS=1 and AWS_ENDPOINT_URL set, AWS clients use that endpoint (LocalStack, or AWS itself)
//     and no AWS emulator is started; PostgreSQL still is.
//   - `make test` runs `testenv run -- go test ./...` (cmd/testenv): the emulators start once, every
//     package's test process finds them through PT_TESTENV_DYNAMODB_URL, PT_TESTENV_KINESIS_URL,
//     PT_TESTENV_SES_URL and PT_TESTENV_POSTGRES_DSN, and they stop when go test ends.
//   - Otherwise (plain `go test ./shared/xyz`) the first test that asks for an emulator starts it in this process,
//     only that one, and Main stops it when the tests are done. Without Main they still die with the process
//     (Pdeathsig) and the next run removes their folder.
//
// A package that asks for nothing starts nothing. AWS clients are built the production way, with
// config.LoadDefaultConfig, and find the emulators through the standard AWS_ENDPOINT_URL_<SERVICE> variables.
// Once an AWS emulator is in use, the process environment is made hermetic (region us-east-1, dummy credentials,
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE set to /dev/null, AWS_PROFILE and a generic AWS_ENDPOINT_URL
// removed), so no client, nor any subprocess a test starts, can reach a real account by accident.
// DynamoDB, Kinesis and SES state is shared by every package of a run: name tables and streams with UniqueName, and
// send mail to addresses no other test uses (UniqueEmail) before looking for it in SESInbox.
//
// Emulator logs are under .local/testenv/ (ignored by git); a failed run keeps them for a day.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
)

// AWSService names an emulated AWS service, for AWSConfig.
type AWSService string

// The emulated AWS services.
const (
	DynamoDBService AWSService = AWSService(emulator.DynamoDB) // DynamoDB and DynamoDB Streams
	KinesisService  AWSService = AWSService(emulator.Kinesis)
	SESService      AWSService = AWSService(emulator.SES) // SESv2 (aws-ses-v2-local)
)

// Region is the region of every emulated service.
const Region = emulator.Region

// startTimeout bounds the start of one emulator in a test process; a loaded 2-core CI machine starting a JVM
// while compiling other packages needs far more than the usual 3 s.
const startTimeout = 3 * time.Minute

// Main runs the package's tests and then stops the emulators they started. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that has its own clean-up to do: it runs the tests, stops the emulators
// they started and returns the exit code instead of exiting.
func Run(m *testing.M) int {
	code := m.Run()
	if err := local.stop(code != 0); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping emulators: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// externalAWS reads what AWSConfig needs to know of the SDK's own settings
// with PT_EXTERNAL_AWS=1: whether the environment gives a region and
// credentials.
var externalAWS = settings.New("testenv", []settings.Setting{
	{Name: "AWS_REGION", Meaning: "the external endpoint's region (us-east-1 when unset, with AWS_DEFAULT_REGION)"},
	{Name: "AWS_DEFAULT_REGION", Meaning: "the same, the older name"},
	{Name: "AWS_ACCESS_KEY_ID", Meaning: "credentials for the external endpoint (dummy ones when unset, with AWS_PROFILE)"},
	{Name: "AWS_PROFILE", Meaning: "a profile for the external endpoint"},
})

// AWSConfig returns an AWS configuration whose clients reach the emulators of the given services (every emulated
// AWS service if none is given), starting them if needed. It is loaded with config.LoadDefaultConfig, with region
// us-east-1 and static dummy credentials; endpoints come from the AWS_ENDPOINT_URL_<SERVICE> variables, as in
// production. With PT_EXTERNAL_AWS=1 it uses AWS_ENDPOINT_URL, and the region and credentials of the environment
// if it has them.
func AWSConfig(t testing.TB, services ...AWSService) aws.Config {
	t.Helper()
	external, err := emulator.ExternalAWS()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var opts []func(*config.LoadOptions) error
	if external {
		if externalAWS.First("AWS_REGION", "AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(Region))
		}
		if externalAWS.First("AWS_ACCESS_KEY_ID", "AWS_PROFILE") == "" {
			opts = append(opts, config.WithCredentialsProvider(dummyCredentials)) // LocalStack takes any
		}
	} else {
		if len(services) == 0 {
			services = []AWSService{DynamoDBService, KinesisService, SESService}
		}
		for _, s := range services {
			if s != DynamoDBService && s != KinesisService && s != SESService {
				t.Fatalf("testenv: AWSConfig: %q is not an emulated AWS service", s)
			}
			ensure(t, emulator.Kind(s))
		}
		// The region and credentials are also in the environment (see emulator.HermeticAWSEnv); saying them here
		// keeps the configuration right even if a test changed the environment.
		opts = append(opts, config.WithRegion(Region), config.WithCredentialsProvider(dummyCredentials))
	}
	if Tracing() != nil {
		opts = append(opts, lambdatrace.AWS)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		t.Fatalf("testenv: load AWS config: %v", err)
	}
	return cfg
}

var dummyCredentials = credentials.NewStaticCredentialsProvider("test", "test", "")

// DynamoDB returns a DynamoDB client for the emulator (or the external endpoint).
//
// Its response checksum validation is off: DynamoDB Local sends no X-Amz-Crc32 header on error responses, and the
// SDK then logs a spurious "failed to close HTTP response body" warning for every expected error, such as a
// failed condition (aws/aws-sdk-go-v2#3545). A client built from AWSConfig keeps the validation and the warning.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.NewFromConfig(AWSConfig(t, DynamoDBService), func(o *dynamodb.Options) {
		o.DisableValidateResponseChecksum = true
	})
}

// DynamoDBStreams returns a DynamoDB Streams client for the emulator (DynamoDB Local serves both APIs).
func DynamoDBStreams(t testing.TB) *dynamodbstreams.Client {
	t.Helper()
	return dynamodbstreams.NewFromConfig(AWSConfig(t, DynamoDBService))
}

// Kinesis returns a Kinesis client for the emulator (or the external endpoint).
func Kinesis(t testing.TB) *kinesis.Client {
	t.Helper()
	return kinesis.NewFromConfig(AWSConfig(t, KinesisService))
}

// Postgres creates a fresh, empty database for this test and returns a DSN to it as the cluster's superuser
// (postgres). The database is dropped, with any connection still open to it, when the test ends. Roles are
// cluster-wide: a test that creates one should give it a unique name too.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := ensure(t, emulator.Postgres)
	name := databaseName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// FILE_COPY copies template1's files and checkpoints, instead of writing them all to the WAL (PostgreSQL 15's
	// default): with fsync off the checkpoint is cheap, and it measured about a third faster here.
	if err := adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", emulator.EnvPostgresDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// UniqueName returns prefix-<test name>-<random>, unique across tests, packages and runs, and valid as a DynamoDB
// table name and a Kinesis stream name (letters, digits, '-', '_', '.'; at most 100 characters).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	const maxLen, suffixLen = 100, 12
	p := invalidNameChars.ReplaceAllString(prefix, "-")
	name := invalidNameChars.ReplaceAllString(t.Name(), "-")
	if room := maxLen - len(p) - suffixLen - 2; len(name) > room {
		name = name[:max(room, 0)]
	}
	return strings.Trim(p+"-"+name, "-") + "-" + randomHex(t, suffixLen/2)
}

var (
	invalidNameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	nonAlphanumeric  = regexp.MustCompile(`[^A-Za-z0-9]+`)
)

// databaseName is a PostgreSQL database name for t: lower case (no quoting surprises in psql), at most 63 bytes.
func databaseName(t testing.TB) string {
	name := strings.ToLower(nonAlphanumeric.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	return "t_" + strings.Trim(name, "_") + "_" + randomHex(t, 6)
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// ensure returns the address of the emulator of kind k: the harness's, or one this process starts on first use.
func ensure(t testing.TB, k emulator.Kind) string {
	t.Helper()
	if addr := emulator.Provided(k); addr != "" {
		return addr
	}
	addr, err := local.start(k)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return addr
}

// local holds the emulators this process started itself, when no harness provided them.
var local lazyEnv

type lazyEnv struct {
	mu     sync.Mutex
	set    *emulator.Set
	setErr error
	runs   map[emulator.Kind]*lazyRun
	aws    sync.Once
}

// lazyRun is the start of one emulator: once, even with parallel tests asking at the same time, and a failure is
// remembered so that every later test fails at once instead of waiting for its own start to time out.
type lazyRun struct {
	once sync.Once
	addr string
	err  error
}

func (l *lazyEnv) start(k emulator.Kind) (string, error) {
	l.mu.Lock()
	if l.runs == nil {
		l.runs = map[emulator.Kind]*lazyRun{}
	}
	r := l.runs[k]
	if r == nil {
		r = &lazyRun{}
		l.runs[k] = r
	}
	l.mu.Unlock()

	r.once.Do(func() {
		set, err := l.getSet()
		if err != nil {
			r.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if r.addr, r.err = set.Start(ctx, k); r.err != nil {
			return
		}
		// Publish it the way a harness does, so AWS clients (and any subprocess a test starts) find it through the
		// standard variables.
		if k != emulator.Postgres {
			l.aws.Do(func() {
				set, unset := emulator.HermeticAWSEnv()
				for name, v := range set {
					os.Setenv(name, v)
				}
				for _, name := range unset {
					os.Unsetenv(name)
				}
			})
		}
		for name, v := range emulator.Env(k, r.addr) {
			os.Setenv(name, v)
		}
	})
	return r.addr, r.err
}

func (l *lazyEnv) getSet() (*emulator.Set, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.set == nil && l.setErr == nil {
		root, err := emulator.FindRoot()
		if err == nil {
			l.set, err = emulator.NewSet(root, "pkg")
		}
		l.setErr = err
	}
	return l.set, l.setErr
}

func (l *lazyEnv) stop(failed bool) error {
	l.mu.Lock()
	set := l.set
	l.mu.Unlock()
	if set == nil {
		return nil
	}
	err := set.Stop(failed)
	if failed {
		fmt.Fprintf(os.Stderr, "testenv: emulator logs kept in %s\n", set.Dir())
	}
	return err
}
