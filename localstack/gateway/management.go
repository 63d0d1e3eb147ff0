package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// postTimeout bounds one PostToConnection's write to the socket.
const postTimeout = 5 * time.Second

// serveManagement is the @connections API that apigatewaymanagementapi calls:
//
//	POST   /{stage}/@connections/{id}  the body is sent as one text frame: 200
//	GET    /{stage}/@connections/{id}  200 {"connectedAt","identity":{"sourceIp","userAgent"},"lastActiveAt"}
//	DELETE /{stage}/@connections/{id}  the connection is closed (and $disconnect runs): 204
//
// An unknown or closed connection answers 410 GoneException, and so does one
// whose $connect has not completed: it is not a connection until the upgrade
// is done, which is why functions must never post from $connect. A message over
// MaxMessageBytes answers 413 PayloadTooLargeException. Errors carry the
// X-Amzn-ErrorType header and a {"message":...} body, which is what the SDK
// decodes them by (as shared/devtools/gatewayfake does). Requests must be SigV4
// signed, but the signature is not checked: any credentials do locally.
//
// lastActiveAt is the time of the client's last message, which is also what
// the idle timeout counts.
func (g *WSGateway) serveManagement(w http.ResponseWriter, r *http.Request, stagePath, rest string) {
	if stagePath != g.prefix {
		writeAPIError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeAPIError(w, http.StatusForbidden, "ForbiddenException", "Missing Authentication Token")
		return
	}
	escaped, ok := strings.CutPrefix(rest, "/")
	id, err := url.PathUnescape(escaped)
	if !ok || err != nil || id == "" || strings.Contains(escaped, "/") {
		writeAPIError(w, http.StatusBadRequest, "BadRequestException", "Invalid connectionId")
		return
	}
	switch r.Method {
	case http.MethodPost:
		g.postToConnection(w, r, id)
	case http.MethodGet:
		c := g.lookup(r.Context(), id)
		if c == nil {
			writeAPIError(w, http.StatusGone, "GoneException", "")
			return
		}
		out := map[string]any{
			"connectedAt":  c.connectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": time.Unix(0, c.lastActive.Load()).UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	case http.MethodDelete:
		c := g.lookup(r.Context(), id)
		if c == nil {
			writeAPIError(w, http.StatusGone, "GoneException", "")
			return
		}
		g.drop(c, websocket.StatusNormalClosure, "Connection deleted")
		w.WriteHeader(http.StatusNoContent)
	default:
		writeAPIError(w, http.StatusMethodNotAllowed, "BadRequestException", "Method not allowed")
	}
}

func (g *WSGateway) postToConnection(w http.ResponseWriter, r *http.Request, id string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(g.cfg.MaxMessageBytes)+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "BadRequestException", "Could not read the request body")
		return
	}
	if len(body) > g.cfg.MaxMessageBytes {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long")
		return
	}
	c := g.lookup(r.Context(), id)
	if c == nil {
		writeAPIError(w, http.StatusGone, "GoneException", "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), postTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, body); err != nil {
		// The socket died under us: for the caller it is gone.
		g.log.Info("gateway: post to a dying connection", "connectionId", id, "error", err.Error())
		g.drop(c, websocket.StatusAbnormalClosure, "write failed")
		writeAPIError(w, http.StatusGone, "GoneException", "")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// writeAPIError answers in the management API's error shape. GoneException
// carries "message": null, as API Gateway's does.
func writeAPIError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	var msg any
	if message != "" {
		msg = message
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg})
}
