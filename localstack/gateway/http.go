package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

// HTTP API limits (API Gateway quotas for HTTP APIs).
const (
	// MaxHTTPPayloadBytes is the HTTP API payload quota (10 MB): larger request
	// bodies are answered 413 before anything is invoked.
	MaxHTTPPayloadBytes = 10 << 20
	// DefaultIntegrationTimeout is the HTTP API's maximum (and default)
	// integration timeout.
	DefaultIntegrationTimeout = 30 * time.Second
	// AuthorizerTimeout is the HTTP API's "timeout for Lambda authorizer response".
	AuthorizerTimeout = 10 * time.Second
)

// HTTPConfig configures an HTTP API (payload format 2.0).
type HTTPConfig struct {
	Routes []Route
	// Authorizer is the Lambda REQUEST authorizer (payload format 2.0, simple
	// responses) on every route but the Public ones; "" = no authorizer.
	Authorizer string
	// AuthorizerCacheTTL caches decisions per identity source value; 0 means
	// API Gateway's default of 300 s, a negative value disables caching.
	AuthorizerCacheTTL time.Duration
	// IdentitySource defaults to ["$request.header.Authorization"].
	IdentitySource []string
	// Stage defaults to "$default" (served at the root); a named stage is
	// served under /{stage}, and rawPath keeps that prefix, as on AWS.
	Stage string
	// IntegrationTimeout defaults to (and should not exceed) 30 s.
	IntegrationTimeout time.Duration
	// APIID, AccountID and Region fill requestContext and the route ARN the
	// authorizer sees. Defaults: "localhttp1", DefaultAccountID, DefaultRegion.
	APIID, AccountID, Region string
	Logger                   *slog.Logger
	// CORS, when set, is the API's CORS configuration (the CDK stack's
	// CorsPreflight): the gateway answers preflights itself and marks every
	// response to an allowed origin, as API Gateway does.
	CORS *CORS
}

// CORS is an HTTP API's CORS configuration.
type CORS struct {
	AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders []string
	MaxAge                                                  time.Duration
}

// allows reports whether origin may call the API.
func (c *CORS) allows(origin string) bool {
	return origin != "" && (slices.Contains(c.AllowOrigins, origin) || slices.Contains(c.AllowOrigins, "*"))
}

// apply marks the response to an allowed origin and reports whether r is a
// preflight, which API Gateway answers itself (204, no route or authorizer
// needed) when CORS is configured.
func (c *CORS) apply(w http.ResponseWriter, r *http.Request) (preflight bool) {
	origin := r.Header.Get("Origin")
	preflight = r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if !c.allows(origin) {
		return preflight
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	if preflight {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge.Seconds())))
		}
	} else if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
	return preflight
}

// HTTPGateway is an API Gateway HTTP API in front of an Invoker. It is an
// http.Handler and safe for concurrent use.
type HTTPGateway struct {
	inv       invoke.Invoker
	cfg       HTTPConfig
	router    *router
	idSources []identitySource
	cache     *authCache
	log       *slog.Logger
	prefix    string // "/{stage}" for a named stage, else ""
}

// NewHTTP returns an HTTP API gateway.
func NewHTTP(inv invoke.Invoker, cfg HTTPConfig) (*HTTPGateway, error) {
	if inv == nil {
		return nil, errors.New("gateway: nil invoker")
	}
	rt, err := newRouter(cfg.Routes)
	if err != nil {
		return nil, err
	}
	if cfg.Stage == "" {
		cfg.Stage = "$default"
	}
	if strings.ContainsAny(cfg.Stage, "/?#") {
		return nil, fmt.Errorf("gateway: invalid stage %q", cfg.Stage)
	}
	if cfg.AuthorizerCacheTTL == 0 {
		cfg.AuthorizerCacheTTL = DefaultAuthorizerCacheTTL
	}
	if len(cfg.IdentitySource) == 0 {
		cfg.IdentitySource = []string{"$request.header.Authorization"}
	}
	if cfg.IntegrationTimeout <= 0 {
		cfg.IntegrationTimeout = DefaultIntegrationTimeout
	}
	if cfg.APIID == "" {
		cfg.APIID = "localhttp1"
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
	g := &HTTPGateway{inv: inv, cfg: cfg, router: rt, log: cfg.Logger}
	if cfg.Authorizer != "" {
		srcs, ok := parseIdentitySources(cfg.IdentitySource, "$request.")
		if !ok {
			return nil, fmt.Errorf("gateway: unsupported identity source %q", cfg.IdentitySource)
		}
		g.idSources = srcs
		g.cache = newAuthCache(cfg.AuthorizerCacheTTL)
	}
	if cfg.Stage != "$default" {
		g.prefix = "/" + cfg.Stage
	}
	return g, nil
}

// Error responses. HTTP APIs word them "Internal Server Error" (capitalised),
// unlike REST APIs' "Internal server error".
const (
	msgNotFound     = "Not Found"
	msgUnauthorized = "Unauthorized"
	msgForbidden    = "Forbidden"
	msgInternal     = "Internal Server Error"
	msgUnavailable  = "Service Unavailable"
	msgTooLarge     = "Request Entity Too Large"
)

// ServeHTTP turns the request into a payload format 2.0 event, invokes the
// route's function and maps its answer back.
//
// Failures are answered as an HTTP API answers them, which differs from REST
// APIs (whose 502 "Internal server error" for a function error and 504 for an
// integration timeout are often quoted):
//
//   - no route: 404 {"message":"Not Found"};
//   - an identity source missing or empty: 401 {"message":"Unauthorized"},
//     without calling the authorizer (apigatewayv2 CreateAuthorizer,
//     IdentitySource); a denial: 403 {"message":"Forbidden"}; an authorizer
//     that fails or answers something other than a simple response: 500;
//   - the function returned an error, crashed, panicked or ran past its own
//     timeout (Lambda reports all of these as a function error), or answered
//     a response that cannot be mapped: 500 {"message":"Internal Server
//     Error"} ("Troubleshooting issues with HTTP API Lambda integrations");
//   - Lambda refused the invocation (throttled, unknown function): also 500.
//     The Lambda guide ("Handling Lambda errors with an API Gateway API") says
//     API Gateway answers 500 when the Lambda API rejects the invocation, so a
//     throttled function is not passed on as 429;
//   - no answer within the integration timeout (30 s, the HTTP API quota):
//     503 {"message":"Service Unavailable"};
//   - a body over the 10 MB payload quota: 413.
//
// Every response carries the apigw-requestid header, which is also
// requestContext.requestId. With CORS configured, a preflight is answered 204
// before routing, and every response to an allowed origin (the gateway's own
// errors included, so a browser sees a 401 as a 401) carries the CORS headers.
func (g *HTTPGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newID()
	w.Header().Set("Apigw-Requestid", reqID)
	if g.cfg.CORS != nil && g.cfg.CORS.apply(w, r) {
		w.WriteHeader(http.StatusNoContent)
		return
	}

	rawPath := r.URL.EscapedPath()
	routePath := rawPath
	if g.prefix != "" {
		rest, ok := strings.CutPrefix(rawPath, g.prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			writeMessage(w, http.StatusNotFound, msgNotFound)
			return
		}
		if rest == "" {
			rest = "/"
		}
		routePath = rest
	}
	route, params := g.router.match(r.Method, routePath)
	if route == nil {
		writeMessage(w, http.StatusNotFound, msgNotFound)
		return
	}
	log := g.log.With("requestId", reqID, "routeKey", route.key, "function", route.function)

	body, err := io.ReadAll(io.LimitReader(r.Body, MaxHTTPPayloadBytes+1))
	if err != nil {
		log.WarnContext(r.Context(), "gateway: reading the request body", "error", err.Error())
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxHTTPPayloadBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, msgTooLarge)
		return
	}

	ev := g.event(r, reqID, route, params, rawPath, body, start)

	if g.cfg.Authorizer != "" && !route.public {
		status, authCtx := g.authorize(r, log, &ev, route)
		if status != 0 {
			writeMessage(w, status, statusMessage(status))
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: authCtx}
	}

	payload, err := json.Marshal(&ev)
	if err != nil {
		log.ErrorContext(r.Context(), "gateway: encoding the event", "error", err.Error())
		writeMessage(w, http.StatusInternalServerError, msgInternal)
		return
	}
	// A client that goes away does not stop the invocation on AWS either.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.IntegrationTimeout)
	defer cancel()
	out, err := g.inv.Invoke(ctx, route.function, payload)
	if err != nil || ctx.Err() != nil {
		status := g.invokeFailure(ctx, r, log, err)
		writeMessage(w, status, statusMessage(status))
		return
	}
	if err := writeV2Response(w, out); err != nil {
		log.ErrorContext(r.Context(), "gateway: malformed Lambda response", "error", err.Error())
		writeMessage(w, http.StatusInternalServerError, msgInternal)
		return
	}
	log.DebugContext(r.Context(), "gateway: request", "method", r.Method, "path", rawPath,
		"latencyMs", time.Since(start).Milliseconds())
}

// invokeFailure logs a failed invocation and returns the status to answer.
func (g *HTTPGateway) invokeFailure(ctx context.Context, r *http.Request, log *slog.Logger, err error) int {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		log.ErrorContext(r.Context(), "gateway: integration timed out", "timeout", g.cfg.IntegrationTimeout.String())
		return http.StatusServiceUnavailable
	}
	var fe *invoke.FunctionError
	switch {
	case errors.As(err, &fe):
		log.ErrorContext(r.Context(), "gateway: function error", "errorType", fe.Type, "errorMessage", fe.Message, "unhandled", fe.Unhandled)
	case errors.Is(err, invoke.ErrTimeout):
		log.ErrorContext(r.Context(), "gateway: function timed out", "error", err.Error())
	case errors.Is(err, invoke.ErrThrottled), errors.Is(err, invoke.ErrUnknownFunction):
		log.ErrorContext(r.Context(), "gateway: Lambda rejected the invocation", "error", err.Error())
	default:
		log.ErrorContext(r.Context(), "gateway: invocation failed", "error", err.Error())
	}
	return http.StatusInternalServerError
}

func statusMessage(status int) string {
	switch status {
	case http.StatusNotFound:
		return msgNotFound
	case http.StatusUnauthorized:
		return msgUnauthorized
	case http.StatusForbidden:
		return msgForbidden
	case http.StatusServiceUnavailable:
		return msgUnavailable
	case http.StatusRequestEntityTooLarge:
		return msgTooLarge
	}
	return msgInternal
}

// event builds the payload format 2.0 event.
func (g *HTTPGateway) event(r *http.Request, reqID string, route *compiledRoute, params map[string]string,
	rawPath string, body []byte, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header)+1)
	var cookies []string
	for name, vs := range r.Header {
		lname := strings.ToLower(name)
		if lname == "cookie" {
			// Payload 2.0 moves cookies out of the headers into their own field.
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lname] = strings.Join(vs, ",")
	}
	// net/http moves these out of r.Header; API Gateway passes them on.
	headers["host"] = r.Host
	if r.ContentLength > 0 {
		headers["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	// API Gateway's front end adds the X-Forwarded-* headers.
	if v, ok := headers["x-forwarded-for"]; ok {
		headers["x-forwarded-for"] = v + ", " + sourceIP(r)
	} else {
		headers["x-forwarded-for"] = sourceIP(r)
	}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if i := strings.LastIndexByte(r.Host, ':'); i > 0 && !strings.Contains(r.Host[i:], "]") {
		port = r.Host[i+1:]
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port
	var query map[string]string
	if r.URL.RawQuery != "" {
		q := parseQuery(r.URL.RawQuery)
		query = make(map[string]string, len(q))
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.key,
		RawPath:               rawPath,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     route.key,
			AccountID:    g.cfg.AccountID,
			Stage:        g.cfg.Stage,
			RequestID:    reqID,
			APIID:        g.cfg.APIID,
			DomainName:   hostOnly(r.Host),
			DomainPrefix: domainPrefix(r.Host),
			Time:         now.UTC().Format(clfTime),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isTextual(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// parseQuery decodes a query string leniently: like url.ParseQuery, but a bad
// pair is kept raw rather than dropped.
func parseQuery(raw string) map[string][]string {
	out := map[string][]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out[k] = append(out[k], v)
	}
	return out
}

func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// isTextual reports whether a body goes into the event as text: HTTP APIs
// base64-encode anything that is not a text media type. A body without a
// content type is text if it is valid UTF-8.
func isTextual(contentType string, body []byte) bool {
	if contentType == "" {
		return utf8.Valid(body)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/graphql":
		return utf8.Valid(body)
	}
	return false
}

// authorize runs the authorizer (or answers from the cache). It returns a
// non-zero status to refuse the request with, or the context to pass on.
func (g *HTTPGateway) authorize(r *http.Request, log *slog.Logger, ev *events.APIGatewayV2HTTPRequest, route *compiledRoute) (int, map[string]any) {
	var query map[string][]string
	if r.URL.RawQuery != "" {
		query = parseQuery(r.URL.RawQuery)
	}
	vals, ok := identityValues(g.idSources, r, query)
	if !ok {
		return http.StatusUnauthorized, nil
	}
	key := strings.Join(vals, "\x00")
	now := time.Now()
	if d, ok := g.cache.get(key, now); ok {
		return decisionStatus(d), d.context
	}
	routeArn := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", g.cfg.Region, g.cfg.AccountID, g.cfg.APIID,
		g.cfg.Stage, r.Method, ev.RequestContext.HTTP.Path)
	authEv := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              routeArn,
		IdentitySource:        vals,
		RouteKey:              route.key,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
	}
	payload, err := json.Marshal(&authEv)
	if err != nil {
		log.ErrorContext(r.Context(), "gateway: encoding the authorizer event", "error", err.Error())
		return http.StatusInternalServerError, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), AuthorizerTimeout)
	defer cancel()
	out, err := g.inv.Invoke(ctx, g.cfg.Authorizer, payload)
	if err != nil {
		log.ErrorContext(r.Context(), "gateway: authorizer failed", "authorizer", g.cfg.Authorizer, "error", err.Error())
		return http.StatusInternalServerError, nil
	}
	var resp struct {
		IsAuthorized *bool          `json:"isAuthorized"`
		Context      map[string]any `json:"context"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.IsAuthorized == nil {
		log.ErrorContext(r.Context(), "gateway: authorizer answered no simple response", "authorizer", g.cfg.Authorizer,
			"response", clip(out))
		return http.StatusInternalServerError, nil
	}
	d := authDecision{allow: *resp.IsAuthorized, context: resp.Context}
	g.cache.put(key, d, now)
	return decisionStatus(d), d.context
}

func decisionStatus(d authDecision) int {
	if d.allow {
		return 0
	}
	return http.StatusForbidden
}

// v2Response is the payload format 2.0 response.
type v2Response struct {
	StatusCode        json.RawMessage     `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// writeV2Response maps the function's answer to the client, or returns an
// error (and writes nothing) if it cannot be mapped. Format 2.0 infers a 200
// JSON response from any valid JSON without a statusCode: a JSON string is sent
// as its text, anything else as the JSON itself.
func writeV2Response(w http.ResponseWriter, out []byte) error {
	trimmed := bytes.TrimSpace(out)
	var resp v2Response
	structured := false
	if len(trimmed) > 0 && trimmed[0] == '{' {
		// Unmarshal validates as it goes; json.Valid first would scan twice.
		if err := json.Unmarshal(trimmed, &resp); err == nil {
			structured = resp.StatusCode != nil
		} else {
			var probe struct {
				StatusCode json.RawMessage `json:"statusCode"`
			}
			perr := json.Unmarshal(trimmed, &probe)
			if perr != nil {
				return errors.New("the response is not JSON")
			}
			if probe.StatusCode != nil {
				return fmt.Errorf("decoding the response: %w", err)
			}
		}
	} else if !json.Valid(trimmed) {
		return errors.New("the response is not JSON")
	}
	h := w.Header()
	if !structured {
		var s string
		body := trimmed
		if trimmed[0] == '"' && json.Unmarshal(trimmed, &s) == nil {
			body = []byte(s)
		}
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return nil
	}
	var status int
	if err := json.Unmarshal(resp.StatusCode, &status); err != nil || status < 100 || status > 599 {
		return fmt.Errorf("invalid statusCode %s", clip(resp.StatusCode))
	}
	var body []byte
	if resp.Body != nil {
		if resp.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*resp.Body)
			if err != nil {
				return fmt.Errorf("body is not base64: %w", err)
			}
			body = b
		} else {
			body = []byte(*resp.Body)
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		if hopByHop(k) {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		if hopByHop(k) {
			continue
		}
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if _, ok := h["Content-Type"]; !ok {
		// Without this net/http would sniff a content type API Gateway never sends.
		h["Content-Type"] = nil
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

func hopByHop(name string) bool {
	switch strings.ToLower(name) {
	case "content-length", "transfer-encoding", "connection", "apigw-requestid":
		return true
	}
	return false
}

// clip bounds what a log line quotes from a payload.
func clip(b []byte) string {
	if len(b) > 256 {
		return string(b[:256]) + "..."
	}
	return string(b)
}
