package metrics

import (
	"fmt"
	"strings"
)

// MarkdownTable is the catalogue as docs/observability.md shows it (a test
// holds the document to it).
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Metric | Unit | Dimensions | Written by | What it tells |\n|---|---|---|---|---|\n")
	for _, d := range Catalogue {
		dims := append([]string{Function, Stage}, d.Dimensions...)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Unit, strings.Join(dims, ", "), strings.Join(d.Functions, ", "),
			strings.ReplaceAll(d.Meaning, "|", `\|`))
	}
	return b.String()
}

// SLOTable is the objectives as docs/observability.md shows them, the API's
// per-route ones in one row per objective.
func SLOTable() string {
	var b strings.Builder
	b.WriteString("| Metric | Function, dimensions | Objective |\n|---|---|---|\n")
	row := func(s SLO, dims string) {
		fmt.Fprintf(&b, "| `%s` | %s | %s ≤ %s over %s, alarm after %d periods above |\n", s.Metric, dims, s.Percentile, s.Objective, s.Period, s.Periods)
	}
	var slow []string
	var api, slowSLO *SLO
	for _, s := range SLOs() {
		switch {
		case s.Dimensions[Route] == "":
			row(s, s.Dimensions[Function])
		case s.Objective == APIObjective:
			api = &s
		default:
			slow, slowSLO = append(slow, "`"+s.Dimensions[Route]+"`"), &s
		}
	}
	if slowSLO != nil {
		row(*slowSLO, "api, Route "+strings.Join(slow, ", "))
	}
	if api != nil {
		row(*api, "api, every other Route (one alarm each)")
	}
	return b.String()
}
