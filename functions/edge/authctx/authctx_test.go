package authctx_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/functions/edge/authctx"
)

func TestUserFromHTTPRequest(t *testing.T) {
	var req events.APIGatewayV2HTTPRequest
	mustDecode(t, `{"version":"2.0","routeKey":"GET /portfolios","requestContext":{"requestId":"r1",
		"authorizer":{"lambda":{"userId":"u-1","role":"authenticated"}}}}`, &req)
	if id, ok := authctx.UserFromHTTPRequest(req); !ok || id != "u-1" {
		t.Fatalf("got %q, %v", id, ok)
	}
	if r := authctx.RoleFromHTTPRequest(req); r != "authenticated" {
		t.Fatalf("role %q", r)
	}
	for name, body := range map[string]string{
		"no authorizer":    `{"requestContext":{}}`,
		"JWT authorizer":   `{"requestContext":{"authorizer":{"jwt":{"claims":{"sub":"u-1"}}}}}`,
		"empty userId":     `{"requestContext":{"authorizer":{"lambda":{"userId":""}}}}`,
		"numeric userId":   `{"requestContext":{"authorizer":{"lambda":{"userId":7}}}}`,
		"principalId only": `{"requestContext":{"authorizer":{"lambda":{"principalId":"u-1"}}}}`,
	} {
		var req events.APIGatewayV2HTTPRequest
		mustDecode(t, body, &req)
		if id, ok := authctx.UserFromHTTPRequest(req); ok {
			t.Errorf("%s: got %q", name, id)
		}
	}
}

func TestUserFromWebsocketRequest(t *testing.T) {
	for name, body := range map[string]string{
		"$connect": `{"requestContext":{"routeKey":"$connect","eventType":"CONNECT","connectionId":"c1",
			"authorizer":{"principalId":"u-1","userId":"u-1","role":"authenticated","integrationLatency":12}}}`,
		"$default, principalId only": `{"requestContext":{"routeKey":"$default","eventType":"MESSAGE",
			"authorizer":{"principalId":"u-1"}}}`,
	} {
		var req events.APIGatewayWebsocketProxyRequest
		mustDecode(t, body, &req)
		if id, ok := authctx.UserFromWebsocketRequest(req); !ok || id != "u-1" {
			t.Errorf("%s: got %q, %v", name, id, ok)
		}
	}
	var req events.APIGatewayWebsocketProxyRequest
	mustDecode(t, `{"requestContext":{"authorizer":{"userId":"u-1","role":"authenticated"}}}`, &req)
	if r := authctx.RoleFromWebsocketRequest(req); r != "authenticated" {
		t.Errorf("role %q", r)
	}
	for name, body := range map[string]string{
		"no authorizer":     `{"requestContext":{}}`,
		"authorizer null":   `{"requestContext":{"authorizer":null}}`,
		"authorizer string": `{"requestContext":{"authorizer":"u-1"}}`,
		"empty":             `{"requestContext":{"authorizer":{"userId":"","principalId":""}}}`,
	} {
		var req events.APIGatewayWebsocketProxyRequest
		mustDecode(t, body, &req)
		if id, ok := authctx.UserFromWebsocketRequest(req); ok {
			t.Errorf("%s: got %q", name, id)
		}
	}
	// Built in Go (the local stack), not decoded.
	req = events.APIGatewayWebsocketProxyRequest{}
	req.RequestContext.Authorizer = map[string]string{"userId": "u-2"}
	if id, ok := authctx.UserFromWebsocketRequest(req); !ok || id != "u-2" {
		t.Errorf("map[string]string: got %q, %v", id, ok)
	}
}

func mustDecode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatal(err)
	}
}
