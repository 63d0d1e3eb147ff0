package main

import (
	"os"

	"github.com/portfoliotracker/tracker/shared/app/ingest"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// runMetrics receives one EMF line per run.
var runMetrics = emf.New(os.Stdout, map[string]string{"Function": "ingest"})

// emitRun writes a run's line: the ticks put on the stream, the quotes asked
// of the provider (answered or failed), and whether its limit cut the run.
func emitRun(w *emf.Writer, out ingest.Output) {
	limited := 0.0
	if out.Skipped > 0 {
		limited = 1
	}
	w.Emit(
		emf.Metric{Name: "TicksIngested", Value: float64(out.Published)},
		emf.Metric{Name: "ProviderCalls", Value: float64(out.Published + out.Errors)},
		emf.Metric{Name: "ProviderErrors", Value: float64(out.Errors)},
		emf.Metric{Name: "ProviderLimitHits", Value: limited})
}
