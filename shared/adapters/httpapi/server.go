// Package httpapi is the HTTPS API for the frontend: an http.Handler routed by
// method and path with the standard library's ServeMux, and a Lambda adapter
// (payload format 2.0) in lambda.go. Commands go through the command service and
// answer from the events they wrote (read-your-writes); queries answer from the
// Postgres read models and say which aggregate version they reflect, waiting
// briefly for the one a command returned (?minVersion, readyourwrites.go).
//
// Conventions, for every route: JSON bodies with unknown fields rejected and a
// size limit; decimals as JSON strings; dates YYYY-MM-DD; errors as
// {"error":{"code","message","details"}} with a 4xx for anything the client can
// fix; Idempotency-Key on every command; If-Match: <version> as an optional
// optimistic check; the response's ETag is the aggregate version.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/readyourwrites"
	"github.com/portfoliotracker/tracker/shared/app/users"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// MaxBodyBytes bounds a request body (an import of a few thousand activities
// fits; API Gateway's own limit is 10 MB).
const MaxBodyBytes = 2 << 20

// Server holds the API's dependencies.
type Server struct {
	commands *command.Service
	events   eventstore.Store
	queries  Queries
	alerts   Alerts
	// analytics serves the figures of the analytics function.
	analytics Analytics
	log       *slog.Logger
	mux       *http.ServeMux
	routes    []Route

	// quotas counts alert rules' symbols (nil: not counted).
	quotas Quotas
	// suggestions stores the suggested transactions (nil: their routes answer 503).
	suggestions Suggestions
	// symbols searches the provider's symbols (nil: 503).
	symbols SymbolSearch
	// users is the user service (nil: the /me routes answer 503).
	users *users.Service
	// notifications serves the delivery history and unsubscribes (nil: 503);
	// unsubscribeKey verifies the unsubscribe links (empty: every link is refused).
	notifications  Notifications
	unsubscribeKey []byte

	// fresh waits for the read model on the portfolio queries (nil without
	// Queries).
	fresh *readyourwrites.Service
	// unmatched writes the metrics of the requests no route matched (nil:
	// no metrics).
	unmatched *routeMetrics
}

// Config wires a Server.
type Config struct {
	Commands *command.Service
	Events   eventstore.Store
	Queries  Queries
	// Alerts stores alert rules and their history; without it the alert routes
	// answer 503.
	Alerts Alerts
	// Analytics stores the analytics figures; without it the analytics routes
	// answer 503.
	Analytics Analytics
	Logger    *slog.Logger

	// Quotas counts the symbols of alert rules against the user's symbols
	// quota (the command service counts those of transactions); nil: not counted.
	Quotas Quotas

	// Suggestions stores the corporate actions offered as suggested
	// transactions; without it (or without Commands, which records an accepted
	// one) the suggestion routes answer 503.
	Suggestions Suggestions
	// Symbols searches the market-data provider's symbols (symbolsearch.Service);
	// without it GET /symbols answers 503 search_unavailable.
	Symbols SymbolSearch
	// Users is the user service (GET/PATCH/DELETE /me, phone verification);
	// without it the /me routes answer 503.
	Users *users.Service

	// Notifications stores the notification history and records unsubscribes;
	// without it GET /notifications answers 503.
	Notifications Notifications
	// UnsubscribeKey is the HMAC key of the unsubscribe links
	// (topology.NotificationKey); without it every link is refused.
	UnsubscribeKey []byte

	// ReadYourWrites bounds a portfolio query's wait for the read model to reach
	// its minVersion (zero: readyourwrites' defaults, up to a second).
	ReadYourWrites readyourwrites.Options

	// Metrics receives one EMF line per request (metrics.go); nil: none.
	// Gauges, when set, adds its figures to each line (the database pool's).
	Metrics *emf.Writer
	Gauges  func() []emf.Metric
}

// New builds the server and binds a handler to each route of
// topology.HTTPRoutes. It panics, as ServeMux does on a conflicting pattern, if
// a route has no handler or a handler no route: a programming error that every
// test building a server reports.
func New(cfg Config) *Server {
	s := &Server{commands: cfg.Commands, events: cfg.Events, queries: cfg.Queries, alerts: cfg.Alerts, analytics: cfg.Analytics, quotas: cfg.Quotas,
		suggestions: cfg.Suggestions, symbols: cfg.Symbols, users: cfg.Users, log: cfg.Logger, notifications: cfg.Notifications, unsubscribeKey: cfg.UnsubscribeKey}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.queries != nil {
		var owners readyourwrites.EventStore
		if s.commands != nil {
			owners = eventStoreOwners{s.commands}
		}
		s.fresh = readyourwrites.New(readModelVersions{s.queries}, owners, cfg.ReadYourWrites)
	}
	routes, err := bindRoutes(topology.HTTPRoutes, s.handlers())
	if err != nil {
		panic("httpapi: " + err.Error())
	}
	s.routes = routes
	s.mux = http.NewServeMux()
	s.unmatched = newRouteMetrics(cfg.Metrics, cfg.Gauges, topology.Route{}, unmatchedRoute)
	for _, rt := range routes {
		measured := newRouteMetrics(cfg.Metrics, cfg.Gauges, rt.Route, rt.Pattern())
		if rt.Public() {
			s.mux.HandleFunc(rt.Pattern(), measured.measure(s.public(rt.handler)))
			continue
		}
		h := rt.handler
		if readsPortfolio(rt.Method, rt.Path) {
			h = s.readYourWrites(h, s.notYetProjected()[rt.OperationID])
		}
		if slices.Contains(createsData, rt.OperationID) {
			h = s.refuseErased(h)
		}
		s.mux.HandleFunc(rt.Pattern(), measured.measure(s.authenticated(h)))
	}
	return s
}

// handler serves one operation; an error becomes the API's error response.
type handler func(http.ResponseWriter, *http.Request) error

// Route is one route of topology.HTTPRoutes with the handler bound to it.
type Route struct {
	topology.Route
	handler handler
}

// Routes lists every route, in topology.HTTPRoutes' order.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// handlers binds each operation (a topology.HTTPRoutes operation ID, the
// OpenAPI document's operationId) to its handler.
func (s *Server) handlers() map[string]handler {
	return map[string]handler{
		"createPortfolio":        s.createPortfolio,
		"listPortfolios":         s.listPortfolios,
		"getPortfolio":           s.getPortfolio,
		"updatePortfolio":        s.updatePortfolio,
		"archivePortfolio":       s.archivePortfolio,
		"recordTransaction":      s.recordTransaction,
		"listTransactions":       s.listTransactions,
		"voidTransaction":        s.voidTransaction,
		"getPositions":           s.positions,
		"setTargets":             s.setTargets,
		"getTargets":             s.getTargets,
		"setSettings":            s.setSettings,
		"importActivities":       s.importActivities,
		"previewImport":          s.previewImport,
		"auditTrail":             s.auditTrail,
		"createAlert":            s.createAlert,
		"listAlerts":             s.listAlerts,
		"deleteAlert":            s.deleteAlert,
		"updateAlert":            s.updateAlert,
		"pauseAlert":             s.pauseAlert,
		"resumeAlert":            s.resumeAlert,
		"alertHistory":           s.alertHistory,
		"acknowledgeAlert":       s.acknowledgeAlert,
		"getPerformance":         s.performance,
		"getRisk":                s.risk,
		"getRebalancing":         s.rebalancing,
		"getValueHistory":        s.history,
		"listValuations":         s.valuations,
		"listSuggestions":        s.listSuggestions,
		"acceptSuggestion":       s.acceptSuggestion,
		"dismissSuggestion":      s.dismissSuggestion,
		"getPortfolioSymbols":    s.portfolioSymbols,
		"searchSymbols":          s.searchSymbols,
		"getMe":                  s.getMe,
		"updateMe":               s.updateMe,
		"deleteMe":               s.deleteMe,
		"startPhoneVerification": s.startPhoneVerification,
		"verifyPhone":            s.verifyPhone,
		"listNotifications":      s.listNotifications,
		"unsubscribe":            s.unsubscribe,
		"unsubscribeOneClick":    s.unsubscribeOneClick,
	}
}

// notYetProjected answers, by operation, the owner's portfolio query for a
// portfolio the read model has not seen yet; a query not listed reads stores
// of its own.
func (s *Server) notYetProjected() map[string]handler {
	return map[string]handler{
		"getPortfolio":     s.portfolioFromEvents,
		"getPositions":     s.noPositionsYet,
		"listTransactions": s.noTransactionsYet,
		"getTargets":       s.noTargetsYet,
	}
}

// bindRoutes pairs each route with the handler of its operation, and fails if
// a route has no handler or a handler is bound to no route.
func bindRoutes(routes []topology.Route, handlers map[string]handler) ([]Route, error) {
	var errs []error
	bound := make([]Route, 0, len(routes))
	used := make(map[string]bool, len(routes))
	for _, r := range routes {
		h := handlers[r.OperationID]
		if h == nil {
			errs = append(errs, fmt.Errorf("route %s (%s) has no handler", r.Pattern(), r.OperationID))
			continue
		}
		used[r.OperationID] = true
		bound = append(bound, Route{Route: r, handler: h})
	}
	for _, op := range slices.Sorted(maps.Keys(handlers)) {
		if !used[op] {
			errs = append(errs, fmt.Errorf("handler %s has no route", op))
		}
	}
	return bound, errors.Join(errs...)
}

// ServeHTTP implements http.Handler. Unknown paths and methods get the API's
// error shape rather than ServeMux's plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched.measure(s.noRoute)(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers a request no route matched: 405 with Allow when the path
// has other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	allowed := s.allowedMethods(r)
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", ")), nil))
		return
	}
	s.writeError(w, r, newError(http.StatusNotFound, CodeNotFound, "no route for "+r.URL.Path, nil))
}

func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

// public serves an operation of topology.PublicOperations: no caller needed,
// the handler checks what it needs itself.
func (s *Server) public(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) authenticated(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if userFrom(r.Context()) == "" {
			s.writeError(w, r, newError(http.StatusUnauthorized, CodeUnauthorized, "no authenticated user", nil))
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, s.ownershipFirst(r, err))
		}
	}
}

// ownershipFirst makes a refusal on a portfolio route ({id}) the route's plain
// 404 when the portfolio is not the caller's: whatever the body, the query or
// the headers say, a stranger learns nothing a non-existent ID would not tell
// (no validation message, no version, no conflict). Only refusals pay the
// look-up; a successful request has shown ownership on its way.
func (s *Server) ownershipFirst(r *http.Request, err error) error {
	id := r.PathValue("id")
	ae := classify(err)
	if id == "" || ae.status < 400 || ae.status >= 500 || ae.status == http.StatusUnauthorized || ae.code == CodeNotFound {
		return err
	}
	owned, lerr := s.owns(r.Context(), userFrom(r.Context()), id)
	switch {
	case lerr != nil:
		s.logger(r).ErrorContext(r.Context(), "ownership check failed", "error", lerr.Error())
		return newError(http.StatusServiceUnavailable, CodeUnavailable, "try again in a moment", nil)
	case !owned:
		return errPortfolioNotFound
	}
	return err
}

// errPortfolioNotFound is what every route answers for a portfolio that does
// not exist or is someone else's.
var errPortfolioNotFound = newError(http.StatusNotFound, CodeNotFound, "portfolio or transaction not found", nil)

// owns reports whether portfolio id exists and is userID's: from the event
// store (authoritative, and current before the read models catch up), or from
// the read models in a server built without commands.
func (s *Server) owns(ctx context.Context, userID, id string) (bool, error) {
	if len(id) > maxPortfolioIDLen {
		return false, nil
	}
	switch {
	case s.commands != nil:
		p, err := s.commands.Load(ctx, id)
		if err != nil {
			return false, err
		}
		return p.Version() > 0 && p.Owner() == userID, nil
	case s.queries != nil:
		_, err := s.queries.GetPortfolio(ctx, userID, id)
		if errors.Is(err, portfolio.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return false, newError(http.StatusServiceUnavailable, CodeUnavailable, "portfolios are not available", nil)
}

// maxPortfolioIDLen is the longest portfolio ID the domain creates
// (portfolio.Create); a longer one is nobody's and costs no look-up.
const maxPortfolioIDLen = 64

// ---------------------------------------------------------------- request context

type ctxKey int

const (
	userKey ctxKey = iota
	requestIDKey
)

// WithUser returns a context carrying the authenticated user's ID (the Lambda
// adapter sets it from the authorizer's context).
func WithUser(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userKey, userID)
}

// WithRequestID returns a context carrying the request ID for logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func userFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey).(string)
	return u
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// ---------------------------------------------------------------- request helpers

// decodeJSON reads a JSON body strictly: the right media type, within the size
// limit, one object, no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, into any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return newError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send the body as application/json", nil)
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, CodeInvalidJSON, "the body must hold exactly one JSON value", nil)
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes), nil)
		}
		return nil, newError(http.StatusBadRequest, CodeBadRequest, "could not read the body", nil)
	}
	if len(body) == 0 {
		return nil, newError(http.StatusBadRequest, CodeInvalidJSON, "the body is empty", nil)
	}
	return body, nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("malformed JSON at byte %d", syntax.Offset), nil)
	case errors.As(err, &typ) && typ.Field == "":
		return newError(http.StatusBadRequest, CodeInvalidJSON, "the body must be a JSON object", nil)
	case errors.As(err, &typ):
		return newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("field %q must be %s", typ.Field, typ.Type), map[string]string{"field": typ.Field})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return newError(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("unknown field %q", field), map[string]string{"field": field})
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, CodeInvalidJSON, "the JSON body is truncated", nil)
	}
	return newError(http.StatusBadRequest, CodeInvalidJSON, err.Error(), nil)
}

// commandRequest reads the headers every command shares, and fingerprints the
// request (route, resource and body, in its canonical form) so that an
// Idempotency-Key reused for a different request is refused, not replayed.
func commandRequest(r *http.Request, aggregateID string, body []byte) (command.Request, error) {
	req := command.Request{AggregateID: aggregateID, UserID: userFrom(r.Context()), CorrelationID: requestIDFrom(r.Context()),
		Fingerprint: command.RequestFingerprint([]byte(r.Pattern), []byte(aggregateID), []byte(r.PathValue("txId")), body)}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > 255 || strings.IndexFunc(key, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) >= 0 {
			return req, newError(http.StatusBadRequest, CodeBadRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters", nil)
		}
		req.CommandID = key
	}
	if m := r.Header.Get("If-Match"); m != "" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(m, "W/"), `"`), 10, 64)
		if err != nil || v < 0 {
			return req, newError(http.StatusBadRequest, CodeBadRequest, "If-Match must be a portfolio version such as \"7\"", nil)
		}
		req.ExpectedVersion = &v
	}
	return req, nil
}

// canonical is a decoded body in one form whatever its spacing, field order or
// decimal spelling ("12.50" and "12.5"): the fingerprint of a command.
func canonical(body any) []byte {
	b, err := json.Marshal(body)
	if err != nil { // the request types all marshal; a failure only weakens the check
		return nil
	}
	return b
}

func setVersion(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", fmt.Sprintf("%q", strconv.FormatInt(version, 10)))
}
