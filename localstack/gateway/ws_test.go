package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/functions/edge/authctx"
	"github.com/portfoliotracker/tracker/localstack/gateway"
	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

type wsEnv struct {
	l      *lambda
	g      *gateway.WSGateway
	srv    *httptest.Server
	iss    *tokenissuer.Issuer
	mgmt   *apigatewaymanagementapi.Client
	events chan events.APIGatewayWebsocketProxyRequest
	// hold, if set, runs inside $connect with the connection ID (to play a slow $connect).
	hold func(connectionID string)
}

// newWSEnv serves a WebSocket API whose functions are real Go handlers: "ws"
// (like functions/ws: $connect checks the authorizer's user, $default answers
// {"action":"ping"} with a pong posted through the real management API client)
// and "sub" (a custom route). Every event lands on env.events.
func newWSEnv(t *testing.T, cfg gateway.WSConfig) *wsEnv {
	t.Helper()
	e := &wsEnv{l: newLambda(), events: make(chan events.APIGatewayWebsocketProxyRequest, 100)}
	iss, authz := realAuthorizer(t)
	e.iss = iss
	e.l.set("authorizer", authz)
	e.l.set("ws", handler("ws", func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		e.events <- ev
		rc := ev.RequestContext
		switch rc.RouteKey {
		case "$connect":
			user, ok := authctx.UserFromWebsocketRequest(ev)
			if cfg.Authorizer != "" && !ok {
				return events.APIGatewayProxyResponse{StatusCode: 401}, nil
			}
			switch user {
			case "blocked":
				return events.APIGatewayProxyResponse{StatusCode: 403}, nil
			case "crowded": // at the connections quota (functions/ws)
				return events.APIGatewayProxyResponse{StatusCode: 429}, nil
			case "crash":
				return events.APIGatewayProxyResponse{}, errors.New("connections table unavailable")
			case "slow":
				if e.hold != nil {
					e.hold(rc.ConnectionID)
				}
			}
		case "$default":
			if ev.Body == `{"action":"ping"}` {
				_, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: aws.String(rc.ConnectionID), Data: []byte(`{"type":"pong"}`),
				})
				if err != nil {
					return events.APIGatewayProxyResponse{}, err
				}
			}
		}
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}))
	e.l.set("sub", handler("sub", func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		e.events <- ev
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "subscribed"}, nil
	}))
	if cfg.Routes == nil {
		cfg.Routes = map[string]string{"$connect": "ws", "$disconnect": "ws", "$default": "ws", "subscribe": "sub"}
	}
	g, err := gateway.NewWebSocket(e.l.invoker(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	e.srv = httptest.NewServer(g)
	t.Cleanup(func() {
		_ = g.Close()
		e.srv.Close()
	})
	stage := cfg.Stage
	if stage == "" {
		stage = "local"
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	e.mgmt = push.NewManagementClient(awsCfg, e.srv.URL+"/"+stage)
	return e
}

func (e *wsEnv) url(query string) string {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/local"
	if query != "" {
		u += "?" + query
	}
	return u
}

func (e *wsEnv) dial(t *testing.T, query string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, e.url(query), nil)
}

func (e *wsEnv) mustDial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	c, _, err := e.dial(t, query)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// next returns the next event, failing the test after a few seconds.
func (e *wsEnv) next(t *testing.T) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	select {
	case ev := <-e.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return events.APIGatewayWebsocketProxyRequest{}
}

func (e *wsEnv) noEvent(t *testing.T) {
	t.Helper()
	select {
	case ev := <-e.events:
		t.Fatalf("unexpected event %s", ev.RequestContext.RouteKey)
	case <-time.After(100 * time.Millisecond):
	}
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v", typ)
	}
	return string(b)
}

func write(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// closedWith waits for the server to close the connection and returns the status.
func closedWith(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func isGone(err error) bool {
	var gone *types.GoneException
	return errors.As(err, &gone)
}

func TestWebSocketSession(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{Authorizer: "authorizer"})
	ctx := context.Background()
	tok := e.iss.Mint("user-1")
	before := time.Now()
	c := e.mustDial(t, "token="+tok+"&lang=en")

	conn := e.next(t)
	rc := conn.RequestContext
	if rc.RouteKey != "$connect" || rc.EventType != "CONNECT" || rc.Stage != "local" || rc.MessageDirection != "IN" {
		t.Fatalf("$connect context %+v", rc)
	}
	id := rc.ConnectionID
	if raw, err := base64.StdEncoding.DecodeString(id); err != nil || len(id) != 16 || len(raw) != 11 {
		t.Errorf("connectionId %q is not shaped like API Gateway's", id)
	}
	if rc.ConnectedAt < before.UnixMilli() || rc.RequestTimeEpoch < rc.ConnectedAt || rc.RequestID == "" || rc.APIID == "" || rc.DomainName == "" {
		t.Errorf("$connect context %+v", rc)
	}
	if rc.Identity.SourceIP != "127.0.0.1" {
		t.Errorf("sourceIp %q", rc.Identity.SourceIP)
	}
	if conn.QueryStringParameters["token"] != tok || conn.QueryStringParameters["lang"] != "en" {
		t.Errorf("queryStringParameters %v", conn.QueryStringParameters)
	}
	if conn.Headers["Host"] == "" || conn.Headers["Sec-Websocket-Key"] == "" {
		t.Errorf("headers %v", conn.Headers)
	}
	authz, _ := rc.Authorizer.(map[string]any)
	if authz["principalId"] != "user-1" || authz["userId"] != "user-1" || authz["role"] != "authenticated" {
		t.Errorf("authorizer %v", rc.Authorizer)
	}
	if n := e.g.Connections(); n != 1 {
		t.Fatalf("Connections() = %d", n)
	}

	// Route selection by the body's action.
	write(t, c, `{"action":"subscribe","symbols":["AAPL"]}`)
	msg := e.next(t)
	if msg.RequestContext.RouteKey != "subscribe" || msg.RequestContext.EventType != "MESSAGE" ||
		msg.Body != `{"action":"subscribe","symbols":["AAPL"]}` || msg.RequestContext.ConnectionID != id ||
		msg.RequestContext.MessageID == nil || msg.RequestContext.MessageID == "" {
		t.Fatalf("subscribe event %+v", msg)
	}
	if user, ok := authctx.UserFromWebsocketRequest(msg); !ok || user != "user-1" {
		t.Errorf("the authorizer's context is not on messages: %v", msg.RequestContext.Authorizer)
	}
	for _, body := range []string{`{"action":"unknown"}`, `not json`, `{"action":7}`} {
		write(t, c, body)
		if ev := e.next(t); ev.RequestContext.RouteKey != "$default" || ev.Body != body {
			t.Errorf("%s went to %q", body, ev.RequestContext.RouteKey)
		}
	}
	// No route response configured: nothing comes back but what functions post.
	// $default posts the pong through the real SDK client.
	write(t, c, `{"action":"ping"}`)
	e.next(t)
	if got := read(t, c); got != `{"type":"pong"}` {
		t.Fatalf("got %q, want the pong", got)
	}

	// The management API through the real SDK client.
	out, err := e.mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if out.ConnectedAt == nil || out.ConnectedAt.UnixMilli() != rc.ConnectedAt || out.Identity == nil ||
		aws.ToString(out.Identity.SourceIp) != "127.0.0.1" || out.LastActiveAt == nil || out.LastActiveAt.Before(*out.ConnectedAt) {
		t.Errorf("GetConnection %+v", out)
	}
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(`{"type":"price","symbol":"AAPL"}`),
	}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	if got := read(t, c); got != `{"type":"price","symbol":"AAPL"}` {
		t.Fatalf("got %q", got)
	}

	// DELETE closes the socket and runs $disconnect; the ID is gone at once.
	if _, err := e.mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(`x`),
	}); !isGone(err) {
		t.Fatalf("post after delete: %v, want GoneException", err)
	}
	if st := closedWith(t, c); st != websocket.StatusNormalClosure {
		t.Errorf("close status %v", st)
	}
	disc := e.next(t)
	if disc.RequestContext.RouteKey != "$disconnect" || disc.RequestContext.EventType != "DISCONNECT" ||
		disc.RequestContext.ConnectionID != id || disc.RequestContext.DisconnectStatusCode != 1000 {
		t.Fatalf("$disconnect event %+v", disc.RequestContext)
	}
	if n := e.g.Connections(); n != 0 {
		t.Fatalf("Connections() = %d after delete", n)
	}
	if _, err := e.mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); !isGone(err) {
		t.Errorf("GetConnection after delete: %v", err)
	}
	if _, err := e.mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); !isGone(err) {
		t.Errorf("DeleteConnection after delete: %v", err)
	}
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String("bm90LWEtY29ubg="), Data: []byte(`x`),
	}); !isGone(err) {
		t.Errorf("post to an unknown ID: %v", err)
	}
	e.noEvent(t)
}

func TestWebSocketConnectRefusals(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{Authorizer: "authorizer"})
	for _, tc := range []struct {
		name, query string
		status      int
	}{
		{"no token", "", 401},
		{"empty token", "token=", 401},
		{"expired token", "token=" + e.iss.Mint("user-1", expiredToken()), 403},
		{"garbage token", "token=abc.def.ghi", 403},
		{"$connect answers 403", "token=" + e.iss.Mint("blocked"), 403},
		{"$connect answers 429", "token=" + e.iss.Mint("crowded"), 429},
		{"$connect fails", "token=" + e.iss.Mint("crash"), 502},
	} {
		c, resp, err := e.dial(t, tc.query)
		if err == nil {
			_ = c.CloseNow()
			t.Errorf("%s: connected", tc.name)
			continue
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: response %v, want %d", tc.name, resp, tc.status)
		}
		// The refused handshake says why in its body (a browser sees only a failed connect).
		if body, _ := io.ReadAll(resp.Body); tc.status == 429 && string(body) != `{"message":"Too Many Requests"}` {
			t.Errorf("%s: body %s", tc.name, body)
		}
	}
	if n := e.l.count("authorizer"); n != 5 {
		t.Errorf("authorizer called %d times, want 5 (not without a token)", n)
	}
	// Only the three connections the authorizer allowed reached $connect, and a
	// refused $connect is not followed by $disconnect.
	for range 3 {
		if ev := e.next(t); ev.RequestContext.RouteKey != "$connect" {
			t.Errorf("event %s", ev.RequestContext.RouteKey)
		}
	}
	e.noEvent(t)
	if n := e.g.Connections(); n != 0 {
		t.Errorf("Connections() = %d", n)
	}
}

func TestWebSocketPostBeforeConnectCompletes(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{Authorizer: "authorizer"})
	ctx := context.Background()
	held := make(chan string, 1)
	release := make(chan struct{})
	e.hold = func(id string) {
		held <- id
		<-release
	}
	type dialed struct {
		c   *websocket.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, _, err := e.dial(t, "token="+e.iss.Mint("slow"))
		done <- dialed{c, err}
	}()
	id := <-held
	// $connect has not returned: the connection does not exist yet.
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(`early`),
	}); !isGone(err) {
		t.Errorf("post during $connect: %v, want GoneException", err)
	}
	close(release)
	d := <-done
	if d.err != nil {
		t.Fatalf("dial: %v", d.err)
	}
	defer d.c.CloseNow()
	e.next(t)
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(`now`),
	}); err != nil {
		t.Fatalf("post after $connect: %v", err)
	}
	if got := read(t, d.c); got != "now" {
		t.Fatalf("got %q", got)
	}
}

func TestWebSocketIdleTimeout(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{IdleTimeout: 300 * time.Millisecond})
	c := e.mustDial(t, "")
	id := e.next(t).RequestContext.ConnectionID
	closed := make(chan websocket.StatusCode, 1)
	go func() { closed <- closedWith(t, c) }()

	// Messages keep it open well past the idle timeout...
	start := time.Now()
	for time.Since(start) < 700*time.Millisecond {
		write(t, c, `{"action":"subscribe"}`)
		e.next(t)
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case st := <-closed:
		t.Fatalf("closed with %v while active", st)
	default:
	}
	// ...and silence closes it.
	quiet := time.Now()
	st := <-closed
	if st != websocket.StatusGoingAway {
		t.Errorf("close status %v, want 1001", st)
	}
	if d := time.Since(quiet); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed %v after the last message", d)
	}
	disc := e.next(t)
	if disc.RequestContext.RouteKey != "$disconnect" || disc.RequestContext.ConnectionID != id ||
		disc.RequestContext.DisconnectStatusCode != 1001 {
		t.Fatalf("$disconnect %+v", disc.RequestContext)
	}
}

func TestWebSocketMaxDuration(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{MaxDuration: 400 * time.Millisecond})
	c := e.mustDial(t, "")
	e.next(t)
	closed := make(chan websocket.StatusCode, 1)
	go func() { closed <- closedWith(t, c) }()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Second)
	for done := false; !done; {
		select {
		case st := <-closed:
			if st != websocket.StatusGoingAway {
				t.Errorf("close status %v", st)
			}
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Errorf("closed after %v, before the maximum duration", d)
			}
			done = true
		case <-tick.C:
			// Activity does not extend the maximum duration.
			_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"subscribe"}`))
		case <-deadline:
			t.Fatal("not closed")
		}
	}
	for {
		ev := e.next(t)
		if ev.RequestContext.RouteKey == "$disconnect" {
			if ev.RequestContext.DisconnectStatusCode != 1001 {
				t.Errorf("disconnectStatusCode %d", ev.RequestContext.DisconnectStatusCode)
			}
			return
		}
		if ev.RequestContext.RouteKey != "subscribe" {
			t.Fatalf("event %s", ev.RequestContext.RouteKey)
		}
	}
}

func TestWebSocketLimitsAndClientClose(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{MaxMessageBytes: 1024})
	ctx := context.Background()
	c := e.mustDial(t, "")
	id := e.next(t).RequestContext.ConnectionID

	_, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(strings.Repeat("x", 1025)),
	})
	var tooLarge *types.PayloadTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Fatalf("post of 1025 bytes: %v, want PayloadTooLargeException", err)
	}
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte(strings.Repeat("y", 1024)),
	}); err != nil {
		t.Fatalf("post of 1024 bytes: %v", err)
	}
	if got := read(t, c); len(got) != 1024 {
		t.Fatalf("got %d bytes", len(got))
	}
	// A message over the limit from the client ends the connection (1009).
	_ = c.Write(ctx, websocket.MessageText, []byte(strings.Repeat("z", 2000)))
	if st := closedWith(t, c); st != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want 1009", st)
	}
	if ev := e.next(t); ev.RequestContext.RouteKey != "$disconnect" || ev.RequestContext.DisconnectStatusCode != 1009 {
		t.Errorf("$disconnect %+v", ev.RequestContext)
	}

	// The client closing runs $disconnect with its status and reason.
	c2 := e.mustDial(t, "")
	id2 := e.next(t).RequestContext.ConnectionID
	if err := c2.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	ev := e.next(t)
	if ev.RequestContext.RouteKey != "$disconnect" || ev.RequestContext.ConnectionID != id2 ||
		ev.RequestContext.DisconnectStatusCode != 1000 || ev.RequestContext.DisconnectReason == nil || *ev.RequestContext.DisconnectReason != "bye" {
		t.Fatalf("$disconnect %+v", ev.RequestContext)
	}
	if _, err := e.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id2), Data: []byte(`late`),
	}); !isGone(err) {
		t.Fatalf("post after the client closed: %v", err)
	}
}

func TestWebSocketRouteErrorsAndRouteResponses(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{
		Routes:         map[string]string{"$connect": "ws", "echo": "echo", "boom": "boom"},
		RouteResponses: []string{"echo"},
	})
	e.l.set("echo", handler("echo", func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo:" + ev.Body}, nil
	}))
	e.l.set("boom", handler("boom", func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errors.New("boom")
	}))
	c := e.mustDial(t, "")
	id := e.next(t).RequestContext.ConnectionID

	write(t, c, `{"action":"echo"}`)
	if got := read(t, c); got != `echo:{"action":"echo"}` {
		t.Fatalf("two-way route answered %q", got)
	}
	for body, want := range map[string]string{
		`{"action":"nope"}`: "Forbidden", // no such route and no $default
		`{"action":"boom"}`: "Internal server error",
	} {
		write(t, c, body)
		var got map[string]string
		if err := json.Unmarshal([]byte(read(t, c)), &got); err != nil {
			t.Fatal(err)
		}
		if got["message"] != want || got["connectionId"] != id || got["requestId"] == "" {
			t.Errorf("%s: got %v", body, got)
		}
	}
	// Binary frames are refused.
	_ = c.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3})
	if st := closedWith(t, c); st != websocket.StatusUnsupportedData {
		t.Errorf("close status %v, want 1003", st)
	}
}

func TestWebSocketCloseAll(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{})
	c1 := e.mustDial(t, "")
	c2 := e.mustDial(t, "")
	e.next(t)
	e.next(t)
	if n := e.g.Connections(); n != 2 {
		t.Fatalf("Connections() = %d", n)
	}
	// Clients read, as browsers do, so they answer the close handshake.
	statuses := make(chan websocket.StatusCode, 2)
	for _, c := range []*websocket.Conn{c1, c2} {
		go func() { statuses <- closedWith(t, c) }()
	}
	start := time.Now()
	if err := e.g.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	// Close waits for every $disconnect.
	for range 2 {
		select {
		case ev := <-e.events:
			if ev.RequestContext.RouteKey != "$disconnect" || ev.RequestContext.DisconnectStatusCode != 1001 {
				t.Errorf("event %+v", ev.RequestContext)
			}
		default:
			t.Fatal("Close returned before $disconnect ran")
		}
	}
	for range 2 {
		if st := <-statuses; st != websocket.StatusGoingAway {
			t.Errorf("close status %v", st)
		}
	}
	if _, resp, err := e.dial(t, ""); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("dial after Close: %v %v", resp, err)
	}
}

func TestManagementAPIRefusals(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{})
	for _, tc := range []struct {
		path, authz string
		status      int
		errType     string
	}{
		{"/local/@connections/abc", "", 403, "ForbiddenException"},
		{"/other/@connections/abc", "AWS4-HMAC-SHA256 Credential=x", 403, "ForbiddenException"},
		{"/local/@connections/abc", "AWS4-HMAC-SHA256 Credential=x", 410, "GoneException"},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+tc.path, strings.NewReader("x"))
		if tc.authz != "" {
			req.Header.Set("Authorization", tc.authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.errType {
			t.Errorf("%s (%q): %d %s", tc.path, tc.authz, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
	// A plain GET on the stage is not an upgrade; another path is not the API.
	if resp, _ := do(t, "GET", e.srv.URL+"/local", nil, nil); resp.StatusCode != 426 {
		t.Errorf("plain GET: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", e.srv.URL+"/elsewhere", nil, nil); resp.StatusCode != 403 {
		t.Errorf("other path: %d", resp.StatusCode)
	}
}

func TestWebSocketAuthorizerPolicies(t *testing.T) {
	e := newWSEnv(t, gateway.WSConfig{Authorizer: "policy", AuthorizerCacheTTL: time.Minute})
	// A hand-written authorizer, to exercise IAM policy evaluation and caching.
	e.l.set("policy", handler("policy", func(_ context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (any, error) {
		stmt := func(effect string, resource any) map[string]any {
			return map[string]any{"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}
		}
		doc := func(stmts ...map[string]any) map[string]any {
			return map[string]any{"Version": "2012-10-17", "Statement": stmts}
		}
		switch ev.QueryStringParameters["token"] {
		case "wild":
			return map[string]any{"principalId": "u-wild", "policyDocument": doc(stmt("Allow", "arn:aws:execute-api:*:*:*/local/*")),
				"context": map[string]any{"userId": "u-wild"}}, nil
		case "deny-wins":
			return map[string]any{"principalId": "u-2", "policyDocument": doc(stmt("Allow", "*"), stmt("Deny", []string{ev.MethodArn}))}, nil
		case "other-stage":
			return map[string]any{"principalId": "u-3", "policyDocument": doc(stmt("Allow", "arn:aws:execute-api:*:*:*/prod/*"))}, nil
		case "no-policy":
			return map[string]any{"principalId": "u-4"}, nil
		}
		return nil, errors.New("unexpected token")
	}))
	for token, status := range map[string]int{"deny-wins": 403, "other-stage": 403, "no-policy": 500, "boom": 500} {
		if _, resp, err := e.dial(t, "token="+token); err == nil || resp == nil || resp.StatusCode != status {
			t.Errorf("%s: %v %v, want %d", token, resp, err, status)
		}
	}
	for range 2 {
		c := e.mustDial(t, "token=wild")
		ev := e.next(t)
		if user, ok := authctx.UserFromWebsocketRequest(ev); !ok || user != "u-wild" {
			t.Errorf("authorizer context %v", ev.RequestContext.Authorizer)
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
		e.next(t)
	}
	// The allowed token was asked once, then answered from the cache.
	if n := e.l.count("policy"); n != 5 {
		t.Errorf("authorizer called %d times, want 5", n)
	}
}
