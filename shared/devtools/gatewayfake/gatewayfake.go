// Package gatewayfake serves API Gateway's WebSocket management API (the @connections API
// that apigatewaymanagementapi calls) over HTTP, for the tests and the local stack:
//
//	POST   /{stage}/@connections/{id}   the body is the message: 200, or 410 GoneException for an unknown ID
//	GET    /{stage}/@connections/{id}   200 {"connectedAt","lastActiveAt","identity":{...}}, or 410
//	DELETE /{stage}/@connections/{id}   204 and the connection is closed, or 410
//
// An optional stage prefix is ignored (the client's endpoint is the stage URL). Errors carry
// API Gateway's X-Amzn-ErrorType header and a {"message":...} body, which is how the SDK tells
// GoneException, LimitExceededException and PayloadTooLargeException apart. Requests are not
// signature-checked.
package gatewayfake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// MaxMessageBytes is API Gateway's WebSocket frame limit.
const MaxMessageBytes = 128 * 1024

// Server is the fake management API. The zero value is not usable: call New.
type Server struct {
	// Hook, if set, runs first for every request to a connection's path. A non-zero status is
	// answered instead of the normal handling (429 answers LimitExceededException, 410
	// GoneException, other statuses an InternalServerError); zero goes on as normal. It may block
	// until r.Context() is done to play a hanging connection.
	Hook func(r *http.Request, connectionID string) int

	mu    sync.Mutex
	conns map[string]*conn
}

type conn struct {
	connectedAt time.Time
	lastActive  time.Time
	sourceIP    string
	messages    [][]byte
}

// New returns an empty server.
func New() *Server { return &Server{conns: map[string]*conn{}} }

// Connect opens a connection with the ID (a reconnect with the same ID starts afresh).
func (s *Server) Connect(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	s.conns[id] = &conn{connectedAt: now, lastActive: now, sourceIP: "192.0.2.1"}
}

// Disconnect closes the connection, as a client going away does.
func (s *Server) Disconnect(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, id)
}

// Connected reports whether the connection is open.
func (s *Server) Connected(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.conns[id]
	return ok
}

// Messages returns the messages posted to the connection so far, oldest first.
func (s *Server) Messages(id string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[id]; ok {
		return append([][]byte(nil), c.messages...)
	}
	return nil
}

// ServeHTTP implements the management API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	i := strings.Index(path, "/@connections/")
	if i < 0 {
		writeError(w, http.StatusNotFound, "NotFoundException", "no such route")
		return
	}
	id, err := url.PathUnescape(path[i+len("/@connections/"):])
	if err != nil || id == "" || strings.Contains(id, "/") {
		writeError(w, http.StatusBadRequest, "BadRequestException", "invalid connection ID")
		return
	}
	// Read the whole body first: until it is read, net/http does not notice a client that gave up,
	// and a hook waiting on r.Context() would wait forever.
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}
	if s.Hook != nil {
		switch status := s.Hook(r, id); status {
		case 0:
		case http.StatusGone:
			writeError(w, status, "GoneException", "")
			return
		case http.StatusTooManyRequests:
			writeError(w, status, "LimitExceededException", "Rate exceeded")
			return
		default:
			writeError(w, status, "InternalServerErrorException", "injected failure")
			return
		}
	}
	switch r.Method {
	case http.MethodPost:
		if len(body) > MaxMessageBytes {
			writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long")
			return
		}
		s.mu.Lock()
		c, ok := s.conns[id]
		if ok {
			c.messages = append(c.messages, body)
			c.lastActive = time.Now().UTC()
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusGone, "GoneException", "")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		s.mu.Lock()
		c, ok := s.conns[id]
		var out map[string]any
		if ok {
			out = map[string]any{
				"connectedAt":  c.connectedAt.Format(time.RFC3339Nano),
				"lastActiveAt": c.lastActive.Format(time.RFC3339Nano),
				"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": "gatewayfake"},
			}
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusGone, "GoneException", "")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	case http.MethodDelete:
		s.mu.Lock()
		_, ok := s.conns[id]
		delete(s.conns, id)
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusGone, "GoneException", "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}

func writeError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	var msg any
	if message != "" {
		msg = message
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg})
}
