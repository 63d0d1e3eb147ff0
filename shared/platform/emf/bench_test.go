package emf_test

import (
	"io"
	"testing"

	"github.com/portfoliotracker/tracker/shared/platform/emf"
)

// BenchmarkRequestLine: the line the API writes per request (Requests,
// RequestLatency, Commands and three pool gauges, three dimension sets).
func BenchmarkRequestLine(b *testing.B) {
	w := emf.New(io.Discard, map[string]string{"Function": "api"}).
		WithDimensions(map[string]string{"Route": "POST /portfolios/{id}/transactions", "StatusClass": "2xx", "Kind": "recordTransaction"})
	b.ReportAllocs()
	for b.Loop() {
		w.Emit(emf.Metric{Name: "Requests", Value: 1, Dimensions: []string{"Function", "Route", "StatusClass"}},
			emf.Metric{Name: "RequestLatency", Unit: "Milliseconds", Value: 3.25, Dimensions: []string{"Function", "Route"}},
			emf.Metric{Name: "Commands", Value: 1, Dimensions: []string{"Function", "Kind"}},
			emf.Metric{Name: "DatabasePoolAcquired", Value: 1, Dimensions: []string{"Function"}},
			emf.Metric{Name: "DatabasePoolIdle", Value: 3, Dimensions: []string{"Function"}},
			emf.Metric{Name: "DatabasePoolWait", Unit: "Milliseconds", Value: 0, Dimensions: []string{"Function"}})
	}
}

// BenchmarkBatchLine: a prices batch's line (16 counts, 100 latency samples).
func BenchmarkBatchLine(b *testing.B) {
	w := emf.New(io.Discard, map[string]string{"Function": "prices"})
	samples := make([]float64, 100)
	for i := range samples {
		samples[i] = float64(i) * 1.5
	}
	ms := make([]emf.Metric, 0, 17)
	for _, n := range []string{"StreamRecords", "StreamRecordsPoison", "StreamRecordsQuarantined", "StreamRecordsFailed", "SymbolsRefused",
		"TransientRetries", "BatchesFailed", "PushFailures", "AlertTicksEvaluated", "AlertsFired", "RuleCacheHits", "RuleCacheMisses",
		"DatabasePoolAcquired", "DatabasePoolIdle", "DatabasePoolWait", "ProjectionLag"} {
		ms = append(ms, emf.Metric{Name: n, Value: 10000})
	}
	ms = append(ms, emf.Metric{Name: "TickToPush", Unit: "Milliseconds", Values: samples})
	b.ReportAllocs()
	for b.Loop() {
		w.Emit(ms...)
	}
}
