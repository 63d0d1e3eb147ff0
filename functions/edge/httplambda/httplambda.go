// Package httplambda adapts the API's http.Handler to API Gateway HTTP API events
// (payload format 2.0): the Lambda edge of functions/api, so that the API itself
// (shared/adapters/httpapi) knows only net/http.
package httplambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portfoliotracker/tracker/functions/edge/authctx"
	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
)

// Handler adapts an http.Handler to API Gateway HTTP API events (payload
// format 2.0). The caller's identity comes only from the authorizer's context,
// never from a header a client could forge.
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := toHTTPRequest(ctx, req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
				Body: `{"error":{"code":"bad_request","message":"the request could not be read"}}`}, nil
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return toLambdaResponse(rec), nil
	}
}

func toHTTPRequest(ctx context.Context, req events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	// rawPath is percent-encoded as the client sent it (a firing key's "#" is
	// %23): keep the encoding, so that path values are decoded exactly once.
	u := &url.URL{Path: path, RawQuery: req.RawQueryString}
	if p, err := url.PathUnescape(path); err == nil && p != path {
		u.Path, u.RawPath = p, path
	}
	method := req.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	requestID := req.RequestContext.RequestID
	if lc, ok := lambdacontext.FromContext(ctx); ok && requestID == "" {
		requestID = lc.AwsRequestID
	}
	ctx = httpapi.WithRequestID(ctx, requestID)
	if user, ok := authctx.UserFromHTTPRequest(req); ok {
		ctx = httpapi.WithUser(ctx, user)
	}
	r, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.ContentLength = int64(len(body))
	for k, v := range req.Headers {
		// API Gateway joins repeated headers with commas, as HTTP allows.
		r.Header.Set(k, v)
	}
	for _, c := range req.Cookies {
		r.Header.Add("Cookie", c)
	}
	r.RemoteAddr = req.RequestContext.HTTP.SourceIP
	return r, nil
}

func toLambdaResponse(rec *httptest.ResponseRecorder) events.APIGatewayV2HTTPResponse {
	res := events.APIGatewayV2HTTPResponse{StatusCode: rec.Code, Headers: map[string]string{}}
	for k, vs := range rec.Header() {
		if strings.EqualFold(k, "Set-Cookie") {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[k] = strings.Join(vs, ",")
	}
	body := rec.Body.Bytes()
	if utf8.Valid(body) {
		res.Body = string(body)
	} else {
		res.Body, res.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return res
}
