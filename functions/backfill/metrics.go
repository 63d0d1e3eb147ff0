package main

import (
	"os"

	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// runMetrics receives one EMF line per run.
var runMetrics = emf.New(os.Stdout, map[string]string{"Function": "backfill"})

// emitRun writes a run's line: the provider calls (history ranges fetched and
// corporate actions asked for), the symbols that failed, whether the
// provider's limit ended the run, and the closes written.
func emitRun(w *emf.Writer, out history.Output) {
	limited := 0.0
	if out.Limited {
		limited = 1
	}
	w.Emit(
		emf.Metric{Name: "ProviderCalls", Value: float64(out.Chunks + out.ActionsChecked)},
		emf.Metric{Name: "ProviderErrors", Value: float64(out.Failed)},
		emf.Metric{Name: "ProviderLimitHits", Value: limited},
		emf.Metric{Name: "ClosesWritten", Value: float64(out.Closes)})
}
