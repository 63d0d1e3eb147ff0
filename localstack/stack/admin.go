package stack

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// UserID maps a local user name to a stable user ID (a name-based UUID, version
// 5 layout), so `make token USER=alice` names the same user on every run. A
// UUID is taken as it is.
func UserID(user string) string {
	if uuidPattern.MatchString(user) {
		return strings.ToLower(user)
	}
	h := sha1.Sum([]byte("portfolio-tracker-local-user:" + strings.ToLower(user)))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// DemoPassword is the password of the demo's users in the Auth stand-in
// (alice, bob and carla @example.test).
const DemoPassword = "demo-password"

// seedAuthUsers makes the demo's users able to sign in with DemoPassword,
// under their stable IDs (UserID), whether or not the demo is seeded: a user
// who has changed nothing keeps what it has.
func seedAuthUsers(ctx context.Context, issuer *tokenissuer.Issuer) error {
	for _, p := range demoPlans {
		if err := issuer.SeedUser(ctx, UserID(p.user), emailOf(p.user), DemoPassword, p.user); err != nil {
			return fmt.Errorf("auth stand-in: seed %s: %w", p.user, err)
		}
	}
	return nil
}

func emailOf(user string) string {
	if uuidPattern.MatchString(user) {
		return ""
	}
	return strings.ToLower(user) + "@example.test"
}

var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// adminHandler serves the operator's endpoints of the local stack:
//
//	POST /token?user=alice[&ttl=1h]   a signed access token for any user, without a password or a session (a real sign-in: the Auth stand-in, GET /auth)
//	GET  /auth                         the Auth stand-in: its URL, anon and service-role keys, the demo's users and password
//	POST /schedules/{name}/fire        run a schedule now; GET /schedules lists them with their next time
//	GET  /status                       URLs, start-up timings, per-function and per-mapping counters
//	GET  /failures                     what the event source mappings gave up on, and what the functions quarantined (the on-failure destinations)
//	POST /demo                         seed the demo now (what PT_LOCAL_DEMO=true does at start; idempotent), answering its users
//	GET  /metrics[?format=prometheus]  what the functions emitted (EMF on stdout), aggregated per metric and dimensions (metrics.go)
//
// and the mail plumbing's (mailRoutes): GET /sms, POST /ses/events, /faults/email; and the
// trace collector's (traces.go): POST /v1/traces (OTLP/HTTP), GET /traces, GET /traces/{traceId}.
func (s *Stack) adminHandler() http.Handler {
	mux := http.NewServeMux()
	s.mailRoutes(mux)
	s.traces.traceRoutes(mux)
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if !userNamePattern.MatchString(user) && !uuidPattern.MatchString(user) {
			writeError(w, http.StatusBadRequest, "bad_user", "user must be a name of letters, digits, '.', '_' or '-' (at most 64), or a UUID")
			return
		}
		ttl := time.Hour
		if v := r.URL.Query().Get("ttl"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 7*24*time.Hour {
				writeError(w, http.StatusBadRequest, "bad_ttl", "ttl must be a duration between 1s and 168h")
				return
			}
			ttl = d
		}
		id, tok := s.Mint(user, ttl)
		writeJSON(w, http.StatusOK, map[string]any{"userId": id, "accessToken": tok, "expiresIn": int(ttl.Seconds())})
	})
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
		var users []string
		for _, p := range demoPlans {
			users = append(users, emailOf(p.user))
		}
		writeJSON(w, http.StatusOK, map[string]any{"url": s.URLs.Auth, "anonKey": s.AnonKey(), "serviceRoleKey": s.ServiceRoleKey(),
			"demoUsers": users, "demoPassword": DemoPassword})
	})
	mux.HandleFunc("GET /schedules", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.sched.Upcoming(time.Now()))
	})
	mux.HandleFunc("POST /schedules/{name}/fire", func(w http.ResponseWriter, r *http.Request) {
		out, err := s.sched.FireNow(r.Context(), r.PathValue("name"))
		var fe *invoke.FunctionError
		switch {
		case errors.As(err, &fe):
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]any{"code": "function_error", "message": fe.Message, "details": map[string]string{"type": fe.Type}}})
		case err != nil && strings.Contains(err.Error(), "unknown schedule"):
			writeError(w, http.StatusNotFound, "not_found", err.Error())
		case err != nil:
			writeError(w, http.StatusBadGateway, "invoke_failed", err.Error())
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		}
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		fns := map[string]any{}
		for _, f := range functionNames(s.cfg.Functions()) {
			fns[f] = s.rt.Stats(f)
		}
		maps := map[string]any{}
		for name, p := range s.pollers {
			maps[name] = p.Stats()
		}
		writeJSON(w, http.StatusOK, map[string]any{"urls": s.URLs, "timings": s.Timings, "functions": fns, "mappings": maps})
	})
	mux.HandleFunc("GET /metrics", s.metrics.serveMetrics)
	mux.HandleFunc("POST /demo", func(w http.ResponseWriter, r *http.Request) {
		users, err := s.SeedDemo(r.Context())
		if err != nil {
			writeError(w, http.StatusBadGateway, "demo_failed", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, users)
	})
	mux.HandleFunc("GET /failures", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{}
		for name, d := range s.failures {
			fs, err := d.Messages()
			if err != nil {
				writeError(w, http.StatusInternalServerError, "read_failed", err.Error())
				return
			}
			out[name] = fs
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg, "details": map[string]any{}}})
}
