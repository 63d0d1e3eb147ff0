package stack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/devtools/tokenissuer"
)

// The web endpoint serves the static export as CloudFront does (a /x/ path is its index.html, an unknown path the
// export's 404 page with status 404, hashed assets cached for good) and /config.json from the stack's own URLs.
func TestWebHandler(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html": "home", "404.html": "not here", "portfolio/index.html": "portfolio page",
		"_next/static/chunks/app-0123abcd.js": "js",
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	issuer, err := tokenissuer.New("http://127.0.0.1:54321")
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{issuer: issuer, URLs: URLs{HTTP: "http://127.0.0.1:3000", WebSocket: "ws://127.0.0.1:3001", Auth: "http://127.0.0.1:54321"}}
	srv := httptest.NewServer(s.webHandler(dir))
	t.Cleanup(srv.Close)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for path, want := range map[string]struct {
		status int
		body   string
		cache  string
	}{
		"/":                                    {200, "home", "no-cache"},
		"/portfolio/?id=p1":                    {200, "portfolio page", "no-cache"},
		"/portfolio":                           {404, "not here", ""},
		"/nowhere/":                            {404, "not here", ""},
		"/../../etc/passwd":                    {404, "not here", ""},
		"/_next/static/chunks/app-0123abcd.js": {200, "js", "public, max-age=31536000, immutable"},
	} {
		resp, body := get(path)
		if resp.StatusCode != want.status || body != want.body || resp.Header.Get("Cache-Control") != want.cache {
			t.Errorf("GET %s: %d %q (Cache-Control %q), want %d %q (%q)", path, resp.StatusCode, body, resp.Header.Get("Cache-Control"), want.status, want.body, want.cache)
		}
	}

	resp, body := get("/config.json")
	var c WebConfig
	if err := json.Unmarshal([]byte(body), &c); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("config.json: %v %q %s", err, resp.Header.Get("Content-Type"), body)
	}
	want := WebConfig{APIURL: "http://127.0.0.1:3000", WSURL: "ws://127.0.0.1:3001/local", SupabaseURL: "http://127.0.0.1:54321",
		SupabaseAnonKey: issuer.AnonKey(), Stage: "local"}
	if c != want {
		t.Errorf("config.json = %+v, want %+v", c, want)
	}

	// No export yet: a page that says how to make one; the config is still served.
	if err := os.Remove(filepath.Join(dir, "index.html")); err != nil {
		t.Fatal(err)
	}
	if resp, body := get("/portfolio/"); resp.StatusCode != 503 || !strings.Contains(body, "make web") {
		t.Errorf("without an export: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/config.json"); resp.StatusCode != 200 {
		t.Errorf("config.json without an export: %d", resp.StatusCode)
	}
}
