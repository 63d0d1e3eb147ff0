package marketdata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// DefaultFinnhubStreamURL is Finnhub's trade WebSocket.
const DefaultFinnhubStreamURL = "wss://ws.finnhub.io"

// FinnhubStreamOptions configure a FinnhubStream.
type FinnhubStreamOptions struct {
	// URL defaults to DefaultFinnhubStreamURL; the token is added as ?token=, which
	// is how Finnhub authenticates WebSockets.
	URL   string
	Token string
	// Symbols to subscribe from the start; Subscribe and Unsubscribe change the set
	// while running.
	Symbols []string
	// Reconnect delays: exponential with full jitter between ReconnectBase and
	// ReconnectMax (defaults 500 ms and 30 s). The attempt count resets once a
	// connection has delivered a message.
	ReconnectBase time.Duration
	ReconnectMax  time.Duration
	// IdleTimeout: a connection that delivers nothing (Finnhub pings idle
	// connections) for this long is presumed dead and replaced. Default 90 s.
	IdleTimeout time.Duration
	// DialTimeout bounds the handshake. Default 10 s.
	DialTimeout time.Duration
	// OnError receives what does not stop the stream: failed dials, dropped
	// connections, {"type":"error"} messages, malformed trades (which are skipped).
	// It is called from Run's goroutine and must not block for long.
	OnError    func(*MarketDataError)
	HTTPClient *http.Client
	Now        func() time.Time
	Rand       func(n int64) int64
}

// FinnhubStream is the Finnhub trade stream as a Feed.
//
// Protocol: the client sends {"type":"subscribe","symbol":"AAPL"} per symbol (and
// "unsubscribe" alike); the server sends {"type":"trade","data":[{"s","p","t","v","c"}]}
// (symbol, price, Unix ms, volume, conditions), {"type":"ping"} keep-alives (which
// need no answer; they only prove the connection alive) and
// {"type":"error","msg":"..."}. Each trade becomes one Quote with Source "finnhub".
//
// When the connection drops (or stays silent past IdleTimeout) Run reconnects with
// backoff and re-subscribes the current set. Cancelling ctx closes the connection
// with a normal closure and returns ctx.Err(). Subscribe and Unsubscribe may be
// called from any goroutine; Run from one at a time.
type FinnhubStream struct {
	opts FinnhubStreamOptions

	mu      sync.Mutex
	symbols map[string]bool
	conn    *websocket.Conn
}

// NewFinnhubStream returns a stream; it connects when Run is called.
func NewFinnhubStream(opts FinnhubStreamOptions) *FinnhubStream {
	if opts.URL == "" {
		opts.URL = DefaultFinnhubStreamURL
	}
	if opts.ReconnectBase <= 0 {
		opts.ReconnectBase = 500 * time.Millisecond
	}
	if opts.ReconnectMax <= 0 {
		opts.ReconnectMax = 30 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 90 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &FinnhubStream{opts: opts, symbols: map[string]bool{}}
	for _, sym := range opts.Symbols {
		if checkSymbol(sym) == nil {
			s.symbols[sym] = true
		}
	}
	return s
}

// Name is the source name.
func (s *FinnhubStream) Name() string { return SourceFinnhub }

// Symbols returns the current subscription set, sorted.
func (s *FinnhubStream) Symbols() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedLocked()
}

func (s *FinnhubStream) sortedLocked() []string {
	out := make([]string, 0, len(s.symbols))
	for sym := range s.symbols {
		out = append(out, sym)
	}
	sort.Strings(out)
	return out
}

// Subscribe adds symbols to the set and, when connected, subscribes them now. A
// failed send is not an error: the connection is then broken and the reconnect
// re-subscribes everything.
func (s *FinnhubStream) Subscribe(ctx context.Context, symbols ...string) error {
	return s.change(ctx, "subscribe", symbols)
}

// Unsubscribe removes symbols from the set and, when connected, unsubscribes them.
func (s *FinnhubStream) Unsubscribe(ctx context.Context, symbols ...string) error {
	return s.change(ctx, "unsubscribe", symbols)
}

func (s *FinnhubStream) change(ctx context.Context, typ string, symbols []string) error {
	var send []string
	s.mu.Lock()
	for _, sym := range symbols {
		if err := checkSymbol(sym); err != nil {
			s.mu.Unlock()
			return err
		}
		if typ == "subscribe" && !s.symbols[sym] {
			s.symbols[sym] = true
			send = append(send, sym)
		}
		if typ == "unsubscribe" && s.symbols[sym] {
			delete(s.symbols, sym)
			send = append(send, sym)
		}
	}
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		for _, sym := range send {
			if writeFinnhub(ctx, conn, typ, sym) != nil {
				break // the read loop sees the broken connection and reconnects
			}
		}
	}
	return nil
}

func writeFinnhub(ctx context.Context, c *websocket.Conn, typ, symbol string) error {
	msg, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Symbol string `json:"symbol"`
	}{typ, symbol})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, msg)
}

func (s *FinnhubStream) report(kind ErrorKind, symbol, msg string, cause error) {
	if s.opts.OnError == nil {
		return
	}
	s.opts.OnError(&MarketDataError{
		Provider: SourceFinnhub, Symbol: symbol, Kind: kind,
		Message: truncate(redact(msg, s.opts.Token, url.QueryEscape(s.opts.Token))), At: s.opts.Now().UTC(), Err: cause,
	})
}

// Run implements Feed.
func (s *FinnhubStream) Run(ctx context.Context, emit func(Quote) error) error {
	backoff := RetryPolicy{BaseDelay: s.opts.ReconnectBase, MaxDelay: s.opts.ReconnectMax}
	attempt := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		delivered, err := s.session(ctx, emit)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stop *emitError
		if errors.As(err, &stop) {
			return stop.err
		}
		if delivered {
			attempt = 0
		}
		if err != nil {
			s.report(KindUpstream, "", "connection lost: "+err.Error(), err)
		}
		if err := retry.Sleep(ctx, backoff.Backoff(attempt, s.opts.Rand)); err != nil {
			return err
		}
		attempt++
	}
}

type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }

// session runs one connection: dial, subscribe the current set, read until the
// connection fails. delivered reports whether any message arrived.
func (s *FinnhubStream) session(ctx context.Context, emit func(Quote) error) (delivered bool, err error) {
	u, err := url.Parse(s.opts.URL)
	if err != nil {
		return false, errors.New("bad stream URL")
	}
	if s.opts.Token != "" {
		q := u.Query()
		q.Set("token", s.opts.Token)
		u.RawQuery = q.Encode()
	}
	dialCtx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	conn, resp, err := websocket.Dial(dialCtx, u.String(), &websocket.DialOptions{HTTPClient: s.opts.HTTPClient})
	cancel()
	if err != nil {
		msg := "dial failed"
		if resp != nil {
			msg += ": HTTP " + resp.Status
		} else {
			msg += ": " + errText(err)
		}
		return false, errors.New(redact(msg, s.opts.Token, url.QueryEscape(s.opts.Token)))
	}
	conn.SetReadLimit(4 << 20)
	defer conn.CloseNow()
	// Reads use their own context: coder/websocket drops the connection without a
	// close frame when a Read's context ends, and cancellation should say goodbye.
	closed := make(chan struct{})
	stopClose := context.AfterFunc(ctx, func() {
		defer close(closed)
		_ = conn.Close(websocket.StatusNormalClosure, "")
	})
	defer func() {
		if !stopClose() {
			<-closed
		}
	}()

	s.mu.Lock()
	s.conn = conn
	symbols := s.sortedLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
	}()
	for _, sym := range symbols {
		if err := writeFinnhub(ctx, conn, "subscribe", sym); err != nil {
			return false, errors.New("subscribe failed: " + err.Error())
		}
	}

	for {
		readCtx, cancel := context.WithTimeout(context.Background(), s.opts.IdleTimeout)
		typ, data, err := conn.Read(readCtx)
		idle := readCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return delivered, ctx.Err()
			}
			if idle {
				return delivered, errors.New("no message within " + s.opts.IdleTimeout.String())
			}
			return delivered, errors.New(redact(err.Error(), s.opts.Token))
		}
		delivered = true
		if typ != websocket.MessageText {
			continue
		}
		quotes, mdErrs := parseFinnhubMessage(data)
		for _, e := range mdErrs {
			s.report(e.Kind, e.Symbol, e.Message, nil)
		}
		for _, q := range quotes {
			if err := emit(q); err != nil {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return delivered, &emitError{err}
			}
		}
	}
}

type finnhubTrade struct {
	S string          `json:"s"`
	P json.Number     `json:"p"`
	T json.Number     `json:"t"`
	V json.Number     `json:"v"`
	C json.RawMessage `json:"c"`
}

type finnhubMessage struct {
	Type string         `json:"type"`
	Data []finnhubTrade `json:"data"`
	Msg  string         `json:"msg"`
}

// parseFinnhubMessage turns one WebSocket text message into quotes. Pings and
// unknown message types yield nothing. A trade that is not valid is skipped and
// reported; a message that is not JSON is reported whole.
func parseFinnhubMessage(data []byte) ([]Quote, []*MarketDataError) {
	var m finnhubMessage
	if err := decodeStrict(data, &m); err != nil {
		return nil, []*MarketDataError{malformed("stream message: " + err.Error() + ": " + snippet(data))}
	}
	switch m.Type {
	case "trade":
	case "error":
		return nil, []*MarketDataError{{Kind: KindUpstream, Message: snippet([]byte(m.Msg))}}
	default: // "ping", news, anything new
		return nil, nil
	}
	quotes := make([]Quote, 0, len(m.Data))
	var errs []*MarketDataError
	for _, t := range m.Data {
		q, err := finnhubTradeQuote(t)
		if err != nil {
			e := malformed("trade: " + err.Error())
			if checkSymbol(t.S) == nil {
				e.Symbol = t.S
			}
			errs = append(errs, e)
			continue
		}
		quotes = append(quotes, q)
	}
	return quotes, errs
}

func finnhubTradeQuote(t finnhubTrade) (Quote, error) {
	if err := checkSymbol(t.S); err != nil {
		return Quote{}, errors.New("invalid symbol")
	}
	price, err := numberDecimal(t.P)
	if err != nil {
		return Quote{}, errors.New("price: " + err.Error())
	}
	vol := decimal.Zero
	if t.V != "" {
		if vol, err = numberDecimal(t.V); err != nil {
			return Quote{}, errors.New("volume: " + err.Error())
		}
	}
	ms, err := numberInt64(t.T)
	if err != nil || ms <= 0 || ms > maxUnixSeconds*1000 {
		return Quote{}, errors.New("t is not a Unix millisecond time")
	}
	q := Quote{Symbol: t.S, Price: price, Volume: vol, Timestamp: time.UnixMilli(ms).UTC(), Source: SourceFinnhub}
	if err := q.Validate(); err != nil {
		return Quote{}, errors.New(strings.TrimPrefix(err.Error(), "quote "))
	}
	return q, nil
}
