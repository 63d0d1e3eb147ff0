package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/localstack/stack"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// The load every scenario runs while its fault is injected: a few users, each
// sending one command after another, and a steady stream of ticks.
const (
	usersPerScenario = 3
	commandPause     = 60 * time.Millisecond // between one user's commands
	tickEvery        = 40 * time.Millisecond // 25 ticks a second over the scenario's symbols
	symbolsPerScen   = 4
)

// harness is a local stack started for the test, and clients to every part of it.
type harness struct {
	t       *testing.T
	st      *stack.Stack
	cfg     stack.Config
	log     string // the functions' and the stack's log file
	live    *pgxpool.Pool
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
	kin     *kinesis.Client
	http    *http.Client

	eventsTable, pricesTable, marketStream, eventsStreamARN string
}

// startHarness starts the local stack with a data folder of its own and free
// ports, without the demo and without the schedules: the test drives its own
// price feed (the ingest function's one-minute simulated quotes would move
// today's closes, and with them the analytics, under the comparison).
func startHarness(t *testing.T) *harness {
	t.Helper()
	root, err := emulator.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg := stack.Defaults(root)
	cfg.DataDir, cfg.BinDir = filepath.Join(t.TempDir(), "data"), ""
	cfg.HTTPPort, cfg.WSPort, cfg.AdminPort, cfg.AuthPort, cfg.WebPort = 0, 0, 0, 0, 0
	cfg.DynamoDBPort, cfg.KinesisPort, cfg.PostgresPort, cfg.SESPort = 0, 0, 0, 0
	cfg.Demo, cfg.TickEvery, cfg.BackfillEvery, cfg.WithoutSchedules = false, 0, 0, true
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(cfg.DataDir, "logs", "functions.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The stack's own warnings (pollers, runtime) go to the same file, in order.
	stackLog := slog.New(slog.NewTextHandler(&lockedWriter{w: logFile}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	t0 := time.Now()
	st, err := stack.Start(ctx, cfg, stackLog, logFile)
	if err != nil {
		_ = logFile.Close()
		removeStackData(cfg)
		t.Fatalf("start the local stack: %v", err)
	}
	t.Logf("local stack ready in %.1fs; function logs in %s", time.Since(t0).Seconds(), logPath)
	h := &harness{t: t, st: st, cfg: cfg, log: logPath, http: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		if h.live != nil {
			h.live.Close()
		}
		if err := st.Close(); err != nil {
			t.Errorf("stop the local stack: %v", err)
		}
		_ = logFile.Close()
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", logPath, tail(logPath, 60))
		}
		removeStackData(cfg)
	})

	awsCfg := aws.Config{Region: emulator.Region, Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	h.ddb = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(st.URLs.DynamoDB) })
	h.streams = dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(st.URLs.DynamoDB) })
	h.kin = kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(st.URLs.Kinesis) })
	h.eventsTable = topology.PhysicalName(cfg.Prefix, topology.EventsTable)
	h.pricesTable = topology.PhysicalName(cfg.Prefix, topology.PricesTable)
	h.marketStream = topology.PhysicalName(cfg.Prefix, topology.MarketDataStream)
	d, err := h.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(h.eventsTable)})
	if err != nil {
		t.Fatal(err)
	}
	h.eventsStreamARN = aws.ToString(d.Table.LatestStreamArn)
	if h.live, err = readmodel.Open(ctx, st.URLs.Postgres, readmodel.PoolOptions{MaxConns: 4, ApplicationName: "fault-harness"}); err != nil {
		t.Fatal(err)
	}
	return h
}

// removeStackData is `make reset`: the data folder, and PostgreSQL's cluster,
// which lives outside it when the postgres user cannot reach a test's folder.
func removeStackData(cfg stack.Config) {
	if st, err := emulator.ReadState(filepath.Join(cfg.DataDir, "emulators")); err == nil && st.PostgresDir != "" {
		_ = os.RemoveAll(st.PostgresDir)
	}
	_ = os.RemoveAll(cfg.DataDir)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ---------------------------------------------------------------- the API

// apiError is a non-2xx answer.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// retryable: the answer of a stack that is (partly) down, which a client retries
// with the same Idempotency-Key.
func (e *apiError) retryable() bool { return e.status >= 500 || e.status == http.StatusTooManyRequests }

// call sends one request to the HTTP API.
func (h *harness) call(ctx context.Context, token, method, path, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.st.URLs.HTTP+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return &apiError{resp.StatusCode, string(data)}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// command sends a command until it is answered: a 5xx or a broken connection (a
// function or an emulator down) is retried with the same Idempotency-Key, so the
// command is recorded exactly once; a 4xx is the harness's own mistake.
func (h *harness) command(ctx context.Context, l *load, token, method, path, key string, body, out any) error {
	backoff := 50 * time.Millisecond
	for {
		err := h.call(ctx, token, method, path, key, body, out)
		var ae *apiError
		if err == nil || (errors.As(err, &ae) && !ae.retryable()) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w (last: %v)", method, path, ctx.Err(), err)
		}
		if l != nil {
			l.retried.Add(1)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// ---------------------------------------------------------------- the load

// user is one of a scenario's users: a portfolio and a price alert, and the
// deterministic sequence of commands it sends.
type user struct {
	name, id, token, portfolio string
	rnd                        *rand.Rand
	held                       map[string]decimal.Decimal
	dividends                  []string // transaction IDs of dividends not yet voided
	n                          int
}

// load is the traffic of one scenario.
type load struct {
	sc                       *scenario
	stop                     chan struct{}
	stopOnce                 sync.Once
	wg                       sync.WaitGroup
	commands, retried, ticks atomic.Int64
	// Counted when the load stopped, before convergence.
	commandsAtStop, ticksAtStop int64

	errMu sync.Mutex
	errs  []error

	tickMu   sync.Mutex
	lastTick map[string]pricing.MarketDataUpdated // per symbol, the newest tick put
	tickSeq  int                                  // the tick driver's own
	tickBase time.Time
	poison   chan chan poisonPut // asks the tick driver for a poison record
}

func (l *load) fail(err error) {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	l.errs = append(l.errs, err)
}

// prepare creates the scenario's users, portfolios and price alerts.
func (h *harness) prepare(ctx context.Context, sc *scenario) error {
	for i := range usersPerScenario {
		name := fmt.Sprintf("%s-u%d", sc.tag, i+1)
		id, token := h.st.Mint(name, 2*time.Hour)
		f := fnv.New64a()
		_, _ = f.Write([]byte(name))
		u := &user{name: name, id: id, token: token, rnd: rand.New(rand.NewPCG(f.Sum64(), 13)), held: map[string]decimal.Decimal{}}
		var created struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := h.command(ctx, nil, token, "POST", "/portfolios", name+"-portfolio",
			map[string]any{"name": "Fault " + name, "baseCurrency": "USD"}, &created); err != nil {
			return fmt.Errorf("create the portfolio of %s: %w", name, err)
		}
		u.portfolio = created.Data.ID
		if err := h.command(ctx, nil, token, "POST", "/portfolios/"+u.portfolio+"/transactions", name+"-deposit",
			map[string]any{"type": "DEPOSIT", "date": "2024-01-02", "amount": "1000000"}, nil); err != nil {
			return fmt.Errorf("first deposit of %s: %w", name, err)
		}
		// A price alert on the scenario's first symbol, which the ticks cross
		// again and again: every crossing after a re-arming is a firing, so a
		// batch processed twice would record one twice.
		if err := h.command(ctx, nil, token, "POST", "/alerts", "", map[string]any{"kind": "price_above",
			"symbol": sc.symbols[i%len(sc.symbols)], "threshold": "100"}, nil); err != nil {
			return fmt.Errorf("price alert of %s: %w", name, err)
		}
		sc.users = append(sc.users, u)
	}
	return nil
}

// startLoad starts the scenario's commands and ticks.
func (h *harness) startLoad(ctx context.Context, sc *scenario) *load {
	l := &load{sc: sc, stop: make(chan struct{}), lastTick: map[string]pricing.MarketDataUpdated{}, poison: make(chan chan poisonPut)}
	// Tomorrow, New York time: the ticks move the latest prices, tomorrow's
	// closes, valuations and alerts, but not the closes of the days the analytics
	// value today's figures with. Otherwise every tick would change what an
	// analytics replay computes, and the comparison could not tell a fault from a
	// later price.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		h.t.Fatal(err)
	}
	now := time.Now().In(ny)
	l.tickBase = time.Date(now.Year(), now.Month(), now.Day()+1, 10, 0, 0, 0, ny).UTC().Add(time.Duration(sc.index) * time.Hour)
	for _, u := range sc.users {
		l.wg.Go(func() { h.drive(ctx, l, u) })
	}
	l.wg.Go(func() { h.tick(ctx, l) })
	return l
}

// stopLoad stops the traffic and waits for the commands in flight to be
// answered (retried until the stack answers them).
func (l *load) stopLoad() {
	l.stopOnce.Do(func() {
		close(l.stop)
		l.wg.Wait()
		l.commandsAtStop, l.ticksAtStop = l.commands.Load(), l.ticks.Load()
	})
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// drive sends u's commands until the load stops.
func (h *harness) drive(ctx context.Context, l *load, u *user) {
	for !l.stopped() {
		method, path, body, after := u.next(l.sc)
		key := fmt.Sprintf("%s-c%d", u.name, u.n)
		var out struct {
			Data struct {
				TransactionID string `json:"transactionId"`
			} `json:"data"`
		}
		if err := h.command(ctx, l, u.token, method, path, key, body, &out); err != nil {
			l.fail(fmt.Errorf("%s: command %d (%s %s %v): %w", u.name, u.n, method, path, body, err))
			return
		}
		u.n++
		l.commands.Add(1)
		if after != nil {
			after(out.Data.TransactionID)
		}
		select {
		case <-l.stop:
		case <-time.After(commandPause):
		}
	}
}

// next is u's next command: buys (some back-dated, which makes the projector
// replay a portfolio's history), sells of what is held, dividends and their
// voids, and target allocations. Every one is valid when it is sent, so a
// refusal is a failure of the test.
func (u *user) next(sc *scenario) (method, path string, body map[string]any, after func(txID string)) {
	txs := "/portfolios/" + u.portfolio + "/transactions"
	day := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC).AddDate(0, 0, u.n)
	date := day.Format(time.DateOnly)
	sym := sc.symbols[u.rnd.IntN(len(sc.symbols))]
	var heldSyms []string
	for _, s := range sc.symbols {
		if u.held[s].GreaterThanOrEqual(decimal.NewFromInt(1)) {
			heldSyms = append(heldSyms, s)
		}
	}
	switch r := u.rnd.IntN(100); {
	case r < 10:
		targets := make([]map[string]string, 0, len(sc.symbols))
		for _, s := range sc.symbols {
			targets = append(targets, map[string]string{"symbol": s, "weight": "0.25"})
		}
		return "PUT", "/portfolios/" + u.portfolio + "/targets", map[string]any{"targets": targets, "driftBand": "0.05"}, nil
	case r < 20 && len(u.dividends) > 0:
		tx := u.dividends[len(u.dividends)-1]
		u.dividends = u.dividends[:len(u.dividends)-1]
		return "POST", txs + "/" + tx + "/void", map[string]any{"reason": "fault test"}, nil
	case r < 35 && len(heldSyms) > 0:
		s := heldSyms[u.rnd.IntN(len(heldSyms))]
		return "POST", txs, map[string]any{"type": "DIVIDEND", "date": date, "symbol": s, "amount": fmt.Sprintf("%d.25", 1+u.rnd.IntN(40))},
			func(txID string) { u.dividends = append(u.dividends, txID) }
	case r < 55 && len(heldSyms) > 0:
		s := heldSyms[u.rnd.IntN(len(heldSyms))]
		u.held[s] = u.held[s].Sub(decimal.NewFromInt(1))
		return "POST", txs, map[string]any{"type": "SELL", "date": date, "symbol": s, "quantity": "1", "price": price(u.rnd), "fee": "0.50"}, nil
	case r < 65:
		// Back-dated: a buy only ever adds to what is held on later dates.
		back := day.AddDate(0, 0, -1-u.rnd.IntN(30)).Format(time.DateOnly)
		q := 1 + u.rnd.IntN(5)
		u.held[sym] = u.held[sym].Add(decimal.NewFromInt(int64(q)))
		return "POST", txs, map[string]any{"type": "BUY", "date": back, "symbol": sym, "quantity": fmt.Sprint(q), "price": price(u.rnd), "fee": "1"}, nil
	default:
		q := 1 + u.rnd.IntN(5)
		u.held[sym] = u.held[sym].Add(decimal.NewFromInt(int64(q)))
		return "POST", txs, map[string]any{"type": "BUY", "date": date, "symbol": sym, "quantity": fmt.Sprint(q), "price": price(u.rnd), "fee": "1"}, nil
	}
}

func price(r *rand.Rand) string { return fmt.Sprintf("%d.%02d", 90+r.IntN(20), r.IntN(100)) }

// tick puts a tick of the scenario's symbols on Kinesis every tickEvery, round
// robin, each symbol's price a saw-tooth between 95 and 105 that crosses the
// users' alert threshold (100) again and again.
func (h *harness) tick(ctx context.Context, l *load) {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	syms := l.sc.symbols
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		sym := syms[l.tickSeq%len(syms)]
		k := l.tickSeq / len(syms)
		p := decimal.NewFromInt(95).Add(decimal.New(int64((k*170)%1000), -2))
		ev := pricing.FromQuote(marketdata.Quote{Symbol: sym, Price: p, Volume: decimal.NewFromInt(100),
			Timestamp: l.tickBase.Add(time.Duration(l.tickSeq) * time.Millisecond), Exchange: "XNAS", Source: marketdata.SourceSimulated})
		l.tickSeq++
		data, err := pricing.Encode(ev)
		if err != nil {
			l.fail(err)
			return
		}
		select {
		case reply := <-l.poison:
			// One PutRecords: the poison and the tick after it reach the shard
			// together, so the mapping reads them into one batch.
			seqs, err := h.putRecords(ctx, sym, []byte(`{"poison":"not a MarketDataUpdated event"}`), data)
			if err != nil {
				reply <- poisonPut{err: err}
				l.fail(fmt.Errorf("poison and tick %s: %w", sym, err))
				return
			}
			reply <- poisonPut{seq: seqs[0]}
		default:
			if _, err := h.putRecord(ctx, sym, data); err != nil {
				l.fail(fmt.Errorf("tick %s: %w", sym, err))
				return
			}
		}
		l.ticks.Add(1)
		l.tickMu.Lock()
		l.lastTick[sym] = ev
		l.tickMu.Unlock()
	}
}

// putRecord puts one record on the market-data stream, retrying what kinesis-mock
// refuses for a moment; it returns the record's sequence number and shard.
func (h *harness) putRecord(ctx context.Context, key string, data []byte) (seqShard [2]string, err error) {
	for attempt := 0; ; attempt++ {
		out, err := h.kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(h.marketStream), PartitionKey: aws.String(key), Data: data})
		if err == nil {
			return [2]string{aws.ToString(out.SequenceNumber), aws.ToString(out.ShardId)}, nil
		}
		if attempt == 20 || ctx.Err() != nil {
			return seqShard, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// putRecords puts records with one partition key in one PutRecords call and
// returns their sequence numbers.
func (h *harness) putRecords(ctx context.Context, key string, data ...[]byte) ([]string, error) {
	entries := make([]kintypes.PutRecordsRequestEntry, len(data))
	for i, d := range data {
		entries[i] = kintypes.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: d}
	}
	out, err := h.kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(h.marketStream), Records: entries})
	if err != nil {
		return nil, err
	}
	seqs := make([]string, len(out.Records))
	for i, r := range out.Records {
		if r.ErrorCode != nil {
			return nil, fmt.Errorf("put record %d: %s %s", i, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
		}
		seqs[i] = aws.ToString(r.SequenceNumber)
	}
	return seqs, nil
}

// ---------------------------------------------------------------- the faults

// killMidBatch kills fn's instances that hold an invocation they have not
// answered (runtime.KillBusy), polling every millisecond until there is one, and
// returns once a kill has ended an invocation in an error (Runtime.ExitError):
// the kill landed mid-batch, not between batches. A kill whose invocation still
// succeeds (its answer was already on its way) does not count; late counts them.
func (h *harness) killMidBatch(ctx context.Context, fn string) (late int, err error) {
	rt := h.st.Runtime()
	deadline := time.Now().Add(20 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		errorsBefore := rt.Stats(fn).Errors
		if rt.KillBusy(fn) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); time.Sleep(5 * time.Millisecond) {
			if rt.Stats(fn).Errors > errorsBefore {
				return late, nil
			}
		}
		late++
	}
	return late, fmt.Errorf("no invocation of %s killed mid-batch within 20 s (%d kills came after its answer)", fn, late)
}

// outage stops an emulator, keeps it down for d (counted from the stop), and
// starts it again on the same port with its data; it returns when it answers
// again.
func (h *harness) outage(ctx context.Context, k emulator.Kind, d time.Duration) (down time.Duration, err error) {
	set := h.st.Emulators()
	t0 := time.Now()
	if err := set.StopEmulator(k); err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(time.Until(t0.Add(d))):
	}
	if _, err := set.Start(ctx, k); err != nil {
		return 0, fmt.Errorf("start %s again: %w", k, err)
	}
	return time.Since(t0), nil
}

// poisonEvent writes an events-table item that no consumer can decode: its
// data attribute is a map where the event store keeps JSON text. It is an
// aggregate of its own, so it holds no real portfolio's version.
func (h *harness) poisonEvent(ctx context.Context, sc *scenario) (string, error) {
	id := "poison-" + sc.tag + "-" + uuid.New()
	_, err := h.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(h.eventsTable), Item: map[string]ddbtypes.AttributeValue{
		eventstore.AttrAggregateID:   &ddbtypes.AttributeValueMemberS{Value: id},
		eventstore.AttrVersion:       &ddbtypes.AttributeValueMemberN{Value: "1"},
		eventstore.AttrAggregateType: &ddbtypes.AttributeValueMemberS{Value: portfolio.AggregateType},
		eventstore.AttrEventType:     &ddbtypes.AttributeValueMemberS{Value: "TransactionRecorded"},
		eventstore.AttrData: &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"not": &ddbtypes.AttributeValueMemberS{Value: "an event"}}},
	}})
	return id, err
}

// poisonTick has the tick driver put a record on the market-data stream that is
// not a MarketDataUpdated event, keyed like a live symbol and followed at once by
// that symbol's next tick, so that live ticks share its shard and its batch. It
// returns the poison's sequence number.
func (h *harness) poisonTick(ctx context.Context, l *load) (string, error) {
	reply := make(chan poisonPut, 1)
	select {
	case l.poison <- reply:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	p := <-reply
	return p.seq, p.err
}

type poisonPut struct {
	seq string
	err error
}
