package prices

import (
	"testing"
	"time"
)

// A batch's tick-to-push samples are at most 100, spread over the batch, each
// the time since its record's arrival; records without one are left out.
func TestSinceArrivalSamplesTheBatchEvenly(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	recs := make([]Record, 10_000)
	for i := range recs {
		recs[i].ArrivedAt = now.Add(-time.Duration(i) * time.Millisecond)
	}
	got := sinceArrival(recs, now)
	if len(got) != maxLatencySamples || got[0] != 0 || got[1] != 100 || got[99] != 9900 {
		t.Errorf("%d samples: first %v, second %v, last %v", len(got), got[0], got[1], got[len(got)-1])
	}
	small := []Record{{ArrivedAt: now.Add(-1500 * time.Microsecond)}, {}, {ArrivedAt: now.Add(-time.Second)}}
	if got := sinceArrival(small, now); len(got) != 2 || got[0] != 1.5 || got[1] != 1000 {
		t.Errorf("small batch: %v", got)
	}
}
