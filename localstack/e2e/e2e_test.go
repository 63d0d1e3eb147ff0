// Package e2e starts the local stack as a user does (the localstack command in
// its own process, `localstack run`) and drives it over real HTTP and a real
// WebSocket: the end-to-end test of issue 6, part of `make test`.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/coder/websocket"
	"github.com/shopspring/decimal"
	"github.com/supabase-community/supabase-go"

	"github.com/portfoliotracker/tracker/localstack/stack"
	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// localStack is a running `localstack run` process.
type localStack struct {
	bin     string
	root    string
	env     []string
	cmd     *exec.Cmd
	dataDir string
	ports   map[string]int
	out     *syncBuffer
	done    chan struct{}
}

func (s *localStack) url(name string) string {
	return fmt.Sprintf("http://127.0.0.1:%d", s.ports[name])
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePorts(t testing.TB, names ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	var lns []net.Listener
	for _, n := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out[n] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return out
}

// startStack builds the localstack command and runs it with its data in a
// temporary folder and every port free, as `make run` does with the defaults.
func startStack(t testing.TB) *localStack {
	t.Helper()
	return startStackWith(t)
}

// startStackWith is startStack with more PT_LOCAL_* settings (NAME=value),
// which win over startStack's (no demo, no simulated feed).
func startStackWith(t testing.TB, settings ...string) *localStack {
	t.Helper()
	root, err := emulator.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "localstack")
	build := exec.Command("go", "build", "-o", bin, "./cmd/localstack")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build localstack: %v\n%s", err, out)
	}
	s := &localStack{dataDir: filepath.Join(tmp, "data"), out: &syncBuffer{}, done: make(chan struct{}),
		ports: freePorts(t, "HTTP", "WS", "ADMIN", "AUTH", "DYNAMODB", "KINESIS", "POSTGRES", "SES", "WEB")}
	s.cmd = exec.Command(bin, "run")
	s.cmd.Dir = root
	env := []string{"PT_LOCAL_DATA=" + s.dataDir, "PT_LOCAL_DEMO=false", "PT_LOCAL_TICK=0"}
	for name, p := range s.ports {
		env = append(env, fmt.Sprintf("PT_LOCAL_%s_PORT=%d", name, p))
	}
	env = append(env, settings...)
	// The harness's emulators are not the stack's: it starts its own, as on a laptop.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "PT_") {
			env = append(env, kv)
		}
	}
	s.cmd.Env = env
	s.bin, s.root, s.env = bin, root, env
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.out, line)
			if !signalled && strings.Contains(line, "is running locally") {
				signalled = true
				close(ready)
			}
		}
	}()
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("localstack exited before it was ready:\n%s", s.out)
	case <-time.After(4 * time.Minute):
		t.Fatalf("localstack not ready after 4 minutes:\n%s", s.out)
	}
	t.Logf("local stack started:\n%s", s.out)
	return s
}

// stop interrupts the stack as Ctrl-C does and checks that it leaves no
// process behind.
func (s *localStack) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("localstack did not stop within 60 s of SIGINT:\n%s", s.out)
		<-s.done
	}
	time.Sleep(200 * time.Millisecond)
	if left := processesUnder(s.dataDir); len(left) > 0 {
		t.Errorf("processes left behind after the stack stopped: %v", left)
	}
	// `make reset`: the data folder goes, and with it PostgreSQL's cluster, which
	// lives outside it when the postgres user cannot reach a test's temporary folder.
	st, err := emulator.ReadState(filepath.Join(s.dataDir, "emulators"))
	if err != nil {
		t.Errorf("the stack's emulator state: %v", err)
	}
	reset := exec.Command(s.bin, "reset")
	reset.Dir, reset.Env = s.root, s.env
	if out, err := reset.CombinedOutput(); err != nil {
		t.Errorf("localstack reset: %v\n%s", err, out)
	}
	for _, dir := range []string{s.dataDir, st.PostgresDir} {
		if _, err := os.Stat(dir); dir != "" && !os.IsNotExist(err) {
			t.Errorf("%s still there after reset: %v", dir, err)
		}
	}
}

// processesUnder lists processes whose command line mentions dir (the
// emulators, PostgreSQL and the functions all run from or with it).
func processesUnder(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if strings.Contains(cmdline, dir) || strings.HasPrefix(exe, dir) {
			out = append(out, fmt.Sprintf("%d %s", pid, cmdline))
		}
	}
	return out
}

// functionPIDs are the running instances of a function.
func (s *localStack) functionPIDs(name string) []int {
	bin := filepath.Join(s.dataDir, "bin", name)
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); exe == bin {
			out = append(out, pid)
		}
	}
	return out
}

type client struct {
	base, token string
}

func (c client) do(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func (s *localStack) token(t testing.TB, user string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if code := (client{base: s.url("ADMIN")}).do(t, "POST", "/token?user="+user, nil, &tok); code != 200 || tok.AccessToken == "" {
		t.Fatalf("token: HTTP %d", code)
	}
	return tok.AccessToken
}

type positions struct {
	Positions []struct {
		Symbol      string `json:"symbol"`
		Quantity    string `json:"quantity"`
		MarketPrice string `json:"marketPrice"`
	} `json:"positions"`
}

func (c client) waitPositions(t testing.TB, portfolio string, want map[string]string, within time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	var last positions
	for time.Since(t0) < within {
		last = positions{}
		c.do(t, "GET", "/portfolios/"+portfolio+"/positions", nil, &last)
		got := map[string]string{}
		for _, p := range last.Positions {
			got[p.Symbol] = p.Quantity
		}
		ok := true
		for sym, q := range want {
			if g, found := got[sym]; !found || !decimal.RequireFromString(g).Equal(decimal.RequireFromString(q)) {
				ok = false
			}
		}
		if ok {
			return time.Since(t0)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("positions of %s not %v within %s; last %+v", portfolio, want, within, last)
	return 0
}

// wsConn is a WebSocket client collecting messages by type.
type wsConn struct {
	c    *websocket.Conn
	msgs chan map[string]any
}

func dialWS(t testing.TB, s *localStack, token string) *wsConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/local?token=%s", s.ports["WS"], token), nil)
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	w := &wsConn{c: c, msgs: make(chan map[string]any, 1024)}
	go func() {
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				close(w.msgs)
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) == nil {
				w.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(websocket.StatusNormalClosure, "") })
	return w
}

func (w *wsConn) send(t testing.TB, v any) {
	t.Helper()
	raw, _ := json.Marshal(v)
	if err := w.c.Write(context.Background(), websocket.MessageText, raw); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message matching match, or fails after d.
func (w *wsConn) next(t testing.TB, d time.Duration, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				t.Fatal("websocket closed")
			}
			if match(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("no matching websocket message within %s", d)
			return nil
		}
	}
}

func kinesisClient(s *localStack) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: emulator.Region, BaseEndpoint: aws.String(fmt.Sprintf("http://127.0.0.1:%d", s.ports["KINESIS"])),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
}

// publish puts one MarketDataUpdated on the stream, as the ingest function does.
func publish(t testing.TB, kc *kinesis.Client, symbol, price string, at time.Time) {
	t.Helper()
	publishWith(t, kc, symbol, price, at, "")
}

// publishWith is publish of a record carrying traceparent.
func publishWith(t testing.TB, kc *kinesis.Client, symbol, price string, at time.Time, traceparent string) {
	t.Helper()
	ev := pricing.FromQuote(marketdata.Quote{Symbol: symbol, Price: decimal.RequireFromString(price), Volume: decimal.NewFromInt(100),
		Timestamp: at.UTC(), Exchange: "XNAS", Source: marketdata.SourceSimulated})
	ev.EventID = fmt.Sprintf("e2e-%s-%d", symbol, at.UnixNano())
	ev.Traceparent = traceparent
	data, err := pricing.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("pt-local-" + topology.MarketDataStream),
		PartitionKey: aws.String(symbol), Data: data})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLocalStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack")
	}
	s := startStack(t)
	api := client{base: s.url("HTTP"), token: s.token(t, "e2e-alice")}

	t.Run("gateway errors are API Gateway's", func(t *testing.T) {
		var body map[string]any
		if code := (client{base: s.url("HTTP")}).do(t, "GET", "/portfolios", nil, &body); code != 401 || body["message"] != "Unauthorized" {
			t.Errorf("no token: %d %v, want 401 Unauthorized", code, body)
		}
		body = nil
		if code := (client{base: s.url("HTTP"), token: "not-a-jwt"}).do(t, "GET", "/portfolios", nil, &body); code != 403 || body["message"] != "Forbidden" {
			t.Errorf("bad token: %d %v, want 403 Forbidden", code, body)
		}
		body = nil
		if code := api.do(t, "GET", "/no-such-route", nil, &body); code != 404 || body["message"] != "Not Found" {
			t.Errorf("unknown route: %d %v, want 404 Not Found", code, body)
		}
		var apiErr struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if code := api.do(t, "POST", "/portfolios", map[string]any{"name": ""}, &apiErr); code < 400 || code >= 500 || apiErr.Error.Code == "" {
			t.Errorf("bad body: %d %+v, want a 4xx with the API's error shape", code, apiErr)
		}
	})

	t.Run("a demo user signs in with the Auth stand-in and calls the API", func(t *testing.T) {
		var keys struct {
			URL, AnonKey, DemoPassword string
		}
		if code := (client{base: s.url("ADMIN")}).do(t, "GET", "/auth", nil, &keys); code != 200 || keys.AnonKey == "" {
			t.Fatalf("GET /auth: %d %+v", code, keys)
		}
		sb, err := supabase.NewClient(keys.URL, keys.AnonKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		session, err := sb.SignInWithEmailPassword("alice@example.test", keys.DemoPassword)
		if err != nil {
			t.Fatalf("sign-in: %v", err)
		}
		if id := session.User.ID.String(); id != stack.UserID("alice") {
			t.Errorf("signed in as %s, want the demo's alice %s", id, stack.UserID("alice"))
		}
		var list map[string]any
		if code := (client{base: s.url("HTTP"), token: session.AccessToken}).do(t, "GET", "/portfolios", nil, &list); code != 200 {
			t.Errorf("the API with the signed-in token: %d %v", code, list)
		}
		refreshed, err := sb.RefreshToken(session.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if code := (client{base: s.url("HTTP"), token: refreshed.AccessToken}).do(t, "GET", "/portfolios", nil, nil); code != 200 {
			t.Errorf("the API with the refreshed token: %d", code)
		}
	})

	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if code := api.do(t, "POST", "/portfolios", map[string]any{"name": "E2E", "baseCurrency": "USD"}, &created); code != 201 || created.Data.ID == "" {
		t.Fatalf("create portfolio: %d %+v", code, created)
	}
	portfolio := created.Data
	txs := "/portfolios/" + portfolio.ID + "/transactions"
	for _, tx := range []map[string]any{
		{"type": "DEPOSIT", "date": "2024-01-02", "amount": "20000"},
		{"type": "BUY", "date": "2024-01-03", "symbol": "AAPL", "quantity": "10", "price": "150"},
		{"type": "BUY", "date": "2024-01-04", "symbol": "MSFT", "quantity": "5", "price": "400"},
	} {
		if code := api.do(t, "POST", txs, tx, nil); code != 201 && code != 200 {
			t.Fatalf("record %v: HTTP %d", tx, code)
		}
	}
	took := api.waitPositions(t, portfolio.ID, map[string]string{"AAPL": "10", "MSFT": "5"}, 2*time.Second)
	t.Logf("positions in the read model %s after the last command", took)

	ws := dialWS(t, s, s.token(t, "e2e-alice"))
	ws.send(t, map[string]any{"action": "subscribe", "portfolioId": portfolio.ID, "symbols": []string{"MSFT"}})
	ws.next(t, 5*time.Second, func(m map[string]any) bool { return m["type"] == "subscribed" })
	// A second tab of the same user that subscribed to nothing: alerts, but no
	// valuations or prices.
	idle := dialWS(t, s, s.token(t, "e2e-alice"))

	t.Run("another user's portfolio is refused", func(t *testing.T) {
		bob := dialWS(t, s, s.token(t, "e2e-bob"))
		bob.send(t, map[string]any{"action": "subscribe", "portfolioId": portfolio.ID})
		m := bob.next(t, 5*time.Second, func(m map[string]any) bool { return m["type"] == "error" || m["type"] == "subscribed" })
		if m["type"] != "error" {
			t.Errorf("bob subscribed to alice's portfolio: %v", m)
		}
	})

	t.Run("a connection past the user's quota is refused with 429", func(t *testing.T) {
		token := s.token(t, "e2e-carol")
		for range quota.ConnectionsPerUser.Limit {
			c := dialWS(t, s, token)
			defer c.c.CloseNow()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/local?token=%s", s.ports["WS"], token), nil)
		if err == nil {
			c.CloseNow()
			t.Fatal("connected past the quota")
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("refusal %v, want 429", resp)
		}
	})

	t.Run("a simulated price brings a valuation", func(t *testing.T) {
		var out json.RawMessage
		if code := (client{base: s.url("ADMIN")}).do(t, "POST", "/schedules/ingest-quotes/fire", nil, &out); code != 200 {
			t.Fatalf("fire the ingest schedule: HTTP %d %s", code, out)
		}
		m := ws.next(t, 10*time.Second, func(m map[string]any) bool { return m["type"] == "valuation" && m["portfolioId"] == portfolio.ID })
		if mv, _ := m["marketValue"].(string); mv == "" || decimal.RequireFromString(mv).Sign() <= 0 {
			t.Errorf("valuation without a market value: %v", m)
		}
	})

	t.Run("the trade and the tick emitted their metrics", func(t *testing.T) { testMetrics(t, s) })
	t.Run("one trace from a trade to the consumers and from a tick to the push", func(t *testing.T) {
		testTracing(t, s, api.token, portfolio.ID, ws, kinesisClient(s))
	})

	t.Run("a symbol watched over the WebSocket and held by nobody receives price messages", func(t *testing.T) {
		// NFLX: no position, no alert rule, no benchmark. Only the watch puts it on
		// the ingest's watch list, and only the ingest's quote can reach dave.
		dave := dialWS(t, s, s.token(t, "e2e-dave"))
		dave.send(t, map[string]any{"action": "subscribe", "symbols": []string{"NFLX"}})
		dave.next(t, 5*time.Second, func(m map[string]any) bool { return m["type"] == "subscribed" })
		// The prices function reads who is connected once a second
		// (push.Options.ConnectedUsersFor): dave is in its list from then on.
		time.Sleep(1200 * time.Millisecond)
		var out struct {
			Reasons map[string]int `json:"reasons"`
		}
		if code := (client{base: s.url("ADMIN")}).do(t, "POST", "/schedules/ingest-quotes/fire", nil, &out); code != 200 {
			t.Fatalf("fire the ingest schedule: HTTP %d %+v", code, out)
		}
		if out.Reasons["watched"] < 1 {
			t.Errorf("the ingest's watch list counts %v, want NFLX among the watched", out.Reasons)
		}
		dave.next(t, 10*time.Second, func(m map[string]any) bool {
			qs, _ := m["quotes"].([]any)
			for _, q := range qs {
				if qm, _ := q.(map[string]any); m["type"] == "price" && qm["symbol"] == "NFLX" {
					return true
				}
			}
			return false
		})
	})

	t.Run("an alert fires exactly once while the price oscillates", func(t *testing.T) {
		kc := kinesisClient(s)
		var rule struct {
			ID string `json:"id"`
		}
		if code := api.do(t, "POST", "/alerts", map[string]any{"kind": "price_above", "symbol": "MSFT", "threshold": "500"}, &rule); code != 201 {
			t.Fatalf("create rule: HTTP %d", code)
		}
		// Bob holds no MSFT but watches it: he gets its quotes, not alice's alert
		// or valuations.
		watcher := dialWS(t, s, s.token(t, "e2e-bob"))
		watcher.send(t, map[string]any{"action": "subscribe", "symbols": []string{"MSFT"}})
		watcher.next(t, 5*time.Second, func(m map[string]any) bool { return m["type"] == "subscribed" })
		// The prices function reads who is connected once a second
		// (push.Options.ConnectedUsersFor): bob is in its list from then on.
		time.Sleep(1200 * time.Millisecond)
		base := time.Now().Add(time.Hour) // newer than any simulated tick, so ours are the latest
		// Around the threshold, never below its re-arming level (0.5% hysteresis: 497.50).
		for i, p := range []string{"480", "501", "499", "502", "498", "503", "499.5", "504"} {
			publish(t, kc, "MSFT", p, base.Add(time.Duration(i)*time.Second))
			time.Sleep(150 * time.Millisecond)
		}
		first := ws.next(t, 10*time.Second, func(m map[string]any) bool { return m["type"] == "alert" })
		f, _ := first["firing"].(map[string]any)
		if f["ruleId"] != rule.ID {
			t.Fatalf("alert for another rule: %v", first)
		}
		// The subscribed symbol's quotes come as price messages.
		ws.next(t, 10*time.Second, func(m map[string]any) bool {
			qs, _ := m["quotes"].([]any)
			for _, q := range qs {
				if qm, _ := q.(map[string]any); m["type"] == "price" && qm["symbol"] == "MSFT" {
					return true
				}
			}
			return false
		})
		deadline := time.After(4 * time.Second)
		for done := false; !done; {
			select {
			case m := <-ws.msgs:
				if m["type"] == "alert" {
					t.Errorf("a second alert: %v", m)
				}
			case <-deadline:
				done = true
			}
		}
		var hist struct {
			Items []map[string]any `json:"items"`
		}
		api.do(t, "GET", "/alerts/history", nil, &hist)
		n := 0
		for _, it := range hist.Items {
			if it["ruleId"] == rule.ID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("alert history has %d firings of the rule, want 1: %v", n, hist.Items)
		}
		kinds := map[string]int{}
		for drained := false; !drained; {
			select {
			case m := <-idle.msgs:
				kinds[fmt.Sprint(m["type"])]++
			default:
				drained = true
			}
		}
		if kinds["alert"] != 1 || kinds["valuation"] != 0 || kinds["price"] != 0 {
			t.Errorf("the unsubscribed connection got %v, want exactly the one alert", kinds)
		}
		kinds = map[string]int{}
		msft := 0
		for drained := false; !drained; {
			select {
			case m := <-watcher.msgs:
				kinds[fmt.Sprint(m["type"])]++
				qs, _ := m["quotes"].([]any)
				for _, q := range qs {
					if qm, _ := q.(map[string]any); qm["symbol"] == "MSFT" {
						msft++
					}
				}
			default:
				drained = true
			}
		}
		if kinds["price"] == 0 || msft == 0 || kinds["alert"] != 0 || kinds["valuation"] != 0 {
			t.Errorf("the connection watching MSFT without holding it got %v (%d MSFT quotes), want prices only", kinds, msft)
		}
	})

	t.Run("history fills itself: performance, chart and beta against a benchmark nobody holds", func(t *testing.T) {
		testHistoryFillsItself(t, s)
	})

	t.Run("killing the projector: the mapping retries and the read model converges", func(t *testing.T) {
		stop := make(chan struct{})
		killed := 0
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(15 * time.Millisecond):
				}
				for _, pid := range s.functionPIDs("projector") {
					if syscall.Kill(pid, syscall.SIGKILL) == nil {
						killed++
					}
				}
			}
		})
		for i, sym := range []string{"GOOGL", "NVDA", "AMZN"} {
			tx := map[string]any{"type": "BUY", "date": fmt.Sprintf("2024-02-0%d", i+1), "symbol": sym, "quantity": "3", "price": "100"}
			if code := api.do(t, "POST", txs, tx, nil); code != 201 && code != 200 {
				t.Fatalf("record %v: HTTP %d", tx, code)
			}
			time.Sleep(700 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond)
		close(stop)
		wg.Wait()
		if killed == 0 {
			t.Fatal("no projector process was running to kill")
		}
		took := api.waitPositions(t, portfolio.ID, map[string]string{"AAPL": "10", "MSFT": "5", "GOOGL": "3", "NVDA": "3", "AMZN": "3"}, 30*time.Second)
		var status struct {
			Functions map[string]map[string]float64 `json:"functions"`
			Mappings  map[string]map[string]float64 `json:"mappings"`
		}
		(client{base: s.url("ADMIN")}).do(t, "GET", "/status", nil, &status)
		fn, mapping := status.Functions["projector"], status.Mappings["projector<-events"]
		t.Logf("killed %d projector processes; converged %s after the killing stopped; projector %v; mapping %v", killed, took, fn, mapping)
		if fn["ColdStarts"] < 2 {
			t.Errorf("the projector was never restarted: %v", fn)
		}
		if mapping["Retries"] < 1 {
			t.Errorf("the mapping never retried a batch: %v", mapping)
		}
		if mapping["Failures"] != 0 {
			t.Errorf("records sent to the on-failure destination: %v", mapping)
		}
	})

	t.Run("an alert reaches a user who is not looking, by e-mail, once", func(t *testing.T) {
		testNotifications(t, s)
	})

	t.Run("the demo: a EUR portfolio holding US and UK shares", func(t *testing.T) {
		testDemo(t, s)
	})
}

// testDemo: the demo seeded on a running stack (POST /demo, what `make run`
// does at start) holds, besides the dollar portfolios, a EUR portfolio with
// US shares in dollars and a London ETF in pence, bought with euros converted
// into dollars and pounds, and a dollar dividend. Every one of its foreign
// transactions went through the API with its rate (fxRate): the command
// service refuses one without (fx_rate_required), so the demo seeding at all
// says they carry one. Its positions are 30 + 15 − 7 AAPL and 100 + 50 VUSA.L.
func testDemo(t *testing.T, s *localStack) {
	var users []struct{ Name, PortfolioID string }
	if code := (client{base: s.url("ADMIN")}).do(t, "POST", "/demo", nil, &users); code != 200 {
		t.Fatalf("seed the demo: HTTP %d %+v", code, users)
	}
	var carla string
	for _, u := range users {
		if u.Name == "carla" {
			carla = u.PortfolioID
		}
	}
	if len(users) != 3 || carla == "" {
		t.Fatalf("demo users %+v, want alice, bob and carla", users)
	}
	api := client{base: s.url("HTTP"), token: s.token(t, "carla")}
	api.waitPositions(t, carla, map[string]string{"AAPL": "38", "VUSA.L": "150"}, 30*time.Second)
	var pos struct {
		BaseCurrency string `json:"baseCurrency"`
	}
	if api.do(t, "GET", "/portfolios/"+carla+"/positions", nil, &pos); pos.BaseCurrency != "EUR" {
		t.Errorf("the demo's European portfolio is in %q, want EUR", pos.BaseCurrency)
	}
	var page struct {
		Items []struct {
			Type, Symbol, Currency string
		} `json:"items"`
	}
	if code := api.do(t, "GET", "/portfolios/"+carla+"/transactions?limit=100", nil, &page); code != 200 {
		t.Fatalf("transactions: HTTP %d", code)
	}
	got := map[string]int{}
	for _, tx := range page.Items {
		got[tx.Type+" "+tx.Symbol+" "+tx.Currency]++
	}
	want := map[string]int{"DEPOSIT  EUR": 1, "CONVERSION  EUR": 2, "BUY AAPL USD": 2, "BUY VUSA.L GBp": 2, "DIVIDEND AAPL USD": 1, "SELL AAPL USD": 1}
	if !maps.Equal(got, want) {
		t.Errorf("the demo's European transactions %v, want %v", got, want)
	}
}

// testHistoryFillsItself: a portfolio whose trades start three years back, with
// a benchmark nobody holds, gets the daily closes of its symbol and of its
// benchmark backfilled, and its performance, risk (beta) and value history
// recomputed, by the stack's own schedules (the backfill and the analytics
// refresh), with no manual step.
func testHistoryFillsItself(t *testing.T, s *localStack) {
	api := client{base: s.url("HTTP"), token: s.token(t, "e2e-dave")}
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if code := api.do(t, "POST", "/portfolios", map[string]any{"name": "Three years", "baseCurrency": "USD"}, &created); code != 201 {
		t.Fatalf("create portfolio: %d", code)
	}
	id := created.Data.ID
	first := time.Now().UTC().AddDate(-3, 0, 0)
	for first.Weekday() == time.Saturday || first.Weekday() == time.Sunday {
		first = first.AddDate(0, 0, 1)
	}
	day := first.Format("2006-01-02")
	for _, tx := range []map[string]any{
		{"type": "DEPOSIT", "date": day, "amount": "10000"},
		{"type": "BUY", "date": day, "symbol": "KO", "quantity": "100", "price": "60"},
	} {
		if code := api.do(t, "POST", "/portfolios/"+id+"/transactions", tx, nil); code != 201 && code != 200 {
			t.Fatalf("record %v: HTTP %d", tx, code)
		}
	}
	if code := api.do(t, "PUT", "/portfolios/"+id+"/settings", map[string]any{"benchmark": "DIA"}, nil); code != 200 {
		t.Fatalf("set the benchmark: HTTP %d", code)
	}
	start := time.Now()

	// The symbols' backfills complete, from the first trade.
	var symbols struct {
		Items []struct {
			Symbol  string   `json:"symbol"`
			Roles   []string `json:"roles"`
			History *struct {
				State, NeededFrom, FilledFrom, FilledTo, Source string
			} `json:"history"`
		} `json:"items"`
	}
	complete := func() bool {
		symbols.Items = nil
		api.do(t, "GET", "/portfolios/"+id+"/symbols", nil, &symbols)
		n := 0
		for _, it := range symbols.Items {
			if h := it.History; h != nil && h.State == "complete" && h.NeededFrom == day && h.FilledFrom <= day && h.Source == "simulated" {
				n++
			}
		}
		return len(symbols.Items) == 2 && n == 2
	}
	for !complete() {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("the backfills of KO and DIA not complete within 2 minutes: %+v", symbols.Items)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, it := range symbols.Items {
		t.Logf("%s %v: %s, filled %s..%s from %s", it.Symbol, it.Roles, it.History.State, it.History.FilledFrom, it.History.FilledTo, it.History.Source)
	}
	t.Logf("backfills complete %s after the trades", time.Since(start).Round(time.Millisecond))

	// The figures and the chart are recomputed with them.
	type metric struct {
		Value *float64 `json:"value"`
	}
	var risk struct {
		Benchmark struct {
			Symbol       string `json:"symbol"`
			Observations int    `json:"observations"`
			Beta         metric `json:"beta"`
		} `json:"benchmark"`
	}
	var perf struct {
		From       string `json:"from"`
		Volatility struct {
			Annualized metric `json:"annualized"`
		} `json:"volatility"`
	}
	var hist struct {
		From   string `json:"from"`
		Days   int    `json:"days"`
		Series []struct {
			Value string `json:"value"`
		} `json:"series"`
	}
	filled := func() bool {
		risk.Benchmark.Beta.Value, perf.Volatility.Annualized.Value, hist.Series = nil, nil, nil
		api.do(t, "GET", "/portfolios/"+id+"/risk", nil, &risk)
		api.do(t, "GET", "/portfolios/"+id+"/performance?from="+day, nil, &perf)
		api.do(t, "GET", "/portfolios/"+id+"/history", nil, &hist)
		// A chart of closes, not of the purchase price carried flat: its first
		// year moves.
		distinct := map[string]bool{}
		for _, p := range hist.Series[:min(len(hist.Series), len(hist.Series)/3)] {
			distinct[p.Value] = true
		}
		return risk.Benchmark.Symbol == "DIA" && risk.Benchmark.Beta.Value != nil && risk.Benchmark.Observations > 200 &&
			perf.Volatility.Annualized.Value != nil && hist.From == day && hist.Days > 1000 && len(distinct) > 50
	}
	for !filled() {
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("figures not filled within 3 minutes: risk %+v, performance %+v, history from %s, %d days, %d points",
				risk.Benchmark, perf, hist.From, hist.Days, len(hist.Series))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("performance, risk (beta %.3f against DIA over %d observations) and a %d-day chart filled %s after the trades",
		*risk.Benchmark.Beta.Value, risk.Benchmark.Observations, hist.Days, time.Since(start).Round(time.Millisecond))
}
