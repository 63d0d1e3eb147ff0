package analyticsjob_test

import (
	"context"
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

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

func (o *recordingOutbox) QueueWeeklySummaries(_ context.Context, s []analyticsjob.QueuedSummary) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queued = append(o.queued, s...)
	return nil
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
