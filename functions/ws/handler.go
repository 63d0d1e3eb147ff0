package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/functions/edge/authctx"
	"github.com/portfoliotracker/tracker/shared/adapters/push"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

// Connections is the connections table (a *wsconn.Store).
type Connections interface {
	Put(ctx context.Context, connectionID, userID string) (wsconn.Connection, error)
	Get(ctx context.Context, connectionID string) (wsconn.Connection, error)
	Delete(ctx context.Context, connectionID string) error
	Subscribe(ctx context.Context, connectionID string, portfolioIDs, symbols []string) (wsconn.Connection, error)
	Unsubscribe(ctx context.Context, connectionID string, portfolioIDs, symbols []string) (wsconn.Connection, error)
}

// Portfolios tells whether a portfolio is the user's (a *readmodel.Queries): ErrNotFound if not.
type Portfolios interface {
	GetPortfolio(ctx context.Context, userID, portfolioID string) (readmodel.PortfolioView, error)
}

// Watchers records the symbols a connection watches, for the prices function to
// find the users to push their quotes to (readmodel.WatchSymbols).
type Watchers interface {
	Watch(ctx context.Context, connectionID, userID string, symbols []string, until time.Time) error
	Unwatch(ctx context.Context, connectionID, userID string, symbols []string) error
}

// Sender posts a reply to one connection (a *push.Pusher).
type Sender interface {
	Send(ctx context.Context, connectionID string, message any) error
}

// Handler serves the WebSocket API's routes: $connect, $disconnect and $default.
type Handler struct {
	Conns      Connections
	Portfolios Portfolios
	// Watchers, when set, learns the symbol subscriptions; without it only the
	// holders of a symbol get its quotes.
	Watchers Watchers
	Sender   Sender
	Logger   *slog.Logger
	// Metrics, when set, receives a WebSocketMessages line per invocation,
	// Kind = the route key.
	Metrics *emf.Writer
}

// Error codes of {"type":"error"} replies.
const (
	CodeBadRequest      = "bad_request"       // not JSON, unknown field, missing or malformed field
	CodeUnknownAction   = "unknown_action"    // action not subscribe, unsubscribe or ping
	CodeNotFound        = "not_found"         // no such portfolio of this user
	CodeLimitExceeded   = "limit_exceeded"    // too many subscriptions on the connection
	CodeMessageTooLarge = "message_too_large" // over 128 KB
	CodeUnknownConn     = "unknown_connection"
	CodeInternal        = "internal"
)

// ErrorReply is the {"type":"error"} message.
type ErrorReply struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// SubscriptionsReply answers subscribe and unsubscribe with the connection's subscriptions.
type SubscriptionsReply struct {
	Type         string   `json:"type"` // "subscribed" or "unsubscribed"
	PortfolioIDs []string `json:"portfolioIds"`
	Symbols      []string `json:"symbols"`
}

// clientMessage is what a browser may send on $default.
type clientMessage struct {
	Action      string   `json:"action"`
	PortfolioID *string  `json:"portfolioId,omitempty"`
	Symbols     []string `json:"symbols,omitempty"`
}

// Handle routes on requestContext.routeKey.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	h.count(rc.RouteKey)
	switch rc.RouteKey {
	case "$connect":
		return h.connect(ctx, req), nil
	case "$disconnect":
		if err := h.Conns.Delete(ctx, rc.ConnectionID); err != nil {
			// TTL removes it within a couple of days, and a post to it answers 410 and deletes it.
			h.log().ErrorContext(ctx, "ws: $disconnect", "connectionId", rc.ConnectionID, "error", err.Error())
			return status(http.StatusInternalServerError), nil
		}
		return status(http.StatusOK), nil
	case "$default":
		h.message(ctx, req)
		return status(http.StatusOK), nil
	default:
		h.log().WarnContext(ctx, "ws: unexpected route", "routeKey", rc.RouteKey)
		return status(http.StatusNotFound), nil
	}
}

// count writes the invocation's WebSocketMessages line; a route key other than
// the three known ones counts as "unexpected" (the dimension stays bounded).
func (h *Handler) count(routeKey string) {
	if !h.Metrics.Enabled() {
		return
	}
	switch routeKey {
	case "$connect", "$disconnect", "$default":
	default:
		routeKey = "unexpected"
	}
	h.Metrics.WithDimensions(map[string]string{metrics.Kind: routeKey}).Emit(emf.Metric{Name: "WebSocketMessages", Value: 1})
}

// connect stores the connection of the user the authorizer granted, or refuses it with 429
// when the user has quota.ConnectionsPerUser open already. It never posts: the connection is
// not open until $connect has returned.
func (h *Handler) connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	id := req.RequestContext.ConnectionID
	user, ok := authctx.UserFromWebsocketRequest(req)
	if !ok {
		h.log().ErrorContext(ctx, "ws: $connect without an authorizer context", "connectionId", id)
		return status(http.StatusUnauthorized)
	}
	_, err := h.Conns.Put(ctx, id, user)
	var qe *quota.ExceededError
	switch {
	case err == nil:
		return status(http.StatusOK)
	case errors.As(err, &qe):
		// The handshake's status is all a client sees of a refused $connect
		// (API Gateway and the local gateway pass it through): 429, retry later.
		h.log().InfoContext(ctx, "ws: $connect refused", "connectionId", id, "quota", qe.Quota.Name, "limit", qe.Quota.Limit)
		return status(qe.Quota.Status)
	case errors.Is(err, wsconn.ErrInvalid):
		h.log().ErrorContext(ctx, "ws: store connection", "connectionId", id, "error", err.Error())
		return status(http.StatusBadRequest)
	default:
		h.log().ErrorContext(ctx, "ws: store connection", "connectionId", id, "error", err.Error())
		return status(http.StatusInternalServerError)
	}
}

func (h *Handler) message(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) {
	id := req.RequestContext.ConnectionID
	reply := func(msg any) {
		if err := h.Sender.Send(ctx, id, msg); err != nil && !errors.Is(err, push.ErrGone) {
			h.log().WarnContext(ctx, "ws: reply", "connectionId", id, "error", err.Error())
		}
	}
	fail := func(code, format string, args ...any) {
		reply(ErrorReply{Type: "error", Code: code, Message: fmt.Sprintf(format, args...)})
	}
	body := req.Body
	if len(body) > push.MaxMessageBytes {
		fail(CodeMessageTooLarge, "messages are limited to %d bytes", push.MaxMessageBytes)
		return
	}
	// The user is the one recorded at $connect, never anything the message says.
	conn, err := h.Conns.Get(ctx, id)
	if errors.Is(err, wsconn.ErrNotFound) {
		fail(CodeUnknownConn, "this connection is not registered; reconnect")
		return
	}
	if err != nil {
		h.log().ErrorContext(ctx, "ws: read connection", "connectionId", id, "error", err.Error())
		fail(CodeInternal, "try again")
		return
	}
	if u, ok := authctx.UserFromWebsocketRequest(req); ok && u != conn.UserID {
		h.log().ErrorContext(ctx, "ws: authorizer user differs from the stored one", "connectionId", id)
		fail(CodeUnknownConn, "this connection is not registered; reconnect")
		return
	}
	msg, err := decodeStrict(body)
	if err != nil {
		fail(CodeBadRequest, "%v", err)
		return
	}
	switch msg.Action {
	case "ping":
		if msg.PortfolioID != nil || msg.Symbols != nil {
			fail(CodeBadRequest, "ping takes no portfolioId or symbols")
			return
		}
		reply(map[string]string{"type": "pong"})
	case "subscribe", "unsubscribe":
		var pids []string
		if msg.PortfolioID != nil {
			pids = []string{*msg.PortfolioID}
		}
		if len(pids) == 0 && len(msg.Symbols) == 0 {
			fail(CodeBadRequest, "%s needs a portfolioId or symbols", msg.Action)
			return
		}
		if _, err := wsconn.ValidatePortfolioIDs(pids); err != nil {
			fail(CodeBadRequest, "portfolioId: %v", err)
			return
		}
		if _, err := wsconn.ValidateSymbols(msg.Symbols); err != nil {
			code := CodeBadRequest
			var le *wsconn.LimitError
			if errors.As(err, &le) {
				code = CodeLimitExceeded
			}
			fail(code, "symbols: %v", err)
			return
		}
		change := h.Conns.Unsubscribe
		if msg.Action == "subscribe" {
			change = h.Conns.Subscribe
			for _, pid := range pids {
				if _, err := h.Portfolios.GetPortfolio(ctx, conn.UserID, pid); errors.Is(err, portfolio.ErrNotFound) {
					fail(CodeNotFound, "no portfolio %q", pid)
					return
				} else if err != nil {
					h.log().ErrorContext(ctx, "ws: check portfolio", "connectionId", id, "error", err.Error())
					fail(CodeInternal, "try again")
					return
				}
			}
			// Watch before subscribing: a watch without its subscription costs the
			// prices function a look-up, a subscription without its watch loses the
			// quotes of symbols the user does not hold.
			if h.Watchers != nil && len(msg.Symbols) > 0 {
				if err := h.Watchers.Watch(ctx, id, conn.UserID, msg.Symbols, conn.ExpiresAt); err != nil {
					h.log().ErrorContext(ctx, "ws: watch symbols", "connectionId", id, "error", err.Error())
					fail(CodeInternal, "try again")
					return
				}
			}
		}
		c, err := change(ctx, id, pids, msg.Symbols)
		var le *wsconn.LimitError
		switch {
		case errors.As(err, &le):
			fail(CodeLimitExceeded, "%v", err)
		case errors.Is(err, wsconn.ErrNotFound):
			fail(CodeUnknownConn, "this connection is not registered; reconnect")
		case errors.Is(err, wsconn.ErrInvalid):
			fail(CodeBadRequest, "%v", err)
		case err != nil:
			h.log().ErrorContext(ctx, "ws: change subscriptions", "connectionId", id, "error", err.Error())
			fail(CodeInternal, "try again")
		default:
			if h.Watchers != nil && msg.Action == "unsubscribe" && len(msg.Symbols) > 0 {
				// A watch left behind expires with the connection.
				if err := h.Watchers.Unwatch(ctx, id, conn.UserID, msg.Symbols); err != nil {
					h.log().WarnContext(ctx, "ws: unwatch symbols", "connectionId", id, "error", err.Error())
				}
			}
			reply(SubscriptionsReply{Type: msg.Action + "d", PortfolioIDs: nonNil(c.Portfolios), Symbols: nonNil(c.Symbols)})
		}
	case "":
		fail(CodeBadRequest, "action is required")
	default:
		fail(CodeUnknownAction, "unknown action %q (subscribe, unsubscribe, ping)", msg.Action)
	}
}

// decodeStrict decodes exactly one JSON object with only the known fields.
func decodeStrict(body string) (clientMessage, error) {
	var m clientMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return clientMessage{}, fmt.Errorf("invalid message: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return clientMessage{}, errors.New("invalid message: data after the JSON object")
	}
	return m, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func status(code int) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: code}
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
