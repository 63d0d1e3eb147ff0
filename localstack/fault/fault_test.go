package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/esm"
	"github.com/portfoliotracker/tracker/localstack/runtime"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
)

// warmup is how long the load runs before a fault: batches are flowing, every
// consumer has a warm instance.
const warmup = 1500 * time.Millisecond

// scenario is one fault and what it did.
type scenario struct {
	index  int
	tag    string // names the scenario's users and symbols
	title  string
	inject func(ctx context.Context, h *harness, sc *scenario, l *load) (string, error)

	symbols                []string
	users                  []*user
	poisonAggs, poisonSeqs []string
	// poisonOn are the mappings whose on-failure destination must receive each
	// poison record.
	poisonOn []string
	faultEnd time.Time
	// failuresBefore counts each mapping's failure records before the scenario;
	// discarded caches what the later ones cover, by request ID.
	failuresBefore map[string]int
	discarded      map[string][]discarded

	res result
}

func (s *scenario) portfolios() []string {
	out := make([]string, len(s.users))
	for i, u := range s.users {
		out[i] = u.portfolio
	}
	return out
}

// userIDs are the scenario's users: their alert rules and firings are the
// scenario's (the stored rule IDs are the API's scoped to the user).
func (s *scenario) userIDs() []string {
	out := make([]string, len(s.users))
	for i, u := range s.users {
		out[i] = u.id
	}
	return out
}

// result is what RELIABILITY.md reports of a scenario.
type result struct {
	ran                      bool
	injected                 string
	commands, ticks, retried int64
	events                   int64 // the scenario's events in the store
	converged                bool
	took                     time.Duration
	lag                      lag
	lostProjector            int64 // event versions the projections never applied
	lostAnalytics            int64 // event versions the analytics never reached
	appliedTwice             int   // projection rows off the replay where the checkpoint is complete
	ticksLost                int   // latest prices and closes behind the replay, firings missing
	firingsTwice             int   // firings recorded beyond the replay's
	rowsOff                  int   // rows differing from the replay, every table
	diffs                    []diff
	poison, other            []discarded // what the on-failure destinations received
	missingPoison            []string
	projectionFailures       []string
	retriesByMapping         map[string]int64
	// stillDelivering counts each mapping's invocations between the end of the
	// convergence wait and the reading of the destinations: when it is not empty,
	// the destinations' counts are a lower bound.
	stillDelivering map[string]int64
	// functionErrors counts each consumer's invocations that ended in an error
	// (a killed one ends in Runtime.ExitError) and coldStarts its new instances.
	functionErrors, coldStarts map[string]int64
	problems                   []string
}

func (r *result) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func scenarios() []*scenario {
	kill := func(fn string) func(context.Context, *harness, *scenario, *load) (string, error) {
		return func(ctx context.Context, h *harness, sc *scenario, l *load) (string, error) {
			const times, apart = 3, 400 * time.Millisecond
			late := 0
			errorsBefore := h.st.Runtime().Stats(fn).Errors
			for i := range times {
				if i > 0 {
					time.Sleep(apart)
				}
				n, err := h.killMidBatch(ctx, fn)
				late += n
				if err != nil {
					return "", err
				}
				sc.faultEnd = time.Now()
			}
			killed := h.st.Runtime().Stats(fn).Errors - errorsBefore
			return fmt.Sprintf("SIGKILL of every %s process holding a batch it had not answered (runtime.KillBusy, polled "+
				"every ms), %d times %.1f s apart: %d invocations ended mid-batch in Runtime.ExitError (%d more kills came "+
				"just after a batch's answer and are not counted)", fn, times, apart.Seconds(), killed, late), nil
		}
	}
	outage := func(k emulator.Kind, name string, d time.Duration) func(context.Context, *harness, *scenario, *load) (string, error) {
		return func(ctx context.Context, h *harness, sc *scenario, l *load) (string, error) {
			down, err := h.outage(ctx, k, d)
			sc.faultEnd = time.Now()
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s stopped (its graceful stop signal) and started again on the same port with its data %.1f s later, "+
				"commands and ticks flowing throughout", name, down.Seconds()), nil
		}
	}
	return []*scenario{
		{tag: "kill-projector", title: "projector killed mid-batch", inject: kill("projector")},
		{tag: "kill-analytics", title: "analytics killed mid-batch", inject: kill("analytics")},
		{tag: "kill-prices", title: "prices killed mid-batch", inject: kill("prices")},
		{tag: "poison-events", title: "poison record on the events stream",
			inject: func(ctx context.Context, h *harness, sc *scenario, l *load) (string, error) {
				id, err := h.poisonEvent(ctx, sc)
				sc.faultEnd = time.Now()
				if err != nil {
					return "", err
				}
				sc.poisonAggs, sc.poisonOn = []string{id}, []string{mappingProjector, mappingAnalytics}
				// Live records follow it in its batches.
				time.Sleep(time.Second)
				return fmt.Sprintf("an events-table item (aggregate %s, version 1) whose data attribute is a map where the store "+
					"keeps JSON text, written with PutItem among live commands", id), nil
			}},
		{tag: "poison-ticks", title: "poison record on the market-data stream",
			inject: func(ctx context.Context, h *harness, sc *scenario, l *load) (string, error) {
				seq, err := h.poisonTick(ctx, l)
				sc.faultEnd = time.Now()
				if err != nil {
					return "", err
				}
				sc.poisonSeqs, sc.poisonOn = []string{seq}, []string{mappingPrices}
				time.Sleep(time.Second)
				return fmt.Sprintf("a Kinesis record that is not a MarketDataUpdated event (sequence number %s), keyed like a live "+
					"symbol and followed at once by its next tick, so it shares a shard and a batch with live ticks", seq), nil
			}},
		{tag: "dynamodb-down", title: "DynamoDB Local down for 10 s",
			inject: outage(emulator.DynamoDB, "DynamoDB Local", 10*time.Second)},
		{tag: "postgres-down", title: "PostgreSQL down for 30 s",
			inject: outage(emulator.Postgres, "PostgreSQL", 30*time.Second)},
	}
}

// TestFaultInjection runs every scenario on one local stack, one after the
// other (each with users and symbols of its own), and prints what RELIABILITY.md
// reports.
func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole local stack and runs about two minutes of faults")
	}
	h := startHarness(t)
	all := scenarios()
	for i, sc := range all {
		sc.index = i
		for j := range symbolsPerScen {
			sc.symbols = append(sc.symbols, fmt.Sprintf("F%c%c", 'A'+i, 'A'+j))
		}
		t.Run(sc.tag, func(t *testing.T) { h.run(t, sc) })
	}
	report(all)
}

// run injects one scenario's fault under load, waits for convergence, compares
// with the replay and checks the failure destinations.
func (h *harness) run(t *testing.T, sc *scenario) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	r := &sc.res
	r.ran = true
	before, err := h.failures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc.failuresBefore = map[string]int{}
	for mapping, fs := range before {
		sc.failuresBefore[mapping] = len(fs)
	}
	statsBefore, err := h.mappingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fnBefore := map[string]runtime.Stats{}
	for _, fn := range consumers {
		fnBefore[fn] = h.st.Runtime().Stats(fn)
	}
	if err := h.prepare(ctx, sc); err != nil {
		t.Fatal(err)
	}
	l := h.startLoad(ctx, sc)
	time.Sleep(warmup)
	injected, err := sc.inject(ctx, h, sc, l)
	if sc.faultEnd.IsZero() {
		sc.faultEnd = time.Now()
	}
	l.stopLoad()
	r.injected = injected
	if err != nil {
		r.problem("injection: %v", err)
	}
	r.commands, r.ticks, r.retried = l.commandsAtStop, l.ticksAtStop, l.retried.Load()
	for _, err := range l.errs {
		r.problem("load: %v", err)
	}
	r.took, r.lag, r.converged = h.converge(ctx, sc, l)
	if !r.converged {
		r.problem("did not converge within %.0f s of the fault's end: %s", r.took.Seconds(), r.lag)
	}
	statsAtConvergence, err := h.mappingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// What a full replay produces, row by row.
	replay, drop, err := h.replayDB(ctx, strings.ReplaceAll("replay_"+sc.tag, "-", "_"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	if err := h.replay(ctx, sc, replay); err != nil {
		t.Fatal(err)
	}
	store, projected, analyzed, err := h.versions(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	for id, v := range store {
		r.events += v
		r.lostProjector += max(0, v-projected[id])
		r.lostAnalytics += max(0, v-analyzed[id])
	}
	if r.diffs, err = h.compare(ctx, sc, replay); err != nil {
		t.Fatal(err)
	}
	r.ticksLost = r.lag.ticks
	for _, d := range r.diffs {
		r.rowsOff += d.rows()
		switch d.table {
		case "latest_prices", "daily_closes":
			r.ticksLost += len(d.missing) + len(d.differ)
		case "alert_history":
			r.ticksLost += len(d.missing)
			r.firingsTwice += len(d.extra)
		}
		for p, n := range d.projectorRowsOfAggregate {
			if projected[p] == store[p] {
				r.appliedTwice += n
			}
		}
		if d.replayRows == 0 && d.table != "portfolio_rebalancing" {
			// The load writes to every compared table; an empty one would make
			// its comparison prove nothing.
			r.problem("%s: the replay holds no row of the scenario, so its comparison proves nothing", d.table)
		}
		if d.rows() > 0 {
			r.problem("%s: %d rows off the replay (%d missing, %d extra, %d differing), e.g. %s", d.table, d.rows(),
				len(d.missing), len(d.extra), len(d.differ), strings.Join(d.examples, " | "))
		}
	}
	if r.lostProjector > 0 || r.lostAnalytics > 0 {
		r.problem("events lost: %d by the projections, %d by the analytics", r.lostProjector, r.lostAnalytics)
	}

	// The on-failure destinations: the poison, all of it, and nothing else.
	discarded, err := h.discardedSince(ctx, sc)
	if err != nil {
		r.problem("on-failure destinations: %v", err)
	}
	for _, d := range discarded {
		if d.poison {
			r.poison = append(r.poison, d)
		} else {
			r.other = append(r.other, d)
		}
	}
	r.missingPoison = missingPoison(sc, discarded)
	if len(r.other) > 0 {
		labels := make([]string, 0, len(r.other))
		for _, d := range r.other[:min(len(r.other), 8)] {
			labels = append(labels, d.mapping+": "+d.label)
		}
		r.problem("the on-failure destinations received %d records that are not poison, e.g. %s", len(r.other), strings.Join(labels, ", "))
	}
	if len(r.missingPoison) > 0 {
		r.problem("poison records missing from the on-failure destination: %s", strings.Join(r.missingPoison, ", "))
	}
	if r.projectionFailures, err = h.projectionFailures(ctx, sc); err != nil {
		t.Fatal(err)
	}
	statsAfter, err := h.mappingStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.retriesByMapping, r.stillDelivering = map[string]int64{}, map[string]int64{}
	for name, st := range statsAfter {
		if d := st.Retries - statsBefore[name].Retries; d > 0 {
			r.retriesByMapping[name] = d
		}
		// The load had stopped: invocations since are a backlog or retries.
		if d := st.Invocations - statsAtConvergence[name].Invocations; d > 0 {
			r.stillDelivering[name] = d
		}
	}
	r.functionErrors, r.coldStarts = map[string]int64{}, map[string]int64{}
	for _, fn := range consumers {
		st := h.st.Runtime().Stats(fn)
		if d := st.Errors - fnBefore[fn].Errors; d > 0 {
			r.functionErrors[fn] = d
		}
		if d := st.ColdStarts - fnBefore[fn].ColdStarts; d > 0 {
			r.coldStarts[fn] = d
		}
	}

	t.Log(r.summary(sc))
	if len(r.problems) > 0 {
		t.Errorf("%s:\n  %s", sc.title, strings.Join(r.problems, "\n  "))
	}
}

// projectionFailures lists what the live projector recorded as failed for the
// scenario's aggregates and poison.
func (h *harness) projectionFailures(ctx context.Context, sc *scenario) ([]string, error) {
	rows, err := h.live.Query(ctx, `select aggregate_id, version, attempts, reason from projection_failures
		where aggregate_id = any($1) order by 1, 2`, append(sc.portfolios(), sc.poisonAggs...))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, reason string
		var v int64
		var attempts int
		if err := rows.Scan(&id, &v, &attempts, &reason); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s v%d (%d attempts): %s", id, v, attempts, truncate(reason)))
	}
	return out, rows.Err()
}

// mappingStats reads the stream mappings' counters from the admin endpoint.
func (h *harness) mappingStats(ctx context.Context) (map[string]esm.Stats, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", h.st.URLs.Admin+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var status struct {
		Mappings map[string]esm.Stats `json:"mappings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil {
		return nil, fmt.Errorf("GET /status: %w", err)
	}
	return status.Mappings, nil
}

func (r *result) summary(sc *scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  injected: %s\n", sc.title, r.injected)
	fmt.Fprintf(&b, "  load: %d commands (%d retried answers), %d ticks; %d events in the store\n", r.commands, r.retried, r.ticks, r.events)
	if r.converged {
		fmt.Fprintf(&b, "  converged %.2f s after the fault ended\n", r.took.Seconds())
	} else {
		fmt.Fprintf(&b, "  NOT converged %.0f s after the fault ended: %s\n", r.took.Seconds(), r.lag)
	}
	fmt.Fprintf(&b, "  events lost: %d (projections) + %d (analytics); applied twice: %d; ticks lost: %d; firings twice: %d; rows off the replay: %d\n",
		r.lostProjector, r.lostAnalytics, r.appliedTwice, r.ticksLost, r.firingsTwice, r.rowsOff)
	fmt.Fprintf(&b, "  on-failure destinations: %d poison records, %d others\n", len(r.poison), len(r.other))
	if len(r.stillDelivering) > 0 {
		fmt.Fprintf(&b, "  mappings still delivering after the wait (invocations): %v; the destinations' counts are a lower bound\n", r.stillDelivering)
	}
	if len(r.other) > 0 {
		fmt.Fprintf(&b, "  not poison, by mapping: %v\n", countBy(r.other))
	}
	fmt.Fprintf(&b, "  consumers: invocations ended in an error %v, instances started %v; batch retries by the mappings %v\n",
		r.functionErrors, r.coldStarts, r.retriesByMapping)
	if n := len(r.projectionFailures); n > 0 {
		fmt.Fprintf(&b, "  projection_failures: %d rows, e.g. %s\n", n, strings.Join(r.projectionFailures[:min(n, 3)], " | "))
	}
	return b.String()
}

func countBy(ds []discarded) map[string]int {
	out := map[string]int{}
	for _, d := range ds {
		out[d.mapping]++
	}
	return out
}

// report prints the table RELIABILITY.md copies.
func report(all []*scenario) {
	fmt.Println()
	fmt.Println("| Scenario | Converged in | Events lost | Applied twice | Ticks lost | Firings twice | Rows ≠ replay | Failure destination | Load |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, sc := range all {
		r := sc.res
		if !r.ran {
			continue
		}
		conv := fmt.Sprintf("%.2f s", r.took.Seconds())
		if !r.converged {
			conv = fmt.Sprintf("not in %.0f s", r.took.Seconds())
		}
		dest := fmt.Sprintf("%d poison, %d other", len(r.poison), len(r.other))
		if len(r.other) > 0 {
			dest += fmt.Sprintf(" %v", countBy(r.other))
		}
		if len(r.stillDelivering) > 0 {
			dest += " (still growing)"
		}
		fmt.Printf("| %s | %s | %d | %d | %d | %d | %d | %s | %d commands, %d ticks, %d events |\n", sc.title, conv,
			r.lostProjector+r.lostAnalytics, r.appliedTwice, r.ticksLost, r.firingsTwice, r.rowsOff, dest, r.commands, r.ticks, r.events)
	}
	fmt.Println()
}
