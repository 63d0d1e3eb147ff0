package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/functions/edge/authctx"
	"github.com/portfoliotracker/tracker/localstack/gateway"
	"github.com/portfoliotracker/tracker/localstack/invoke"
)

func newHTTP(t *testing.T, l *lambda, cfg gateway.HTTPConfig) *httptest.Server {
	t.Helper()
	g, err := gateway.NewHTTP(l.invoker(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// recorder keeps the last event a handler saw.
type recorder[E any] struct {
	mu sync.Mutex
	ev E
	n  int
}

func (r *recorder[E]) put(ev E) {
	r.mu.Lock()
	r.ev, r.n = ev, r.n+1
	r.mu.Unlock()
}

func (r *recorder[E]) get() (E, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ev, r.n
}

func TestHTTPEventAndResponse(t *testing.T) {
	l := newLambda()
	iss, authz := realAuthorizer(t)
	l.set("authorizer", authz)
	var rec recorder[events.APIGatewayV2HTTPRequest]
	l.set("api", handler("api", func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		rec.put(ev)
		user, _ := authctx.UserFromHTTPRequest(ev)
		return events.APIGatewayV2HTTPResponse{
			StatusCode: 201,
			Headers:    map[string]string{"Content-Type": "application/json", "X-Custom": "a,b"},
			Cookies:    []string{"s=1; Path=/", "t=2"},
			Body:       `{"user":"` + user + `"}`,
		}, nil
	}))
	srv := newHTTP(t, l, gateway.HTTPConfig{
		Routes:     []gateway.Route{{Method: "GET", Path: "/portfolios/{id}", Function: "api"}},
		Authorizer: "authorizer",
	})
	tok := iss.Mint("user-1")
	before := time.Now()
	resp, body := do(t, "GET", srv.URL+"/portfolios/p%201?x=1&x=2&y=a%2Bb", nil, http.Header{
		"Authorization": {"Bearer " + tok},
		"X-Multi":       {"a", "b"},
		"Cookie":        {"c1=v1; c2=v2"},
		"User-Agent":    {"gateway-test/1"},
	})
	if resp.StatusCode != 201 || string(body) != `{"user":"user-1"}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Custom"); got != "a,b" {
		t.Errorf("X-Custom = %q", got)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "s=1; Path=/" || got[1] != "t=2" {
		t.Errorf("Set-Cookie = %q", got)
	}
	reqID := resp.Header.Get("Apigw-Requestid")
	if len(reqID) != 16 {
		t.Errorf("apigw-requestid %q", reqID)
	}

	ev, n := rec.get()
	if n != 1 {
		t.Fatalf("api invoked %d times", n)
	}
	want := map[string]string{
		"version": ev.Version, "routeKey": ev.RouteKey, "rawPath": ev.RawPath, "rawQueryString": ev.RawQueryString,
		"rc.routeKey": ev.RequestContext.RouteKey, "rc.stage": ev.RequestContext.Stage, "rc.requestId": ev.RequestContext.RequestID,
		"http.method": ev.RequestContext.HTTP.Method, "http.path": ev.RequestContext.HTTP.Path,
		"http.protocol": ev.RequestContext.HTTP.Protocol, "http.sourceIp": ev.RequestContext.HTTP.SourceIP,
		"http.userAgent": ev.RequestContext.HTTP.UserAgent, "rc.domainName": ev.RequestContext.DomainName,
	}
	for k, v := range map[string]string{
		"version": "2.0", "routeKey": "GET /portfolios/{id}", "rawPath": "/portfolios/p%201", "rawQueryString": "x=1&x=2&y=a%2Bb",
		"rc.routeKey": "GET /portfolios/{id}", "rc.stage": "$default", "rc.requestId": reqID,
		"http.method": "GET", "http.path": "/portfolios/p 1", "http.protocol": "HTTP/1.1", "http.sourceIp": "127.0.0.1",
		"http.userAgent": "gateway-test/1", "rc.domainName": "127.0.0.1",
	} {
		if want[k] != v {
			t.Errorf("%s = %q, want %q", k, want[k], v)
		}
	}
	if ev.PathParameters["id"] != "p 1" {
		t.Errorf("pathParameters %v", ev.PathParameters)
	}
	if ev.QueryStringParameters["x"] != "1,2" || ev.QueryStringParameters["y"] != "a+b" {
		t.Errorf("queryStringParameters %v", ev.QueryStringParameters)
	}
	if ev.Headers["x-multi"] != "a,b" || ev.Headers["authorization"] != "Bearer "+tok || ev.Headers["user-agent"] != "gateway-test/1" {
		t.Errorf("headers %v", ev.Headers)
	}
	if ev.Headers["x-forwarded-proto"] != "http" || ev.Headers["x-forwarded-for"] != "127.0.0.1" ||
		ev.Headers["x-forwarded-port"] != srv.URL[strings.LastIndex(srv.URL, ":")+1:] || ev.Headers["host"] == "" {
		t.Errorf("forwarding headers %v", ev.Headers)
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Errorf("the cookie header stayed in headers: %v", ev.Headers)
	}
	if len(ev.Cookies) != 2 || ev.Cookies[0] != "c1=v1" || ev.Cookies[1] != "c2=v2" {
		t.Errorf("cookies %q", ev.Cookies)
	}
	if ev.RequestContext.TimeEpoch < before.UnixMilli() || ev.RequestContext.TimeEpoch > time.Now().UnixMilli() {
		t.Errorf("timeEpoch %d", ev.RequestContext.TimeEpoch)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.Time); err != nil {
		t.Errorf("time %q: %v", ev.RequestContext.Time, err)
	}
	if ev.RequestContext.AccountID == "" || ev.RequestContext.APIID == "" {
		t.Errorf("accountId %q apiId %q", ev.RequestContext.AccountID, ev.RequestContext.APIID)
	}
	if ev.Body != "" || ev.IsBase64Encoded {
		t.Errorf("body %q base64 %v", ev.Body, ev.IsBase64Encoded)
	}
}

func TestHTTPBodies(t *testing.T) {
	l := newLambda()
	var rec recorder[events.APIGatewayV2HTTPRequest]
	// The function echoes the request body, base64 or not, as it received it.
	l.set("echo", handler("echo", func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		rec.put(ev)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: ev.Body, IsBase64Encoded: ev.IsBase64Encoded,
			Headers: map[string]string{"Content-Type": ev.Headers["content-type"]}}, nil
	}))
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: []gateway.Route{{Method: "POST", Path: "/echo", Function: "echo"}}})

	bin := make([]byte, 300)
	_, _ = rand.Read(bin)
	for _, tc := range []struct {
		contentType string
		body        []byte
		base64      bool
	}{
		{"application/json", []byte(`{"a":"é"}`), false},
		{"text/csv; charset=utf-8", []byte("a,b\n1,2\n"), false},
		{"application/vnd.api+json", []byte(`{}`), false},
		{"image/png", bin, true},
		{"application/octet-stream", []byte("plain but binary type"), true},
		{"application/x-www-form-urlencoded", []byte("a=1&b=2"), true},
	} {
		resp, body := do(t, "POST", srv.URL+"/echo", bytes.NewReader(tc.body), http.Header{"Content-Type": {tc.contentType}})
		if resp.StatusCode != 200 || !bytes.Equal(body, tc.body) {
			t.Errorf("%s: got %d, body equal %v", tc.contentType, resp.StatusCode, bytes.Equal(body, tc.body))
		}
		if resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s: response content type %q", tc.contentType, resp.Header.Get("Content-Type"))
		}
		ev, _ := rec.get()
		if ev.Headers["content-length"] != strconv.Itoa(len(tc.body)) {
			t.Errorf("%s: content-length %q", tc.contentType, ev.Headers["content-length"])
		}
		if ev.IsBase64Encoded != tc.base64 {
			t.Errorf("%s: isBase64Encoded %v", tc.contentType, ev.IsBase64Encoded)
		}
		if tc.base64 {
			if dec, err := base64.StdEncoding.DecodeString(ev.Body); err != nil || !bytes.Equal(dec, tc.body) {
				t.Errorf("%s: event body does not decode to the request body", tc.contentType)
			}
		} else if ev.Body != string(tc.body) {
			t.Errorf("%s: event body %q", tc.contentType, ev.Body)
		}
	}
}

func TestHTTPInferredResponse(t *testing.T) {
	l := newLambda()
	l.set("obj", handler("obj", func(context.Context, json.RawMessage) (map[string]any, error) {
		return map[string]any{"items": []int{1, 2}}, nil
	}))
	l.set("str", handler("str", func(context.Context, json.RawMessage) (string, error) { return "Hello from Lambda!", nil }))
	l.set("nostatus", handler("nostatus", func(context.Context, json.RawMessage) (map[string]any, error) {
		// Looks like a response but has no statusCode: format 2.0 sends it as the body.
		return map[string]any{"body": "x", "headers": map[string]string{"a": "b"}}, nil
	}))
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: []gateway.Route{
		{Method: "GET", Path: "/obj", Function: "obj"},
		{Method: "GET", Path: "/str", Function: "str"},
		{Method: "GET", Path: "/nostatus", Function: "nostatus"},
	}})
	for path, want := range map[string]string{
		"/obj":      `{"items":[1,2]}`,
		"/str":      `Hello from Lambda!`,
		"/nostatus": `{"body":"x","headers":{"a":"b"}}`,
	} {
		resp, body := do(t, "GET", srv.URL+path, nil, nil)
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: got %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

func TestHTTPRouting(t *testing.T) {
	l := newLambda()
	var mu sync.Mutex
	seen := map[string]events.APIGatewayV2HTTPRequest{}
	routes := []gateway.Route{
		{Method: "GET", Path: "/portfolios", Function: "list"},
		{Method: "GET", Path: "/portfolios/{id}", Function: "get"},
		{Method: "GET", Path: "/portfolios/summary", Function: "summary"},
		{Method: "POST", Path: "/portfolios/{id}/transactions/{txId}/void", Function: "void"},
		{Method: "ANY", Path: "/portfolios/{id}/transactions/{txId}/void", Function: "voidany"},
		{Method: "ANY", Path: "/files/{proxy+}", Function: "files"},
		{Method: "GET", Path: "/files/readme", Function: "readme"},
		{Method: "GET", Path: "/", Function: "root"},
	}
	for _, r := range routes {
		name := r.Function
		l.set(name, handler(name, func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			mu.Lock()
			seen[name] = ev
			mu.Unlock()
			return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: name}, nil
		}))
	}
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: routes})
	for _, tc := range []struct {
		method, path, fn, routeKey string
		params                     map[string]string
	}{
		{"GET", "/portfolios", "list", "GET /portfolios", nil},
		{"GET", "/portfolios/p1", "get", "GET /portfolios/{id}", map[string]string{"id": "p1"}},
		{"GET", "/portfolios/summary", "summary", "GET /portfolios/summary", nil},
		{"POST", "/portfolios/p1/transactions/t9/void", "void", "POST /portfolios/{id}/transactions/{txId}/void", map[string]string{"id": "p1", "txId": "t9"}},
		{"DELETE", "/portfolios/p1/transactions/t9/void", "voidany", "ANY /portfolios/{id}/transactions/{txId}/void", map[string]string{"id": "p1", "txId": "t9"}},
		{"PUT", "/files/a/b%2Fc/d.txt", "files", "ANY /files/{proxy+}", map[string]string{"proxy": "a/b/c/d.txt"}},
		{"GET", "/files/readme", "readme", "GET /files/readme", nil},
		{"GET", "/", "root", "GET /", nil},
	} {
		resp, body := do(t, tc.method, srv.URL+tc.path, nil, nil)
		if resp.StatusCode != 200 || string(body) != tc.fn {
			t.Errorf("%s %s: got %d %q, want %s", tc.method, tc.path, resp.StatusCode, body, tc.fn)
			continue
		}
		mu.Lock()
		ev := seen[tc.fn]
		mu.Unlock()
		if ev.RouteKey != tc.routeKey {
			t.Errorf("%s %s: routeKey %q", tc.method, tc.path, ev.RouteKey)
		}
		if len(ev.PathParameters) != len(tc.params) {
			t.Errorf("%s %s: pathParameters %v", tc.method, tc.path, ev.PathParameters)
		}
		for k, v := range tc.params {
			if ev.PathParameters[k] != v {
				t.Errorf("%s %s: pathParameters %v", tc.method, tc.path, ev.PathParameters)
			}
		}
	}
	// No route: 404 with API Gateway's body; paths are case-sensitive, a
	// parameter needs a non-empty segment, and a method must match.
	for _, tc := range [][2]string{
		{"GET", "/nothing"}, {"GET", "/Portfolios"}, {"DELETE", "/portfolios"}, {"GET", "/portfolios/p1/extra"},
		{"GET", "/files/"}, {"GET", "/portfolios//transactions/t/void"},
	} {
		resp, body := do(t, tc[0], srv.URL+tc[1], nil, nil)
		if resp.StatusCode != 404 || string(body) != `{"message":"Not Found"}` {
			t.Errorf("%s %s: got %d %s", tc[0], tc[1], resp.StatusCode, body)
		}
		if resp.Header.Get("Apigw-Requestid") == "" {
			t.Errorf("%s %s: no apigw-requestid", tc[0], tc[1])
		}
	}
}

func TestHTTPDefaultRouteAndStage(t *testing.T) {
	l := newLambda()
	var rec recorder[events.APIGatewayV2HTTPRequest]
	l.set("fallback", handler("fallback", func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		rec.put(ev)
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	}))
	srv := newHTTP(t, l, gateway.HTTPConfig{
		Stage:  "prod",
		Routes: []gateway.Route{{Path: "$default", Function: "fallback"}},
	})
	resp, _ := do(t, "PATCH", srv.URL+"/prod/any/where?q=1", nil, nil)
	ev, _ := rec.get()
	if resp.StatusCode != 204 || ev.RouteKey != "$default" || ev.RawPath != "/prod/any/where" || ev.RequestContext.Stage != "prod" {
		t.Fatalf("got %d, routeKey %q rawPath %q stage %q", resp.StatusCode, ev.RouteKey, ev.RawPath, ev.RequestContext.Stage)
	}
	if resp, _ := do(t, "GET", srv.URL+"/any/where", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("outside the stage: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", srv.URL+"/production/x", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("a longer stage name: %d", resp.StatusCode)
	}
}

func TestHTTPErrors(t *testing.T) {
	l := newLambda()
	respond := func(raw string) func(context.Context, []byte) ([]byte, error) {
		return func(context.Context, []byte) ([]byte, error) { return []byte(raw), nil }
	}
	fail := func(err error) func(context.Context, []byte) ([]byte, error) {
		return func(context.Context, []byte) ([]byte, error) { return nil, err }
	}
	l.set("error", handler("error", func(context.Context, json.RawMessage) (string, error) {
		return "", errors.New("portfolio not found")
	}))
	l.set("panic", fail(&invoke.FunctionError{Function: "panic", Type: "Runtime.ExitError", Message: "exit status 2", Unhandled: true}))
	l.set("timeout", fail(&invoke.FunctionError{Function: "timeout", Type: "Sandbox.Timedout", Message: "Task timed out after 10.00 seconds", Unhandled: true}))
	l.set("timeout2", fail(invoke.ErrTimeout))
	l.set("throttled", fail(invoke.ErrThrottled))
	l.set("badstatus", respond(`{"statusCode":"two hundred","body":"x"}`))
	l.set("outofrange", respond(`{"statusCode":42,"body":"x"}`))
	l.set("badbase64", respond(`{"statusCode":200,"body":"***","isBase64Encoded":true}`))
	l.set("badheaders", respond(`{"statusCode":200,"headers":{"a":["b"]}}`))
	l.set("notjson", respond(`{"statusCode":200`))
	l.set("hang", func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	l.set("big", handler("big", func(context.Context, json.RawMessage) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}))
	var routes []gateway.Route
	for _, fn := range []string{"error", "panic", "timeout", "timeout2", "throttled", "badstatus", "outofrange", "badbase64",
		"badheaders", "notjson", "hang", "big", "missing"} {
		routes = append(routes, gateway.Route{Method: "POST", Path: "/" + fn, Function: fn})
	}
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: routes, IntegrationTimeout: 100 * time.Millisecond})

	const internal = `{"message":"Internal Server Error"}`
	for fn, want := range map[string]struct {
		status int
		body   string
	}{
		"error":      {500, internal},
		"panic":      {500, internal},
		"timeout":    {500, internal},
		"timeout2":   {500, internal},
		"throttled":  {500, internal},
		"missing":    {500, internal},
		"badstatus":  {500, internal},
		"outofrange": {500, internal},
		"badbase64":  {500, internal},
		"badheaders": {500, internal},
		"notjson":    {500, internal},
		"hang":       {503, `{"message":"Service Unavailable"}`},
	} {
		resp, body := do(t, "POST", srv.URL+"/"+fn, strings.NewReader(`{}`), nil)
		if resp.StatusCode != want.status || string(body) != want.body {
			t.Errorf("%s: got %d %s, want %d %s", fn, resp.StatusCode, body, want.status, want.body)
		}
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Apigw-Requestid") == "" {
			t.Errorf("%s: headers %v", fn, resp.Header)
		}
	}

	// The payload quota: 10 MB passes, one byte more is refused before any invocation.
	srv = newHTTP(t, l, gateway.HTTPConfig{Routes: routes})
	before := l.count("big")
	resp, _ := do(t, "POST", srv.URL+"/big", bytes.NewReader(make([]byte, gateway.MaxHTTPPayloadBytes)), http.Header{"Content-Type": {"application/octet-stream"}})
	if resp.StatusCode != 200 {
		t.Errorf("10 MB: %d", resp.StatusCode)
	}
	resp, body := do(t, "POST", srv.URL+"/big", bytes.NewReader(make([]byte, gateway.MaxHTTPPayloadBytes+1)), nil)
	if resp.StatusCode != 413 || string(body) != `{"message":"Request Entity Too Large"}` {
		t.Errorf("10 MB + 1: %d %s", resp.StatusCode, body)
	}
	if got := l.count("big") - before; got != 1 {
		t.Errorf("big invoked %d times, want 1", got)
	}
}

func TestHTTPAuthorizer(t *testing.T) {
	l := newLambda()
	iss, authz := realAuthorizer(t)
	l.set("authorizer", authz)
	l.set("api", handler("api", func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		user, ok := authctx.UserFromHTTPRequest(ev)
		if !ok {
			return events.APIGatewayV2HTTPResponse{StatusCode: 500, Body: "no user"}, nil
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: user + "/" + authctx.RoleFromHTTPRequest(ev)}, nil
	}))
	routes := []gateway.Route{{Method: "GET", Path: "/portfolios", Function: "api"}, {Method: "GET", Path: "/portfolios/{id}", Function: "api"}}
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: routes, Authorizer: "authorizer", AuthorizerCacheTTL: 1500 * time.Millisecond})
	get := func(path, authz string) (int, string) {
		h := http.Header{}
		if authz != "" {
			h.Set("Authorization", authz)
		}
		resp, body := do(t, "GET", srv.URL+path, nil, h)
		return resp.StatusCode, string(body)
	}

	// Missing or empty identity source: 401, and the authorizer is not called.
	for _, a := range []string{"", "   "} {
		if st, body := get("/portfolios", a); st != 401 || body != `{"message":"Unauthorized"}` {
			t.Errorf("Authorization %q: %d %s", a, st, body)
		}
	}
	if n := l.count("authorizer"); n != 0 {
		t.Fatalf("authorizer called %d times without an identity source", n)
	}

	good := "Bearer " + iss.Mint("user-7")
	if st, body := get("/portfolios", good); st != 200 || body != "user-7/authenticated" {
		t.Fatalf("good token: %d %s", st, body)
	}
	// Cached per identity source value, across routes.
	if st, _ := get("/portfolios/p1", good); st != 200 {
		t.Fatalf("good token again: %d", st)
	}
	if n := l.count("authorizer"); n != 1 {
		t.Fatalf("authorizer called %d times for one token, want 1 (cached)", n)
	}
	// Denials are answered 403 and cached too.
	bad := "Bearer " + iss.Mint("user-7", expiredToken())
	for range 2 {
		if st, body := get("/portfolios", bad); st != 403 || body != `{"message":"Forbidden"}` {
			t.Fatalf("expired token: %d %s", st, body)
		}
	}
	if n := l.count("authorizer"); n != 2 {
		t.Fatalf("authorizer called %d times, want 2", n)
	}
	// A different token is a different cache entry; an expired entry is asked again.
	other := "Bearer " + iss.Mint("user-8")
	if st, body := get("/portfolios", other); st != 200 || body != "user-8/authenticated" {
		t.Fatalf("other token: %d %s", st, body)
	}
	// The TTL leaves a loaded machine time for the requests above; then it expires.
	time.Sleep(1600 * time.Millisecond)
	if st, _ := get("/portfolios", good); st != 200 {
		t.Fatalf("good token after the TTL: %d", st)
	}
	if n := l.count("authorizer"); n != 4 {
		t.Fatalf("authorizer called %d times, want 4", n)
	}
	if n := l.count("api"); n != 4 {
		t.Fatalf("api called %d times, want 4 (never on a refusal)", n)
	}
}

// A public route (the unsubscribe link's) reaches its function without an identity source and without the
// authorizer, while the other routes still need both.
func TestHTTPPublicRouteSkipsTheAuthorizer(t *testing.T) {
	l := newLambda()
	_, authz := realAuthorizer(t)
	l.set("authorizer", authz)
	l.set("api", handler("api", func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if _, ok := authctx.UserFromHTTPRequest(ev); ok {
			return events.APIGatewayV2HTTPResponse{StatusCode: 500, Body: "a caller on a public route"}, nil
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "public " + ev.RawQueryString}, nil
	}))
	routes := []gateway.Route{{Method: "GET", Path: "/unsubscribe", Function: "api", Public: true}, {Method: "GET", Path: "/portfolios", Function: "api"}}
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: routes, Authorizer: "authorizer"})
	if resp, body := do(t, "GET", srv.URL+"/unsubscribe?token=v1.x", nil, nil); resp.StatusCode != 200 || string(body) != "public token=v1.x" {
		t.Errorf("public route: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", srv.URL+"/portfolios", nil, nil); resp.StatusCode != 401 {
		t.Errorf("guarded route without a token: %d %s", resp.StatusCode, body)
	}
	if n := l.count("authorizer"); n != 0 {
		t.Errorf("authorizer called %d times, want 0", n)
	}
}

func TestHTTPAuthorizerFailures(t *testing.T) {
	l := newLambda()
	iss, authz := realAuthorizer(t)
	l.set("authorizer", authz)
	l.set("garbage", func(context.Context, []byte) ([]byte, error) { return []byte(`{"principalId":"x"}`), nil })
	l.set("api", handler("api", func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}))
	routes := []gateway.Route{{Method: "GET", Path: "/p", Function: "api"}}
	srv := newHTTP(t, l, gateway.HTTPConfig{Routes: routes, Authorizer: "authorizer", AuthorizerCacheTTL: -1})
	tok := http.Header{"Authorization": {"Bearer " + iss.Mint("user-1")}}

	// The keys are unavailable: the authorizer errors, API Gateway answers 500,
	// and nothing is cached, so the same token works once the keys are back.
	iss.SetDown(true)
	resp, body := do(t, "GET", srv.URL+"/p", nil, tok)
	if resp.StatusCode != 500 || string(body) != `{"message":"Internal Server Error"}` {
		t.Fatalf("authorizer error: %d %s", resp.StatusCode, body)
	}
	iss.SetDown(false)
	time.Sleep(30 * time.Millisecond)
	if resp, _ := do(t, "GET", srv.URL+"/p", nil, tok); resp.StatusCode != 200 {
		t.Fatalf("after recovery: %d", resp.StatusCode)
	}
	// Caching disabled: every request asks.
	_, _ = do(t, "GET", srv.URL+"/p", nil, tok)
	if n := l.count("authorizer"); n != 3 {
		t.Fatalf("authorizer called %d times, want 3", n)
	}

	// An authorizer answering something other than a simple response: 500.
	srv2 := newHTTP(t, l, gateway.HTTPConfig{Routes: routes, Authorizer: "garbage"})
	if resp, body := do(t, "GET", srv2.URL+"/p", nil, tok); resp.StatusCode != 500 || string(body) != `{"message":"Internal Server Error"}` {
		t.Fatalf("garbage authorizer: %d %s", resp.StatusCode, body)
	}
}

func TestNewHTTPRejectsBadRoutes(t *testing.T) {
	inv := newLambda().invoker()
	for name, routes := range map[string][]gateway.Route{
		"no function":      {{Method: "GET", Path: "/a"}},
		"duplicate":        {{Method: "GET", Path: "/a", Function: "f"}, {Method: "get", Path: "/a", Function: "g"}},
		"relative":         {{Method: "GET", Path: "a", Function: "f"}},
		"greedy not last":  {{Method: "GET", Path: "/{p+}/a", Function: "f"}},
		"empty segment":    {{Method: "GET", Path: "/a//b", Function: "f"}},
		"two $default":     {{Path: "$default", Function: "f"}, {Path: "$default", Function: "g"}},
		"method, no route": {{Method: "", Path: "/a", Function: "f"}},
	} {
		if _, err := gateway.NewHTTP(inv, gateway.HTTPConfig{Routes: routes}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := gateway.NewHTTP(inv, gateway.HTTPConfig{Authorizer: "a", IdentitySource: []string{"$context.x"}}); err == nil {
		t.Error("unsupported identity source accepted")
	}
}

func TestHTTPAuthorizerEvent(t *testing.T) {
	l := newLambda()
	var rec recorder[events.APIGatewayV2CustomAuthorizerV2Request]
	l.set("authz", handler("authz", func(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		rec.put(ev)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{"tenant": "t1", "n": 2}}, nil
	}))
	var apiEv recorder[events.APIGatewayV2HTTPRequest]
	l.set("api", handler("api", func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		apiEv.put(ev)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}))
	srv := newHTTP(t, l, gateway.HTTPConfig{
		Routes:         []gateway.Route{{Method: "GET", Path: "/portfolios/{id}", Function: "api"}},
		Authorizer:     "authz",
		IdentitySource: []string{"$request.header.X-Api-Key", "$request.querystring.tenant"},
	})
	h := http.Header{"X-Api-Key": {"k1"}}
	if resp, _ := do(t, "GET", srv.URL+"/portfolios/p1", nil, h); resp.StatusCode != 401 {
		t.Fatalf("one identity source missing: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", srv.URL+"/portfolios/p1?tenant=t1", nil, h); resp.StatusCode != 200 {
		t.Fatalf("both identity sources: %d", resp.StatusCode)
	}
	ev, n := rec.get()
	if n != 1 {
		t.Fatalf("authorizer called %d times", n)
	}
	if ev.Version != "2.0" || ev.Type != "REQUEST" || ev.RouteKey != "GET /portfolios/{id}" ||
		ev.RouteArn != "arn:aws:execute-api:us-east-1:000000000000:localhttp1/$default/GET/portfolios/p1" ||
		len(ev.IdentitySource) != 2 || ev.IdentitySource[0] != "k1" || ev.IdentitySource[1] != "t1" ||
		ev.Headers["x-api-key"] != "k1" || ev.QueryStringParameters["tenant"] != "t1" || ev.PathParameters["id"] != "p1" ||
		ev.RequestContext.RequestID == "" || ev.RequestContext.HTTP.Method != "GET" {
		t.Errorf("authorizer event %+v", ev)
	}
	got, _ := apiEv.get()
	if got.RequestContext.Authorizer == nil || got.RequestContext.Authorizer.Lambda["tenant"] != "t1" ||
		got.RequestContext.Authorizer.Lambda["n"] != float64(2) {
		t.Errorf("authorizer.lambda %+v", got.RequestContext.Authorizer)
	}
	if got.RequestContext.RequestID != ev.RequestContext.RequestID {
		t.Errorf("the authorizer and the integration saw different request IDs")
	}
}

// With CORS configured the gateway answers preflights itself and marks every response to an allowed origin,
// the gateway's own refusals included; another origin gets no CORS headers.
func TestHTTPCORS(t *testing.T) {
	l := newLambda()
	iss, authz := realAuthorizer(t)
	l.set("authorizer", authz)
	l.set("api", handler("api", func(_ context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "ok"}, nil
	}))
	srv := newHTTP(t, l, gateway.HTTPConfig{
		Routes: []gateway.Route{{Method: "GET", Path: "/portfolios", Function: "api"}}, Authorizer: "authorizer",
		CORS: &gateway.CORS{AllowOrigins: []string{"http://localhost:5173"}, AllowMethods: []string{"GET", "OPTIONS"},
			AllowHeaders: []string{"Authorization", "Content-Type"}, ExposeHeaders: []string{"ETag"}, MaxAge: 10 * time.Minute},
	})
	const app = "http://localhost:5173"

	resp, _ := do(t, "OPTIONS", srv.URL+"/portfolios", nil, http.Header{"Origin": {app}, "Access-Control-Request-Method": {"GET"},
		"Access-Control-Request-Headers": {"authorization"}})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != app ||
		resp.Header.Get("Access-Control-Allow-Headers") != "Authorization,Content-Type" || resp.Header.Get("Access-Control-Max-Age") != "600" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if n := l.count("authorizer") + l.count("api"); n != 0 {
		t.Errorf("a preflight invoked %d functions", n)
	}
	resp, body := do(t, "GET", srv.URL+"/portfolios", nil, http.Header{"Origin": {app}, "Authorization": {"Bearer " + iss.Mint("user-1")}})
	if resp.StatusCode != 200 || string(body) != "ok" || resp.Header.Get("Access-Control-Allow-Origin") != app || resp.Header.Get("Access-Control-Expose-Headers") != "ETag" {
		t.Errorf("call: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = do(t, "GET", srv.URL+"/portfolios", nil, http.Header{"Origin": {app}})
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("refusal: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = do(t, "OPTIONS", srv.URL+"/portfolios", nil, http.Header{"Origin": {"http://elsewhere.test"}, "Access-Control-Request-Method": {"GET"}})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin's preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
