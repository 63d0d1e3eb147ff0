package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// The API routes the generator calls, by the topology's patterns (a test holds
// them to shared/platform/topology.HTTPRoutes).
const (
	routeCreatePortfolio = "POST /portfolios"
	routeListPortfolios  = "GET /portfolios"
	routeGetPortfolio    = "GET /portfolios/{id}"
	routeRecord          = "POST /portfolios/{id}/transactions"
	routeTransactions    = "GET /portfolios/{id}/transactions"
	routePositions       = "GET /portfolios/{id}/positions"
	routeValuations      = "GET /portfolios/{id}/valuations"
	routeCreateAlert     = "POST /alerts"
	routeListAlerts      = "GET /alerts"
)

var apiRoutes = []string{routeCreatePortfolio, routeListPortfolios, routeGetPortfolio, routeRecord, routeTransactions,
	routePositions, routeValuations, routeCreateAlert, routeListAlerts}

// routeConnect labels the WebSocket handshakes ($connect).
const routeConnect = "WebSocket $connect"

// Per-user holdings: each user buys this many shares of each of its symbols
// before the run, so the run's sells (one share each) never exceed them.
const (
	initialShares  = "100"
	positionsReady = time.Minute // how long a user waits for its positions in the read model
	subscribeReady = 15 * time.Second
)

// user is one simulated user: a portfolio holding two symbols, a WebSocket
// subscribed to the portfolio and those symbols, and a fixed mix of commands
// and reads.
type user struct {
	name      string
	token     string
	portfolio string
	symbols   []string
	conn      *websocket.Conn
	rnd       *rand.Rand
}

// wsMessage is the part of a pushed message the generator reads.
type wsMessage struct {
	Type        string `json:"type"`
	PortfolioID string `json:"portfolioId"`
	AsOf        string `json:"asOf"`
	Code        string `json:"code"`
	Message     string `json:"message"`
}

// messageCounts counts pushed messages by type. Safe for concurrent use.
type messageCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (m *messageCounts) add(typ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int64{}
	}
	m.n[typ]++
}

func (m *messageCounts) snapshot() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.n))
	for k, v := range m.n {
		out[k] = v
	}
	return out
}

// readLoop hands each message of conn to handle until the connection closes.
func readLoop(conn *websocket.Conn, handle func(wsMessage, time.Time)) {
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return
		}
		at := time.Now()
		var m wsMessage
		if json.Unmarshal(data, &m) != nil {
			m.Type = "unreadable"
		}
		handle(m, at)
	}
}

// createPortfolio creates a portfolio and returns its ID.
func (c *clients) createPortfolio(ctx context.Context, rec *recorder, token, name string) (string, error) {
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if _, err := c.call(ctx, rec, routeCreatePortfolio, http.MethodPost, "/portfolios", token,
		map[string]any{"name": name, "baseCurrency": "USD"}, &created); err != nil {
		return "", err
	}
	if created.Data.ID == "" {
		return "", errors.New("create portfolio: no id in the answer")
	}
	return created.Data.ID, nil
}

// hold buys initialShares of each symbol a month ago and waits until the read
// model shows them, so that the run's ticks value the portfolio.
func (c *clients) hold(ctx context.Context, rec *recorder, token, portfolio string, symbols []string) error {
	date := calendar.FromTime(time.Now().UTC()).AddDays(-30).String()
	for _, s := range symbols {
		if _, err := c.call(ctx, rec, routeRecord, http.MethodPost, "/portfolios/"+portfolio+"/transactions", token,
			map[string]any{"type": "BUY", "date": date, "symbol": s, "quantity": initialShares, "price": "100", "fee": "1"}, nil); err != nil {
			return fmt.Errorf("buy %s: %w", s, err)
		}
	}
	deadline := time.Now().Add(positionsReady)
	for {
		var pos struct {
			Positions []struct {
				Symbol string `json:"symbol"`
			} `json:"positions"`
		}
		// 404 until the projector has the portfolio in the read model.
		if status, err := c.call(ctx, rec, routePositions, http.MethodGet, "/portfolios/"+portfolio+"/positions", token, nil, &pos); err != nil && status != http.StatusNotFound {
			return err
		}
		if len(pos.Positions) >= len(symbols) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("positions of %s not in the read model after %s", portfolio, positionsReady)
		}
		if err := retry.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// subscribe opens a WebSocket for token (the handshake recorded under route),
// subscribes it to portfolio and symbols and returns subscribe's answer
// ("subscribed" or "error"); the connection stays open either way. Every
// message the connection receives goes to handle until it closes. errRefused
// wraps a handshake the gateway answered with a refusal.
func (c *clients) subscribe(ctx context.Context, rec *recorder, route, token, portfolio string, symbols []string,
	handle func(wsMessage, time.Time)) (*websocket.Conn, wsMessage, error) {
	conn, status, err := c.dial(ctx, rec, route, token)
	if err != nil {
		if status > 0 {
			err = fmt.Errorf("%w (HTTP %d): %w", errRefused, status, err)
		}
		return nil, wsMessage{}, err
	}
	replies := make(chan wsMessage, 1)
	go readLoop(conn, func(m wsMessage, at time.Time) {
		handle(m, at)
		if m.Type == "subscribed" || m.Type == "error" {
			select {
			case replies <- m:
			default: // nobody is waiting for it
			}
		}
	})
	if err := sendSubscribe(ctx, conn, portfolio, symbols); err != nil {
		_ = conn.CloseNow()
		return nil, wsMessage{}, err
	}
	select {
	case m := <-replies:
		return conn, m, nil
	case <-time.After(subscribeReady):
		_ = conn.CloseNow()
		return nil, wsMessage{}, fmt.Errorf("no answer to subscribe within %s", subscribeReady)
	case <-ctx.Done():
		_ = conn.CloseNow()
		return nil, wsMessage{}, ctx.Err()
	}
}

// errRefused marks a WebSocket handshake refused with an HTTP status.
var errRefused = errors.New("connection refused by the gateway")

func sendSubscribe(ctx context.Context, conn *websocket.Conn, portfolio string, symbols []string) error {
	msg, _ := json.Marshal(map[string]any{"action": "subscribe", "portfolioId": portfolio, "symbols": symbols})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return fmt.Errorf("send subscribe: %w", err)
	}
	return nil
}

// setUp gives u a token, a portfolio holding its symbols and a subscribed
// WebSocket. Its requests go to rec (set-up figures are not the run's).
func (u *user) setUp(ctx context.Context, c *clients, rec *recorder, ttl time.Duration, counts *messageCounts, book *tickBook) error {
	var err error
	if u.token, err = c.token(ctx, u.name, ttl); err != nil {
		return fmt.Errorf("%s: %w", u.name, err)
	}
	if u.portfolio, err = c.createPortfolio(ctx, rec, u.token, "Load "+u.name); err != nil {
		return fmt.Errorf("%s: %w", u.name, err)
	}
	if err := c.hold(ctx, rec, u.token, u.portfolio, u.symbols); err != nil {
		return fmt.Errorf("%s: %w", u.name, err)
	}
	conn, reply, err := c.subscribe(ctx, rec, routeConnect, u.token, u.portfolio, u.symbols, func(m wsMessage, at time.Time) {
		counts.add(m.Type)
		if m.Type == "valuation" {
			book.valuation(m.PortfolioID, m.AsOf, at)
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", u.name, err)
	}
	u.conn = conn
	if reply.Type != "subscribed" {
		return fmt.Errorf("%s: subscribe refused: %s %s", u.name, reply.Code, reply.Message)
	}
	return nil
}

// action is one command or read of the mix.
type action func(ctx context.Context, c *clients, rec *recorder)

// mix is one cycle of a user's actions: a third commands (buys, a sell, an
// alert rule), two thirds reads, as a frontend's screens would do.
func (u *user) mix() []action {
	txs := "/portfolios/" + u.portfolio + "/transactions"
	trade := func(typ, quantity string) action {
		return func(ctx context.Context, c *clients, rec *recorder) {
			sym := u.symbols[u.rnd.IntN(len(u.symbols))]
			price := fmt.Sprintf("%d.%02d", 90+u.rnd.IntN(20), u.rnd.IntN(100))
			_, _ = c.call(ctx, rec, routeRecord, http.MethodPost, txs, u.token, map[string]any{"type": typ,
				"date": calendar.FromTime(time.Now().UTC()).String(), "symbol": sym, "quantity": quantity, "price": price, "fee": "1"}, nil)
		}
	}
	get := func(route, path string) action {
		return func(ctx context.Context, c *clients, rec *recorder) {
			_, _ = c.call(ctx, rec, route, http.MethodGet, path, u.token, nil, nil)
		}
	}
	rule := func(ctx context.Context, c *clients, rec *recorder) {
		// Far above the walk (100.00 ± a few): evaluated on every tick, never fired.
		_, _ = c.call(ctx, rec, routeCreateAlert, http.MethodPost, "/alerts", u.token, map[string]any{
			"kind": "price_above", "symbol": u.symbols[u.rnd.IntN(len(u.symbols))], "threshold": "10000"}, nil)
	}
	p := "/portfolios/" + u.portfolio
	out := []action{
		trade("BUY", "2"), trade("BUY", "2"), trade("SELL", "1"), rule,
		get(routePositions, p+"/positions"), get(routePositions, p+"/positions"),
		get(routeTransactions, txs), get(routeTransactions, txs),
		get(routeGetPortfolio, p), get(routeListPortfolios, "/portfolios"),
		get(routeListAlerts, "/alerts"), get(routeValuations, p+"/valuations"),
	}
	u.rnd.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// run does the user's commands paced over the run; it returns how many were
// not sent because the user was still waiting on earlier ones at the end.
func (u *user) run(ctx context.Context, c *clients, rec *recorder, pace pacer, commands int, end time.Time) (skipped int) {
	mix := u.mix()
	for j := range commands {
		if !pace.wait(ctx, j) || !time.Now().Before(end) {
			return commands - j
		}
		mix[j%len(mix)](ctx, c, rec)
	}
	return 0
}
