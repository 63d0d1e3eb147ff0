package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/localstack/esm"
	"github.com/portfoliotracker/tracker/localstack/gateway"
	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/localstack/runtime"
	"github.com/portfoliotracker/tracker/localstack/schedule"
	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// wsStage is the WebSocket API's stage name; the management API lives under it.
const wsStage = "local"

// Stack is a running local stack.
type Stack struct {
	cfg    Config
	log    *slog.Logger
	set    *emulator.Set
	rt     *runtime.Runtime
	ws     *gateway.WSGateway
	sched  *schedule.Scheduler
	issuer *tokenissuer.Issuer
	// authDB holds the Auth stand-in's users (auth.users) and sessions.
	authDB *pgxpool.Pool
	mail   *mail

	pollers  map[string]*esm.Poller
	failures map[string]*esm.FileDestination
	// metrics aggregates the functions' EMF lines (GET /metrics).
	metrics *metricsCollector
	// traces is the collector of the functions' spans (traces.go).
	traces  *traceStore
	servers []*http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// URLs is where each front end answers.
	URLs URLs
	// Timings is how long each start-up step took.
	Timings []Timing
	// DemoToken is a token for the demo's first user (empty without the demo).
	DemoToken string
	// DemoPortfolioID is that user's portfolio.
	DemoPortfolioID string

	closeOnce sync.Once
	closeErr  error
}

// URLs of a running stack.
type URLs struct {
	HTTP, WebSocket, WSManagement, Auth, Admin string
	// Web is the web app (its origin: localhost, as a browser shows it).
	Web                         string
	DynamoDB, Kinesis, Postgres string
	// SES is aws-ses-v2-local: its inbox viewer, and the sent mail at /store.
	SES string
}

// Timing is one start-up step.
type Timing struct {
	Step string        `json:"step"`
	Took time.Duration `json:"-"`
}

// MarshalJSON reports the duration in seconds.
func (t Timing) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Step    string  `json:"step"`
		Seconds float64 `json:"seconds"`
	}{t.Step, t.Took.Seconds()})
}

// Start starts everything and returns once every endpoint answers. Output
// receives the functions' log lines (nil = discarded). Close stops it all.
func Start(ctx context.Context, cfg Config, log *slog.Logger, output io.Writer) (_ *Stack, err error) {
	t0 := time.Now()
	s := &Stack{cfg: cfg, log: log, pollers: map[string]*esm.Poller{}, failures: map[string]*esm.FileDestination{}, metrics: newMetricsCollector(), traces: newTraceStore()}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	for _, dir := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "failures"), filepath.Join(cfg.DataDir, "checkpoints")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}

	// Listeners first, so every URL is known before a function is configured and
	// the configured ports are claimed (or their conflict reported) at once.
	lns := map[string]net.Listener{}
	for name, port := range map[string]int{"http": cfg.HTTPPort, "ws": cfg.WSPort, "auth": cfg.AuthPort, "admin": cfg.AdminPort, "web": cfg.WebPort} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listen for the %s endpoint on port %d (set PT_LOCAL_%s_PORT to move it): %w", name, port, upper(name), err)
		}
		lns[name] = ln
	}
	defer func() {
		if err != nil { // a served listener is closed twice then, harmlessly
			for _, l := range lns {
				_ = l.Close()
			}
		}
	}()
	url := func(name string) string { return "http://" + lns[name].Addr().String() }
	s.URLs = URLs{HTTP: url("http"), WebSocket: "ws://" + lns["ws"].Addr().String(), WSManagement: url("ws") + "/" + wsStage,
		Auth: url("auth"), Admin: url("admin"), Web: fmt.Sprintf("http://localhost:%d", lns["web"].Addr().(*net.TCPAddr).Port)}
	if cfg.FrontendOrigin == "" {
		// The app is served as localhost (its origin is what the browser shows), not 127.0.0.1.
		cfg.FrontendOrigin = s.URLs.Web
		s.cfg.FrontendOrigin = cfg.FrontendOrigin
	}
	if cfg.WebDir == "" {
		cfg.WebDir = filepath.Join(cfg.Root, DefaultWebDir)
		s.cfg.WebDir = cfg.WebDir
	}

	// Emulators and the functions' build run side by side: the JVM's start and
	// the linker are the two long poles.
	step := time.Now()
	set, err := emulator.Open(cfg.Root, filepath.Join(cfg.DataDir, "emulators"), emulator.Options{Persist: true, Ports: map[emulator.Kind]int{
		emulator.DynamoDB: cfg.DynamoDBPort, emulator.Kinesis: cfg.KinesisPort, emulator.Postgres: cfg.PostgresPort, emulator.SES: cfg.SESPort}})
	if err != nil {
		return nil, err
	}
	s.set = set
	var (
		started  []emulator.Started
		startErr error
		bins     map[string]string
		buildErr error
		buildDur time.Duration
		wg       sync.WaitGroup
	)
	kinds := emulator.AllKinds
	if cfg.AWSEndpoint != "" {
		kinds = []emulator.Kind{emulator.Postgres, emulator.SES}
	}
	wg.Go(func() { started, startErr = set.StartAll(ctx, kinds) })
	wg.Go(func() {
		b := time.Now()
		binDir := cfg.BinDir
		if binDir == "" {
			binDir = filepath.Join(cfg.DataDir, "bin")
		}
		bins, buildErr = buildFunctions(ctx, cfg.Root, binDir, cfg.Functions())
		buildDur = time.Since(b)
	})
	wg.Wait()
	if err := errors.Join(startErr, buildErr); err != nil {
		return nil, err
	}
	s.Timings = append(s.Timings, Timing{"emulators and function builds (in parallel)", time.Since(step)}, Timing{"  function builds", buildDur})
	addr := map[emulator.Kind]string{}
	for _, st := range started {
		addr[st.Kind] = st.Addr
		s.Timings = append(s.Timings, Timing{"  " + string(st.Kind), st.Took})
	}
	s.URLs.DynamoDB, s.URLs.Kinesis, s.URLs.SES = addr[emulator.DynamoDB], addr[emulator.Kinesis], addr[emulator.SES]
	if s.mail, err = newMail(cfg.DataDir, s.URLs.SES); err != nil {
		return nil, err
	}
	if cfg.AWSEndpoint != "" {
		s.URLs.DynamoDB, s.URLs.Kinesis = cfg.AWSEndpoint, cfg.AWSEndpoint
	}

	// Resources and schema.
	step = time.Now()
	awsCfg := aws.Config{Region: emulator.Region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.URLs.DynamoDB) })
	streamsClient := dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(s.URLs.DynamoDB) })
	kc := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(s.URLs.Kinesis) })
	tableStreams, err := createTables(ctx, db, cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if err := createStreams(ctx, kc, cfg.Prefix); err != nil {
		return nil, err
	}
	rm, err := prepareDatabase(ctx, addr[emulator.Postgres])
	if err != nil {
		return nil, err
	}
	s.URLs.Postgres = rm.ownerDSN
	s.Timings = append(s.Timings, Timing{fmt.Sprintf("tables, streams and schema (%d migrations applied)", len(rm.applied)), time.Since(step)})

	// The Supabase Auth stand-in: fresh keys on every start, as a Supabase
	// project would rotate them (its JWKS is where Supabase serves it); its
	// users in auth.users, where the profile trigger follows them, and the
	// demo's users able to sign in.
	step = time.Now()
	if s.authDB, err = readmodel.Open(ctx, rm.ownerDSN, readmodel.PoolOptions{}); err != nil {
		return nil, fmt.Errorf("auth stand-in: %w", err)
	}
	issuer, err := tokenissuer.New(s.URLs.Auth, tokenissuer.WithStore(tokenissuer.NewPGStore(s.authDB)),
		tokenissuer.WithCORSOrigins(cfg.FrontendOrigin), tokenissuer.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("auth stand-in: %w", err)
	}
	s.issuer = issuer
	if err := seedAuthUsers(ctx, issuer); err != nil {
		return nil, err
	}
	s.Timings = append(s.Timings, Timing{"auth stand-in and its demo users", time.Since(step)})

	// Functions.
	step = time.Now()
	s.rt = runtime.New(log)
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	eps := endpoints{dynamoDB: s.URLs.DynamoDB, kinesis: s.URLs.Kinesis, databaseURL: rm.ownerDSN, apiDatabaseURL: rm.apiDSN, supabaseURL: s.URLs.Auth,
		wsManagement: s.URLs.WSManagement, jwtSecret: string(issuer.HMACSecret), serviceRoleKey: issuer.ServiceRoleKey(), dataDir: dataDir,
		sesAPI: s.URLs.Admin + sesAPIPath, snsAPI: s.URLs.Admin + snsAPIPath, publicAPI: s.URLs.HTTP, notificationKey: s.mail.key,
		traces: s.URLs.Admin + "/v1/traces"}
	if cfg.Quiet || output == nil {
		output = io.Discard
	}
	output = s.metrics.tee(output) // the functions' EMF lines, for GET /metrics
	for _, f := range cfg.Functions() {
		maxConc := f.ReservedConcurrency
		if maxConc == 0 {
			maxConc = 10
		}
		env, err := priceSourceEnv(cfg, f, functionEnv(f, cfg.Prefix, eps))
		if err != nil {
			return nil, err
		}
		if _, ok := f.SettingByName(historySourceVar); ok && cfg.HistorySource != "" {
			// A later entry wins in a process's environment.
			env = append(env, historySourceVar+"="+cfg.HistorySource)
		}
		if err := s.rt.Register(runtime.Function{Name: f.Name, Binary: bins[f.Name], Env: env,
			Timeout: f.Timeout, MemoryMB: f.Memory, MaxConcurrency: maxConc, Dir: cfg.DataDir, Output: output}); err != nil {
			return nil, err
		}
	}

	// Front ends.
	httpCfg := gateway.HTTPConfig{Logger: log}
	wsCfg := gateway.WSConfig{Routes: map[string]string{}, Stage: wsStage, Logger: log}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, f := range cfg.Functions() {
		for _, tr := range f.Triggers {
			switch tr.Kind {
			case topology.HTTPRoute:
				httpCfg.Routes = append(httpCfg.Routes, gateway.Route{Method: tr.Method, Path: tr.Path, Function: f.Name, Public: publicRoute(tr)})
			case topology.HTTPAuthorizer:
				httpCfg.Authorizer = f.Name
			case topology.WSAuthorizer:
				wsCfg.Authorizer = f.Name
			case topology.WebSocketRoute:
				wsCfg.Routes[tr.RouteKey] = f.Name
			case topology.DynamoDBStream, topology.KinesisStream:
				if err := s.addPoller(f, tr, streamsClient, kc, tableStreams); err != nil {
					return nil, err
				}
			}
		}
	}
	httpCfg.CORS = apiCORS(cfg.FrontendOrigin, httpCfg.Routes)
	httpGW, err := gateway.NewHTTP(s.rt, httpCfg)
	if err != nil {
		return nil, err
	}
	if s.ws, err = gateway.NewWebSocket(s.rt, wsCfg); err != nil {
		return nil, err
	}
	schedules := schedule.FromTopology(cfg.Functions())
	if cfg.WithoutSchedules {
		schedules = nil
	}
	if s.sched, err = schedule.New(s.rt, schedules, log); err != nil {
		return nil, err
	}
	s.serve(lns["http"], httpGW)
	s.serve(lns["ws"], s.ws)
	s.serve(lns["auth"], issuer.Handler())
	s.serve(lns["admin"], s.adminHandler())
	s.serve(lns["web"], s.webHandler(cfg.WebDir))
	for name, p := range s.pollers {
		s.wg.Go(func() {
			if err := p.Run(runCtx); err != nil {
				log.Error("local stack: poller stopped", "mapping", name, "error", err.Error())
			}
		})
	}
	s.wg.Go(func() {
		if err := s.sched.Run(runCtx); err != nil {
			log.Error("local stack: scheduler stopped", "error", err.Error())
		}
	})
	if cfg.TickEvery > 0 {
		s.wg.Go(func() { s.feed(runCtx, cfg.TickEvery) })
	}
	if cfg.BackfillEvery > 0 {
		s.wg.Go(func() { s.backfill(runCtx, cfg.BackfillEvery) })
	}
	// The functions on the request path start warm, so the first request does
	// not pay their cold start.
	for _, f := range cfg.Functions() {
		if hasTrigger(f, topology.HTTPRoute, topology.HTTPAuthorizer, topology.WebSocketRoute) {
			if err := s.rt.Warm(ctx, f.Name); err != nil {
				return nil, fmt.Errorf("start %s: %w", f.Name, err)
			}
		}
	}
	s.Timings = append(s.Timings, Timing{"functions warmed, gateways, pollers and schedules", time.Since(step)},
		Timing{"total to ready", time.Since(t0)})
	return s, nil
}

// publicRoute reports whether an HTTP route trigger is one of topology.PublicOperations: the gateway routes it
// without the authorizer, as API Gateway does.
func publicRoute(tr topology.Trigger) bool {
	for _, r := range topology.HTTPRoutes {
		if r.Method == tr.Method && r.Path == tr.Path {
			return r.Public()
		}
	}
	return false
}

func (s *Stack) addPoller(f topology.Function, tr topology.Trigger, streams *dynamodbstreams.Client,
	kc *kinesis.Client, tableStreams map[string]string) error {
	name := f.Name + "<-" + tr.Source
	dest, err := esm.NewFileDestination(failureFile(s.cfg.DataDir, f.Name))
	if err != nil {
		return err
	}
	s.failures[name] = dest
	m := esm.MappingFor(f.Name, tr.Mapping)
	m.OnFailure = dest
	// Checkpoints are per mapping and per stream ARN: shard IDs repeat across
	// streams, and a table re-created after `make reset` has a new stream.
	source := topology.PhysicalName(s.cfg.Prefix, tr.Source)
	if tr.Kind == topology.DynamoDBStream {
		arn, ok := tableStreams[tr.Source]
		if !ok {
			return fmt.Errorf("%s: table %s has no stream", f.Name, tr.Source)
		}
		source = arn
	}
	cp, err := esm.NewFileCheckpoints(filepath.Join(s.cfg.DataDir, "checkpoints", fmt.Sprintf("%s-%s-%x.json", f.Name, tr.Source, fnv32(source))))
	if err != nil {
		return err
	}
	m.Checkpoints = cp
	if tr.Kind == topology.DynamoDBStream {
		s.pollers[name] = esm.NewDynamoDBStreamPoller(s.rt, streams, source, m, s.log)
	} else {
		s.pollers[name] = esm.NewKinesisPoller(s.rt, kc, source, m, s.log)
	}
	return nil
}

func (s *Stack) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	s.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("local stack: server stopped", "addr", ln.Addr().String(), "error", err.Error())
		}
	})
}

// Mint returns a token for user (a name such as "alice", or a user ID).
func (s *Stack) Mint(user string, ttl time.Duration) (userID, token string) {
	userID = UserID(user)
	return userID, s.issuer.Mint(userID, tokenissuer.WithAlg(auth.AlgRS256), tokenissuer.WithTTL(ttl), tokenissuer.WithEmail(emailOf(user)))
}

// AnonKey is the Auth stand-in's anon key (a frontend's apikey).
func (s *Stack) AnonKey() string { return s.issuer.AnonKey() }

// ServiceRoleKey is the Auth stand-in's service-role key (the functions'
// SUPABASE_SERVICE_ROLE_KEY).
func (s *Stack) ServiceRoleKey() string { return s.issuer.ServiceRoleKey() }

// Runtime is the local Lambda runtime (for tests that kill a function).
func (s *Stack) Runtime() *runtime.Runtime { return s.rt }

// Emulators is the stack's emulator set (for tests that stop and restart one:
// emulator.Set.StopEmulator, then Start).
func (s *Stack) Emulators() *emulator.Set { return s.set }

// FireSchedule runs a schedule now.
func (s *Stack) FireSchedule(ctx context.Context, name string) ([]byte, error) {
	return s.sched.FireNow(ctx, name)
}

// Close stops the front ends, the pollers, the functions and the emulators, in
// that order, so nothing is cut off mid-write by what it depends on.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.ws != nil {
			errs = append(errs, s.ws.Close())
		}
		for _, srv := range s.servers {
			errs = append(errs, srv.Shutdown(ctx))
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		if s.rt != nil {
			errs = append(errs, s.rt.Close())
		}
		for _, d := range s.failures {
			errs = append(errs, d.Close())
		}
		if s.authDB != nil {
			s.authDB.Close()
		}
		if s.set != nil {
			errs = append(errs, s.set.Stop(true))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func hasTrigger(f topology.Function, kinds ...topology.TriggerKind) bool {
	for _, tr := range f.Triggers {
		for _, k := range kinds {
			if tr.Kind == k {
				return true
			}
		}
	}
	return false
}

// feed invokes the ingest function every interval, on top of its one-minute
// schedule, so the simulated prices move visibly. Ingest's simulated source is
// a random walk anchored to the day, so more frequent calls sample the same
// path more finely.
func (s *Stack) feed(ctx context.Context, every time.Duration) {
	s.every(ctx, every, func() {
		if _, err := s.rt.Invoke(ctx, "ingest", []byte(`{"mode":"quotes"}`)); err != nil && ctx.Err() == nil {
			s.log.Warn("local stack: simulated feed tick failed", "error", err.Error())
		}
	})
}

// historySourceVar is the setting PT_LOCAL_HISTORY_SOURCE replaces.
const historySourceVar = "HISTORY_SOURCE"

// backfill invokes the backfill function every interval, then the analytics
// refresh, on top of their one-minute schedules, so that a new symbol's history
// and the figures and charts it fills show within seconds.
func (s *Stack) backfill(ctx context.Context, every time.Duration) {
	s.every(ctx, every, func() {
		for _, call := range []struct{ function, input string }{
			{"backfill", `{"mode":"scheduled"}`}, {"analytics", `{"mode":"refresh"}`},
		} {
			if _, err := s.rt.Invoke(ctx, call.function, []byte(call.input)); err != nil && ctx.Err() == nil && !errors.Is(err, invoke.ErrThrottled) {
				s.log.Warn("local stack: "+call.function+" run failed", "error", err.Error())
			}
		}
	})
}

// every runs run every interval until ctx ends; a run still going is not
// stacked on (the ticker drops ticks).
func (s *Stack) every(ctx context.Context, interval time.Duration, run func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		run()
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
