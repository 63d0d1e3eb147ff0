package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// pricesMapping is the local stack's name of the prices function's Kinesis
// mapping (GET /status).
var pricesMapping = "prices<-" + topology.MarketDataStream

const (
	// connectedUsersLag is how long the prices function may take to see a new
	// connection: it reads who is connected once a second
	// (push.Options.ConnectedUsersFor).
	connectedUsersLag = 1200 * time.Millisecond
	// After the run, the generator waits for the ticks still on their way: until
	// the prices mapping has read every record put and no valuation has come
	// for drainQuiet, at most drainMax.
	drainQuiet = 2 * time.Second
	drainMax   = time.Minute
)

// generator runs scenarios against one stack.
type generator struct {
	c        *clients
	stamps   *stamper
	id       string // tells this process's users from earlier processes'
	runs     int
	progress io.Writer
}

// report is one run's figures.
type report struct {
	Label           string   `json:"label"`
	Scenario        scenario `json:"scenario"`
	DurationSeconds float64  `json:"durationSeconds"`
	Machine         machine  `json:"machine"`
	SetupSeconds    float64  `json:"setupSeconds"`
	// Offered is users × commands; Sent leaves out those a user had not sent
	// by the end because it was still waiting on earlier answers.
	Offered int `json:"offeredRequests"`
	Sent    int `json:"sentRequests"`
	// Capped counts the requests (the abusive user's included) that waited
	// for a slot under --max-in-flight: the generator's cap held them, not
	// the stack.
	Capped int64        `json:"cappedRequests"`
	Routes []routeStats `json:"routes"`
	Ticks  tickReport   `json:"ticks"`
	// Pushed counts the messages the (non-abusive) users received, by type.
	Pushed    map[string]int64            `json:"pushedToUsers"`
	Abusive   *abusiveReport              `json:"abusive,omitempty"`
	Functions map[string]functionCounters `json:"functions"`
	Mappings  map[string]mappingCounters  `json:"mappings"`
}

type tickReport struct {
	Offered   int     `json:"offered"`
	Published int     `json:"published"`
	PutErrors int     `json:"putErrors"`
	PerSecond float64 `json:"perSecond"`
	// Put is the PutRecords calls' latency.
	Put latencyStats `json:"putRecords"`
	// Push is from the start of a tick's put to the arrival of a valuation it
	// caused at a user subscribed to the portfolio, one sample per portfolio
	// and tick.
	Push latencyStats `json:"tickToWebSocket"`
	// Foreign counts valuations whose asOf is no tick of this run's (the
	// simulated feed's, or an earlier run's).
	Foreign      int     `json:"foreignValuations"`
	DrainSeconds float64 `json:"drainSeconds"`
}

type machine struct {
	Cores      int    `json:"cores"`
	LoadBefore string `json:"loadAverageBefore"`
	LoadAfter  string `json:"loadAverageAfter"`
}

// loadAverage is /proc/loadavg's 1, 5 and 15-minute figures.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// run sets up sc's users (and the abusive one), measures for sc.Duration,
// waits for the ticks in flight and reports. Every run has users of its own.
func (g *generator) run(ctx context.Context, sc scenario, label string) (report, error) {
	g.runs++
	prefix := fmt.Sprintf("load-%s-r%d", g.id, g.runs)
	rep := report{Label: label, Scenario: sc, Machine: machine{Cores: runtime.NumCPU(), LoadBefore: loadAverage()},
		Offered: sc.Users * sc.Commands}
	ttl := sc.Duration + time.Hour
	setupRec, book := newRecorder(), newTickBook()
	var pushed messageCounts
	users := make([]*user, sc.Users)
	for i := range users {
		n := len(sc.Symbols)
		users[i] = &user{name: fmt.Sprintf("%s-u%03d", prefix, i), symbols: []string{sc.Symbols[i%n], sc.Symbols[(i+1)%n]},
			rnd: rand.New(rand.NewPCG(uint64(i), 2))}
	}
	defer func() {
		conns := make([]*websocket.Conn, 0, len(users))
		for _, u := range users {
			conns = append(conns, u.conn)
		}
		closeAll(conns)
	}()
	var ab *abuser
	if sc.Abusive {
		ab = newAbuser(prefix+"-abusive", sc.Symbols)
		defer ab.close()
	}

	abusive := ""
	if ab != nil {
		abusive = " and the abusive one"
	}
	fmt.Fprintf(g.progress, "loadgen: %s: setting up %d users%s...\n", label, sc.Users, abusive)
	t0 := time.Now()
	errs := make([]error, len(users)+1)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { errs[i] = u.setUp(ctx, g.c, setupRec, ttl, &pushed, book) })
	}
	if ab != nil {
		wg.Go(func() { errs[len(users)] = ab.setUp(ctx, g.c, setupRec, ttl) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("%s: set-up: %w", label, err)
	}
	rep.SetupSeconds = time.Since(t0).Seconds()
	if retry.Sleep(ctx, connectedUsersLag) != nil {
		return rep, ctx.Err()
	}
	// The stack's counters from here on: the run's, not the set-up's.
	before, err := g.c.status(ctx)
	if err != nil {
		return rep, err
	}

	fmt.Fprintf(g.progress, "loadgen: %s: measuring for %s...\n", label, sc.Duration)
	rec, putRec := newRecorder(), newRecorder()
	start := time.Now().Add(100 * time.Millisecond)
	end := start.Add(sc.Duration)
	var skipped atomic.Int64
	var publishErr error
	cappedBefore := g.c.capped.Load()
	var publisher sync.WaitGroup
	publisher.Go(func() { publishErr = g.publish(ctx, sc, start, book, putRec) })
	for i, u := range users {
		wg.Go(func() {
			skipped.Add(int64(u.run(ctx, g.c, rec, newPacer(start, sc.Duration, sc.Commands, i, sc.Users), sc.Commands, end)))
		})
	}
	if ab != nil {
		wg.Go(func() { ab.run(ctx, g.c, sc.Abuse, start, end) })
	}
	wg.Wait()
	// Answers that came after the end are counted, over the time they took.
	elapsed := max(sc.Duration, time.Since(start))
	publisher.Wait()
	if publishErr != nil {
		return rep, publishErr
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	fmt.Fprintf(g.progress, "loadgen: %s: waiting for the ticks in flight...\n", label)
	drained := g.drain(ctx, book, before)
	after, err := g.c.status(ctx)
	if err != nil {
		return rep, err
	}

	rep.DurationSeconds = elapsed.Seconds()
	rep.Machine.LoadAfter = loadAverage()
	rep.Sent = rep.Offered - int(skipped.Load())
	rep.Capped = g.c.capped.Load() - cappedBefore
	rep.Routes = rec.stats(elapsed)
	published, putErrors, foreign, lat, _ := book.snapshot()
	rep.Ticks = tickReport{Offered: int(int64(sc.TicksPerSecond) * int64(sc.Duration) / int64(time.Second)),
		Published: published, PutErrors: putErrors, PerSecond: float64(published) / sc.Duration.Seconds(),
		Push: summarise(lat), Foreign: foreign, DrainSeconds: drained.Seconds()}
	if puts := putRec.stats(elapsed); len(puts) > 0 {
		rep.Ticks.Put = latencyStats{Count: puts[0].Count, P50: puts[0].P50, P99: puts[0].P99, Max: puts[0].Max}
	}
	rep.Pushed = pushed.snapshot()
	if ab != nil {
		rep.Abusive = ab.report(sc.Abuse, elapsed)
	}
	rep.Functions, rep.Mappings = after.since(before)
	return rep, nil
}

// warmUp runs sc's load (without the abusive user) for d and forgets the
// figures: the local runtime starts a function's instances as concurrency
// asks for them and keeps them, so the measured runs that follow do not pay
// those cold starts (a comparison would otherwise favour its second run).
func (g *generator) warmUp(ctx context.Context, sc scenario, d time.Duration) error {
	sc.Abusive = false
	sc.Commands = max(1, int(int64(sc.Commands)*int64(d)/int64(sc.Duration)))
	sc.Duration = d
	_, err := g.run(ctx, sc, "warm-up (not reported)")
	return err
}

// drain waits for the ticks still on their way and returns how long it took.
func (g *generator) drain(ctx context.Context, book *tickBook, before stackStatus) time.Duration {
	t0 := time.Now()
	_, watched := before.Mappings[pricesMapping]
	for time.Since(t0) < drainMax {
		published, _, _, _, last := book.snapshot()
		read := int64(published)
		if watched {
			st, err := g.c.status(ctx)
			if err != nil {
				break
			}
			read = st.Mappings[pricesMapping].Records - before.Mappings[pricesMapping].Records
		}
		if last.Before(t0) {
			last = t0
		}
		if read >= int64(published) && time.Since(last) >= drainQuiet {
			break
		}
		if retry.Sleep(ctx, 250*time.Millisecond) != nil {
			break
		}
	}
	return time.Since(t0)
}

// since is what the stack's counters moved by since before, for the functions
// and mappings that did anything.
func (after stackStatus) since(before stackStatus) (map[string]functionCounters, map[string]mappingCounters) {
	fns := map[string]functionCounters{}
	for name, a := range after.Functions {
		b := before.Functions[name]
		d := functionCounters{Instances: a.Instances, Invocations: a.Invocations - b.Invocations, Errors: a.Errors - b.Errors, Timeouts: a.Timeouts - b.Timeouts,
			ColdStarts: a.ColdStarts - b.ColdStarts, Throttles: a.Throttles - b.Throttles}
		if d.Invocations != 0 || d.ColdStarts != 0 {
			fns[name] = d
		}
	}
	maps := map[string]mappingCounters{}
	for name, a := range after.Mappings {
		b := before.Mappings[name]
		d := mappingCounters{Batches: a.Batches - b.Batches, Records: a.Records - b.Records, Retries: a.Retries - b.Retries,
			Failures: a.Failures - b.Failures}
		if d != (mappingCounters{}) {
			maps[name] = d
		}
	}
	return fns, maps
}
