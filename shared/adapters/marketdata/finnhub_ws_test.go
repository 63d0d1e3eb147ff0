package marketdata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsServer is a Finnhub-like WebSocket endpoint: each accepted connection is handed
// to the test, and every client message is collected on the connection's channel.
type wsServer struct {
	*httptest.Server
	conns chan *wsConn
}

type wsConn struct {
	c      *websocket.Conn
	msgs   chan map[string]string
	closed chan websocket.StatusCode
}

func newWSServer(t *testing.T) *wsServer {
	t.Helper()
	s := &wsServer{conns: make(chan *wsConn, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != testKey {
			http.Error(w, `{"error":"Invalid API key"}`, http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wc := &wsConn{c: c, msgs: make(chan map[string]string, 64), closed: make(chan websocket.StatusCode, 1)}
		s.conns <- wc
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				wc.closed <- websocket.CloseStatus(err)
				return
			}
			var m map[string]string
			_ = json.Unmarshal(data, &m)
			wc.msgs <- m
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *wsServer) url() string { return "ws" + strings.TrimPrefix(s.URL, "http") }

func (s *wsServer) accept(t *testing.T) *wsConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

func (c *wsConn) expect(t *testing.T, typ string, symbols ...string) {
	t.Helper()
	var got []string
	for range symbols {
		select {
		case m := <-c.msgs:
			if m["type"] != typ {
				t.Fatalf("got %v, want %s", m, typ)
			}
			got = append(got, m["symbol"])
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s message; got %v, want %v", typ, got, symbols)
		}
	}
	if strings.Join(got, ",") != strings.Join(symbols, ",") {
		t.Fatalf("%s %v, want %v", typ, got, symbols)
	}
}

func (c *wsConn) send(t *testing.T, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

type collector struct {
	mu     sync.Mutex
	quotes chan Quote
	errs   []*MarketDataError
}

func newCollector() *collector { return &collector{quotes: make(chan Quote, 64)} }

func (c *collector) emit(q Quote) error { c.quotes <- q; return nil }

func (c *collector) onError(e *MarketDataError) {
	c.mu.Lock()
	c.errs = append(c.errs, e)
	c.mu.Unlock()
}

func (c *collector) errors() []*MarketDataError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*MarketDataError(nil), c.errs...)
}

func (c *collector) next(t *testing.T) Quote {
	t.Helper()
	select {
	case q := <-c.quotes:
		return q
	case <-time.After(5 * time.Second):
		t.Fatal("no quote")
		return Quote{}
	}
}

func TestFinnhubStream(t *testing.T) {
	srv := newWSServer(t)
	col := newCollector()
	stream := NewFinnhubStream(FinnhubStreamOptions{
		URL: srv.url(), Token: testKey, Symbols: []string{"MSFT", "AAPL"},
		ReconnectBase: 5 * time.Millisecond, ReconnectMax: 20 * time.Millisecond,
		OnError: col.onError,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx, col.emit) }()

	// First connection: subscribe per symbol, ping, trades, a bad trade, an error.
	c1 := srv.accept(t)
	c1.expect(t, "subscribe", "AAPL", "MSFT")
	c1.send(t, `{"type":"ping"}`)
	c1.send(t, `{"data":[{"c":["1","8","24","12"],"p":261.74,"s":"AAPL","t":1582641000123,"v":10},{"c":null,"p":410.5,"s":"MSFT","t":1582641000200,"v":0.5},{"p":-1,"s":"AAPL","t":1582641000300,"v":1}],"type":"trade"}`)
	q := col.next(t)
	if q.Symbol != "AAPL" || q.Price.String() != "261.74" || q.Volume.String() != "10" || q.Source != SourceFinnhub ||
		!q.Timestamp.Equal(time.UnixMilli(1582641000123)) || q.Timestamp.Location() != time.UTC {
		t.Fatalf("%+v", q)
	}
	if q := col.next(t); q.Symbol != "MSFT" || q.Price.String() != "410.5" || q.Volume.String() != "0.5" {
		t.Fatalf("%+v", q)
	}
	c1.send(t, `{"msg":"Invalid symbol XYZ","type":"error"}`)

	// Subscribing while connected sends at once.
	if err := stream.Subscribe(ctx, "TSLA"); err != nil {
		t.Fatal(err)
	}
	c1.expect(t, "subscribe", "TSLA")
	if err := stream.Unsubscribe(ctx, "MSFT"); err != nil {
		t.Fatal(err)
	}
	c1.expect(t, "unsubscribe", "MSFT")

	// The server drops the connection: the client reconnects and re-subscribes the
	// current set.
	c1.c.CloseNow()
	c2 := srv.accept(t)
	c2.expect(t, "subscribe", "AAPL", "TSLA")
	c2.send(t, `{"data":[{"p":175.01,"s":"TSLA","t":1582641001000,"v":3}],"type":"trade"}`)
	if q := col.next(t); q.Symbol != "TSLA" || q.Price.String() != "175.01" {
		t.Fatalf("%+v", q)
	}

	// Cancelling stops it cleanly: a normal closure, Run returns ctx.Err().
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	select {
	case code := <-c2.closed:
		if code != websocket.StatusNormalClosure {
			t.Fatalf("close status %v", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}

	var sawBadTrade, sawServerError, sawDrop bool
	for _, e := range col.errors() {
		switch {
		case e.Kind == KindMalformed && e.Symbol == "AAPL":
			sawBadTrade = true
		case e.Kind == KindUpstream && strings.Contains(e.Message, "Invalid symbol XYZ"):
			sawServerError = true
		case e.Kind == KindUpstream && strings.Contains(e.Message, "connection lost"):
			sawDrop = true
		}
		if strings.Contains(e.Message, testKey) {
			t.Fatalf("token leaked: %v", e)
		}
	}
	if !sawBadTrade || !sawServerError || !sawDrop {
		t.Fatalf("errors reported: %v", col.errors())
	}
	if got := stream.Symbols(); strings.Join(got, ",") != "AAPL,TSLA" {
		t.Fatal(got)
	}
}

func TestFinnhubStreamIdleReconnect(t *testing.T) {
	srv := newWSServer(t)
	col := newCollector()
	stream := NewFinnhubStream(FinnhubStreamOptions{
		URL: srv.url(), Token: testKey, Symbols: []string{"AAPL"},
		ReconnectBase: time.Millisecond, ReconnectMax: 5 * time.Millisecond,
		IdleTimeout: 100 * time.Millisecond, OnError: col.onError,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stream.Run(ctx, col.emit) }()
	c1 := srv.accept(t)
	c1.expect(t, "subscribe", "AAPL")
	// Silence: the client gives up on c1 and dials again.
	c2 := srv.accept(t)
	c2.expect(t, "subscribe", "AAPL")
	cancel()
	<-done
}

func TestFinnhubStreamEmitErrorStops(t *testing.T) {
	srv := newWSServer(t)
	stop := errors.New("sink full")
	stream := NewFinnhubStream(FinnhubStreamOptions{URL: srv.url(), Token: testKey, Symbols: []string{"AAPL"}})
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background(), func(Quote) error { return stop }) }()
	c := srv.accept(t)
	c.expect(t, "subscribe", "AAPL")
	c.send(t, `{"data":[{"p":1.5,"s":"AAPL","t":1582641001000,"v":3}],"type":"trade"}`)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestFinnhubStreamBadTokenBacksOff(t *testing.T) {
	srv := newWSServer(t)
	col := newCollector()
	stream := NewFinnhubStream(FinnhubStreamOptions{
		URL: srv.url(), Token: "wrong-token", ReconnectBase: time.Millisecond, ReconnectMax: 2 * time.Millisecond,
		OnError: col.onError,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := stream.Run(ctx, col.emit); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	errs := col.errors()
	if len(errs) < 2 {
		t.Fatalf("%d errors", len(errs))
	}
	for _, e := range errs {
		if !strings.Contains(e.Message, "401") || strings.Contains(e.Message, "wrong-token") {
			t.Fatalf("%q", e.Message)
		}
	}
}
