package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// What the abusive user attempts, each recorded under its own label.
const (
	abuseConnections = "connections: " + routeConnect
	abuseRules       = "alert rules: " + routeCreateAlert
	abusePortfolios  = "portfolios: " + routeCreatePortfolio
	abuseOversized   = "body over 2 MiB: " + routeRecord
	abuseHugeDecimal = "1.9 MB decimal: " + routeRecord
)

// Sizes of the abusive bodies: one over the API's limit, and one under it
// holding a single 1.9 MB decimal.
const (
	oversizedBodyBytes = httpapi.MaxBodyBytes + 1024
	hugeDecimalDigits  = 1_900_000
)

// abuser is a hostile user with a valid account. During the run it opens
// WebSockets (each subscribed to everything it may), creates alert rules and
// portfolios past any quota, and sends bodies over the size limit and
// decimals of megabytes, at a fixed pace; refusals are what it expects, and
// each answer is counted. It never retries.
type abuser struct {
	user
	rec     *recorder
	answers messageCounts // to its subscribes: "subscribed", "error <code>" or "no answer"
	pushed  messageCounts // what its connections received
	mu      sync.Mutex
	conns   []*websocket.Conn
}

func newAbuser(name string, symbols []string) *abuser {
	return &abuser{user: user{name: name, symbols: symbols, rnd: rand.New(rand.NewPCG(7, 7))}, rec: newRecorder()}
}

// setUp gives the abuser a token and a portfolio holding every symbol, so
// that each tick is pushed to all of its connections.
func (a *abuser) setUp(ctx context.Context, c *clients, rec *recorder, ttl time.Duration) error {
	var err error
	if a.token, err = c.token(ctx, a.name, ttl); err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	if a.portfolio, err = c.createPortfolio(ctx, rec, a.token, "Load "+a.name); err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	if err := c.hold(ctx, rec, a.token, a.portfolio, a.symbols); err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	return nil
}

// run makes the abuser's attempts between start and end: connections over the
// first half (so they are held through the second), requests over all of it.
func (a *abuser) run(ctx context.Context, c *clients, plan abusePlan, start, end time.Time) {
	span := end.Sub(start)
	var wg sync.WaitGroup
	wg.Go(func() {
		pace := newPacer(start, span/2, plan.Connections, 0, 1)
		for j := range plan.Connections {
			if !pace.wait(ctx, j) || !time.Now().Before(end) {
				return
			}
			a.connect(ctx, c)
		}
	})
	wg.Go(func() {
		ops := a.requests(plan)
		pace := newPacer(start, span, len(ops), 0, 1)
		for j, op := range ops {
			if !pace.wait(ctx, j) || !time.Now().Before(end) {
				return
			}
			op(ctx, c, a.rec)
		}
	})
	wg.Wait()
}

// connect opens one more connection and subscribes it to the abuser's
// portfolio and every symbol; it is kept open until close, whatever the
// subscribe's answer.
func (a *abuser) connect(ctx context.Context, c *clients) {
	conn, reply, err := c.subscribe(ctx, a.rec, abuseConnections, a.token, a.portfolio, a.symbols,
		func(m wsMessage, _ time.Time) { a.pushed.add(m.Type) })
	if conn == nil {
		// A refused handshake is counted under its route, with its status.
		if err != nil && !errors.Is(err, errRefused) && ctx.Err() == nil {
			a.answers.add("no answer")
		}
		return
	}
	a.mu.Lock()
	a.conns = append(a.conns, conn)
	a.mu.Unlock()
	if reply.Type == "error" {
		a.answers.add("error " + reply.Code)
		return
	}
	a.answers.add(reply.Type)
}

// requests are the abuser's HTTP attempts in a shuffled (seeded) order.
func (a *abuser) requests(plan abusePlan) []action {
	txs := "/portfolios/" + a.portfolio + "/transactions"
	today := calendar.FromTime(time.Now().UTC()).String()
	oversized := oversizedBody(today, a.symbols[0])
	huge := hugeDecimalBody(today, a.symbols[0])
	post := func(label, path string, body func() any) action {
		return func(ctx context.Context, c *clients, rec *recorder) {
			_, _ = c.call(ctx, rec, label, http.MethodPost, path, a.token, body(), nil)
		}
	}
	var ops []action
	for i := range plan.Rules {
		ops = append(ops, post(abuseRules, "/alerts", func() any {
			return map[string]any{"kind": "price_above", "symbol": a.symbols[i%len(a.symbols)], "threshold": "10000"}
		}))
	}
	for i := range plan.Portfolios {
		ops = append(ops, post(abusePortfolios, "/portfolios", func() any {
			return map[string]any{"name": fmt.Sprintf("Abuse %d", i), "baseCurrency": "USD"}
		}))
	}
	for range plan.Bodies {
		ops = append(ops, post(abuseOversized, txs, func() any { return oversized }),
			post(abuseHugeDecimal, txs, func() any { return huge }))
	}
	a.rnd.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	return ops
}

// oversizedBody is a valid BUY whose note takes the body past the API's limit.
func oversizedBody(date, sym string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":"BUY","date":%q,"symbol":%q,"quantity":"1","price":"1","note":"`, date, sym)
	b.WriteString(strings.Repeat("x", oversizedBodyBytes))
	b.WriteString(`"}`)
	return b.Bytes()
}

// hugeDecimalBody is a BUY of a quantity written with 1.9 million digits: under
// the body limit, over any decimal's.
func hugeDecimalBody(date, sym string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"type":"BUY","date":%q,"symbol":%q,"quantity":"1`, date, sym)
	b.WriteString(strings.Repeat("0", hugeDecimalDigits-1))
	b.WriteString(`","price":"1"}`)
	return b.Bytes()
}

// close closes every connection the abuser holds.
func (a *abuser) close() {
	a.mu.Lock()
	conns := a.conns
	a.conns = nil
	a.mu.Unlock()
	closeAll(conns)
}

// closeAll closes conns with the close handshake, side by side (each waits
// for the gateway's answer).
func closeAll(conns []*websocket.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			wg.Go(func() { _ = c.Close(websocket.StatusNormalClosure, "") })
		}
	}
	wg.Wait()
}

// abusiveReport is what the abuser attempted and how each attempt was answered.
type abusiveReport struct {
	Plan     abusePlan    `json:"plan"`
	Attempts []routeStats `json:"attempts"`
	// SubscribeAnswers counts the answers to its subscribes on the
	// connections that were accepted.
	SubscribeAnswers map[string]int64 `json:"subscribeAnswers"`
	// Pushed counts what its connections received, by message type.
	Pushed map[string]int64 `json:"pushed"`
}

func (a *abuser) report(plan abusePlan, elapsed time.Duration) *abusiveReport {
	var attempts []routeStats
	for _, st := range a.rec.stats(elapsed) {
		if st.Route != allRoutes {
			attempts = append(attempts, st)
		}
	}
	return &abusiveReport{Plan: plan, Attempts: attempts, SubscribeAnswers: a.answers.snapshot(), Pushed: a.pushed.snapshot()}
}
