package lambdaauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portfoliotracker/tracker/functions/edge/lambdaauth"
	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

const (
	userID       = "8d0c6f1e-5b3a-4c2d-9e8f-0a1b2c3d4e5f"
	wsMethodArn  = "arn:aws:execute-api:us-east-1:123456789012:wsapi123/prod/$connect"
	lambdaReqID  = "lambda-req-1"
	httpFixture  = "testdata/http-v2-request.json"
	wsFixture    = "testdata/websocket-connect-request.json"
	placeholder  = "TOKEN"
	placeholderQ = `"TOKEN"`
)

var iss *tokenissuer.Issuer

func TestMain(m *testing.M) {
	var err error
	if iss, err = tokenissuer.NewServer(); err != nil {
		panic(err)
	}
	code := m.Run()
	iss.Close()
	os.Exit(code)
}

// setup returns a handler over a real verifier for iss, and the buffer its JSON
// logs go to.
func setup(t *testing.T, cfg auth.Config) (*lambdaauth.Handler, *bytes.Buffer) {
	t.Helper()
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	return lambdaauth.New(v, slog.New(slog.NewJSONHandler(&logs, nil))), &logs
}

func fullConfig() auth.Config {
	cfg := iss.Config()
	cfg.HMACSecret = iss.HMACSecret
	return cfg
}

// fixture reads a sample event, applies edit to its decoded form, and returns it.
func fixture(t *testing.T, path string, edit func(m map[string]any)) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func httpEvent(t *testing.T, headers map[string]any) json.RawMessage {
	return fixture(t, httpFixture, func(m map[string]any) { m["headers"] = headers })
}

func wsEvent(t *testing.T, query map[string]any, headers map[string]any) json.RawMessage {
	return fixture(t, wsFixture, func(m map[string]any) {
		if query == nil {
			delete(m, "queryStringParameters")
			delete(m, "multiValueQueryStringParameters")
		} else {
			m["queryStringParameters"] = query
			multi := map[string]any{}
			for k, v := range query {
				multi[k] = []any{v}
			}
			m["multiValueQueryStringParameters"] = multi
		}
		h := m["headers"].(map[string]any)
		for k, v := range headers {
			h[k] = v
		}
	})
}

func lambdaCtx() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaReqID})
}

func TestHTTPAllow(t *testing.T) {
	h, logs := setup(t, fullConfig())
	for _, alg := range []string{auth.AlgES256, auth.AlgRS256, auth.AlgHS256} {
		tok := iss.Mint(userID, tokenissuer.WithAlg(alg))
		for _, hdr := range []map[string]any{
			{"authorization": "Bearer " + tok},
			{"Authorization": "bearer " + tok},
			{"AUTHORIZATION": "BEARER   " + tok + " "},
		} {
			out, err := h.Handle(lambdaCtx(), httpEvent(t, hdr))
			if err != nil {
				t.Fatal(err)
			}
			resp, ok := out.(events.APIGatewayV2CustomAuthorizerSimpleResponse)
			if !ok {
				t.Fatalf("response type %T", out)
			}
			if !resp.IsAuthorized || resp.Context[auth.ContextKeyUserID] != userID || resp.Context[auth.ContextKeyRole] != "authenticated" {
				t.Fatalf("%s %v: %+v", alg, hdr, resp)
			}
		}
		if strings.Contains(logs.String(), tok) {
			t.Fatal("the token was logged")
		}
	}
	line := firstLine(t, logs)
	for k, want := range map[string]any{"msg": "authorizer: allow", "requestId": lambdaReqID, "apiRequestId": "api-req-http-1", "userId": userID, "api": "http"} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
}

func TestHTTPDeny(t *testing.T) {
	h, logs := setup(t, fullConfig())
	valid := iss.Mint(userID)
	expired := iss.Mint(userID, tokenissuer.WithIssuedAt(time.Now().Add(-2*time.Hour)))
	for name, hdr := range map[string]map[string]any{
		"no header":             {},
		"empty":                 {"authorization": ""},
		"Bearer without token":  {"authorization": "Bearer "},
		"Basic":                 {"authorization": "Basic dXNlcjpwYXNz"},
		"token without scheme":  {"authorization": valid},
		"expired":               {"authorization": "Bearer " + expired},
		"garbage":               {"authorization": "Bearer a.b.c"},
		"alg none":              {"authorization": "Bearer " + iss.Mint(userID, tokenissuer.WithAlg("none"))},
		"wrong issuer":          {"authorization": "Bearer " + iss.Mint(userID, tokenissuer.WithIssuer("https://x.supabase.co/auth/v1"))},
		"two headers":           {"authorization": "Bearer " + valid, "Authorization": "Bearer " + valid},
		"token in query string": {"x": "y"},
	} {
		t.Run(name, func(t *testing.T) {
			ev := httpEvent(t, hdr)
			if name == "token in query string" {
				ev = fixture(t, httpFixture, func(m map[string]any) {
					m["headers"] = map[string]any{}
					m["rawQueryString"] = "token=" + valid
					m["queryStringParameters"] = map[string]any{"token": valid}
				})
			}
			out, err := h.Handle(lambdaCtx(), ev)
			if err != nil {
				t.Fatalf("want a denial, got error %v", err)
			}
			resp := out.(events.APIGatewayV2CustomAuthorizerSimpleResponse)
			if resp.IsAuthorized || resp.Context != nil {
				t.Fatalf("%+v", resp)
			}
		})
	}
	for _, tok := range []string{valid, expired} {
		if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), strings.Split(tok, ".")[2]) {
			t.Fatal("the token was logged")
		}
	}
	if !strings.Contains(logs.String(), `"msg":"authorizer: deny"`) || !strings.Contains(logs.String(), "token expired") {
		t.Fatalf("denials not logged with a reason:\n%s", logs.String())
	}
}

func TestWebSocketConnect(t *testing.T) {
	h, logs := setup(t, fullConfig())
	tok := iss.Mint(userID, tokenissuer.WithEmail("ada@example.com"))
	for name, ev := range map[string]json.RawMessage{
		"query token":          wsEvent(t, map[string]any{"token": tok}, nil),
		"Authorization header": wsEvent(t, nil, map[string]any{"Authorization": "Bearer " + tok}),
		"header wins":          wsEvent(t, map[string]any{"token": "garbage"}, map[string]any{"authorization": "Bearer " + tok}),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := h.Handle(lambdaCtx(), ev)
			if err != nil {
				t.Fatal(err)
			}
			resp, ok := out.(events.APIGatewayCustomAuthorizerResponse)
			if !ok {
				t.Fatalf("response type %T", out)
			}
			st := resp.PolicyDocument.Statement
			if resp.PrincipalID != userID || len(st) != 1 || st[0].Effect != "Allow" ||
				len(st[0].Resource) != 1 || st[0].Resource[0] != wsMethodArn || st[0].Action[0] != "execute-api:Invoke" {
				t.Fatalf("%+v", resp)
			}
			if resp.Context[auth.ContextKeyUserID] != userID || resp.Context[auth.ContextKeyRole] != "authenticated" {
				t.Fatalf("context %+v", resp.Context)
			}
		})
	}
	line := firstLine(t, logs)
	for k, want := range map[string]any{"requestId": lambdaReqID, "apiRequestId": "api-req-ws-1", "connectionId": "conn-abc=", "api": "websocket", "routeKey": "$connect"} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	if strings.Contains(logs.String(), tok) {
		t.Fatal("the token was logged")
	}
}

func TestWebSocketDeny(t *testing.T) {
	h, _ := setup(t, fullConfig())
	valid := iss.Mint(userID)
	for name, ev := range map[string]json.RawMessage{
		"no token":       wsEvent(t, nil, nil),
		"empty token":    wsEvent(t, map[string]any{"token": ""}, nil),
		"garbage":        wsEvent(t, map[string]any{"token": "garbage"}, nil),
		"expired":        wsEvent(t, map[string]any{"token": iss.Mint(userID, tokenissuer.WithTTL(-time.Hour))}, nil),
		"bad header":     wsEvent(t, map[string]any{"token": valid}, map[string]any{"Authorization": "Basic x"}),
		"wrong audience": wsEvent(t, map[string]any{"token": iss.Mint(userID, tokenissuer.WithAudience("anon"))}, nil),
		"two different tokens": fixture(t, wsFixture, func(m map[string]any) {
			m["queryStringParameters"] = map[string]any{"token": valid}
			m["multiValueQueryStringParameters"] = map[string]any{"token": []any{"other", valid}}
		}),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := h.Handle(lambdaCtx(), ev)
			if err != nil {
				t.Fatalf("want a denial, got error %v", err)
			}
			resp := out.(events.APIGatewayCustomAuthorizerResponse)
			st := resp.PolicyDocument.Statement
			if resp.PrincipalID != lambdaauth.DeniedPrincipal || st[0].Effect != "Deny" || st[0].Resource[0] != wsMethodArn || resp.Context != nil {
				t.Fatalf("%+v", resp)
			}
		})
	}
}

func TestKeysUnavailableIsAnError(t *testing.T) {
	down, err := tokenissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	down.SetDown(true)
	h, logs := setup(t, down.Config())
	tok := down.Mint(userID)
	if _, err := h.Handle(lambdaCtx(), httpEvent(t, map[string]any{"authorization": "Bearer " + tok})); !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Fatalf("HTTP: want ErrKeysUnavailable, got %v", err)
	}
	if _, err := h.Handle(lambdaCtx(), wsEvent(t, map[string]any{"token": tok}, nil)); !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Fatalf("WebSocket: want ErrKeysUnavailable, got %v", err)
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || strings.Contains(logs.String(), tok) {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

// An empty HS256 secret (the deployed secret never filled in) denies HS256
// tokens; it is not an outage answered with a 500.
func TestEmptyHMACSecretDenies(t *testing.T) {
	cfg := iss.Config()
	cfg.LoadHMACSecret = func(context.Context) ([]byte, error) { return nil, nil }
	h, _ := setup(t, cfg)
	tok := iss.Mint(userID, tokenissuer.WithAlg(auth.AlgHS256))
	out, err := h.Handle(lambdaCtx(), httpEvent(t, map[string]any{"authorization": "Bearer " + tok}))
	if err != nil {
		t.Fatalf("HTTP: an error (a 500 from API Gateway) instead of a denial: %v", err)
	}
	if b, _ := json.Marshal(out); !strings.Contains(string(b), `"isAuthorized":false`) {
		t.Fatalf("HTTP: %s", b)
	}
	if _, err := h.Handle(lambdaCtx(), wsEvent(t, map[string]any{"token": tok}, nil)); err != nil {
		t.Fatalf("WebSocket: %v", err)
	}
	// ES256 tokens still pass.
	if out, err := h.Handle(lambdaCtx(), httpEvent(t, map[string]any{"authorization": "Bearer " + iss.Mint(userID)})); err != nil {
		t.Fatal(err)
	} else if b, _ := json.Marshal(out); !strings.Contains(string(b), `"isAuthorized":true`) {
		t.Fatalf("ES256: %s", b)
	}
}

func TestUnsupportedEvents(t *testing.T) {
	h, _ := setup(t, fullConfig())
	for name, ev := range map[string]string{
		"not JSON":            `not json`,
		"array":               `[]`,
		"empty object":        `{}`,
		"TOKEN authorizer":    `{"type":"TOKEN","authorizationToken":"Bearer x","methodArn":"arn:x"}`,
		"REQUEST, no ARN":     `{"type":"REQUEST"}`,
		"HTTP proxy event":    `{"version":"2.0","routeKey":"GET /","rawPath":"/"}`,
		"version 2.0 wrong t": `{"version":"2.0","type":"TOKEN"}`,
	} {
		if out, err := h.Handle(context.Background(), json.RawMessage(ev)); err == nil {
			t.Errorf("%s: got %+v, want an error", name, out)
		}
	}
}

// TestThroughLambdaRuntime invokes the handler as lambda.Start would, and checks
// the JSON API Gateway receives.
func TestThroughLambdaRuntime(t *testing.T) {
	h, _ := setup(t, fullConfig())
	lh := lambda.NewHandler(h.Handle)
	tok := iss.Mint(userID)

	out, err := lh.Invoke(lambdaCtx(), []byte(strings.Replace(readFile(t, httpFixture), placeholder, tok, -1)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"isAuthorized":true,"context":{"role":"authenticated","userId":"` + userID + `"}}`
	if string(out) != want {
		t.Fatalf("HTTP response\n got %s\nwant %s", out, want)
	}

	out, err = lh.Invoke(lambdaCtx(), []byte(strings.Replace(readFile(t, wsFixture), placeholder, tok, -1)))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"principalId":"` + userID + `","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["` + wsMethodArn + `"]}]},"context":{"role":"authenticated","userId":"` + userID + `"}}`
	if string(out) != want {
		t.Fatalf("WebSocket response\n got %s\nwant %s", out, want)
	}

	out, err = lh.Invoke(lambdaCtx(), []byte(readFile(t, wsFixture))) // the placeholder is no token
	if err != nil {
		t.Fatal(err)
	}
	want = `{"principalId":"anonymous","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Deny","Resource":["` + wsMethodArn + `"]}]}}`
	if string(out) != want {
		t.Fatalf("WebSocket denial\n got %s\nwant %s", out, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(placeholderQ)) && !bytes.Contains(b, []byte("Bearer "+placeholder)) {
		t.Fatalf("%s lacks the token placeholder", path)
	}
	return string(b)
}

func firstLine(t *testing.T, logs *bytes.Buffer) map[string]any {
	t.Helper()
	line, _, _ := strings.Cut(logs.String(), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return m
}
