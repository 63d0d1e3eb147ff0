package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamolease"
	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/app/streaming"
	"github.com/portfoliotracker/tracker/shared/app/streaming/streamingtest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const testToken = "test-token"

// finnhub is a local WebSocket server speaking Finnhub's trade protocol: it
// hands each connection to the test and collects what the client sends.
type finnhub struct {
	*httptest.Server
	conns chan *finnhubConn
}

type finnhubConn struct {
	c    *websocket.Conn
	msgs chan map[string]string
}

func newFinnhub(t *testing.T) *finnhub {
	f := &finnhub{conns: make(chan *finnhubConn, 8)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != testToken {
			http.Error(w, `{"error":"Invalid API key"}`, http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		fc := &finnhubConn{c: c, msgs: make(chan map[string]string, 64)}
		f.conns <- fc
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]string
			_ = json.Unmarshal(data, &m)
			fc.msgs <- m
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *finnhub) url() string { return "ws" + strings.TrimPrefix(f.URL, "http") }

func (f *finnhub) accept(t *testing.T) *finnhubConn {
	t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not connect")
		return nil
	}
}

// expect reads the client's next messages: "subscribe AAPL", ...
func (c *finnhubConn) expect(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for range want {
		select {
		case m := <-c.msgs:
			got = append(got, m["type"]+" "+m["symbol"])
		case <-time.After(10 * time.Second):
			t.Fatalf("client sent %q, want %q", got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("client sent %q, want %q", got, want)
	}
}

func (c *finnhubConn) send(t *testing.T, msg string) {
	t.Helper()
	if err := c.c.Write(t.Context(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// counted counts the trades the stream delivers, so the test ticks the clock
// only once they are in.
type counted struct {
	streaming.TradeStream
	n atomic.Int64
}

func (c *counted) Run(ctx context.Context, emit func(market.Quote) error) error {
	return c.TradeStream.Run(ctx, func(q market.Quote) error {
		err := emit(q)
		c.n.Add(1)
		return err
	})
}

func (c *counted) await(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); c.n.Load() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d trades arrived, want %d", c.n.Load(), n)
		}
	}
}

type watchList struct {
	mu      sync.Mutex
	symbols []string
}

func (w *watchList) set(symbols ...string) {
	w.mu.Lock()
	w.symbols = symbols
	w.mu.Unlock()
}

func (w *watchList) Symbols(context.Context) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.symbols), nil
}

// published reads the Kinesis stream: each record decoded as the prices
// consumer decodes it, described, per symbol in the stream's order.
func published(t *testing.T, w wiring) map[string][]string {
	t.Helper()
	recs, err := kinesispub.ReadAll(t.Context(), testenv.Kinesis(t), w.Stream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range recs {
		e, err := pricing.Decode(r.Data)
		if err != nil {
			t.Fatalf("record %s: %v", r.Data, err)
		}
		out[e.Symbol] = append(out[e.Symbol], e.Price.String()+" x"+e.Volume.String()+" "+e.Source+" "+*r.PartitionKey)
	}
	return out
}

// TestStreamEndToEnd runs the function against a local Finnhub WebSocket
// server, DynamoDB Local and kinesis-mock: trades in, coalesced records out
// (currency pairs in our symbols), a second invocation returning at once,
// subscriptions following the watch list, a dropped connection resumed, and
// the lease free for the next invocation at the end.
func TestStreamEndToEnd(t *testing.T) {
	ctx := context.Background()
	db, kc := testenv.DynamoDB(t), testenv.Kinesis(t)
	decl, _ := topology.TableByName(topology.LeasesTable)
	w := wiring{DynamoDB: db, Kinesis: kc, LeasesTable: testenv.UniqueName(t, "leases"), Stream: testenv.UniqueName(t, "updates"),
		Token: testToken, Interval: time.Second, WatchRefresh: 30 * time.Second, MaxSymbols: 50,
		Logger: slog.New(slog.DiscardHandler)}
	if err := dynamo.CreateTable(ctx, db, decl, w.LeasesTable); err != nil {
		t.Fatal(err)
	}
	if err := kinesispub.CreateStream(ctx, kc, w.Stream); err != nil {
		t.Fatal(err)
	}
	server := newFinnhub(t)
	start := time.Now().UTC()
	clk := streamingtest.NewClock(start)
	watch := &watchList{symbols: []string{"AAPL", "EURUSD=X"}}
	w.StreamURL, w.Watch, w.Clock = server.url(), watch, clk
	trades := &counted{TradeStream: w.trades()}
	w.Trades = trades
	svc := w.service()

	invoke := func(id string) chan streaming.Output {
		done := make(chan streaming.Output, 1)
		go func() {
			ictx, cancel := context.WithDeadline(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id}),
				start.Add(15*time.Minute))
			defer cancel()
			out, err := handle(ictx, svc)
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
			done <- out
		}()
		return done
	}
	result := func(done chan streaming.Output) streaming.Output {
		t.Helper()
		select {
		case out := <-done:
			return out
		case <-time.After(20 * time.Second):
			t.Fatal("the invocation did not return")
			return streaming.Output{}
		}
	}

	first := invoke("inv-1")
	c1 := server.accept(t)
	c1.expect(t, "subscribe AAPL", "subscribe OANDA:EUR_USD")

	// A second invocation finds the lease held and returns at once.
	if out := result(invoke("inv-2")); out.Streamed {
		t.Fatalf("second invocation streamed: %+v", out)
	}

	// Trades in, one coalesced record per symbol out.
	c1.send(t, `{"type":"ping"}`)
	c1.send(t, `{"type":"trade","data":[{"s":"AAPL","p":190.1,"t":1772461800100,"v":10,"c":["1"]},`+
		`{"s":"OANDA:EUR_USD","p":1.0831,"t":1772461800150,"v":0},{"s":"AAPL","p":190.3,"t":1772461800300,"v":5,"c":null}]}`)
	trades.await(t, 3)
	clk.Tick(t, start.Add(time.Second))

	// The watch list changes: AAPL goes, MSFT comes.
	watch.set("EURUSD=X", "MSFT")
	clk.Tick(t, start.Add(30*time.Second))
	c1.expect(t, "unsubscribe AAPL", "subscribe MSFT")

	// The connection drops: the stream reconnects, subscribes the current set
	// and goes on.
	c1.c.CloseNow()
	c2 := server.accept(t)
	c2.expect(t, "subscribe MSFT", "subscribe OANDA:EUR_USD")
	c2.send(t, `{"type":"trade","data":[{"s":"MSFT","p":410.5,"t":1772461831000,"v":0.5}]}`)
	trades.await(t, 4)
	clk.Tick(t, start.Add(31*time.Second))

	// At the deadline less the margin the holder stops and frees the lease.
	clk.Tick(t, start.Add(15*time.Minute-stopMargin))
	out := result(first)
	if !out.Streamed || out.LostLease || out.Trades != 4 || out.Published != 3 || out.Symbols != 2 {
		t.Fatalf("first invocation: %+v", out)
	}
	want := map[string][]string{
		"AAPL":     {"190.3 x15 finnhub AAPL"},
		"EURUSD=X": {"1.0831 x0 finnhub EURUSD=X"},
		"MSFT":     {"410.5 x0.5 finnhub MSFT"},
	}
	if got := published(t, w); len(got) != len(want) || !slices.Equal(got["AAPL"], want["AAPL"]) ||
		!slices.Equal(got["EURUSD=X"], want["EURUSD=X"]) || !slices.Equal(got["MSFT"], want["MSFT"]) {
		t.Fatalf("published %q, want %q", got, want)
	}
	lease := dynamolease.New(db, w.LeasesTable, nil)
	if ok, err := lease.Acquire(ctx, streaming.DefaultLeaseName, "inv-3", time.Minute); err != nil || !ok {
		t.Fatalf("the lease was not released: %v %v", ok, err)
	}
	if ok, err := lease.Release(ctx, streaming.DefaultLeaseName, "inv-3"); err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}

	// Two later invocations in the same container, as main runs them
	// (invoke, Finnhub's own stream): the second subscribes the watch list
	// of its time, never what the first did (a stream kept across
	// invocations re-subscribed the first one's symbols on connecting).
	w.Trades = nil
	later := start.Add(30 * time.Minute)
	run := func(id string, deadline time.Time) chan streaming.Output {
		done := make(chan streaming.Output, 1)
		go func() {
			ictx, cancel := context.WithDeadline(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id}), deadline)
			defer cancel()
			out, err := w.invoke(ictx)
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
			done <- out
		}()
		return done
	}
	watch.set("AAPL", "MSFT")
	fourth := run("inv-4", later)
	server.accept(t).expect(t, "subscribe AAPL", "subscribe MSFT")
	clk.Tick(t, later.Add(-stopMargin))
	if out := result(fourth); !out.Streamed || out.Symbols != 2 {
		t.Fatalf("fourth invocation: %+v", out)
	}
	watch.set("MSFT")
	fifth := run("inv-5", later.Add(15*time.Minute))
	server.accept(t).expect(t, "subscribe MSFT")
	clk.Tick(t, later.Add(15*time.Minute-stopMargin))
	if out := result(fifth); !out.Streamed || out.Symbols != 1 {
		t.Fatalf("fifth invocation: %+v", out)
	}
}

// Finnhub's symbols for currency pairs map both ways; others pass as they are.
func TestFinnhubSymbols(t *testing.T) {
	for ours, theirs := range map[string]string{"EURUSD=X": "OANDA:EUR_USD", "USDJPY=X": "OANDA:USD_JPY", "AAPL": "AAPL", "BRK.B": "BRK.B"} {
		if got := finnhubSymbol(ours); got != theirs {
			t.Errorf("finnhubSymbol(%s) = %s, want %s", ours, got, theirs)
		}
		if got := ourSymbol(theirs); got != ours {
			t.Errorf("ourSymbol(%s) = %s, want %s", theirs, got, ours)
		}
	}
	for _, s := range []string{"OANDA:EU_RUSD", "OANDA:XAU", "BINANCE:BTCUSDT", "OANDA:EUR_EUR"} {
		if got := ourSymbol(s); got != s {
			t.Errorf("ourSymbol(%s) = %s, want it unchanged", s, got)
		}
	}
}

// An invocation streams until its deadline less the margin, as its request.
func TestInput(t *testing.T) {
	deadline := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithDeadline(lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"}), deadline)
	defer cancel()
	in, err := input(ctx)
	if err != nil || in.Holder != "req-1" || !in.Until.Equal(deadline.Add(-stopMargin)) {
		t.Fatalf("%+v %v", in, err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if in, err := input(ctx); err != nil || in.Holder == "" {
		t.Fatalf("without a request ID: %+v %v", in, err)
	}
	if _, err := input(context.Background()); err == nil {
		t.Fatal("an invocation without a deadline streams")
	}
}
