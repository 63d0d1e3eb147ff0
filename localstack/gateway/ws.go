package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

// WebSocket API quotas and defaults.
const (
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultMaxDuration     = 2 * time.Hour
	DefaultMaxMessageBytes = 128 * 1024
	// DefaultWSIntegrationTimeout is the WebSocket API's integration timeout (29 s).
	DefaultWSIntegrationTimeout = 29 * time.Second
)

// WSConfig configures a WebSocket API.
type WSConfig struct {
	// Routes maps route keys ($connect, $disconnect, $default, or an action
	// value) to functions. The route selection expression is
	// $request.body.action.
	Routes map[string]string
	// Authorizer runs on $connect (a REQUEST authorizer answering with an IAM
	// policy); "" = none.
	Authorizer string
	// AuthorizerCacheTTL caches decisions per identity source value. AWS does not
	// cache WebSocket authorizer results (authorizerResultTtlInSeconds is for
	// HTTP APIs only), so the default 0 means no caching.
	AuthorizerCacheTTL time.Duration
	// IdentitySource defaults to ["route.request.querystring.token"].
	IdentitySource []string
	// RouteResponses lists the route keys with a route response (two-way
	// routes): the function's response body is sent back to the client. Without
	// one, as for every route of functions/ws, nothing is sent back and
	// functions answer through the @connections API.
	RouteResponses []string
	// Stage defaults to "local". Clients connect to /{stage}; the management
	// API lives at /{stage}/@connections/{connectionId}.
	Stage              string
	IdleTimeout        time.Duration // default 10 min
	MaxDuration        time.Duration // default 2 h
	MaxMessageBytes    int           // default 128 KiB
	IntegrationTimeout time.Duration // default 29 s
	// APIID, AccountID and Region fill requestContext and the method ARN the
	// authorizer sees. Defaults: "localws001", DefaultAccountID, DefaultRegion.
	APIID, AccountID, Region string
	Logger                   *slog.Logger
}

// WSGateway is an API Gateway WebSocket API with its @connections management
// API. It is an http.Handler and safe for concurrent use.
type WSGateway struct {
	inv       invoke.Invoker
	cfg       WSConfig
	log       *slog.Logger
	idSources []identitySource
	cache     *authCache
	twoWay    map[string]bool
	prefix    string // "/{stage}"

	mu     sync.Mutex
	conns  map[string]*wsConn
	closed bool
	wg     sync.WaitGroup // connection handlers, each until its $disconnect has run
}

type wsConn struct {
	id          string
	ws          *websocket.Conn
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	authCtx     map[string]any
	lastActive  atomic.Int64 // UnixNano of the last message from the client
	// ready is closed once the upgrade is done (ws is set) or has failed (ws nil).
	ready chan struct{}

	causeOnce sync.Once
	cause     closeCause
}

// closeCause is why the gateway ended a connection (the first reason wins).
type closeCause struct {
	code   websocket.StatusCode
	reason string
	set    bool
}

// NewWebSocket returns a WebSocket API gateway.
func NewWebSocket(inv invoke.Invoker, cfg WSConfig) (*WSGateway, error) {
	if inv == nil {
		return nil, errors.New("gateway: nil invoker")
	}
	if cfg.Stage == "" {
		cfg.Stage = "local"
	}
	if strings.ContainsAny(cfg.Stage, "/?#@$") {
		return nil, fmt.Errorf("gateway: invalid stage %q", cfg.Stage)
	}
	if len(cfg.IdentitySource) == 0 {
		cfg.IdentitySource = []string{"route.request.querystring.token"}
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.IntegrationTimeout <= 0 {
		cfg.IntegrationTimeout = DefaultWSIntegrationTimeout
	}
	if cfg.APIID == "" {
		cfg.APIID = "localws001"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for key, fn := range cfg.Routes {
		if key == "" || fn == "" {
			return nil, fmt.Errorf("gateway: WebSocket route %q -> %q is incomplete", key, fn)
		}
	}
	g := &WSGateway{
		inv: inv, cfg: cfg, log: cfg.Logger,
		twoWay: map[string]bool{},
		prefix: "/" + cfg.Stage,
		conns:  map[string]*wsConn{},
	}
	for _, k := range cfg.RouteResponses {
		g.twoWay[k] = true
	}
	if cfg.Authorizer != "" {
		srcs, ok := parseIdentitySources(cfg.IdentitySource, "route.request.")
		if !ok {
			return nil, fmt.Errorf("gateway: unsupported identity source %q", cfg.IdentitySource)
		}
		g.idSources = srcs
		g.cache = newAuthCache(cfg.AuthorizerCacheTTL)
	}
	return g, nil
}

// Connections returns the number of open connections.
func (g *WSGateway) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Close closes every connection (each runs $disconnect), waits for them, and
// refuses new ones.
func (g *WSGateway) Close() error {
	g.mu.Lock()
	g.closed = true
	conns := make([]*wsConn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		g.drop(c, websocket.StatusGoingAway, "Going away")
	}
	g.wg.Wait()
	return nil
}

// ServeHTTP serves the management API under /{stage}/@connections/ and
// upgrades GET /{stage} to a WebSocket connection.
func (g *WSGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if i := strings.Index(path, "/@connections"); i >= 0 {
		g.serveManagement(w, r, path[:i], path[i+len("/@connections"):])
		return
	}
	if path != g.prefix && path != g.prefix+"/" {
		writeMessage(w, http.StatusForbidden, msgForbidden)
		return
	}
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeMessage(w, http.StatusUpgradeRequired, "Upgrade Required")
		return
	}
	g.mu.Lock()
	closed := g.closed
	if !closed {
		g.wg.Add(1)
	}
	g.mu.Unlock()
	if closed {
		writeMessage(w, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	defer g.wg.Done()
	g.connect(w, r)
}

// connect runs the authorizer and $connect, and only then upgrades: a client
// refused by either never gets a WebSocket.
func (g *WSGateway) connect(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	c := &wsConn{
		id:          newID(),
		connectedAt: now,
		sourceIP:    sourceIP(r),
		userAgent:   r.UserAgent(),
		ready:       make(chan struct{}),
	}
	c.lastActive.Store(now.UnixNano())
	reqID := newID()
	log := g.log.With("connectionId", c.id)
	query := parseQuery(r.URL.RawQuery)

	rc := g.requestContext(c, "$connect", "CONNECT", reqID, r.Host, now)
	if g.cfg.Authorizer != "" {
		status, authCtx := g.authorize(r, log, rc, query)
		if status != 0 {
			writeMessage(w, status, wsStatusMessage(status))
			return
		}
		c.authCtx = authCtx
		rc.Authorizer = authCtx
	}

	headers, multiHeaders := v1Headers(r.Header)
	headers["Host"] = r.Host
	multiHeaders["Host"] = []string{r.Host}
	single, multi := v1Query(query)
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers:                         headers,
		MultiValueHeaders:               multiHeaders,
		QueryStringParameters:           single,
		MultiValueQueryStringParameters: multi,
		RequestContext:                  rc,
	}
	var subprotocol string
	if fn, ok := g.cfg.Routes["$connect"]; ok {
		out, status := g.invokeRoute(log, fn, &ev)
		if status != 0 {
			writeMessage(w, status, wsStatusMessage(status))
			return
		}
		resp, err := decodeProxyResponse(out)
		if err != nil {
			log.Error("gateway: $connect answered a malformed response", "error", err.Error(), "response", clip(out))
			writeMessage(w, http.StatusBadGateway, wsStatusMessage(http.StatusBadGateway))
			return
		}
		if resp.status < 200 || resp.status > 299 {
			log.Info("gateway: $connect refused the connection", "statusCode", resp.status)
			writeMessage(w, resp.status, wsStatusMessage(resp.status))
			return
		}
		// A client offering subprotocols gets the one $connect chose, as on AWS.
		subprotocol = resp.header("Sec-WebSocket-Protocol")
	}
	opts := &websocket.AcceptOptions{
		InsecureSkipVerify: true, // API Gateway does not check Origin
		CompressionMode:    websocket.CompressionDisabled,
	}
	if subprotocol != "" {
		opts.Subprotocols = []string{subprotocol}
	}
	// Registered before the 101 goes out, so that a client which has its
	// socket can be posted to; until the upgrade is done, the management API
	// waits on ready.
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		writeMessage(w, http.StatusServiceUnavailable, msgUnavailable)
		g.runDisconnect(c, int(websocket.StatusGoingAway), "Going away")
		return
	}
	g.conns[c.id] = c
	g.mu.Unlock()
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		g.unregister(c)
		close(c.ready)
		log.Warn("gateway: WebSocket upgrade failed", "error", err.Error())
		g.runDisconnect(c, 1006, "upgrade failed")
		return
	}
	// read enforces MaxMessageBytes itself, to record why it closed; this is the backstop.
	ws.SetReadLimit(int64(g.cfg.MaxMessageBytes) + 1)
	c.ws = ws
	close(c.ready)
	log.Info("gateway: connected", "sourceIp", c.sourceIP)

	g.serve(c, log)
}

// serve reads the client's messages until the connection ends, then runs
// $disconnect.
func (g *WSGateway) serve(c *wsConn, log *slog.Logger) {
	done := make(chan struct{})
	defer close(done)
	go g.watch(c, done)

	code, reason := 1006, ""
	for {
		typ, data, err := g.read(c)
		if errors.Is(err, errTooBig) {
			// Closed here rather than by drop: the rest of the message is unread,
			// and reading on would be a protocol error.
			c.setCause(websocket.StatusMessageTooBig, "Message too big")
			g.unregister(c)
			_ = c.ws.Close(websocket.StatusMessageTooBig, "Message too big")
			break
		}
		if err != nil {
			if cs := websocket.CloseStatus(err); cs != -1 {
				code = int(cs)
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					reason = ce.Reason
				}
			}
			break
		}
		c.lastActive.Store(time.Now().UnixNano())
		if typ != websocket.MessageText {
			// API Gateway WebSocket routes take text messages only.
			g.drop(c, websocket.StatusUnsupportedData, "Binary frames are not supported")
			continue
		}
		g.message(c, log, data)
	}
	if cause := c.getCause(); cause.set {
		code, reason = int(cause.code), cause.reason
	}
	g.unregister(c)
	_ = c.ws.CloseNow()
	g.runDisconnect(c, code, reason)
	log.Info("gateway: disconnected", "disconnectStatusCode", code, "reason", reason)
}

// watch enforces the maximum duration and the idle timeout (counted from the
// client's last message) until done.
func (g *WSGateway) watch(c *wsConn, done <-chan struct{}) {
	maxTimer := time.NewTimer(g.cfg.MaxDuration)
	defer maxTimer.Stop()
	idleTimer := time.NewTimer(g.cfg.IdleTimeout)
	defer idleTimer.Stop()
	for {
		select {
		case <-done:
			return
		case <-maxTimer.C:
			g.drop(c, websocket.StatusGoingAway, "Going away")
			return
		case <-idleTimer.C:
			idle := time.Since(time.Unix(0, c.lastActive.Load()))
			if idle >= g.cfg.IdleTimeout {
				g.drop(c, websocket.StatusGoingAway, "Going away")
				return
			}
			idleTimer.Reset(g.cfg.IdleTimeout - idle)
		}
	}
}

var errTooBig = errors.New("message too big")

// read returns the next message, or errTooBig for one over MaxMessageBytes
// (which API Gateway answers by closing the connection with 1009).
func (g *WSGateway) read(c *wsConn) (websocket.MessageType, []byte, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(g.cfg.MaxMessageBytes)+1))
	if err != nil {
		return 0, nil, err
	}
	if len(data) > g.cfg.MaxMessageBytes {
		return 0, nil, errTooBig
	}
	return typ, data, nil
}

func (c *wsConn) setCause(code websocket.StatusCode, reason string) {
	c.causeOnce.Do(func() { c.cause = closeCause{code: code, reason: reason, set: true} })
}

func (c *wsConn) getCause() closeCause {
	// causeOnce is done by whoever closed; reading after Read failed is
	// ordered by the close itself, but Do with a no-op makes it race-free.
	c.causeOnce.Do(func() {})
	return c.cause
}

// drop closes a connection from the gateway's side. It is gone for the
// management API at once; $disconnect follows when the read loop ends.
func (g *WSGateway) drop(c *wsConn, code websocket.StatusCode, reason string) {
	c.setCause(code, reason)
	g.unregister(c)
	<-c.ready
	if c.ws == nil {
		return
	}
	if code == websocket.StatusAbnormalClosure {
		// 1006 may not be sent in a close frame: there is no handshake to do.
		_ = c.ws.CloseNow()
		return
	}
	go func() { _ = c.ws.Close(code, reason) }()
}

func (g *WSGateway) unregister(c *wsConn) {
	g.mu.Lock()
	if g.conns[c.id] == c {
		delete(g.conns, c.id)
	}
	g.mu.Unlock()
}

// lookup returns the open connection, waiting for an upgrade in progress, or nil.
func (g *WSGateway) lookup(ctx context.Context, id string) *wsConn {
	g.mu.Lock()
	c := g.conns[id]
	g.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil
	}
	if c.ws == nil {
		return nil
	}
	return c
}

// message routes one text message by its "action" and invokes the function.
// Messages of one connection are handled in order.
func (g *WSGateway) message(c *wsConn, log *slog.Logger, data []byte) {
	now := time.Now()
	reqID := newID()
	routeKey := g.selectRoute(data)
	if routeKey == "" {
		// No route and no $default: API Gateway tells the client, not a function.
		g.sendError(c, "Forbidden", reqID)
		return
	}
	rc := g.requestContext(c, routeKey, "MESSAGE", reqID, "", now)
	rc.MessageID = newID()
	ev := events.APIGatewayWebsocketProxyRequest{RequestContext: rc, Body: string(data)}
	out, status := g.invokeRoute(log, g.cfg.Routes[routeKey], &ev)
	if status != 0 {
		g.sendError(c, "Internal server error", reqID)
		return
	}
	if !g.twoWay[routeKey] {
		return
	}
	resp, err := decodeProxyResponse(out)
	if err != nil {
		log.Error("gateway: malformed route response", "routeKey", routeKey, "error", err.Error())
		g.sendError(c, "Internal server error", reqID)
		return
	}
	if resp.body != "" {
		g.send(c, []byte(resp.body))
	}
}

// selectRoute applies $request.body.action: a JSON body whose action names a
// route goes there, anything else to $default; "" if there is nowhere to go.
func (g *WSGateway) selectRoute(data []byte) string {
	var sel struct {
		Action *string `json:"action"`
	}
	if json.Unmarshal(data, &sel) == nil && sel.Action != nil {
		switch a := *sel.Action; a {
		case "$connect", "$disconnect", "$default":
		default:
			if _, ok := g.cfg.Routes[a]; ok {
				return a
			}
		}
	}
	if _, ok := g.cfg.Routes["$default"]; ok {
		return "$default"
	}
	return ""
}

// sendError sends API Gateway's own error message to the client.
func (g *WSGateway) sendError(c *wsConn, message, reqID string) {
	b, _ := json.Marshal(map[string]string{"message": message, "connectionId": c.id, "requestId": reqID})
	g.send(c, b)
}

func (g *WSGateway) send(c *wsConn, b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

// runDisconnect invokes $disconnect, whose result API Gateway ignores.
func (g *WSGateway) runDisconnect(c *wsConn, code int, reason string) {
	fn, ok := g.cfg.Routes["$disconnect"]
	if !ok {
		return
	}
	now := time.Now()
	rc := g.requestContext(c, "$disconnect", "DISCONNECT", newID(), "", now)
	rc.DisconnectStatusCode = int64(code)
	rc.DisconnectReason = &reason
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers:           map[string]string{"Host": g.cfg.APIID + ".local", "X-Forwarded-For": c.sourceIP},
		MultiValueHeaders: map[string][]string{"Host": {g.cfg.APIID + ".local"}, "X-Forwarded-For": {c.sourceIP}},
		RequestContext:    rc,
	}
	g.invokeRoute(g.log.With("connectionId", c.id), fn, &ev)
}

func (g *WSGateway) requestContext(c *wsConn, routeKey, eventType, reqID, host string, now time.Time) events.APIGatewayWebsocketProxyRequestContext {
	domain := hostOnly(host)
	if domain == "" {
		domain = g.cfg.APIID + ".local"
	}
	rc := events.APIGatewayWebsocketProxyRequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: reqID,
		RequestTime:       now.UTC().Format(clfTime),
		MessageDirection:  "IN",
		Stage:             g.cfg.Stage,
		ConnectedAt:       c.connectedAt.UnixMilli(),
		RequestTimeEpoch:  now.UnixMilli(),
		Identity:          events.APIGatewayRequestIdentity{SourceIP: c.sourceIP},
		RequestID:         reqID,
		DomainName:        domain,
		ConnectionID:      c.id,
		APIID:             g.cfg.APIID,
	}
	if eventType == "CONNECT" {
		rc.Identity.UserAgent = c.userAgent
	}
	if c.authCtx != nil {
		rc.Authorizer = c.authCtx
	}
	return rc
}

// invokeRoute invokes a route's function. A non-zero status is the HTTP status
// of the failure: the Lambda guide's rule for API Gateway, 502 for a function
// error, 500 when Lambda refuses the invocation, and 504 for the integration
// timeout.
func (g *WSGateway) invokeRoute(log *slog.Logger, fn string, ev *events.APIGatewayWebsocketProxyRequest) ([]byte, int) {
	payload, err := json.Marshal(ev)
	if err != nil {
		log.Error("gateway: encoding the event", "error", err.Error())
		return nil, http.StatusInternalServerError
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.IntegrationTimeout)
	defer cancel()
	out, err := g.inv.Invoke(ctx, fn, payload)
	if err == nil && ctx.Err() == nil {
		return out, 0
	}
	routeKey := ev.RequestContext.RouteKey
	var fe *invoke.FunctionError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Error("gateway: integration timed out", "routeKey", routeKey, "function", fn)
		return nil, http.StatusGatewayTimeout
	case errors.As(err, &fe):
		log.Error("gateway: function error", "routeKey", routeKey, "function", fn, "errorType", fe.Type, "errorMessage", fe.Message)
		return nil, http.StatusBadGateway
	case errors.Is(err, invoke.ErrTimeout):
		log.Error("gateway: function timed out", "routeKey", routeKey, "function", fn)
		return nil, http.StatusBadGateway
	default:
		log.Error("gateway: invocation failed", "routeKey", routeKey, "function", fn, "error", err.Error())
		return nil, http.StatusInternalServerError
	}
}

func wsStatusMessage(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return msgUnauthorized
	case http.StatusForbidden:
		return msgForbidden
	case http.StatusGatewayTimeout:
		return "Endpoint request timed out"
	}
	if status >= 500 {
		return "Internal server error"
	}
	return http.StatusText(status)
}
