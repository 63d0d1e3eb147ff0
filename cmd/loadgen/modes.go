package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// minSentShare is the share of the offered requests (and ticks) a run must
// send for its load to count as kept up with: below it the users or the
// publisher fell behind their schedule.
const minSentShare = 0.95

// minJudged is the fewest answers on a route for its own p99 to be judged:
// below a hundred the p99 is the single slowest answer. The sum of all routes
// is judged whatever the counts.
const minJudged = 100

// degradation says why a run's figures cross the thresholds; none means it
// has not degraded.
func (t thresholds) degradation(r report) []string {
	var why []string
	count, ok := 0, 0
	statuses := map[string]int{}
	var all, worst routeStats
	for _, st := range r.Routes {
		if st.Route == allRoutes {
			all = st
			continue
		}
		count += st.Count
		ok += st.OK
		for s, n := range st.Errors {
			statuses[st.Route+" "+s] += n
		}
		if st.P99 > worst.P99 {
			worst = st
		}
		if st.Count >= minJudged && st.P99.duration() > t.RouteP99 {
			why = append(why, fmt.Sprintf("%s p99 %s > %s", st.Route, fmtMillis(st.P99), t.RouteP99))
		}
	}
	if len(why) == 0 && all.P99.duration() > t.RouteP99 {
		why = append(why, fmt.Sprintf("%s p99 %s > %s (slowest: %s, p99 %s)", allRoutes, fmtMillis(all.P99), t.RouteP99,
			worst.Route, fmtMillis(worst.P99)))
	}
	if count > 0 {
		if pct := 100 * float64(count-ok) / float64(count); pct > t.ErrorPercent {
			why = append(why, fmt.Sprintf("errors %.1f%% > %g%% (%s)", pct, t.ErrorPercent, countsText(statuses)))
		}
	}
	if r.Offered > 0 && float64(r.Sent) < minSentShare*float64(r.Offered) {
		why = append(why, fmt.Sprintf("users fell behind: %d of %d requests sent", r.Sent, r.Offered))
	}
	switch tk := r.Ticks; {
	case tk.Published > 0 && tk.Push.Count == 0:
		why = append(why, "tick → WebSocket: no valuation reached the users")
	case tk.Published > 0 && tk.Push.P99.duration() > t.TickP99:
		why = append(why, fmt.Sprintf("tick → WebSocket p99 %s > %s", fmtMillis(tk.Push.P99), t.TickP99))
	}
	if tk := r.Ticks; tk.Offered > 0 && float64(tk.Published) < minSentShare*float64(tk.Offered) {
		why = append(why, fmt.Sprintf("ticks fell behind: %d of %d put (PutRecords p99 %s, %d failed)",
			tk.Published, tk.Offered, fmtMillis(tk.Put.P99), tk.PutErrors))
	}
	return why
}

// comparison is the same scenario without and with the abusive user: the
// other users' p99 side by side.
type comparison struct {
	Without report     `json:"without"`
	With    report     `json:"with"`
	Rows    []ratioRow `json:"p99"`
	// WithinTwice holds when no judged row's ratio exceeds 2.
	WithinTwice bool `json:"withinTwice"`
}

type ratioRow struct {
	What    string  `json:"what"`
	Without millis  `json:"withoutMs"`
	With    millis  `json:"withMs"`
	Ratio   float64 `json:"ratio"`
	// Samples is the smaller of the two runs' counts. A row is judged when
	// both have minJudged: below that a p99 is one slowest answer.
	Samples int  `json:"samples"`
	Judged  bool `json:"judged"`
}

// routeTickToWebSocket labels the tick path in comparisons.
const routeTickToWebSocket = "tick → WebSocket"

func compareRuns(without, with report) comparison {
	c := comparison{Without: without, With: with, WithinTwice: true}
	type figure struct {
		p99 millis
		n   int
	}
	p99 := func(r report) map[string]figure {
		m := map[string]figure{routeTickToWebSocket: {r.Ticks.Push.P99, r.Ticks.Push.Count}}
		for _, st := range r.Routes {
			m[st.Route] = figure{st.P99, st.Count}
		}
		return m
	}
	a, b := p99(without), p99(with)
	order := slices.Sorted(maps.Keys(a))
	// The sums last: every route, then the tick path.
	order = slices.DeleteFunc(order, func(s string) bool { return s == allRoutes || s == routeTickToWebSocket })
	order = append(order, allRoutes, routeTickToWebSocket)
	for _, what := range order {
		before, ok := a[what]
		after, ok2 := b[what]
		if !ok || !ok2 {
			continue
		}
		row := ratioRow{What: what, Without: before.p99, With: after.p99, Samples: min(before.n, after.n)}
		row.Judged = row.Samples >= minJudged
		if before.p99 > 0 {
			row.Ratio = float64(after.p99) / float64(before.p99)
		}
		if row.Judged && row.Ratio > 2 {
			c.WithinTwice = false
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// compare runs sc without, then with, the abusive user.
func (g *generator) compare(ctx context.Context, sc scenario) (comparison, error) {
	sc.Abusive = false
	without, err := g.run(ctx, sc, "without the abusive user")
	if err != nil {
		return comparison{}, err
	}
	sc.Abusive = true
	with, err := g.run(ctx, sc, "with the abusive user")
	if err != nil {
		return comparison{}, err
	}
	return compareRuns(without, with), nil
}

// sweepReport is the degradation sweep: the load doubled step by step until
// a run crosses the thresholds.
type sweepReport struct {
	Doubling   string      `json:"doubling"`
	Thresholds sloReport   `json:"thresholds"`
	Steps      []sweepStep `json:"steps"`
	// DegradedAt is the first step that degraded (1-based; 0: none did).
	DegradedAt int `json:"degradedAt"`
}

type sweepStep struct {
	Step     int      `json:"step"`
	Report   report   `json:"report"`
	Degraded []string `json:"degraded,omitempty"`
}

type sloReport struct {
	RouteP99     millis  `json:"routeP99Ms"`
	TickP99      millis  `json:"tickToWebSocketP99Ms"`
	ErrorPercent float64 `json:"errorPercent"`
	MinSent      float64 `json:"minSentShare"`
}

// sweep doubles the users, the ticks per second or both, from sc, until a
// step degrades or steps have run.
func (g *generator) sweep(ctx context.Context, sc scenario, doubling string, steps int, t thresholds) (sweepReport, error) {
	out := sweepReport{Doubling: doubling, Thresholds: sloReport{RouteP99: ms(t.RouteP99), TickP99: ms(t.TickP99),
		ErrorPercent: t.ErrorPercent, MinSent: minSentShare}}
	for i := range steps {
		step := sc
		if doubling == "users" || doubling == "both" {
			step.Users = sc.Users << i
		}
		if doubling == "ticks" || doubling == "both" {
			step.TicksPerSecond = sc.TicksPerSecond << i
		}
		if step.Users > maxUsers || step.TicksPerSecond > maxTicks {
			break
		}
		rep, err := g.run(ctx, step, fmt.Sprintf("step %d (%d users, %d ticks/s)", i+1, step.Users, step.TicksPerSecond))
		if err != nil {
			return out, err
		}
		why := t.degradation(rep)
		out.Steps = append(out.Steps, sweepStep{Step: i + 1, Report: rep, Degraded: why})
		if len(why) > 0 {
			out.DegradedAt = i + 1
			break
		}
	}
	return out, nil
}

func fmtMillis(m millis) string {
	d := m.duration()
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(m))
}

// countsText is "a ×3, b ×1", largest first.
func countsText[N int | int64](m map[string]N) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
