package analyticsjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// recordingOutbox answers the week's firings it was given and keeps what was
// queued (readmodel.WeeklySummaries is tested on PostgreSQL).
type recordingOutbox struct {
	mu      sync.Mutex
	firings map[string][]alerts.Firing
	asked   [2]time.Time
	queued  []analyticsjob.QueuedSummary
	saved   []analyticsjob.PortfolioWeek
}

func (o *recordingOutbox) FiringsBetween(_ context.Context, users []string, from, to time.Time, limit int) (map[string][]alerts.Firing, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asked = [2]time.Time{from, to}
	out := map[string][]alerts.Firing{}
	for _, u := range users {
		out[u] = o.firings[u][:min(limit, len(o.firings[u]))]
	}
	return out, nil
}

func (o *recordingOutbox) QueueWeeklySummaries(_ context.Context, s []analyticsjob.QueuedSummary) ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queued = append(o.queued, s...)
	var users []string
	for _, q := range s {
		users = append(users, q.UserID)
	}
	return users, nil
}

// SaveWeekSummaries and WeekSummaries keep what the run stored (every
// portfolio it stores is marked done right after in these tests; the outbox on
// PostgreSQL, which reads the status, is TestWeeklySummaryOfAResumedRun's).
func (o *recordingOutbox) SaveWeekSummaries(_ context.Context, _ calendar.Date, s []analyticsjob.PortfolioWeek) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.saved = append(o.saved, s...)
	return nil
}

func (o *recordingOutbox) WeekSummaries(context.Context, calendar.Date) (map[string][]analyticsjob.PortfolioSummary, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]analyticsjob.PortfolioSummary{}
	for _, w := range o.saved {
		out[w.UserID] = append(out[w.UserID], w.Summary)
	}
	return out, nil
}

// failingMarks fails the run's nth MarkDone (counting from 1), once: a run
// that fails mid-way, after its first pages are marked done.
type failingMarks struct {
	metricsStore
	mu    sync.Mutex
	calls int
	nth   int
}

func (f *failingMarks) MarkDone(ctx context.Context, mode string, day calendar.Date, refs []analyticsjob.PortfolioRef) error {
	f.mu.Lock()
	f.calls++
	fail := f.calls == f.nth
	f.mu.Unlock()
	if fail {
		return errors.New("the database went away")
	}
	return f.metricsStore.MarkDone(ctx, mode, day, refs)
}

// A weekly run that fails after its first page, then is retried: the retry
// (which computes only the pages left) queues one summary per user with every
// portfolio of the user, whichever invocation computed it, and pushes each
// once; a rerun of the completed week queues and pushes nothing.
func TestWeeklySummaryOfAResumedRun(t *testing.T) {
	t.Parallel()
	e := newDynamoEnv(t)
	owned := map[string][]string{}
	for _, who := range []struct{ user, key string }{{userA, "a1"}, {userA, "a2"}, {userB, "b1"}} {
		id := e.create(who.user, who.key)
		e.record(id, who.user, cash(portfolio.Deposit, "2024-01-02", "10000"))
		e.record(id, who.user, trade(portfolio.Buy, "2024-01-03", "AAA", "10"))
		e.project(id)
		owned[who.user] = append(owned[who.user], id)
	}
	out := readmodel.NewWeeklySummaries(e.pool)
	n := &recordingNotifier{}
	store := &failingMarks{metricsStore: e.metrics, nth: 2}
	opts := analyticsjob.Options{Notifier: n, Outbox: out, PageSize: 1, Now: func() time.Time { return runTime },
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: io.Discard}
	j := analyticsjob.New(e.cmds, store, opts)
	run := analyticsjob.ScheduledRun{Mode: analyticsjob.ModeWeekly}
	if sum, err := j.RunScheduled(context.Background(), run); err == nil || sum.Queued != 0 || len(n.sent) != 0 {
		t.Fatalf("the run that fails after its first page: %+v %v, pushed %d", sum, err, len(n.sent))
	}
	sum, err := j.RunScheduled(context.Background(), run)
	if err != nil || sum.Computed != 2 || sum.Queued != 2 || sum.Notified != 2 {
		t.Fatalf("the retry: %+v %v; want 2 computed, 2 queued and pushed", sum, err)
	}
	rows, err := e.pool.Query(context.Background(), `select user_id::text, payload from notification_outbox
	     where source = 'weekly_summary' order by user_id`)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string][]string{}
	var user string
	var payload []byte
	if _, err := pgx.ForEachRow(rows, []any{&user, &payload}, func() error {
		var m analyticsjob.WeeklySummaryMessage
		if err := json.Unmarshal(payload, &m); err != nil {
			return err
		}
		for _, p := range m.Portfolios {
			queued[user] = append(queued[user], p.PortfolioID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for u, ids := range owned {
		slices.Sort(ids)
		if !slices.Equal(queued[u], ids) {
			t.Errorf("%s's queued summary has %v, want every portfolio %v", u, queued[u], ids)
		}
	}
	pushed := map[int]int{}
	for _, m := range n.sent {
		pushed[len(m.(analyticsjob.WeeklySummaryMessage).Portfolios)]++
	}
	if len(n.sent) != 2 || pushed[2] != 1 || pushed[1] != 1 {
		t.Errorf("pushed %d summaries (by portfolio count %v), want one per user, complete", len(n.sent), pushed)
	}
	if sum, err := j.RunScheduled(context.Background(), run); err != nil || sum.Queued != 0 || sum.Notified != 0 || len(n.sent) != 2 {
		t.Fatalf("a rerun of the completed week: %+v %v, %d pushed in all", sum, err, len(n.sent))
	}
}

// closeOnOrBefore is the test's own look-up of the seeded closes.
func closeOnOrBefore(sym string, d calendar.Date) float64 {
	for ; ; d-- {
		if px, ok := closeTable()[sym][d]; ok {
			return px.InexactFloat64()
		}
	}
}

// The weekly run's summary: per portfolio the value change over the week with
// its flows, the best and worst holdings by their week's return, the drift from
// the targets; per user the alerts of the week; pushed over the WebSocket and
// queued for e-mail with the same content.
func TestWeeklySummaryContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(userA, "weekly")
	e.record(id, userA, cash(portfolio.Deposit, "2024-01-02", "100000"))
	for _, sym := range []string{"AAA", "BBB", "CCC", "VTI"} {
		e.record(id, userA, trade(portfolio.Buy, "2024-01-03", sym, "100"))
	}
	// A deposit during the week: a flow, not performance.
	e.record(id, userA, cash(portfolio.Deposit, "2025-06-26", "1000"))
	if _, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: userA}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.SetTargets(portfolio.TargetAllocation{DriftBand: decimal.RequireFromString("0.05"), Targets: []portfolio.Target{
			{Symbol: "AAA", Weight: decimal.RequireFromString("0.5")}, {Symbol: "BBB", Weight: decimal.RequireFromString("0.5")}}}, meta)
	}); err != nil {
		t.Fatal(err)
	}
	e.project(id)
	fired := alerts.Firing{Key: "conc#1", RuleID: "conc", Kind: alerts.KindConcentration, UserID: userA, PortfolioID: id,
		Observed: decimal.RequireFromString("0.3"), Threshold: decimal.RequireFromString("0.25"), At: runTime.Add(-48 * time.Hour)}
	out := &recordingOutbox{firings: map[string][]alerts.Firing{userA: {fired}}}
	n := &recordingNotifier{}
	j := e.job(nil, analyticsjob.Options{Notifier: n, Outbox: out})
	sum, err := j.RunScheduled(context.Background(), analyticsjob.ScheduledRun{Mode: analyticsjob.ModeWeekly})
	if err != nil || sum.Notified != 1 || sum.Queued != 1 {
		t.Fatalf("weekly %+v %v", sum, err)
	}
	msg := n.sent[0].(analyticsjob.WeeklySummaryMessage)
	day := j.Today()
	if msg.Day != day.String() || msg.From != (day-7).String() || len(msg.Portfolios) != 1 {
		t.Fatalf("summary %+v", msg)
	}
	if want := runTime; !out.asked[1].Equal(want) || out.asked[1].Sub(out.asked[0]) < 7*24*time.Hour {
		t.Errorf("the week's alerts asked for %v, want a week to %v", out.asked, want)
	}
	if len(msg.Alerts) != 1 || msg.Alerts[0].RuleID != "conc" || msg.Alerts[0].PortfolioID != id || !msg.Alerts[0].Observed.Equal(fired.Observed) {
		t.Errorf("alerts %+v", msg.Alerts)
	}
	p := msg.Portfolios[0]
	if p.Name != "weekly" || p.BaseCurrency != "USD" || !p.WeekReturn.OK {
		t.Errorf("portfolio %+v", p)
	}
	// Value: start + flows + what the market did = end.
	start, change, flows := decimal.RequireFromString(p.ValueAtStart), decimal.RequireFromString(p.ValueChange), decimal.RequireFromString(p.NetFlows)
	if !flows.Equal(decimal.NewFromInt(1000)) || start.Sign() <= 0 || !start.Add(change).Equal(decimal.RequireFromString(p.MarketValue)) {
		t.Errorf("value %s → %s (change %s, flows %s)", p.ValueAtStart, p.MarketValue, p.ValueChange, p.NetFlows)
	}
	// Movers: the best and the worst of the four, each the close's week return.
	returns := map[string]float64{}
	for _, sym := range []string{"AAA", "BBB", "CCC", "VTI"} {
		returns[sym] = closeOnOrBefore(sym, day)/closeOnOrBefore(sym, day-7) - 1
	}
	if p.Best == nil || p.Worst == nil || p.Best.Symbol == p.Worst.Symbol {
		t.Fatalf("best %+v worst %+v", p.Best, p.Worst)
	}
	for sym, r := range returns {
		if r > returns[p.Best.Symbol] || r < returns[p.Worst.Symbol] {
			t.Errorf("%s returned %v: best %s (%v), worst %s (%v)", sym, r, p.Best.Symbol, returns[p.Best.Symbol], p.Worst.Symbol, returns[p.Worst.Symbol])
		}
	}
	for _, h := range []*analyticsjob.HoldingWeek{p.Best, p.Worst} {
		if v, ok := h.WeekReturn.Get(); !ok || math.Abs(v-returns[h.Symbol]) > 1e-9 || decimal.RequireFromString(h.Weight).Sign() <= 0 {
			t.Errorf("%s: %+v, want return %v", h.Symbol, h, returns[h.Symbol])
		}
	}
	// Drift: AAA and BBB targets at 50% each, held at about a quarter each.
	if len(p.Drift) != 2 || p.DriftBand != "0.05" {
		t.Fatalf("drift %+v band %s", p.Drift, p.DriftBand)
	}
	for _, d := range p.Drift {
		if drift := decimal.RequireFromString(d.Drift); !d.OutsideBand || drift.GreaterThan(decimal.RequireFromString("-0.1")) {
			t.Errorf("drift %+v", d)
		}
	}
	// The outbox has the pushed message, for the e-mail.
	var queued analyticsjob.WeeklySummaryMessage
	if len(out.queued) != 1 || out.queued[0].UserID != userA || out.queued[0].Day != day || json.Unmarshal(out.queued[0].Payload, &queued) != nil {
		t.Fatalf("queued %+v", out.queued)
	}
	if b, _ := json.Marshal(msg); string(b) != string(out.queued[0].Payload) {
		t.Errorf("queued payload differs from the pushed message:\n%s\n%s", out.queued[0].Payload, b)
	}
}
