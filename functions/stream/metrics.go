package main

import (
	"os"

	"github.com/portfoliotracker/tracker/shared/app/streaming"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// runMetrics receives one EMF line per invocation that streamed.
var runMetrics = emf.New(os.Stdout, map[string]string{"Function": "stream"})

// emitRun writes an invocation's line: the updates put on the stream, the
// trades heard from the provider, and the publishes that failed. An
// invocation that did not hold the lease writes none.
func emitRun(w *emf.Writer, out streaming.Output) {
	if !out.Streamed {
		return
	}
	w.Emit(
		emf.Metric{Name: "TicksIngested", Value: float64(out.Published)},
		emf.Metric{Name: "ProviderCalls", Value: float64(out.Trades)},
		emf.Metric{Name: "ProviderErrors", Value: float64(out.PublishErrors)})
}
