// Package authctx reads the caller that the Lambda authorizer (functions/edge/lambdaauth)
// put into API Gateway's request context. The API and WebSocket functions use it to
// learn who is calling; it imports aws-lambda-go's events and nothing else of AWS.
//
// Where API Gateway puts the authorizer's context:
//
//	HTTP API (payload 2.0, simple response)  requestContext.authorizer.lambda.{userId,role}
//	WebSocket API (REQUEST authorizer)        requestContext.authorizer.{principalId,userId,role}
//
// On a WebSocket API the authorizer runs on $connect only. API Gateway documents
// the context ($context.authorizer.*) for WebSocket integrations and, in practice,
// repeats the $connect result on the connection's later events ($default, custom
// routes, $disconnect), but that is observed behaviour rather than a documented
// promise: record the user at $connect (the connections table) and look it up by
// connection ID afterwards; use UserFromWebsocketRequest on later events only as
// a cross-check.
package authctx

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
)

// UserFromHTTPRequest returns the user ID the authorizer granted, or false if the
// request carries none (a route without the authorizer, or a misconfiguration).
func UserFromHTTPRequest(req events.APIGatewayV2HTTPRequest) (userID string, ok bool) {
	return stringValue(httpContext(req), auth.ContextKeyUserID)
}

// RoleFromHTTPRequest returns the role claim the authorizer passed on, or "".
func RoleFromHTTPRequest(req events.APIGatewayV2HTTPRequest) string {
	role, _ := stringValue(httpContext(req), auth.ContextKeyRole)
	return role
}

// UserFromWebsocketRequest returns the user ID the $connect authorizer granted,
// or false. It reads userId, falling back to principalId (both are the user ID).
func UserFromWebsocketRequest(req events.APIGatewayWebsocketProxyRequest) (userID string, ok bool) {
	m := websocketContext(req)
	if id, ok := stringValue(m, auth.ContextKeyUserID); ok {
		return id, true
	}
	return stringValue(m, "principalId")
}

// RoleFromWebsocketRequest returns the role claim the authorizer passed on, or "".
func RoleFromWebsocketRequest(req events.APIGatewayWebsocketProxyRequest) string {
	role, _ := stringValue(websocketContext(req), auth.ContextKeyRole)
	return role
}

func httpContext(req events.APIGatewayV2HTTPRequest) map[string]any {
	if a := req.RequestContext.Authorizer; a != nil {
		return a.Lambda
	}
	return nil
}

// websocketContext: the events type leaves authorizer untyped (any); decoded from
// JSON it is a map.
func websocketContext(req events.APIGatewayWebsocketProxyRequest) map[string]any {
	switch m := req.RequestContext.Authorizer.(type) {
	case map[string]any:
		return m
	case map[string]string:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return nil
}

// stringValue returns m[key] if it is a non-empty string.
func stringValue(m map[string]any, key string) (string, bool) {
	s, ok := m[key].(string)
	if !ok || s == "" {
		return "", false
	}
	return s, true
}
