package tokenissuer

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"
)

// gatewayError is an error of Supabase's API gateway (Kong), which answers
// before GoTrue does: a different shape from GoTrue's.
func gatewayError(w http.ResponseWriter, message, hint string) {
	writeJSON(w, http.StatusUnauthorized, map[string]string{"message": message, "hint": hint})
}

// requireAPIKey is the gateway's key check: every Auth route but the JWKS
// wants the anon or the service-role key, as the apikey header or query
// parameter.
func (i *Issuer) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("apikey")
		if key == "" {
			key = r.URL.Query().Get("apikey")
		}
		switch {
		case key == "":
			gatewayError(w, "No API key found in request", "No `apikey` request header or url param was found.")
		case key != i.anonKey && key != i.serviceKey:
			gatewayError(w, "Invalid API key", "Double check your Supabase `anon` or `service_role` API key.")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// cors lets the web app's origins call Auth from a browser: it answers
// preflights itself (without an apikey, which browsers do not send on them)
// and marks the responses to an allowed origin.
func (i *Issuer) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (slices.Contains(i.origins, origin) || slices.Contains(i.origins, "*"))
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "X-Total-Count, Link, "+apiVersionHeader)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h := w.Header()
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, apikey, Content-Type, X-Client-Info, "+apiVersionHeader)
				h.Set("Access-Control-Max-Age", "86400")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError answers in GoTrue's error shape for the API version the
// request asks for (apiVersionHeader), echoing that version as GoTrue does.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, extra ...map[string]any) {
	body := map[string]any{"code": status, "error_code": code, "msg": msg}
	if v, err := time.Parse(time.DateOnly, r.Header.Get(apiVersionHeader)); err == nil && !v.Before(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		w.Header().Set(apiVersionHeader, apiVersion20240101)
		body = map[string]any{"code": code, "message": msg}
	}
	for _, e := range extra {
		for k, v := range e {
			body[k] = v
		}
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// internalError answers 500 as GoTrue does, and logs why; msg is GoTrue's
// text for the step that failed, if it has one.
func (i *Issuer) internalError(w http.ResponseWriter, r *http.Request, err error, msg ...string) {
	i.log.Error("tokenissuer: request failed", "path", r.URL.Path, "error", err.Error())
	text := "Unexpected failure, please check server logs for more information"
	if len(msg) > 0 {
		text = msg[0]
	}
	writeError(w, r, http.StatusInternalServerError, "unexpected_failure", text)
}

// decodeBody reads a JSON body into v; false (having answered) if it is not JSON.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(v)
	if err != nil && !errors.Is(err, io.EOF) {
		writeError(w, r, http.StatusBadRequest, "bad_json", "Could not parse request body as JSON: "+err.Error())
		return false
	}
	return true
}
