// Package push sends JSON messages to browsers over the API Gateway WebSocket API, through its
// management API (PostToConnection on the stage's @connections endpoint).
//
// Notify fans a message out to every live connection of a set of users: it looks the
// connection IDs up (the connections table's byUser index, shared/adapters/wsconn), then posts with at
// most Options.Concurrency requests in flight. Each attempt has its own timeout, so one hanging
// connection costs its own slot for at most PostTimeout and never delays the others beyond that.
// One connection's messages go in order, one at a time, and the first that fails (a timeout,
// an error) drops the rest of them: a hanging connection costs one PostTimeout per fan-out, not
// one per message. At most Options.MaxPerUser connections of one user are posted to at once,
// and the users take turns, so one user's many slow connections cannot take every slot.
// A connection answering 410 Gone is closed: its item is deleted (and counted). A 429
// (LimitExceededException: the account's management API rate) is retried with jittered
// exponential backoff. Messages are limited to 128 KB, API Gateway's frame size. A fan-out
// stops when its context ends: what is not sent by then is counted as failed.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// MaxMessageBytes is API Gateway's WebSocket message limit.
const MaxMessageBytes = 128 * 1024

// Message types the producers send ({"type": ...}).
const (
	TypePrice     = "price"
	TypeValuation = "valuation"
	TypeAlert     = "alert"
)

// MessageTooLargeError is returned, before anything is sent, for a message over MaxMessageBytes.
type MessageTooLargeError struct{ Size int }

func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("push: message of %d bytes exceeds the %d-byte WebSocket limit", e.Size, MaxMessageBytes)
}

// ErrGone is returned by Send for a connection that is closed (its item has been deleted).
var ErrGone = errors.New("push: connection gone")

// ManagementAPI is the part of the apigatewaymanagementapi client the pusher uses.
type ManagementAPI interface {
	PostToConnection(context.Context, *apigatewaymanagementapi.PostToConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// Connections finds and forgets connections (a *wsconn.Store).
type Connections interface {
	ConnectionIDsByUser(ctx context.Context, userID string) ([]string, error)
	ConnectionsByUser(ctx context.Context, userID string) ([]wsconn.Connection, error)
	Delete(ctx context.Context, connectionID string) error
}

// maxIdleConns is the management client's idle connections to the endpoint: above any sensible
// Options.Concurrency.
const maxIdleConns = 128

// NewManagementClient returns the management API client for a WebSocket stage endpoint
// (https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, or a custom domain's
// https://{domain}/{base-path}). The SDK's own retries are off: the pusher retries throttling
// itself, within its per-post timeout and concurrency bound.
func NewManagementClient(cfg aws.Config, endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
		// The SDK keeps 10 idle connections per host; a fan-out with more posts in flight would
		// reopen TLS connections on every message.
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConnsPerHost = maxIdleConns
		})
	})
}

// Configured returns the pusher of a function configured for the WebSocket API:
// the connections table's name and the stage's management endpoint (what the
// function reads from CONNECTIONS_TABLE and WEBSOCKET_ENDPOINT, or
// WEBSOCKET_CALLBACK_URL). It returns false when either is empty, for functions
// that may run without pushing.
func Configured(cfg aws.Config, db wsconn.DynamoDB, table, endpoint string, opts Options) (*Pusher, bool) {
	if table == "" || endpoint == "" {
		return nil, false
	}
	return New(NewManagementClient(cfg, endpoint), wsconn.New(db, table, wsconn.Options{}), opts), true
}

// Options tunes New. Zero values take the defaults.
type Options struct {
	Concurrency  int           // posts (and lookups) in flight; default 16
	MaxPerUser   int           // connections of one user posted to at once; default 2
	PostTimeout  time.Duration // one post attempt; default 3 s
	MaxAttempts  int           // attempts of a throttled post; default 4
	RetryBackoff time.Duration // first backoff after a 429, doubled each time, with jitter; default 50 ms
	Logger       *slog.Logger  // default: discard
	// ConnectedUsersFor, when positive and Connections implements
	// ConnectedUsersLister, makes every fan-out look up only the users that had a
	// connection when the list was read, reading it again once it is older than
	// this. A producer that fans out to thousands of users a second, most of them
	// offline, then pays one scan a period instead of one query per user and
	// fan-out; a connection opened meanwhile is served from the next read on.
	ConnectedUsersFor time.Duration
	// Metrics, when set, receives a line per fan-out that found connections:
	// PushesSent, PushesGone, PushesThrottled, PushesFailed.
	Metrics *emf.Writer
}

// ConnectedUsersLister lists the users with a live connection (wsconn.Store).
type ConnectedUsersLister interface {
	ConnectedUsers(ctx context.Context) (map[string]struct{}, error)
}

// Pusher sends messages to connections. It is safe for concurrent use.
type Pusher struct {
	api   ManagementAPI
	conns Connections
	opts  Options

	connectedMu sync.Mutex
	connected   map[string]struct{} // nil: not read yet, or the last read failed
	connectedAt time.Time
}

// New returns a pusher.
func New(api ManagementAPI, conns Connections, opts Options) *Pusher {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = 2
	}
	if opts.PostTimeout <= 0 {
		opts.PostTimeout = 3 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 4
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pusher{api: api, conns: conns, opts: opts}
}

// Result counts what one fan-out did.
type Result struct {
	Connections int // connection IDs found
	Sent        int // posts accepted
	Gone        int // connections that answered 410 Gone and were deleted
	Throttled   int // 429 answers retried (attempts, not connections)
	Failed      int // posts given up on (timeout, throttled too often, other errors), or dropped after one did
}

// DeliveryError is returned when some posts or lookups failed; gone connections are not failures.
type DeliveryError struct {
	Result Result
	Err    error // the errors, joined
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("push: %d of %d deliveries failed: %v", e.Result.Failed, e.Result.Connections, e.Err)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Notify sends the message to every live connection of the users. The message is JSON-encoded
// ([]byte and json.RawMessage are sent as they are). It returns *MessageTooLargeError before
// sending anything for a message over 128 KB, and *DeliveryError if any lookup or post failed.
func (p *Pusher) Notify(ctx context.Context, userIDs []string, message any) error {
	_, err := p.Fanout(ctx, userIDs, message)
	return err
}

// Fanout is Notify returning the counts.
func (p *Pusher) Fanout(ctx context.Context, userIDs []string, message any) (Result, error) {
	body, err := Encode(message)
	if err != nil {
		return Result{}, err
	}
	users, ids, lookupErrs := p.lookup(ctx, userIDs, p.conns.ConnectionIDsByUser)
	return p.postAll(ctx, same(users, ids, body), lookupErrs)
}

// FanoutWhere sends the message only to the users' connections that match, such as those
// subscribed to a portfolio or a symbol (wsconn.Connection.SubscribedToPortfolio). It reads
// each user's connection items (the byUser index, then BatchGetItem), so it costs more than
// Fanout; see package wsconn for the access pattern.
func (p *Pusher) FanoutWhere(ctx context.Context, userIDs []string, match func(wsconn.Connection) bool, message any) (Result, error) {
	body, err := Encode(message)
	if err != nil {
		return Result{}, err
	}
	users, ids, lookupErrs := p.lookup(ctx, userIDs, func(ctx context.Context, user string) ([]string, error) {
		conns, err := p.conns.ConnectionsByUser(ctx, user)
		var ids []string
		for _, c := range conns {
			if match(c) {
				ids = append(ids, c.ID)
			}
		}
		return ids, err
	})
	return p.postAll(ctx, same(users, ids, body), lookupErrs)
}

// NotifyEach sends each live connection of the users the messages pick chooses for it (none
// when it returns nil), each message as its own post. It is how producers honour
// subscriptions: a portfolio's valuation goes to the connections subscribed to that portfolio,
// a quote to those subscribed to its symbol. Like FanoutWhere it reads the users' connection
// items; users without a live connection cost one index query each.
func (p *Pusher) NotifyEach(ctx context.Context, userIDs []string, pick func(wsconn.Connection) []any) error {
	var (
		mu     sync.Mutex
		jobs   = map[string][]connPostings{}
		encErr error
	)
	users, _, lookupErrs := p.lookup(ctx, userIDs, func(ctx context.Context, user string) ([]string, error) {
		conns, err := p.conns.ConnectionsByUser(ctx, user)
		var mine []connPostings
		for _, c := range conns {
			job := connPostings{user: user, id: c.ID}
			for _, m := range pick(c) {
				body, e := Encode(m)
				if e != nil {
					mu.Lock()
					encErr = e
					mu.Unlock()
					continue
				}
				job.bodies = append(job.bodies, body)
			}
			if len(job.bodies) > 0 {
				mine = append(mine, job)
			}
		}
		mu.Lock()
		jobs[user] = mine
		mu.Unlock()
		return nil, err
	})
	if encErr != nil {
		return encErr
	}
	byUser := make([][]connPostings, len(users))
	for i, u := range users {
		byUser[i] = jobs[u]
	}
	_, err := p.postAll(ctx, byUser, lookupErrs)
	return err
}

// connPostings are the messages for one connection of a user, sent in order.
type connPostings struct {
	user   string
	id     string
	bodies [][]byte
}

// same is one message for each of the users' connections (ids[i] are users[i]'s).
func same(users []string, ids [][]string, body []byte) [][]connPostings {
	out := make([][]connPostings, len(users))
	for i, u := range users {
		for _, id := range ids[i] {
			out[i] = append(out[i], connPostings{user: u, id: id, bodies: [][]byte{body}})
		}
	}
	return out
}

// postAll posts each user's connections' messages (byUser[i] are one user's).
// Its span, "websocket push", is the parent of the posts' (the AWS SDK's).
func (p *Pusher) postAll(ctx context.Context, byUser [][]connPostings, lookupErrs []error) (res Result, err error) {
	ctx, span := tracing.Start(ctx, "websocket push", trace.WithSpanKind(trace.SpanKindProducer))
	defer func() {
		span.SetAttributes(attribute.Int("push.users", len(byUser)), attribute.Int("push.connections", res.Connections),
			attribute.Int("push.sent", res.Sent), attribute.Int("push.gone", res.Gone), attribute.Int("push.failed", res.Failed))
		tracing.End(span, err)
	}()
	var (
		sent, gone, throttled, failed atomic.Int64
		mu                            sync.Mutex
		errs                          = lookupErrs
		wg                            sync.WaitGroup
	)
	fail := func(id string, err error, dropped int) {
		failed.Add(int64(dropped))
		mu.Lock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf("connection %s: %w", id, err))
		}
		mu.Unlock()
	}
	sched := newScheduler(byUser, p.opts.MaxPerUser)
	res.Connections = sched.postings
	for range min(p.opts.Concurrency, sched.len()) {
		wg.Go(func() {
			for {
				job, ok := sched.next(ctx)
				if !ok {
					return
				}
				for i, body := range job.bodies {
					t, err := p.post(ctx, job.id, body)
					throttled.Add(int64(t))
					if errors.Is(err, ErrGone) {
						gone.Add(1)
						break
					}
					if err != nil {
						// The rest would most likely fail alike, one PostTimeout each.
						fail(job.id, err, len(job.bodies)-i)
						break
					}
					sent.Add(1)
				}
				sched.done(job.user)
			}
		})
	}
	wg.Wait()
	if n, cause := sched.dropped(); n > 0 {
		fail(fmt.Sprintf("(%d not attempted)", n), cause, n)
	}
	res.Sent, res.Gone, res.Throttled, res.Failed = int(sent.Load()), int(gone.Load()), int(throttled.Load()), int(failed.Load())
	p.emit(res)
	if len(errs) > 0 {
		return res, &DeliveryError{Result: res, Err: errors.Join(errs...)}
	}
	return res, nil
}

// emit writes a fan-out's counts, when it found any connection.
func (p *Pusher) emit(res Result) {
	if res.Connections == 0 {
		return
	}
	p.opts.Metrics.Emit(
		emf.Metric{Name: "PushesSent", Value: float64(res.Sent)},
		emf.Metric{Name: "PushesGone", Value: float64(res.Gone)},
		emf.Metric{Name: "PushesThrottled", Value: float64(res.Throttled)},
		emf.Metric{Name: "PushesFailed", Value: float64(res.Failed)})
}

// scheduler hands out connections to post to: the users take turns (each
// user's first connection, then each one's second, ...), and at most maxPerUser
// connections of one user are out at once. A worker asking for one while every
// waiting connection's user is at the bound waits for one to come back.
type scheduler struct {
	mu         sync.Mutex
	cond       *sync.Cond
	queue      []connPostings
	inFlight   map[string]int
	maxPerUser int
	postings   int   // messages in all
	skipped    int   // messages of connections never handed out (the context ended)
	cause      error // why
}

func newScheduler(byUser [][]connPostings, maxPerUser int) *scheduler {
	s := &scheduler{inFlight: map[string]int{}, maxPerUser: maxPerUser}
	s.cond = sync.NewCond(&s.mu)
	for round := 0; ; round++ {
		added := false
		for _, conns := range byUser {
			if round < len(conns) {
				s.queue = append(s.queue, conns[round])
				s.postings += len(conns[round].bodies)
				added = true
			}
		}
		if !added {
			return s
		}
	}
}

func (s *scheduler) len() int { return len(s.queue) }

// next returns the next connection to post to, or false when none is left; once
// ctx has ended, it hands out nothing more and counts what is left as dropped.
func (s *scheduler) next(ctx context.Context) (connPostings, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			for _, j := range s.queue {
				s.skipped += len(j.bodies)
			}
			if len(s.queue) > 0 {
				s.cause = err
			}
			s.queue = nil
			s.cond.Broadcast()
		}
		if len(s.queue) == 0 {
			return connPostings{}, false
		}
		for i, j := range s.queue {
			if s.inFlight[j.user] < s.maxPerUser {
				if i == 0 {
					s.queue = s.queue[1:] // the common case, in constant time
				} else {
					s.queue = slices.Delete(s.queue, i, i+1)
				}
				s.inFlight[j.user]++
				return j, true
			}
		}
		s.cond.Wait()
	}
}

// done gives a user's connection slot back.
func (s *scheduler) done(user string) {
	s.mu.Lock()
	s.inFlight[user]--
	s.mu.Unlock()
	s.cond.Broadcast()
}

// dropped returns the messages never attempted and why.
func (s *scheduler) dropped() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped, s.cause
}

// Send posts the message to one connection: the WebSocket function's replies. It returns
// ErrGone (after deleting the connection's item) for a closed connection.
func (p *Pusher) Send(ctx context.Context, connectionID string, message any) error {
	body, err := Encode(message)
	if err != nil {
		return err
	}
	_, err = p.post(ctx, connectionID, body)
	return err
}

// Encode returns the message's JSON, or *MessageTooLargeError.
func Encode(message any) ([]byte, error) {
	var body []byte
	switch m := message.(type) {
	case []byte:
		body = m
	case json.RawMessage:
		body = m
	default:
		b, err := json.Marshal(message)
		if err != nil {
			return nil, fmt.Errorf("push: encode message: %w", err)
		}
		body = b
	}
	if len(body) > MaxMessageBytes {
		return nil, &MessageTooLargeError{Size: len(body)}
	}
	return body, nil
}

// connectedUsers returns the users with a live connection, read at most once per
// Options.ConnectedUsersFor, or nil when the pusher does not narrow its look-ups
// (not configured, or the list could not be read: every user is looked up).
func (p *Pusher) connectedUsers(ctx context.Context) map[string]struct{} {
	lister, ok := p.conns.(ConnectedUsersLister)
	if !ok || p.opts.ConnectedUsersFor <= 0 {
		return nil
	}
	p.connectedMu.Lock()
	defer p.connectedMu.Unlock()
	if p.connected != nil && time.Since(p.connectedAt) < p.opts.ConnectedUsersFor {
		return p.connected
	}
	users, err := lister.ConnectedUsers(ctx)
	if err != nil {
		p.opts.Logger.WarnContext(ctx, "push: connected users not read; looking up every user", "error", err.Error())
		p.connected = nil
		return nil
	}
	p.connected, p.connectedAt = users, time.Now()
	return users
}

// lookup returns the users looked up (each once, in the order given) and their
// connection IDs (ids[i] are users[i]'s), with the bound on lookups in flight.
func (p *Pusher) lookup(ctx context.Context, userIDs []string, find func(context.Context, string) ([]string, error)) ([]string, [][]string, []error) {
	connected := p.connectedUsers(ctx)
	seen := make(map[string]bool, len(userIDs))
	users := make([]string, 0, len(userIDs))
	for _, u := range userIDs {
		if seen[u] {
			continue
		}
		seen[u] = true
		if _, online := connected[u]; connected == nil || online {
			users = append(users, u)
		}
	}
	found := make([][]string, len(users))
	errs := make([]error, len(users))
	sem := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
	for i, u := range users {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			found[i], errs[i] = find(ctx, u)
		})
	}
	wg.Wait()
	var failed []error
	for i := range users {
		if errs[i] != nil {
			failed = append(failed, fmt.Errorf("connections of %s: %w", users[i], errs[i]))
		}
	}
	return users, found, failed
}

// post sends body to one connection, retrying throttling; it returns the number of 429s seen.
func (p *Pusher) post(ctx context.Context, id string, body []byte) (throttled int, err error) {
	backoff := p.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		err = p.postOnce(ctx, id, body)
		var gone *types.GoneException
		var limit *types.LimitExceededException
		switch {
		case err == nil:
			return throttled, nil
		case errors.As(err, &gone):
			if derr := p.conns.Delete(ctx, id); derr != nil {
				p.opts.Logger.WarnContext(ctx, "push: delete gone connection", "connectionId", id, "error", derr.Error())
			}
			return throttled, ErrGone
		case errors.As(err, &limit):
			throttled++
			if attempt >= p.opts.MaxAttempts {
				return throttled, fmt.Errorf("throttled %d times: %w", throttled, err)
			}
			// Full jitter on [backoff/2, backoff).
			d := backoff/2 + rand.N(backoff/2+1)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return throttled, ctx.Err()
			case <-t.C:
			}
			backoff *= 2
		default:
			return throttled, err
		}
	}
}

func (p *Pusher) postOnce(ctx context.Context, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.PostTimeout)
	defer cancel()
	_, err := p.api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: body})
	return err
}
