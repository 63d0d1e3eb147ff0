package activities_test

import (
	"bytes"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/benchdata"
)

var benchFile = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	if err := benchdata.Generate(benchdata.Default()).WriteActivities(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// cpuTime is the process's user+system CPU time. Reported next to ns/op because
// the wall clock on a shared 2-core machine says more about the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParseActivities parses the 50,000-activity benchmark file from memory.
func BenchmarkParseActivities(b *testing.B) {
	data := benchFile()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		r, err := activities.Parse(bytes.NewReader(data), "bench.json")
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Transactions) == 0 {
			b.Fatal("no transactions")
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
