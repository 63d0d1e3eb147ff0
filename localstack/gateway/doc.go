// Package gateway is the local stack's API Gateway: an HTTP API (payload format
// 2.0, Lambda authorizer with simple responses) and a WebSocket API with its
// @connections management API. Both turn real HTTP and WebSocket traffic into
// the events API Gateway sends and call functions through invoke.Invoker, so
// the functions' real binaries (behind localstack/runtime) or plain Go handlers
// in tests serve them unchanged.
//
//	httpGW, err := gateway.NewHTTP(runtime, gateway.HTTPConfig{
//		Routes:     []gateway.Route{{Method: "GET", Path: "/portfolios/{id}", Function: "api"}},
//		Authorizer: "authorizer",
//	})
//	wsGW, err := gateway.NewWebSocket(runtime, gateway.WSConfig{
//		Routes:     map[string]string{"$connect": "ws", "$disconnect": "ws", "$default": "ws"},
//		Authorizer: "authorizer",
//	})
//	// clients: ws://host:port/local?token=...; functions with ManageConnections
//	// get WEBSOCKET_ENDPOINT=http://host:port/local for push.NewManagementClient.
//
// What follows AWS's documentation, and what is a choice where it is silent:
//
// HTTP API. Routes are selected most-specific first ($default last); a request
// that matches none answers 404 {"message":"Not Found"}. The authorizer runs
// before the integration: a missing identity source answers 401 without calling
// it, isAuthorized=false answers 403, a failing authorizer 500; decisions (allow
// and deny) are cached per identity source value for AuthorizerCacheTTL. Function
// errors (including crashes, panics and the function's own timeout), malformed
// responses and invocations Lambda refuses (throttling) all answer 500
// {"message":"Internal Server Error"}: HTTP APIs do not answer REST APIs' 502,
// and they pass no 429 on from Lambda. Only the integration timeout (30 s) has
// its own answer, 503 {"message":"Service Unavailable"}. See HTTPGateway.ServeHTTP.
//
// WebSocket API. The authorizer (IAM policy answer, evaluated for
// execute-api:Invoke on the $connect method ARN) and the $connect function run
// before the upgrade: 401/403 from the authorizer, or a non-2xx statusCode or
// error from $connect, refuse the handshake with that HTTP status. Messages are
// routed by their JSON "action" ($request.body.action), else to $default; with
// neither, the client gets {"message":"Forbidden","connectionId",...,"requestId"}
// and a failing function {"message":"Internal server error",...}, as API Gateway
// sends. A function's return value reaches the client only on routes listed in
// RouteResponses (two-way routes); functions/ws configures none and answers
// through the @connections API. Each connection's messages are handled in order.
// Binary frames and messages over MaxMessageBytes close the connection (1003,
// 1009); the idle timeout and the maximum duration close it with 1001, and every
// close runs $disconnect once, with disconnectStatusCode and disconnectReason.
// The 128 KB limit is the message payload quota; AWS also splits messages into
// 32 KB frames, which is invisible to clients and not reproduced.
package gateway
