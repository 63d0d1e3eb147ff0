package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

func writeReport(w io.Writer, r report) {
	sc := r.Scenario
	fmt.Fprintf(w, "== %s: %d users × %d commands over %s, %d ticks/s on %d symbols\n",
		r.Label, sc.Users, sc.Commands, sc.Duration, sc.TicksPerSecond, len(sc.Symbols))
	fmt.Fprintf(w, "machine: %d cores; load average %s before, %s after; set-up took %.1f s\n",
		r.Machine.Cores, r.Machine.LoadBefore, r.Machine.LoadAfter, r.SetupSeconds)
	fmt.Fprintf(w, "requests: %d offered, %d sent over %.1f s (%d waited for the in-flight cap)\n", r.Offered, r.Sent, r.DurationSeconds, r.Capped)
	writeRoutes(w, "route", r.Routes)
	t := r.Ticks
	fmt.Fprintf(w, "ticks: %d offered, %d put (%.1f/s, %d failed); PutRecords p50 %s, p99 %s\n",
		t.Offered, t.Published, t.PerSecond, t.PutErrors, fmtMillis(t.Put.P50), fmtMillis(t.Put.P99))
	fmt.Fprintf(w, "tick → WebSocket (a valuation at a subscribed user): %d deliveries, p50 %s, p99 %s, max %s (waited %.1f s for the last)\n",
		t.Push.Count, fmtMillis(t.Push.P50), fmtMillis(t.Push.P99), fmtMillis(t.Push.Max), t.DrainSeconds)
	fmt.Fprintf(w, "pushed to the users: %s\n", orNone(countsText(r.Pushed)))
	writeStack(w, r)
	if a := r.Abusive; a != nil {
		fmt.Fprintf(w, "abusive user: tried %d connections, %d alert rules, %d portfolios, %d bodies over 2 MiB and %d with a 1.9 MB decimal\n",
			a.Plan.Connections, a.Plan.Rules, a.Plan.Portfolios, a.Plan.Bodies, a.Plan.Bodies)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "attempt\tcount\taccepted\tp50\tp99\trefused or failed (status ×count)")
		for _, st := range a.Attempts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", st.Route, st.Count, st.OK, fmtMillis(st.P50), fmtMillis(st.P99), orNone(countsText(st.Errors)))
		}
		_ = tw.Flush()
		fmt.Fprintf(w, "  answers to its subscribes: %s\n", orNone(countsText(a.SubscribeAnswers)))
		fmt.Fprintf(w, "  pushed to its connections: %s\n", orNone(countsText(a.Pushed)))
	}
}

func writeRoutes(w io.Writer, first string, routes []routeStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tcount\tok\treq/s\tp50\tp99\tmax\terrors (status ×count)\n", first)
	for _, st := range routes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\n", st.Route, st.Count, st.OK, st.PerSecond,
			fmtMillis(st.P50), fmtMillis(st.P99), fmtMillis(st.Max), orNone(countsText(st.Errors)))
	}
	_ = tw.Flush()
}

// writeStack is what the stack's own counters say about the run.
func writeStack(w io.Writer, r report) {
	var fns []string
	for _, name := range slices.Sorted(maps.Keys(r.Functions)) {
		f := r.Functions[name]
		fns = append(fns, fmt.Sprintf("%s %d (%d errors, %d timeouts, %d throttled; %d cold starts, %d instances)",
			name, f.Invocations, f.Errors, f.Timeouts, f.Throttles, f.ColdStarts, f.Instances))
	}
	fmt.Fprintf(w, "function invocations: %s\n", orNone(strings.Join(fns, "; ")))
	if m, ok := r.Mappings[pricesMapping]; ok && m.Batches > 0 {
		fmt.Fprintf(w, "prices mapping: %d records in %d batches (%.1f a batch), %d retries, %d failures\n",
			m.Records, m.Batches, float64(m.Records)/float64(m.Batches), m.Retries, m.Failures)
	}
}

func writeComparison(w io.Writer, c comparison) {
	writeReport(w, c.Without)
	fmt.Fprintln(w)
	writeReport(w, c.With)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "== the other users' p99, without and with the abusive user")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "what\tsamples\twithout\twith\tratio")
	for _, row := range c.Rows {
		note := ""
		if !row.Judged {
			note = fmt.Sprintf("  (under %d samples: the p99 is the slowest answer; not judged)", minJudged)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2f%s\n", row.What, row.Samples, fmtMillis(row.Without), fmtMillis(row.With), row.Ratio, note)
	}
	_ = tw.Flush()
	if c.WithinTwice {
		fmt.Fprintf(w, "every p99 judged (%d samples or more) stays within 2× of the run without the abusive user\n", minJudged)
		return
	}
	var over []string
	for _, row := range c.Rows {
		if row.Judged && row.Ratio > 2 {
			over = append(over, fmt.Sprintf("%s (%.2f×)", row.What, row.Ratio))
		}
	}
	fmt.Fprintf(w, "NOT within 2×: %s\n", strings.Join(over, ", "))
}

func writeSweep(w io.Writer, s sweepReport) {
	for _, st := range s.Steps {
		writeReport(w, st.Report)
		fmt.Fprintln(w)
	}
	t := s.Thresholds
	fmt.Fprintf(w, "== degradation sweep, doubling %s; a step degrades when a route's p99 > %s, the tick → WebSocket p99 > %s, errors > %g%%, or under %.0f%% of the requests or ticks were sent\n",
		s.Doubling, fmtMillis(t.RouteP99), fmtMillis(t.TickP99), t.ErrorPercent, 100*t.MinSent)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\tusers\tticks/s\treq/s\tall p99\tworst route p99\ttick p99\terrors\tload avg\tverdict")
	for _, st := range s.Steps {
		r := st.Report
		var all, worst routeStats
		for _, rs := range r.Routes {
			switch {
			case rs.Route == allRoutes:
				all = rs
			case rs.P99 > worst.P99:
				worst = rs
			}
		}
		errPct := 0.0
		if all.Count > 0 {
			errPct = 100 * float64(all.Count-all.OK) / float64(all.Count)
		}
		verdict := "ok"
		if len(st.Degraded) > 0 {
			verdict = "degraded: " + strings.Join(st.Degraded, "; ")
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.1f\t%s\t%s %s\t%s\t%.1f%%\t%s\t%s\n", st.Step, r.Scenario.Users, r.Scenario.TicksPerSecond,
			all.PerSecond, fmtMillis(all.P99), worst.Route, fmtMillis(worst.P99), fmtMillis(r.Ticks.Push.P99), errPct,
			strings.Fields(r.Machine.LoadAfter + " ?")[0], verdict)
	}
	_ = tw.Flush()
	if s.DegradedAt == 0 {
		fmt.Fprintf(w, "no step degraded in %d steps\n", len(s.Steps))
		return
	}
	st := s.Steps[s.DegradedAt-1]
	fmt.Fprintf(w, "degrades at step %d (%d users, %d ticks/s): %s\n", st.Step, st.Report.Scenario.Users,
		st.Report.Scenario.TicksPerSecond, strings.Join(st.Degraded, "; "))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
