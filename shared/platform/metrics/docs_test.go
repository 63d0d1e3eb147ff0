package metrics_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/metrics"
)

var update = flag.Bool("update", false, "rewrite docs/observability.md's generated tables")

const docPath = moduleRoot + "/docs/observability.md"

// TestDocsShowTheCatalogueAndTheSLOs: docs/observability.md holds the
// catalogue's table and the SLOs' between their markers, as generated
// (go test ./shared/platform/metrics -update rewrites them).
func TestDocsShowTheCatalogueAndTheSLOs(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, part := range []struct{ marker, want string }{
		{"metric-catalogue", metrics.MarkdownTable()},
		{"slo-table", metrics.SLOTable()},
	} {
		begin, end := "<!-- "+part.marker+" begin (generated: go test ./shared/platform/metrics -update) -->\n", "<!-- "+part.marker+" end -->"
		i, j := strings.Index(doc, begin), strings.Index(doc, end)
		if i < 0 || j < i {
			t.Errorf("%s lacks the markers %q and %q", docPath, begin, end)
			continue
		}
		if got := doc[i+len(begin) : j]; got != part.want {
			if *update {
				doc = doc[:i+len(begin)] + part.want + doc[j:]
				continue
			}
			t.Errorf("%s's %s differs from shared/platform/metrics: run go test ./shared/platform/metrics -update", docPath, part.marker)
		}
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
