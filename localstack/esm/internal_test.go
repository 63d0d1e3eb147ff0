package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// fakeSource is one open shard whose iterator expires once, after the first
// read: what a process suspended for longer than an iterator's life sees. The
// emulators cannot be made to expire an iterator on demand.
type fakeSource struct {
	mu        sync.Mutex
	recs      []record
	reads     int
	iterators []string // the seq each iterator was asked after
	dataSize  int
}

func (s *fakeSource) init(context.Context) error { return nil }
func (s *fakeSource) kinesis() bool              { return true }
func (s *fakeSource) streamARN() string          { return "arn:aws:kinesis:us-east-1:000000000000:stream/fake" }
func (s *fakeSource) awsRegion() string          { return "us-east-1" }
func (s *fakeSource) shards(context.Context) ([]shard, error) {
	return []shard{{id: "shardId-000000000000"}}, nil
}

func (s *fakeSource) iterator(_ context.Context, _ string, seq, _ string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iterators = append(s.iterators, seq)
	n := 0
	for n < len(s.recs) && seq != "" && s.recs[n].seq <= seq {
		n++
	}
	return strconv.Itoa(n), nil
}

func (s *fakeSource) read(_ context.Context, _ string, it string, limit int) ([]record, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.reads == 2 {
		return nil, "", fmt.Errorf("%w: fake", errExpired)
	}
	from, _ := strconv.Atoi(it)
	to := min(from+min(limit, 3), len(s.recs)) // at most 3 a read, to need several
	return s.recs[from:to], strconv.Itoa(to), nil
}

func (s *fakeSource) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		i := len(s.recs)
		seq := fmt.Sprintf("%05d", i)
		ev, _ := json.Marshal(map[string]string{"seq": seq, "data": strings.Repeat("x", s.dataSize)})
		s.recs = append(s.recs, record{seq: seq, arrival: time.Now(), event: ev})
	}
}

type seen struct {
	mu      sync.Mutex
	batches [][]string
}

func (c *seen) Invoke(_ context.Context, _ string, payload []byte) ([]byte, error) {
	var ev struct{ Records []struct{ Seq string } }
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, &invoke.FunctionError{Message: err.Error()}
	}
	var b []string
	for _, r := range ev.Records {
		b = append(b, r.Seq)
	}
	c.mu.Lock()
	c.batches = append(c.batches, b)
	c.mu.Unlock()
	return nil, nil
}

func (c *seen) all() (n int, batches [][]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.batches {
		n += len(b)
	}
	return n, append([][]string(nil), c.batches...)
}

func runFake(t *testing.T, src *fakeSource, m Mapping) *seen {
	fn := &seen{}
	m.Function, m.PollInterval, m.RetryBackoff, m.DiscoveryInterval = "fn", 5*time.Millisecond, 5*time.Millisecond, 50*time.Millisecond
	p := newPoller(fn, src, m, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return fn
}

func wait(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// An expired iterator is renewed after the last record read: nothing is read
// twice, nothing skipped.
func TestExpiredIteratorRenewedAfterLastRead(t *testing.T) {
	src := &fakeSource{}
	src.add(5)
	fn := runFake(t, src, Mapping{BatchSize: 100})
	wait(t, func() bool { n, _ := fn.all(); return n >= 5 })
	n, batches := fn.all()
	var got []string
	for _, b := range batches {
		got = append(got, b...)
	}
	if n != 5 || strings.Join(got, ",") != "00000,00001,00002,00003,00004" {
		t.Errorf("delivered %v", batches)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.iterators) != 2 || src.iterators[0] != "" || src.iterators[1] != "00002" {
		t.Errorf("iterators asked after %q, want the start and then after 00002", src.iterators)
	}
}

// A batch is cut before it would pass Lambda's 6 MB payload limit.
func TestBatchCutAtPayloadLimit(t *testing.T) {
	src := &fakeSource{dataSize: 2 << 20}
	src.add(6)
	fn := runFake(t, src, Mapping{BatchSize: 10, BatchingWindow: 100 * time.Millisecond})
	wait(t, func() bool { n, _ := fn.all(); return n >= 6 })
	_, batches := fn.all()
	for _, b := range batches {
		if len(b) > 2 {
			t.Errorf("a batch of %d 2 MB records: %v", len(b), batches)
		}
	}
}

func TestMappingForTopology(t *testing.T) {
	var found int
	for _, f := range topology.Functions() {
		for _, tr := range f.Triggers {
			if tr.Kind != topology.DynamoDBStream && tr.Kind != topology.KinesisStream {
				continue
			}
			found++
			m := MappingFor(f.Name, tr.Mapping).withDefaults()
			if m.Function != f.Name || m.BatchSize != tr.Mapping.BatchSize || m.MaxRetries != tr.Mapping.MaxRetries ||
				m.MaxRecordAge != tr.Mapping.MaxRecordAge || m.BatchingWindow != tr.Mapping.BatchingWindow ||
				!m.BisectOnError || !m.ReportBatchItemFailures || m.StartingPosition != TrimHorizon {
				t.Errorf("%s: %+v from %+v", f.Name, m, tr.Mapping)
			}
		}
	}
	if found < 2 {
		t.Errorf("%d stream triggers in the topology, want the projector's and prices'", found)
	}
}
