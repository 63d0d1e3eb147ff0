package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(lat, c.p); got != c.want {
			t.Errorf("p%g of 1..100 ms = %s, want %s", c.p, got, c.want)
		}
	}
	// With ten samples the p99 is the largest, not an interpolation below it.
	ten := lat[:10]
	if got := percentile(ten, 99); got != 10*time.Millisecond {
		t.Errorf("p99 of 1..10 ms = %s, want 10ms", got)
	}
	if got := percentile([]time.Duration{7}, 50); got != 7 {
		t.Errorf("p50 of one sample = %s", got)
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %s, want 0", got)
	}
}

func TestRecorderCountsOutcomesAndSumsRoutes(t *testing.T) {
	r := newRecorder()
	for i := 1; i <= 98; i++ {
		r.add(routePositions, 200, time.Duration(i)*time.Millisecond)
	}
	r.add(routePositions, 503, 99*time.Millisecond)
	r.add(routePositions, 0, time.Hour) // no answer: counted, not timed
	r.add(routeConnect, 101, 5*time.Millisecond)
	r.add(routeConnect, 429, 2*time.Millisecond)
	stats := r.stats(10 * time.Second)
	byRoute := map[string]routeStats{}
	for _, s := range stats {
		byRoute[s.Route] = s
	}
	pos := byRoute[routePositions]
	if pos.Count != 100 || pos.OK != 98 || pos.Errors["503"] != 1 || pos.Errors[outcomeTransport] != 1 {
		t.Errorf("positions: %+v", pos)
	}
	if pos.P99 != ms(99*time.Millisecond) || pos.Max != ms(99*time.Millisecond) || pos.PerSecond != 10 {
		t.Errorf("positions: p99 %v, max %v, %v/s; want 99 ms, 99 ms, 10/s (the unanswered request is not timed)", pos.P99, pos.Max, pos.PerSecond)
	}
	if ws := byRoute[routeConnect]; ws.OK != 1 || ws.Errors["429"] != 1 {
		t.Errorf("a 101 is a WebSocket's success, a 429 its refusal: %+v", ws)
	}
	if all := stats[len(stats)-1]; all.Route != allRoutes || all.Count != 102 || all.OK != 99 {
		t.Errorf("the last row sums every route: %+v", all)
	}
}

func TestPacerSpreadsActionsEvenlyAndStaggersActors(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := time.Second
	var all []time.Duration
	for actor := range 2 {
		p := newPacer(start, span, 4, actor, 2)
		for j := range 4 {
			d := p.due(j).Sub(start)
			if d < 0 || d >= span {
				t.Errorf("actor %d action %d due at %s, outside [0, %s)", actor, j, d, span)
			}
			all = append(all, d)
		}
	}
	slices.Sort(all)
	for i, d := range all {
		if want := time.Duration(i) * 125 * time.Millisecond; d != want {
			t.Errorf("two actors × four actions over 1 s: action %d at %s, want %s (one every 125 ms)", i, d, want)
		}
	}
}

func TestTicksDue(t *testing.T) {
	for _, c := range []struct {
		elapsed     time.Duration
		rate, total int
		want        int
	}{
		{0, 10, 100, 1},                       // the first is due at the start
		{99 * time.Millisecond, 10, 100, 1},   // the second at 100 ms
		{100 * time.Millisecond, 10, 100, 2},  //
		{time.Second, 10, 100, 11},            // ticks 0..10
		{time.Hour, 10, 100, 100},             // never more than the run's
		{time.Second, 0, 100, 0},              // no ticks
		{-time.Millisecond, 10, 100, 0},       // not started
		{time.Second / 2, 3000, 10_000, 1501}, // a rate above one put per tick: the puts batch
	} {
		if got := ticksDue(c.elapsed, c.rate, c.total); got != c.want {
			t.Errorf("ticksDue(%s, %d/s, %d) = %d, want %d", c.elapsed, c.rate, c.total, got, c.want)
		}
	}
}

func TestOnlyLoopbackEndpointsAreAccepted(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:3000", "http://127.0.0.1", "http://127.1.2.3:80/x", "http://[::1]:3000"} {
		if err := checkLoopback(u, "http"); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	if addrs, err := net.LookupIP("localhost"); err == nil && !slices.ContainsFunc(addrs, func(ip net.IP) bool { return !ip.IsLoopback() }) {
		if err := checkLoopback("http://localhost:3000", "http"); err != nil {
			t.Errorf("localhost refused: %v", err)
		}
	}
	for _, u := range []string{
		"http://10.0.0.1:3000", "http://192.168.1.20:3000", "http://0.0.0.0:3000", "http://[::ffff:10.0.0.1]:3000",
		"http://example.com", "http://127.0.0.1.nip.io:3000", "http://user:secret@127.0.0.1:3000",
		"https://127.0.0.1:3000", // not the scheme the local stack serves
		"127.0.0.1:3000", "", ":",
	} {
		if err := checkLoopback(u, "http"); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	// Every endpoint flag is held to it, with the flag named.
	for flag, bad := range map[string]string{"--api": "http://10.1.1.1:3000", "--ws": "ws://10.1.1.1:3001/local",
		"--admin": "http://10.1.1.1:3002", "--kinesis": "http://10.1.1.1:4567"} {
		_, _, err := parseOptions([]string{flag, bad}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("%s %s: %v, want a refusal naming the flag", flag, bad, err)
		}
	}
	if _, _, err := parseOptions(nil, io.Discard); err != nil {
		t.Errorf("the defaults (make run's endpoints) refused: %v", err)
	}
}

// Whatever a URL or a redirect says, the dialer connects only to loopback
// addresses: the refusal comes before any packet is sent.
func TestTheDialerRefusesOtherAddresses(t *testing.T) {
	if err := loopbackOnly("tcp", "127.0.0.1:3000", nil); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
	for _, addr := range []string{"192.0.2.1:80", "[2001:db8::1]:80", "0.0.0.0:80"} {
		if err := loopbackOnly("tcp", addr, nil); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
	c := newClients(defaultOptions().endpoints, 1)
	resp, err := c.http.Get("http://192.0.2.1:9/") // TEST-NET-1: unroutable
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("the HTTP client reached a non-loopback address")
	}
	if !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("refused for another reason: %v", err)
	}
}

// The names under which requests are recorded are the API's own routes.
func TestRoutesAreTheTopologys(t *testing.T) {
	known := map[string]bool{}
	for _, r := range topology.HTTPRoutes {
		known[r.Pattern()] = true
	}
	for _, r := range apiRoutes {
		if !known[r] {
			t.Errorf("%s is not in topology.HTTPRoutes", r)
		}
	}
}

func TestTickBookMeasuresEachPortfolioAndTickOnce(t *testing.T) {
	var st stamper
	now := time.Now()
	a, b := st.next(now), st.next(now) // the same instant: still two stamps
	if !b.After(a) {
		t.Fatalf("stamps %s then %s: not increasing", a, b)
	}
	book := newTickBook()
	book.put([]time.Time{a, b}, now, 1)
	asOf := a.Format(time.RFC3339Nano)
	book.valuation("p1", asOf, now.Add(40*time.Millisecond))
	book.valuation("p1", asOf, now.Add(900*time.Millisecond)) // the same valuation again: not a delivery
	book.valuation("p2", asOf, now.Add(60*time.Millisecond))
	book.valuation("p1", now.Format(time.RFC3339Nano), now) // the simulated feed's
	published, putErrors, foreign, lat, _ := book.snapshot()
	slices.Sort(lat)
	if published != 2 || putErrors != 1 || foreign != 1 || !slices.Equal(lat, []time.Duration{40 * time.Millisecond, 60 * time.Millisecond}) {
		t.Errorf("published %d, put errors %d, foreign %d, latencies %v", published, putErrors, foreign, lat)
	}
}

func TestAbusiveBodiesAreWhatTheyClaim(t *testing.T) {
	over := oversizedBody("2026-01-02", "LDA")
	if len(over) <= httpapi.MaxBodyBytes || !json.Valid(over) {
		t.Errorf("oversized body: %d bytes (limit %d), valid JSON %v", len(over), httpapi.MaxBodyBytes, json.Valid(over))
	}
	huge := hugeDecimalBody("2026-01-02", "LDA")
	var tx struct{ Quantity string }
	if err := json.Unmarshal(huge, &tx); err != nil || len(huge) >= httpapi.MaxBodyBytes || len(tx.Quantity) != hugeDecimalDigits {
		t.Errorf("huge decimal body: %d bytes (limit %d), a quantity of %d digits, %v", len(huge), httpapi.MaxBodyBytes, len(tx.Quantity), err)
	}
}

func TestDegradationNamesWhatCrossedTheThresholds(t *testing.T) {
	slo := defaultOptions().slo
	healthy := report{Offered: 100, Sent: 100,
		Routes: []routeStats{{Route: routePositions, Count: 100, OK: 100, P99: 80}, {Route: allRoutes, Count: 100, OK: 100, P99: 80}},
		Ticks:  tickReport{Offered: 50, Published: 50, Push: latencyStats{Count: 60, P99: 300}}}
	if why := slo.degradation(healthy); len(why) != 0 {
		t.Errorf("a healthy run degraded: %v", why)
	}
	slow := healthy
	slow.Routes = []routeStats{{Route: routeRecord, Count: 100, OK: 97, Errors: map[string]int{"503": 3}, P99: 1500}}
	slow.Sent = 90
	slow.Ticks.Push.P99 = 2500
	slow.Ticks.Published = 40
	why := strings.Join(slo.degradation(slow), "; ")
	for _, want := range []string{routeRecord + " p99 1.50 s > 1s", "errors 3.0% > 1%", routeRecord + " 503 ×3",
		"users fell behind: 90 of 100", "tick → WebSocket p99 2.50 s > 1s", "ticks fell behind: 40 of 50 put"} {
		if !strings.Contains(why, want) {
			t.Errorf("degradation %q does not say %q", why, want)
		}
	}
	// A slow route with too few answers for its own p99 is judged in the sum.
	few := healthy
	few.Routes = []routeStats{{Route: routeListAlerts, Count: 50, OK: 50, P99: 1200}, {Route: allRoutes, Count: 150, OK: 150, P99: 1100}}
	if why := slo.degradation(few); len(why) != 1 || !strings.Contains(why[0], allRoutes+" p99 1.10 s > 1s (slowest: "+routeListAlerts) {
		t.Errorf("a slow route of 50 answers: %v", why)
	}
	lost := healthy
	lost.Ticks.Push = latencyStats{}
	if why := slo.degradation(lost); len(why) != 1 || !strings.Contains(why[0], "no valuation") {
		t.Errorf("ticks with no valuation: %v", why)
	}
}

func TestComparisonRatios(t *testing.T) {
	run := func(pos, all, tick millis, n int) report {
		return report{Routes: []routeStats{{Route: routePositions, P99: pos, Count: n}, {Route: allRoutes, P99: all, Count: 1000}},
			Ticks: tickReport{Push: latencyStats{P99: tick, Count: 1000}}}
	}
	c := compareRuns(run(100, 100, 200, 100), run(150, 200, 300, 120))
	want := []ratioRow{{routePositions, 100, 150, 1.5, 100, true}, {allRoutes, 100, 200, 2, 1000, true},
		{routeTickToWebSocket, 200, 300, 1.5, 1000, true}}
	if !slices.Equal(c.Rows, want) || !c.WithinTwice {
		t.Errorf("rows %+v, within 2× %v; want %+v, true", c.Rows, c.WithinTwice, want)
	}
	if c := compareRuns(run(100, 100, 200, 100), run(100, 100, 401, 100)); c.WithinTwice {
		t.Errorf("a tick p99 2.005× the baseline is within 2×: %+v", c.Rows)
	}
	// A route with fewer than a hundred answers is shown, not judged.
	c = compareRuns(run(10, 100, 200, 50), run(30, 100, 200, 50))
	if !c.WithinTwice || c.Rows[0].Judged || c.Rows[0].Ratio != 3 {
		t.Errorf("a 50-sample route at 3×: rows %+v, within 2× %v", c.Rows, c.WithinTwice)
	}
}

// However many users call at once, no more than --max-in-flight requests are
// in flight, and those held back are counted.
func TestInFlightRequestsAreCapped(t *testing.T) {
	const limit, callers = 2, 5
	var (
		mu            sync.Mutex
		inFlight, top int
	)
	arrived, release := make(chan struct{}, callers), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		top = max(top, inFlight)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	ep := defaultOptions().endpoints
	ep.API = srv.URL
	c := newClients(ep, limit)
	rec := newRecorder()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := c.call(t.Context(), rec, routeListAlerts, http.MethodGet, "/alerts", "token", nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	// The first two reach the server and the other three wait for a slot
	// (without the cap, all five would arrive).
	for guard := time.Now().Add(10 * time.Second); len(arrived) < callers; runtime.Gosched() {
		if len(arrived) >= limit && c.capped.Load() >= callers-limit {
			break
		}
		if time.Now().After(guard) {
			t.Fatalf("after 10 s: %d arrived, %d held back", len(arrived), c.capped.Load())
		}
	}
	close(release)
	wg.Wait()
	if top != limit {
		t.Errorf("%d requests in flight at once, want at most %d", top, limit)
	}
	if st := rec.stats(time.Second); len(st) != 1 || st[0].OK != callers {
		t.Errorf("stats %+v, want %d answered", st, callers)
	}
}

// A handshake the gateway refuses (a connection quota's 429) is counted under
// its route with its status, as the abusive user's reports show it.
func TestARefusedHandshakeIsCountedWithItsStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"message":"Too Many Requests"}`))
	}))
	defer srv.Close()
	ep := defaultOptions().endpoints
	ep.WS = "ws" + strings.TrimPrefix(srv.URL, "http") + "/local"
	c := newClients(ep, 4)
	rec := newRecorder()
	conn, _, err := c.subscribe(t.Context(), rec, abuseConnections, "secret-token", "p1", []string{"LDA"}, func(wsMessage, time.Time) {})
	if conn != nil || !errors.Is(err, errRefused) {
		t.Fatalf("subscribe through a refusal: %v, %v", conn, err)
	}
	if st := rec.stats(time.Second); len(st) != 1 || st[0].Route != abuseConnections || st[0].OK != 0 || st[0].Errors["429"] != 1 {
		t.Errorf("stats %+v, want one 429 under %s", st, abuseConnections)
	}
	// No answer at all: counted as a transport failure, and the error (which
	// quotes the handshake's URL) does not show the token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep.WS = "ws://" + ln.Addr().String() + "/local"
	_ = ln.Close()
	c = newClients(ep, 4)
	_, _, err = c.subscribe(t.Context(), rec, abuseConnections, "secret-token", "p1", []string{"LDA"}, func(wsMessage, time.Time) {})
	if err == nil || errors.Is(err, errRefused) || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("a closed port: %v", err)
	}
	if st := rec.stats(time.Second); st[0].Errors[outcomeTransport] != 1 {
		t.Errorf("stats %+v, want one transport failure", st)
	}
}
