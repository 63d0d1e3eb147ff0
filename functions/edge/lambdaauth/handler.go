// Package lambdaauth is the Lambda authorizer's handler: one function serving both
// the HTTP API (REQUEST authorizer, payload format 2.0, simple responses) and the
// WebSocket API's $connect route (REQUEST authorizer, IAM policy response).
//
// The event's shape is detected from its JSON:
//
//	{"version":"2.0","type":"REQUEST","routeArn":...}  HTTP API    -> {"isAuthorized":..,"context":{..}}
//	{"type":"REQUEST","methodArn":...}                 WebSocket   -> {"principalId":..,"policyDocument":..,"context":{..}}
//
// (the second shape is also what HTTP APIs send with payload format 1.0 and REST
// APIs send to REQUEST authorizers; both expect the IAM policy answer).
//
// The token is the Authorization header's Bearer credential (any letter case) or,
// on the IAM-policy shape only, the "token" query-string parameter: browsers cannot
// set headers on a WebSocket. The HTTP API never takes a token from the URL, where
// it would end up in access logs.
//
// A bad or missing token is a denial, not an error, so API Gateway answers 403
// (401 when the identity source is missing, before we are called). An outage of
// the keys (auth.ErrKeysUnavailable) is returned as an error instead: API Gateway
// answers 500, the client may retry, and no denial is cached for a good token.
//
// The context the authorizer returns holds auth.ContextKeyUserID and
// auth.ContextKeyRole; functions/edge/authctx reads it back in the integrations. The
// infrastructure must therefore configure the HTTP API authorizer with
// EnableSimpleResponses and payload format 2.0, identity source
// $request.header.Authorization, and the WebSocket authorizer with identity
// source route.request.querystring.token.
package lambdaauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
)

// TokenVerifier is what the handler needs of *auth.Verifier.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// Handler decides on API Gateway authorizer events.
type Handler struct {
	verifier TokenVerifier
	log      *slog.Logger
}

// New returns a handler. A nil logger discards logs.
func New(v TokenVerifier, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{verifier: v, log: log}
}

// QueryTokenParameter is the query-string parameter that carries the token on
// WebSocket $connect.
const QueryTokenParameter = "token"

// DeniedPrincipal is the principalId of IAM-policy denials.
const DeniedPrincipal = "anonymous"

// probe is just enough of any authorizer event to tell the shapes apart.
type probe struct {
	Version        string `json:"version"`
	Type           string `json:"type"`
	MethodArn      string `json:"methodArn"`
	RouteArn       string `json:"routeArn"`
	RequestContext struct {
		RequestID    string `json:"requestId"`
		ConnectionID string `json:"connectionId"`
		RouteKey     string `json:"routeKey"`
	} `json:"requestContext"`
}

// Handle is the Lambda entry point (lambda.Start(h.Handle)). It returns an
// events.APIGatewayV2CustomAuthorizerSimpleResponse for HTTP API events and an
// events.APIGatewayCustomAuthorizerResponse for IAM-policy (WebSocket) events.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (any, error) {
	var p probe
	if err := json.Unmarshal(event, &p); err != nil {
		h.log.ErrorContext(ctx, "authorizer: event is not JSON", "requestId", lambdaRequestID(ctx), "error", err)
		return nil, errors.New("authorizer: event is not a JSON object")
	}
	switch {
	case p.Version == "2.0" && p.Type == "REQUEST":
		var req events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(event, &req); err != nil {
			return nil, fmt.Errorf("authorizer: decoding HTTP API event: %w", err)
		}
		return h.handleHTTP(ctx, &req)
	case p.Type == "REQUEST" && p.MethodArn != "":
		var req events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := json.Unmarshal(event, &req); err != nil {
			return nil, fmt.Errorf("authorizer: decoding REQUEST event: %w", err)
		}
		return h.handleIAM(ctx, &req, &p)
	}
	h.log.ErrorContext(ctx, "authorizer: unsupported event shape", "requestId", lambdaRequestID(ctx),
		"version", clip(p.Version), "type", clip(p.Type))
	return nil, fmt.Errorf("authorizer: unsupported event (version %q, type %q)", clip(p.Version), clip(p.Type))
}

func (h *Handler) handleHTTP(ctx context.Context, req *events.APIGatewayV2CustomAuthorizerV2Request) (any, error) {
	log := h.log.With(
		"requestId", lambdaRequestID(ctx),
		"apiRequestId", req.RequestContext.RequestID,
		"api", "http",
		"routeKey", req.RouteKey,
		"sourceIp", req.RequestContext.HTTP.SourceIP,
	)
	tok, err := bearer(req.Headers)
	if err == nil && tok == "" {
		err = errNoToken
	}
	var c auth.Claims
	if err == nil {
		c, err = h.verifier.Verify(ctx, tok)
	}
	if err != nil {
		if retErr := h.refuse(ctx, log, err); retErr != nil {
			return nil, retErr
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	}
	log.InfoContext(ctx, "authorizer: allow", "userId", c.UserID, "role", c.Role, "alg", c.Algorithm)
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context:      callerContext(c),
	}, nil
}

func (h *Handler) handleIAM(ctx context.Context, req *events.APIGatewayCustomAuthorizerRequestTypeRequest, p *probe) (any, error) {
	log := h.log.With(
		"requestId", lambdaRequestID(ctx),
		"apiRequestId", req.RequestContext.RequestID,
		"api", "websocket",
		"routeKey", p.RequestContext.RouteKey,
		"connectionId", p.RequestContext.ConnectionID,
		"sourceIp", req.RequestContext.Identity.SourceIP,
	)
	tok, err := bearer(req.Headers)
	if err == nil && tok == "" {
		tok, err = queryToken(req.QueryStringParameters, req.MultiValueQueryStringParameters)
	}
	var c auth.Claims
	if err == nil {
		c, err = h.verifier.Verify(ctx, tok)
	}
	if err != nil {
		if retErr := h.refuse(ctx, log, err); retErr != nil {
			return nil, retErr
		}
		return policy(DeniedPrincipal, "Deny", req.MethodArn, nil), nil
	}
	log.InfoContext(ctx, "authorizer: allow", "userId", c.UserID, "role", c.Role, "alg", c.Algorithm)
	return policy(c.UserID, "Allow", req.MethodArn, callerContext(c)), nil
}

// refuse logs a refusal and returns nil (deny) for token problems, or the error
// to return to Lambda for outages.
func (h *Handler) refuse(ctx context.Context, log *slog.Logger, err error) error {
	if errors.Is(err, auth.ErrTokenInvalid) || errors.Is(err, errNoToken) {
		log.WarnContext(ctx, "authorizer: deny", "reason", err.Error())
		return nil
	}
	log.ErrorContext(ctx, "authorizer: cannot verify tokens", "error", err.Error())
	return fmt.Errorf("authorizer: %w", err)
}

func callerContext(c auth.Claims) map[string]any {
	return map[string]any{auth.ContextKeyUserID: c.UserID, auth.ContextKeyRole: c.Role}
}

func policy(principal, effect, resource string, callerCtx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: []string{resource},
			}},
		},
		Context: callerCtx,
	}
}

// errNoToken: the request carries no credential, or one we cannot read. It is a
// token problem (deny), wrapped so that it also matches auth.ErrTokenInvalid.
var errNoToken = fmt.Errorf("%w: no bearer token", auth.ErrTokenInvalid)

// bearer returns the Bearer credential of the Authorization header (the header
// name and the scheme in any letter case), "" if there is no such header, or an
// error if the header is there but is not a Bearer credential.
func bearer(headers map[string]string) (string, error) {
	value, found := "", 0
	for name, v := range headers {
		if strings.EqualFold(name, "Authorization") {
			value, found = v, found+1
		}
	}
	switch found {
	case 0:
		return "", nil
	case 1:
		scheme, cred, ok := strings.Cut(strings.TrimSpace(value), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", fmt.Errorf("%w: Authorization is not a Bearer credential", auth.ErrTokenInvalid)
		}
		cred = strings.TrimLeft(cred, " ")
		if cred == "" {
			return "", errNoToken
		}
		return cred, nil
	}
	return "", fmt.Errorf("%w: several Authorization headers", auth.ErrTokenInvalid)
}

// queryToken returns the token query parameter. Several different values are
// refused rather than guessed between.
func queryToken(single map[string]string, multi map[string][]string) (string, error) {
	if vs := multi[QueryTokenParameter]; len(vs) > 1 {
		for _, v := range vs[1:] {
			if v != vs[0] {
				return "", fmt.Errorf("%w: several %s parameters", auth.ErrTokenInvalid, QueryTokenParameter)
			}
		}
	}
	tok := strings.TrimSpace(single[QueryTokenParameter])
	if tok == "" {
		return "", errNoToken
	}
	return tok, nil
}

func lambdaRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// clip bounds an attacker-influenced string before it is logged.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
