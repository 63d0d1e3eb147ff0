package runtime_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/runtime"
)

const echoEvent = `{"action":"echo","text":"a small event, the size of an API Gateway request's body"}`

// latencies runs n sequential echo invocations on a warm instance.
func latencies(tb testing.TB, rt *runtime.Runtime, n int) []time.Duration {
	tb.Helper()
	ctx := context.Background()
	event := []byte(echoEvent)
	out := make([]time.Duration, n)
	for i := range n {
		begin := time.Now()
		if _, err := rt.Invoke(ctx, "fn", event); err != nil {
			tb.Fatal(err)
		}
		out[i] = time.Since(begin)
	}
	return out
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// TestInvokeOverhead measures the runtime's round trip with a handler that
// does nothing (echo): Runtime API hand-over, the function's JSON decoding and
// the response post. The local stack's budget is 2 ms p99 per invocation for
// gateway plus runtime; the assertion is looser because the machine is shared
// and -race may be on, the log line gives the number.
func TestInvokeOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	rt := start(t, nil)
	mustCall(t, rt, echoEvent) // cold start
	ds := latencies(t, rt, 2000)
	p50, p99 := percentile(ds, 0.50), percentile(ds, 0.99)
	t.Logf("2000 sequential warm invocations: p50 %v, p99 %v, max %v", p50, p99, slices.Max(ds))
	if p99 > 20*time.Millisecond {
		t.Fatalf("p99 %v: far above the 2 ms budget", p99)
	}
	if st := rt.Stats("fn"); st.ColdStarts != 1 {
		t.Fatalf("sequential invocations started %d instances", st.ColdStarts)
	}
}

// BenchmarkInvoke measures one warm echo invocation, and reports its p99.
func BenchmarkInvoke(b *testing.B) {
	rt := start(b, nil)
	mustCall(b, rt, echoEvent)
	ctx := context.Background()
	event := []byte(echoEvent)
	ds := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		begin := time.Now()
		if _, err := rt.Invoke(ctx, "fn", event); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(begin))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(ds, 0.99).Nanoseconds()), "p99-ns")
}
