package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/portfoliotracker/tracker/shared/domain/symbol"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

const usage = `usage: loadgen [flags]

Drives a local stack with N users × M commands and K ticks/s for a fixed time and
reports per route p50/p99/max, errors and throughput, and the tick → WebSocket
latency. Only loopback endpoints are accepted.

Load:
  --users N            users, each with a portfolio and a WebSocket subscribed to it (default 10)
  --commands M         commands and reads per user, paced evenly over the duration (default 60)
  --ticks K            price ticks per second put on Kinesis (default 10)
  --duration D         measured time of a run (default 30s)
  --symbols LIST       the symbols ticked, comma-separated; each user holds two (default LDA,LDB,...,LDH)
  --max-in-flight N    hard cap on HTTP requests and handshakes in flight, all users together (default 256)
  --warmup D           an unreported run of the same load first, so that the measured runs start with the
                       functions' instances already started (default 10s; 0: none)
  --abusive            add one abusive user (many connections, many rules, oversized bodies)
  --abusive-connections N, --abusive-rules N, --abusive-portfolios N, --abusive-bodies N
                       what the abusive user attempts in a run (defaults 40, 300, 60, 20)

Modes (default: one run):
  --compare            the same run without, then with, the abusive user; the other users' p99 side by side
  --sweep WHAT         users, ticks or both: double from the given load until a threshold is crossed
  --sweep-steps N      at most N steps (default 6)
  --slo-p99 D          a route's p99 above D degrades a step (default 1s)
  --slo-tick-p99 D     the tick → WebSocket p99 above D degrades a step (default 1s)
  --slo-errors PCT     errors above PCT percent of requests degrade a step (default 1)

Endpoints (defaults: make run's):
  --api URL            HTTP API (http://127.0.0.1:3000)
  --ws URL             WebSocket API with its stage (ws://127.0.0.1:3001/local)
  --admin URL          the local stack's admin endpoint (http://127.0.0.1:3002)
  --kinesis URL        kinesis-mock (http://127.0.0.1:4567)
  --stream NAME        the market-data stream (pt-local-market-data-updates)
  --start-stack        start a private local stack in this process (free ports, its own data folder, removed after)
  --stack-log FILE     with --start-stack: append the functions' logs to FILE (default: discarded)

Output:
  --json               the report as JSON instead of text
`

// options are the command's flags.
type options struct {
	load       scenario
	maxFlight  int
	warmup     time.Duration
	compare    bool
	sweep      string
	sweepSteps int
	slo        thresholds
	endpoints  endpoints
	startStack bool
	stackLog   string
	json       bool
}

// scenario is one run's load.
type scenario struct {
	Users          int           `json:"users"`
	Commands       int           `json:"commandsPerUser"`
	TicksPerSecond int           `json:"ticksPerSecond"`
	Duration       time.Duration `json:"-"` // reported as the report's durationSeconds
	Symbols        []string      `json:"symbols"`
	Abusive        bool          `json:"abusive"`
	Abuse          abusePlan     `json:"abuse"`
}

// abusePlan is what the abusive user attempts during a run, evenly paced.
type abusePlan struct {
	Connections int `json:"connections"`
	Rules       int `json:"rules"`
	Portfolios  int `json:"portfolios"`
	// Bodies is the number of oversized bodies (over the API's 2 MB limit), and
	// again of bodies under it holding a 1.9 MB decimal.
	Bodies int `json:"bodies"`
}

// MarshalJSON reports the duration in seconds.
func (s scenario) MarshalJSON() ([]byte, error) {
	type plain scenario
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"durationSeconds"`
	}{plain(s), s.Duration.Seconds()})
}

// thresholds say when a sweep's step has degraded.
type thresholds struct {
	RouteP99     time.Duration `json:"-"`
	TickP99      time.Duration `json:"-"`
	ErrorPercent float64       `json:"errorPercent"`
}

type endpoints struct {
	API, WS, Admin, Kinesis, Stream string
}

// Bounds of the flags: enough to find where a 2-core machine degrades, small
// enough that a typo cannot open a million sockets.
const (
	maxUsers    = 1000
	maxCommands = 100_000
	maxTicks    = 5000
	maxDuration = time.Hour
	maxFlight   = 1024
	maxAbuse    = 5000
)

func defaultOptions() options {
	return options{
		load: scenario{Users: 10, Commands: 60, TicksPerSecond: 10, Duration: 30 * time.Second,
			Symbols: []string{"LDA", "LDB", "LDC", "LDD", "LDE", "LDF", "LDG", "LDH"},
			Abuse:   abusePlan{Connections: 40, Rules: 300, Portfolios: 60, Bodies: 20}},
		maxFlight:  256,
		warmup:     10 * time.Second,
		sweepSteps: 6,
		slo:        thresholds{RouteP99: time.Second, TickP99: time.Second, ErrorPercent: 1},
		endpoints: endpoints{API: "http://127.0.0.1:3000", WS: "ws://127.0.0.1:3001/local", Admin: "http://127.0.0.1:3002",
			Kinesis: "http://127.0.0.1:4567", Stream: "pt-local-" + topology.MarketDataStream},
	}
}

// parseOptions reads the flags; an error is one line for the user.
func parseOptions(args []string, stdout io.Writer) (options, bool, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&o.load.Users, "users", o.load.Users, "")
	fs.IntVar(&o.load.Commands, "commands", o.load.Commands, "")
	fs.IntVar(&o.load.TicksPerSecond, "ticks", o.load.TicksPerSecond, "")
	fs.DurationVar(&o.load.Duration, "duration", o.load.Duration, "")
	symbols := fs.String("symbols", strings.Join(o.load.Symbols, ","), "")
	fs.IntVar(&o.maxFlight, "max-in-flight", o.maxFlight, "")
	fs.DurationVar(&o.warmup, "warmup", o.warmup, "")
	fs.BoolVar(&o.load.Abusive, "abusive", false, "")
	fs.IntVar(&o.load.Abuse.Connections, "abusive-connections", o.load.Abuse.Connections, "")
	fs.IntVar(&o.load.Abuse.Rules, "abusive-rules", o.load.Abuse.Rules, "")
	fs.IntVar(&o.load.Abuse.Portfolios, "abusive-portfolios", o.load.Abuse.Portfolios, "")
	fs.IntVar(&o.load.Abuse.Bodies, "abusive-bodies", o.load.Abuse.Bodies, "")
	fs.BoolVar(&o.compare, "compare", false, "")
	fs.StringVar(&o.sweep, "sweep", "", "")
	fs.IntVar(&o.sweepSteps, "sweep-steps", o.sweepSteps, "")
	fs.DurationVar(&o.slo.RouteP99, "slo-p99", o.slo.RouteP99, "")
	fs.DurationVar(&o.slo.TickP99, "slo-tick-p99", o.slo.TickP99, "")
	fs.Float64Var(&o.slo.ErrorPercent, "slo-errors", o.slo.ErrorPercent, "")
	fs.StringVar(&o.endpoints.API, "api", o.endpoints.API, "")
	fs.StringVar(&o.endpoints.WS, "ws", o.endpoints.WS, "")
	fs.StringVar(&o.endpoints.Admin, "admin", o.endpoints.Admin, "")
	fs.StringVar(&o.endpoints.Kinesis, "kinesis", o.endpoints.Kinesis, "")
	fs.StringVar(&o.endpoints.Stream, "stream", o.endpoints.Stream, "")
	fs.BoolVar(&o.startStack, "start-stack", false, "")
	fs.StringVar(&o.stackLog, "stack-log", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return o, true, nil
		}
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.load.Symbols = nil
	for s := range strings.SplitSeq(*symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.load.Symbols = append(o.load.Symbols, s)
		}
	}
	return o, false, o.validate()
}

func (o options) validate() error {
	l := o.load
	switch {
	case l.Users < 1 || l.Users > maxUsers:
		return fmt.Errorf("--users must be between 1 and %d", maxUsers)
	case l.Commands < 1 || l.Commands > maxCommands:
		return fmt.Errorf("--commands must be between 1 and %d", maxCommands)
	case l.TicksPerSecond < 0 || l.TicksPerSecond > maxTicks:
		return fmt.Errorf("--ticks must be between 0 and %d", maxTicks)
	case l.Duration < time.Second || l.Duration > maxDuration:
		return fmt.Errorf("--duration must be between 1s and %s", maxDuration)
	case len(l.Symbols) < 2 || len(l.Symbols) > 100:
		return errors.New("--symbols must name 2 to 100 symbols")
	case o.warmup < 0 || o.warmup > maxDuration:
		return fmt.Errorf("--warmup must be between 0 and %s", maxDuration)
	case o.maxFlight < 1 || o.maxFlight > maxFlight:
		return fmt.Errorf("--max-in-flight must be between 1 and %d", maxFlight)
	case o.compare && o.sweep != "":
		return errors.New("--compare and --sweep are separate modes: choose one")
	case o.sweep != "" && !slices.Contains([]string{"users", "ticks", "both"}, o.sweep):
		return fmt.Errorf("--sweep %q: want users, ticks or both", o.sweep)
	case o.sweepSteps < 1 || o.sweepSteps > 12:
		return errors.New("--sweep-steps must be between 1 and 12")
	case o.slo.RouteP99 <= 0 || o.slo.TickP99 <= 0 || o.slo.ErrorPercent < 0 || o.slo.ErrorPercent > 100:
		return errors.New("--slo-p99 and --slo-tick-p99 must be positive, --slo-errors a percentage")
	case o.stackLog != "" && !o.startStack:
		return errors.New("--stack-log goes with --start-stack")
	}
	for name, n := range map[string]int{"--abusive-connections": l.Abuse.Connections, "--abusive-rules": l.Abuse.Rules,
		"--abusive-portfolios": l.Abuse.Portfolios, "--abusive-bodies": l.Abuse.Bodies} {
		if n < 0 || n > maxAbuse {
			return fmt.Errorf("%s must be between 0 and %d", name, maxAbuse)
		}
	}
	seen := map[string]bool{}
	for _, s := range l.Symbols {
		if err := symbol.Check(s); err != nil {
			return fmt.Errorf("--symbols: %w", err)
		}
		if seen[s] {
			return fmt.Errorf("--symbols: %s twice", s)
		}
		seen[s] = true
	}
	if o.startStack {
		return nil // the stack's own endpoints are used, and checked then
	}
	return o.endpoints.check()
}

// check refuses any endpoint that is not on a loopback address: the generator
// is for a stack on this machine, never for anyone else's.
func (e endpoints) check() error {
	for _, ep := range []struct{ flag, url, scheme string }{
		{"--api", e.API, "http"}, {"--ws", e.WS, "ws"}, {"--admin", e.Admin, "http"}, {"--kinesis", e.Kinesis, "http"},
	} {
		if err := checkLoopback(ep.url, ep.scheme); err != nil {
			return fmt.Errorf("%s: %w", ep.flag, err)
		}
	}
	if e.Stream == "" {
		return errors.New("--stream is empty")
	}
	return nil
}

// checkLoopback accepts a URL of the given scheme whose host is a loopback IP
// address (127.0.0.0/8, ::1) or "localhost" resolving only to such addresses.
func checkLoopback(raw, scheme string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != scheme {
		return fmt.Errorf("%q: want a %s:// URL", raw, scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%q: no credentials in the URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil || len(addrs) == 0 {
			return fmt.Errorf("%q: localhost does not resolve: %v", raw, err)
		}
		for _, a := range addrs {
			if !a.IP.IsLoopback() {
				return fmt.Errorf("%q: localhost resolves to %s, not a loopback address", raw, a.IP)
			}
		}
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: %s is not a loopback address (the load generator drives only a stack on this machine)", raw, host)
	}
	return nil
}

// loopbackOnly is the dialer's last word: whatever a URL, a redirect or a
// resolver says, a connection goes to a loopback address or nowhere.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadgen: refusing to connect to %s (not a loopback address)", address)
	}
	return nil
}
