package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
)

const usage = `usage:
  localstack run               start the local stack (Ctrl-C stops it; data is kept in PT_LOCAL_DATA, default .data/local)
  localstack token USER        print an access token for USER from the running stack (make token USER=alice)
  localstack fire SCHEDULE     run a schedule of the running stack now (names: GET /schedules on the admin port)
  localstack trace TRACE_ID    print the span tree of a trace the running stack collected (make trace ID=...)
  localstack reset             delete the local data (stop the stack first)
  localstack gen-init          regenerate the LocalStack init hook from the topology
`

// Main is the localstack command; it returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	root, err := emulator.FindRoot()
	if err != nil && (args[0] == "run" || args[0] == "gen-init" || args[0] == "reset") {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	cfg, err := FromEnv(Defaults(root))
	if err != nil {
		fmt.Fprintln(stderr, "localstack:", err)
		return 2
	}
	switch args[0] {
	case "run":
		return run(cfg, stdout, stderr)
	case "token":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return adminCall(cfg, "/token?user="+url.QueryEscape(args[1]), stdout, stderr, "accessToken")
	case "fire":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return adminCall(cfg, "/schedules/"+url.PathEscape(args[1])+"/fire", stdout, stderr, "")
	case "trace":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		return printTrace(cfg, args[1], stdout, stderr)
	case "reset":
		return reset(cfg, stdout, stderr)
	case "gen-init":
		path := filepath.Join(root, InitScriptPath)
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = os.WriteFile(path, []byte(InitScript(cfg.Prefix)), 0o755)
		}
		if err != nil {
			fmt.Fprintln(stderr, "localstack:", err)
			return 1
		}
		fmt.Fprintln(stdout, "wrote", path)
		return 0
	}
	fmt.Fprint(stderr, usage)
	return 2
}

func run(cfg Config, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "logs"), 0o755); err != nil {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	// The functions' own JSON logs go to a file (tail -f it); the console keeps
	// to what a developer needs. PT_LOCAL_VERBOSE=1 shows them here too.
	logFile, err := os.OpenFile(filepath.Join(cfg.DataDir, "logs", "functions.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	defer logFile.Close()
	var output io.Writer = logFile
	if localSettings.String("PT_LOCAL_VERBOSE") == "1" {
		output = io.MultiWriter(logFile, stdout)
	}
	fmt.Fprintln(stdout, "Starting the local stack (emulators, function builds, schema)...")
	s, err := Start(ctx, cfg, log, output)
	if err != nil {
		fmt.Fprintln(stderr, "localstack: start:", err)
		return 1
	}
	defer func() {
		fmt.Fprintln(stdout, "Stopping...")
		if err := s.Close(); err != nil {
			fmt.Fprintln(stderr, "localstack: stop:", err)
		}
		fmt.Fprintln(stdout, "Stopped; data kept in", cfg.DataDir, "(make reset deletes it).")
	}()
	for _, t := range s.Timings {
		fmt.Fprintf(stdout, "  %-52s %6.2fs\n", t.Step, t.Took.Seconds())
	}
	var users []DemoUser
	if cfg.Demo {
		fmt.Fprintln(stdout, "Seeding the demo (three users, one of them in euros holding US and UK shares, three years of trades, a price alert)...")
		t0 := time.Now()
		if users, err = s.SeedDemo(ctx); err != nil {
			fmt.Fprintln(stderr, "localstack: demo:", err)
			return 1
		}
		fmt.Fprintf(stdout, "  demo ready in %.2fs\n", time.Since(t0).Seconds())
	}
	printBanner(stdout, s, users)
	<-ctx.Done()
	return 0
}

func printBanner(w io.Writer, s *Stack, users []DemoUser) {
	fmt.Fprintf(w, `
Portfolio Tracker is running locally.
  Web app         %s  (%s and a /config.json pointing at the URLs below; make web rebuilds it)
  HTTP API        %s
  WebSocket API   %s/local?token=<token>
  @connections    %s/@connections/{id}
  Supabase Auth   %s/auth/v1  (GoTrue stand-in: signup, token, user, logout, admin users; JWKS at /auth/v1/.well-known/jwks.json)
  Admin           %s  (GET /status, GET /auth, GET /schedules, POST /schedules/{name}/fire, GET /failures, POST /demo, GET /traces/{id})
  E-mail inbox    %s  (every message the notifier sent; JSON at /store)
  SMS sent        %s/sms   (bounces: POST %s/ses/events?bounce=<address>)
  DynamoDB %s   Kinesis %s
  Postgres %s
  Function logs   %s
`, s.URLs.Web, webDirShown(s.cfg), s.URLs.HTTP, s.URLs.WebSocket, s.URLs.WSManagement, s.URLs.Auth, s.URLs.Admin, s.URLs.SES, s.URLs.Admin, s.URLs.Admin,
		s.URLs.DynamoDB, s.URLs.Kinesis, s.URLs.Postgres, filepath.Join(s.cfg.DataDir, "logs", "functions.log"))
	user := "alice"
	if len(users) > 0 {
		user = users[0].Name
	}
	fmt.Fprintf(w, "\nSupabase keys (new on every start; the functions get the service-role key as SUPABASE_SERVICE_ROLE_KEY):\n\n  export SUPABASE_URL=%s\n  export SUPABASE_ANON_KEY=%s\n  export SUPABASE_SERVICE_ROLE_KEY=%s\n",
		s.URLs.Auth, s.AnonKey(), s.ServiceRoleKey())
	var emails []string
	for _, p := range demoPlans {
		emails = append(emails, emailOf(p.user))
	}
	fmt.Fprintf(w, "\nDemo users %s, password %q. Sign in as the web app does:\n", strings.Join(emails, ", "), DemoPassword)
	fmt.Fprintf(w, "  curl -s -H \"apikey: $SUPABASE_ANON_KEY\" -H 'Content-Type: application/json' -d '{\"email\":\"%s\",\"password\":\"%s\"}' \\\n    '%s/auth/v1/token?grant_type=password'\n",
		emailOf(user), DemoPassword, s.URLs.Auth)
	_, token := s.Mint(user, 12*time.Hour)
	fmt.Fprintf(w, "\nOr take a token for %s (12 h; more with `make token USER=%s`):\n\n  export TOKEN=%s\n\n", user, user, token)
	fmt.Fprintf(w, "Try:\n  curl -s -H \"Authorization: Bearer $TOKEN\" %s/portfolios\n", s.URLs.HTTP)
	if len(users) > 0 {
		p := users[0].PortfolioID
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/portfolios/%s/positions\n", s.URLs.HTTP, p)
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/portfolios/%s/performance\n", s.URLs.HTTP, p)
		fmt.Fprintf(w, "  websocat \"%s/local?token=$TOKEN\"    then send: {\"action\":\"subscribe\",\"portfolioId\":\"%s\"}\n", s.URLs.WebSocket, p)
		fmt.Fprintln(w, "  (the demo's AAPL price alert fires on the first ticks; valuations follow every couple of seconds)")
	}
	fmt.Fprintln(w, "\nCtrl-C stops everything.")
}

func adminCall(cfg Config, path string, stdout, stderr io.Writer, field string) int {
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d%s", cfg.AdminPort, path), "application/json", nil)
	if err != nil {
		fmt.Fprintf(stderr, "localstack: is the stack running (make run)? %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		fmt.Fprintf(stderr, "localstack: HTTP %d: %s\n", resp.StatusCode, body)
		return 1
	}
	if field == "" {
		fmt.Fprintln(stdout, string(body))
		return 0
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	fmt.Fprintln(stdout, m[field])
	return 0
}

// printTrace prints the span tree of a trace from the admin endpoint.
func printTrace(cfg Config, id string, stdout, stderr io.Writer) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/traces/%s", cfg.AdminPort, url.PathEscape(id)))
	if err != nil {
		fmt.Fprintf(stderr, "localstack: is the stack running (make run)? %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "localstack: HTTP %d: %s\n", resp.StatusCode, body)
		return 1
	}
	var t TraceTree
	if err := json.Unmarshal(body, &t); err != nil {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	PrintTree(stdout, t)
	return 0
}

func reset(cfg Config, stdout, stderr io.Writer) int {
	dir := filepath.Join(cfg.DataDir, "emulators")
	if st, err := emulator.ReadState(dir); err == nil {
		for _, p := range st.Procs {
			if syscall.Kill(p.PID, 0) == nil {
				fmt.Fprintln(stderr, "localstack: the stack is running; stop it first (Ctrl-C)")
				return 1
			}
		}
		if st.PostgresDir != "" {
			if err := os.RemoveAll(st.PostgresDir); err != nil {
				fmt.Fprintln(stderr, "localstack:", err)
				return 1
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		fmt.Fprintln(stderr, "localstack:", err)
		return 1
	}
	fmt.Fprintln(stdout, "Removed", cfg.DataDir)
	return 0
}

// webDirShown is the web app's folder as the banner shows it: relative to the
// repository when inside it.
func webDirShown(cfg Config) string {
	if rel, err := filepath.Rel(cfg.Root, cfg.WebDir); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return cfg.WebDir
}
