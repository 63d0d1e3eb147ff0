package analyticsjob

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// The weekly summary: what the weekly run tells each user of the week, pushed
// over the WebSocket and queued in the notifier's outbox, which sends it by
// e-mail as a designed template (docs/architecture.md §11, "The user service").

// WeeklyOutbox is where the weekly summary is kept and queued: each
// portfolio's summary of the week, stored with the run's figures, and the
// notifier's outbox and the alert history (readmodel.WeeklySummaries).
type WeeklyOutbox interface {
	// SaveWeekSummaries stores the portfolios' summaries of the week ending on
	// day (the run does so before it marks them done, so that the invocation
	// completing the week finds every portfolio's, whichever computed it).
	SaveWeekSummaries(ctx context.Context, day calendar.Date, summaries []PortfolioWeek) error
	// WeekSummaries returns, by user, the stored summaries of the week ending
	// on day of the portfolios marked done for that day.
	WeekSummaries(ctx context.Context, day calendar.Date) (map[string][]PortfolioSummary, error)
	// FiringsBetween returns the users' firings in (from, to], newest first, at
	// most limit a user.
	FiringsBetween(ctx context.Context, userIDs []string, from, to time.Time, limit int) (map[string][]alerts.Firing, error)
	// QueueWeeklySummaries adds each summary to the outbox (source
	// 'weekly_summary', key 'weekly_summary:<user>:<day>') and returns the users
	// whose summary it added; one already queued is left as it is, so a rerun of
	// the week queues nothing twice.
	QueueWeeklySummaries(ctx context.Context, summaries []QueuedSummary) (queued []string, err error)
}

// PortfolioWeek is one portfolio's summary of the week and its owner.
type PortfolioWeek struct {
	UserID  string
	Summary PortfolioSummary
}

// QueuedSummary is one user's summary for the outbox: Payload is the
// WeeklySummaryMessage's JSON.
type QueuedSummary struct {
	UserID  string
	Day     calendar.Date
	Payload json.RawMessage
}

// Bounds of one summary.
const (
	// MaxWeekAlerts bounds the alerts listed (AlertCount counts them all up to it).
	MaxWeekAlerts = 50
)

// WeeklySummaryMessage is one user's week: pushed as
// {type:"weekly_summary", day, from, portfolios, alerts} and queued as the
// outbox entry's payload.
type WeeklySummaryMessage struct {
	Type       string             `json:"type"` // "weekly_summary"
	Day        string             `json:"day"`  // the week's last day
	From       string             `json:"from"` // the day before the week's first (the week is (from, day])
	Portfolios []PortfolioSummary `json:"portfolios"`
	// Alerts are the user's firings of the week, newest first (at most
	// MaxWeekAlerts).
	Alerts []WeekAlert `json:"alerts"`
}

// PortfolioSummary is one portfolio's week. Amounts are decimal strings in the
// portfolio's base currency; returns and weights are fractions.
type PortfolioSummary struct {
	PortfolioID  string `json:"portfolioId"`
	Name         string `json:"name"`
	BaseCurrency string `json:"baseCurrency"`
	MarketValue  string `json:"marketValue"`
	// ValueAtStart is the value at the end of From (0 for a portfolio younger
	// than the week); ValueChange is MarketValue's change since, NetFlows the
	// money put in less taken out during the week (deposits and withdrawals, or
	// trades when the history keeps no cash), so ValueChange − NetFlows is what
	// the market did.
	ValueAtStart string `json:"valueAtStart"`
	ValueChange  string `json:"valueChange"`
	NetFlows     string `json:"netFlows"`
	// WeekReturn is the TWR over the week (flows taken out).
	WeekReturn  analytics.Metric `json:"weekReturn"`
	TWR         analytics.Metric `json:"twr"`
	Volatility  analytics.Metric `json:"volatility"`
	MaxDrawdown analytics.Metric `json:"maxDrawdown"`
	Sharpe      analytics.Metric `json:"sharpe"`
	// Best and Worst are the holdings with the highest and lowest week return
	// (null when none; Worst null too with one holding).
	Best  *HoldingWeek `json:"best"`
	Worst *HoldingWeek `json:"worst"`
	// Drift compares each target's weight with the holding's, largest drift
	// first; empty without targets.
	Drift     []TargetDrift `json:"drift"`
	DriftBand string        `json:"driftBand,omitempty"`
}

// HoldingWeek is a holding's week: its price return in the base currency and
// its weight in the portfolio now.
type HoldingWeek struct {
	Symbol     string           `json:"symbol"`
	WeekReturn analytics.Metric `json:"weekReturn"`
	Weight     string           `json:"weight"`
}

// TargetDrift is one target against the holding.
type TargetDrift struct {
	Symbol string `json:"symbol"`
	Target string `json:"target"`
	Actual string `json:"actual"`
	Drift  string `json:"drift"` // Actual − Target
	// OutsideBand: |Drift| exceeds the allocation's band (rebalancing suggested).
	OutsideBand bool `json:"outsideBand"`
}

// WeekAlert is one firing of the week.
type WeekAlert struct {
	FiringKey   string          `json:"firingKey"`
	RuleID      string          `json:"ruleId"`
	Kind        string          `json:"kind"`
	Symbol      string          `json:"symbol,omitempty"`
	PortfolioID string          `json:"portfolioId,omitempty"`
	Observed    decimal.Decimal `json:"observed"`
	Threshold   decimal.Decimal `json:"threshold"`
	FiredAt     time.Time       `json:"firedAt"`
}

// summarize is a's week ending on day.
func summarize(a *Analysis, day calendar.Date) PortfolioSummary {
	r := &a.Result
	s := PortfolioSummary{PortfolioID: r.Portfolio.ID, Name: a.Name, BaseCurrency: a.BaseCurrency, MarketValue: r.MarketValue.String(),
		TWR: r.Report.TWR.Period, Volatility: r.Report.Volatility.Annualized, MaxDrawdown: r.Report.MaxDrawdown.Value, Sharpe: r.Report.Sharpe,
		Drift: []TargetDrift{}}
	s.WeekReturn = analytics.Compute(r.Series, analytics.Options{Range: &analytics.DateRange{From: day - 6, To: day}, CorrelationTop: -1}).TWR.Period
	start, flows := weekFlows(r.Series, day)
	s.ValueAtStart, s.NetFlows = amount(start), amount(flows)
	s.ValueChange = r.MarketValue.Sub(decimal.RequireFromString(s.ValueAtStart)).String()
	s.Best, s.Worst = movers(a)
	s.Drift, s.DriftBand = drift(a)
	return s
}

// weekFlows is the series' value at the end of day−7 (0 before the series) and
// the net flows of the days after it, up to day.
func weekFlows(s *performance.Series, day calendar.Date) (start, flows float64) {
	if s == nil {
		return 0, 0
	}
	from := day - 7
	if len(s.Days) > 0 && s.Days[0] <= from {
		start = s.Start
	}
	for i, d := range s.Days {
		switch {
		case d <= from:
			start = s.Value[i]
		case d <= day:
			flows += s.Inflow[i] - s.Outflow[i]
		}
	}
	return start, flows
}

// amount is a series value as money: cents, as the history route rounds its
// float noise away.
func amount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return decimal.NewFromFloat(v).Round(2).String()
}

// movers are the holdings with the best and the worst week return (ties by
// symbol).
func movers(a *Analysis) (best, worst *HoldingWeek) {
	syms := make([]string, 0, len(a.WeekReturns))
	for sym := range a.WeekReturns {
		syms = append(syms, sym)
	}
	if len(syms) == 0 {
		return nil, nil
	}
	slices.SortFunc(syms, func(x, y string) int {
		return cmp.Or(cmp.Compare(a.WeekReturns[y], a.WeekReturns[x]), cmp.Compare(x, y))
	})
	hold := func(sym string) *HoldingWeek {
		return &HoldingWeek{Symbol: sym, WeekReturn: analytics.Metric{Value: a.WeekReturns[sym], OK: true}, Weight: a.Weights[sym].String()}
	}
	best = hold(syms[0])
	if len(syms) > 1 {
		worst = hold(syms[len(syms)-1])
	}
	return best, worst
}

// drift compares the targets with the weights, largest |drift| first.
func drift(a *Analysis) ([]TargetDrift, string) {
	out := []TargetDrift{}
	if a.Targets == nil {
		return out, ""
	}
	band := a.Targets.DriftBand
	for _, t := range a.Targets.Targets {
		actual := a.Weights[t.Symbol]
		d := actual.Sub(t.Weight)
		out = append(out, TargetDrift{Symbol: t.Symbol, Target: t.Weight.String(), Actual: actual.String(), Drift: d.String(),
			OutsideBand: d.Abs().GreaterThan(band)})
	}
	slices.SortStableFunc(out, func(x, y TargetDrift) int {
		return cmp.Or(decimal.RequireFromString(y.Drift).Abs().Cmp(decimal.RequireFromString(x.Drift).Abs()), cmp.Compare(x.Symbol, y.Symbol))
	})
	return out, band.String()
}

// weekReturn is sym's price return over the seven days to asOf in base: the
// closes on or before asOf−7 and asOf, each at its day's rate.
func weekReturn(m Market, sym, quote, base string, asOf calendar.Date) (float64, bool) {
	days := []calendar.Date{asOf - 7, asOf}
	closes := make([]float64, 2)
	for i, d := range days {
		px, _, ok := m.Closes.OnFloat(sym, d)
		if !ok || px <= 0 {
			return 0, false
		}
		closes[i] = px
	}
	closes = convertDaily(closes, quote, base, m.Rates, days)
	r := closes[1]/closes[0] - 1
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, false
	}
	return r, true
}

// weeklySummaries sends each user the summary of the week, once the run has
// been through every page: each user's portfolios as stored for the day (by
// this invocation or one it resumed), with the week's alerts, queued in the
// notifier's outbox (which sends it by e-mail to those who want it) and pushed
// over the WebSocket to the users whose summary this call queued, so a retry
// of a completed week neither queues nor pushes twice. Without an outbox, the
// summaries this invocation computed are pushed. It returns how many users the
// push reached without error; an error reading or queueing the summaries fails
// the run, whose retry (no page left) queues them. A failed push is logged, not
// retried: the summary is informational, the figures are stored, and the
// outbox has it.
func (j *Job) weeklySummaries(ctx context.Context, r *scheduled) (int, error) {
	if j.opts.Notifier == nil && j.opts.Outbox == nil {
		return 0, nil
	}
	byUser := r.weekly
	if j.opts.Outbox != nil {
		stored, err := j.opts.Outbox.WeekSummaries(ctx, r.day)
		if err != nil {
			return 0, fmt.Errorf("analytics: the week's summaries: %w", err)
		}
		byUser = stored
	}
	if len(byUser) == 0 {
		return 0, nil
	}
	users := make([]string, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	slices.Sort(users)
	msgs := j.weekMessages(ctx, r, byUser, users)
	if j.opts.Outbox != nil {
		queued, err := j.queueSummaries(ctx, r, users, msgs)
		if err != nil {
			return 0, err
		}
		users, msgs = onlyQueued(users, msgs, queued)
	}
	if j.opts.Notifier == nil {
		return 0, nil
	}
	ok := make([]bool, len(users))
	j.parallel(len(users), func(i int) {
		if err := j.opts.Notifier.Notify(ctx, []string{users[i]}, msgs[i]); err != nil {
			j.logger(ctx).WarnContext(ctx, "weekly summary not delivered", "userId", users[i], "error", err.Error())
			return
		}
		ok[i] = true
	})
	n := 0
	for _, b := range ok {
		if b {
			n++
		}
	}
	return n, nil
}

// weekMessages builds each user's message; the week's alerts come from the
// alert history, (the week's first close, now].
func (j *Job) weekMessages(ctx context.Context, r *scheduled, byUser map[string][]PortfolioSummary, users []string) []WeeklySummaryMessage {
	var fired map[string][]alerts.Firing
	if j.opts.Outbox != nil {
		var err error
		fired, err = j.opts.Outbox.FiringsBetween(ctx, users, r.closeAt.Add(-7*24*time.Hour), j.opts.Now(), MaxWeekAlerts)
		if err != nil {
			// The summary goes out without them rather than not at all.
			r.log.ErrorContext(ctx, "the week's alerts could not be read", "error", err.Error())
		}
	}
	msgs := make([]WeeklySummaryMessage, len(users))
	for i, u := range users {
		ps := byPortfolio(byUser[u])
		m := WeeklySummaryMessage{Type: "weekly_summary", Day: r.day.String(), From: (r.day - 7).String(), Portfolios: ps, Alerts: []WeekAlert{}}
		for _, f := range fired[u] {
			m.Alerts = append(m.Alerts, WeekAlert{FiringKey: f.Key, RuleID: f.RuleID, Kind: string(f.Kind), Symbol: f.Symbol,
				PortfolioID: f.PortfolioID, Observed: f.Observed, Threshold: f.Threshold, FiredAt: f.At.UTC()})
		}
		msgs[i] = m
	}
	return msgs
}

func byPortfolio(ps []PortfolioSummary) []PortfolioSummary {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(x, y PortfolioSummary) int { return cmp.Compare(x.PortfolioID, y.PortfolioID) })
	return out
}

// queueSummaries writes the messages to the outbox and returns the users whose
// summary it added. A failure fails the run: its retry finds every page done
// and queues the week's summaries from what is stored.
func (j *Job) queueSummaries(ctx context.Context, r *scheduled, users []string, msgs []WeeklySummaryMessage) ([]string, error) {
	qs := make([]QueuedSummary, 0, len(users))
	for i, u := range users {
		b, err := json.Marshal(msgs[i])
		if err != nil {
			r.log.ErrorContext(ctx, "weekly summary not encoded", "userId", u, "error", err.Error())
			continue
		}
		qs = append(qs, QueuedSummary{UserID: u, Day: r.day, Payload: b})
	}
	queued, err := j.opts.Outbox.QueueWeeklySummaries(ctx, qs)
	if err != nil {
		return nil, fmt.Errorf("analytics: queue %d weekly summaries for e-mail: %w", len(qs), err)
	}
	r.sum.Queued = len(queued)
	return queued, nil
}

// onlyQueued keeps the users (sorted) in queued and their messages.
func onlyQueued(users []string, msgs []WeeklySummaryMessage, queued []string) ([]string, []WeeklySummaryMessage) {
	var us []string
	var ms []WeeklySummaryMessage
	for i, u := range users {
		if slices.Contains(queued, u) {
			us, ms = append(us, u), append(ms, msgs[i])
		}
	}
	return us, ms
}

// saveWeek stores the page's summaries (before the page is marked done) and
// keeps them for this invocation's push when there is no outbox.
func (j *Job) saveWeek(ctx context.Context, r *scheduled, computed []*Analysis) error {
	weeks := make([]PortfolioWeek, 0, len(computed))
	for _, a := range computed {
		weeks = append(weeks, PortfolioWeek{UserID: a.Result.Portfolio.UserID, Summary: summarize(a, r.day)})
	}
	if j.opts.Outbox != nil && len(weeks) > 0 {
		if err := j.opts.Outbox.SaveWeekSummaries(ctx, r.day, weeks); err != nil {
			return fmt.Errorf("analytics: store the week's summaries: %w", err)
		}
	}
	for _, w := range weeks {
		r.weekly[w.UserID] = append(r.weekly[w.UserID], w.Summary)
	}
	return nil
}
