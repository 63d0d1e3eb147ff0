package stack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portfoliotracker/tracker/localstack/gateway"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// WebConfig is the web app's runtime configuration, which it fetches as
// /config.json at start (nothing is baked into the build): the local stack
// serves one made from its own URLs and keys, the CDK stack writes one at
// deploy time.
type WebConfig struct {
	APIURL          string `json:"apiUrl"`
	WSURL           string `json:"wsUrl"`
	SupabaseURL     string `json:"supabaseUrl"`
	SupabaseAnonKey string `json:"supabaseAnonKey"`
	Stage           string `json:"stage"`
}

// WebConfig is what this stack's /config.json says: the web app reaches the
// APIs and the Auth stand-in directly, as it reaches API Gateway and Supabase
// in AWS.
func (s *Stack) WebConfig() WebConfig {
	return WebConfig{APIURL: s.URLs.HTTP, WSURL: s.URLs.WebSocket + "/" + wsStage, SupabaseURL: s.URLs.Auth,
		SupabaseAnonKey: s.AnonKey(), Stage: "local"}
}

// DefaultWebDir is the static export of the web app (`make web` writes it),
// relative to the repository.
const DefaultWebDir = "web/out"

// webHandler serves the web app's static export from dir as CloudFront does in
// AWS (a path ending in / is its index.html; an unknown path is the export's
// 404.html with status 404), and /config.json from the stack itself. A missing
// export is answered with a page that says how to build it, so the APIs stay
// usable from curl without Node.
func (s *Stack) webHandler(dir string) http.Handler {
	config, _ := json.Marshal(s.WebConfig())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "/config.json" {
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			_, _ = w.Write(config)
			return
		}
		if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "<!doctype html><title>Web app not built</title><h1>The web app is not built</h1>"+
				"<p>Run <code>make web</code> (it writes %s); <code>make run</code> does it before it starts the stack.</p>", DefaultWebDir)
			return
		}
		clean := filepath.Clean("/" + r.URL.Path)
		path := filepath.Join(dir, filepath.FromSlash(clean))
		if strings.HasSuffix(r.URL.Path, "/") {
			path = filepath.Join(path, "index.html")
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() {
			// A directory without its trailing slash: CloudFront's function maps
			// /x/ only, and Next's trailingSlash export links with the slash.
			notFound(w, dir)
			return
		}
		if strings.HasPrefix(clean, "/_next/static/") {
			// Content-hashed names: a browser may keep them for good.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeFile(w, r, path)
	})
}

// notFound answers the export's 404 page (Next writes 404.html) with status 404.
func notFound(w http.ResponseWriter, dir string) {
	body, err := os.ReadFile(filepath.Join(dir, "404.html"))
	if err != nil {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}

// apiCORS is the HTTP API's CORS configuration, as the CDK stack's
// CorsPreflight declares it (infra/stack/apis.go): the web app's origin, the
// routes' methods, and the topology's request and response headers.
func apiCORS(origin string, routes []gateway.Route) *gateway.CORS {
	methods := []string{http.MethodOptions}
	for _, r := range routes {
		if m := strings.ToUpper(r.Method); !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	slices.Sort(methods)
	return &gateway.CORS{AllowOrigins: []string{origin}, AllowMethods: methods,
		AllowHeaders: topology.CORSAllowHeaders, ExposeHeaders: topology.CORSExposeHeaders, MaxAge: topology.CORSMaxAge}
}
