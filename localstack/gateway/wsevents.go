package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// wsAuthorizerEvent is what a WebSocket REQUEST authorizer receives on $connect.
type wsAuthorizerEvent struct {
	Type                            string                                        `json:"type"`
	MethodArn                       string                                        `json:"methodArn"`
	Headers                         map[string]string                             `json:"headers"`
	MultiValueHeaders               map[string][]string                           `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string                             `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string                           `json:"multiValueQueryStringParameters"`
	StageVariables                  map[string]string                             `json:"stageVariables"`
	RequestContext                  events.APIGatewayWebsocketProxyRequestContext `json:"requestContext"`
}

// authorize runs the $connect authorizer: 401 when an identity source is
// missing (the authorizer is not called), 403 on an explicit or implicit deny,
// 500 when it fails or answers no policy. On allow it returns the context
// integrations see: principalId, the authorizer's context, integrationLatency.
func (g *WSGateway) authorize(r *http.Request, log *slog.Logger, rc events.APIGatewayWebsocketProxyRequestContext,
	query map[string][]string) (int, map[string]any) {
	vals, ok := identityValues(g.idSources, r, query)
	if !ok {
		return http.StatusUnauthorized, nil
	}
	key := strings.Join(vals, "\x00")
	now := time.Now()
	if d, ok := g.cache.get(key, now); ok {
		return decisionStatus(d), d.context
	}
	headers, multiHeaders := v1Headers(r.Header)
	headers["Host"] = r.Host
	single, multi := v1Query(query)
	methodArn := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/$connect", g.cfg.Region, g.cfg.AccountID, g.cfg.APIID, g.cfg.Stage)
	ev := wsAuthorizerEvent{
		Type: "REQUEST", MethodArn: methodArn,
		Headers: headers, MultiValueHeaders: multiHeaders,
		QueryStringParameters: single, MultiValueQueryStringParameters: multi,
		StageVariables: map[string]string{},
		RequestContext: rc,
	}
	payload, err := json.Marshal(&ev)
	if err != nil {
		log.Error("gateway: encoding the authorizer event", "error", err.Error())
		return http.StatusInternalServerError, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), AuthorizerTimeout)
	defer cancel()
	start := time.Now()
	out, err := g.inv.Invoke(ctx, g.cfg.Authorizer, payload)
	if err != nil {
		log.Error("gateway: authorizer failed", "authorizer", g.cfg.Authorizer, "error", err.Error())
		return http.StatusInternalServerError, nil
	}
	var resp iamResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.PrincipalID == nil || resp.PolicyDocument == nil {
		log.Error("gateway: authorizer answered no IAM policy", "authorizer", g.cfg.Authorizer, "response", clip(out))
		return http.StatusInternalServerError, nil
	}
	d := authDecision{allow: resp.allows(methodArn)}
	if d.allow {
		d.context = make(map[string]any, len(resp.Context)+2)
		for k, v := range resp.Context {
			d.context[k] = v
		}
		d.context["principalId"] = *resp.PrincipalID
		d.context["integrationLatency"] = time.Since(start).Milliseconds()
	}
	g.cache.put(key, d, now)
	return decisionStatus(d), d.context
}

// v1Headers builds the headers / multiValueHeaders pair of REST-style events:
// the single map holds the last value.
func v1Headers(h http.Header) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(h)+1)
	multi := make(map[string][]string, len(h)+1)
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		single[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	return single, multi
}

func v1Query(q map[string][]string) (map[string]string, map[string][]string) {
	if len(q) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(q))
	for k, vs := range q {
		single[k] = vs[len(vs)-1]
	}
	return single, q
}

// proxyResponse is a WebSocket route's Lambda proxy answer.
type proxyResponse struct {
	status  int
	headers map[string]string
	body    string
}

func (p proxyResponse) header(name string) string {
	for k, v := range p.headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// decodeProxyResponse reads {"statusCode","headers","body"}. An answer without
// a statusCode (a function returning nothing) counts as 200.
func decodeProxyResponse(out []byte) (proxyResponse, error) {
	var raw struct {
		StatusCode *int              `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	trimmed := strings.TrimSpace(string(out))
	if trimmed == "" || trimmed == "null" {
		return proxyResponse{status: http.StatusOK}, nil
	}
	if err := json.Unmarshal([]byte(trimmed), &raw); err != nil {
		return proxyResponse{}, fmt.Errorf("decoding the proxy response: %w", err)
	}
	p := proxyResponse{status: http.StatusOK, headers: raw.Headers, body: raw.Body}
	if raw.StatusCode != nil {
		p.status = *raw.StatusCode
	}
	return p, nil
}
