package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/platform/uuid"
)

// requestTimeout bounds one request: the API function's own timeout is 10 s,
// so an answer later than this is not coming.
const requestTimeout = 30 * time.Second

// maxResponseBytes bounds what is read of an answer.
const maxResponseBytes = 8 << 20

// clients are the connections to one stack, shared by every user of a run.
// inFlight is the hard cap on requests and handshakes in flight: a request
// waits for a slot before it is timed.
type clients struct {
	ep       endpoints
	http     *http.Client
	kinesis  *kinesis.Client
	inFlight chan struct{}
	capped   atomic.Int64 // requests that waited for a slot
}

func newClients(ep endpoints, maxFlight int) *clients {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: loopbackOnly}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxConnsPerHost:     maxFlight + 8, // the admin calls beside the capped ones
		MaxIdleConnsPerHost: maxFlight,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	hc := &http.Client{Transport: transport, Timeout: requestTimeout,
		// Nothing the local stack answers redirects; a redirect is not followed anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	kc := kinesis.New(kinesis.Options{Region: emulator.Region, BaseEndpoint: aws.String(ep.Kinesis), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		// A failed put is counted, never retried: the generator's rate is its own.
		RetryMaxAttempts: 1})
	return &clients{ep: ep, http: hc, kinesis: kc, inFlight: make(chan struct{}, maxFlight)}
}

// acquire takes an in-flight slot; false if ctx ends first. A request that
// finds every slot taken is counted: the cap, not the stack, held it back.
func (c *clients) acquire(ctx context.Context) bool {
	select {
	case c.inFlight <- struct{}{}:
		return true
	default:
	}
	c.capped.Add(1)
	select {
	case c.inFlight <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *clients) release() { <-c.inFlight }

// call is one API request, recorded under route (the topology's pattern):
// JSON body (raw when it is []byte), Idempotency-Key on commands, the answer
// decoded into out when it is a 2xx. It returns the status (0 without an
// answer). It never retries.
func (c *clients) call(ctx context.Context, rec *recorder, route, method, path, token string, body any, out any) (int, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return 0, err
		}
	}
	if !c.acquire(ctx) {
		return 0, ctx.Err()
	}
	defer c.release()
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.ep.API+path, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodDelete {
		req.Header.Set("Idempotency-Key", uuid.New())
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			rec.add(route, 0, time.Since(t0))
		}
		return 0, fmt.Errorf("%s %s: %w", method, route, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	took := time.Since(t0)
	if err != nil {
		rec.add(route, 0, took)
		return 0, fmt.Errorf("%s %s: read the answer: %w", method, route, err)
	}
	rec.add(route, resp.StatusCode, took)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &httpError{status: resp.StatusCode, body: clip(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode the answer: %w", method, route, err)
		}
	}
	return resp.StatusCode, nil
}

type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// admin calls the local stack's admin endpoint (not timed, not capped).
func (c *clients) admin(ctx context.Context, method, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.ep.Admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin %s %s (is the stack running? make run, or --start-stack): %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin %s %s: HTTP %d: %s", method, path, resp.StatusCode, clip(data))
	}
	return json.Unmarshal(data, out)
}

// token mints an access token for user from the admin endpoint.
func (c *clients) token(ctx context.Context, user string, ttl time.Duration) (string, error) {
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	q := url.Values{"user": {user}, "ttl": {ttl.String()}}
	if err := c.admin(ctx, http.MethodPost, "/token?"+q.Encode(), &tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("admin: no token in the answer")
	}
	return tok.AccessToken, nil
}

// stackStatus is the part of the admin endpoint's GET /status the report uses.
type stackStatus struct {
	Functions map[string]functionCounters `json:"functions"`
	Mappings  map[string]mappingCounters  `json:"mappings"`
}

type functionCounters struct {
	// Instances is a gauge: the function's processes alive at the end (its
	// reserved concurrency caps it), not a difference.
	Instances   int64 `json:"instances"`
	Invocations int64 `json:"invocations"`
	Errors      int64 `json:"errors"`
	Timeouts    int64 `json:"timeouts"`
	ColdStarts  int64 `json:"coldStarts"`
	Throttles   int64 `json:"throttles"`
}

type mappingCounters struct {
	Batches  int64 `json:"batches"`
	Records  int64 `json:"records"`
	Retries  int64 `json:"retries"`
	Failures int64 `json:"failures"`
}

func (c *clients) status(ctx context.Context) (stackStatus, error) {
	var st stackStatus
	return st, c.admin(ctx, http.MethodGet, "/status", &st)
}

// dial opens a WebSocket for token, recorded as the handshake's route; it
// returns the refusal's HTTP status when there is one.
func (c *clients) dial(ctx context.Context, rec *recorder, route, token string) (*websocket.Conn, int, error) {
	if !c.acquire(ctx) {
		return nil, 0, ctx.Err()
	}
	defer c.release()
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	t0 := time.Now()
	conn, resp, err := websocket.Dial(ctx, c.ep.WS+"?token="+url.QueryEscape(token), &websocket.DialOptions{HTTPClient: c.http})
	took := time.Since(t0)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		rec.add(route, status, took)
		// The dial error quotes the URL, token and all.
		return nil, status, fmt.Errorf("websocket handshake: %s", strings.ReplaceAll(err.Error(), url.QueryEscape(token), "<token>"))
	}
	rec.add(route, http.StatusSwitchingProtocols, took)
	conn.SetReadLimit(1 << 20)
	return conn, http.StatusSwitchingProtocols, nil
}
