package kinesispub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/portfoliotracker/tracker/shared/adapters/kinesispub"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newStream(t *testing.T) (*kinesis.Client, string) {
	t.Helper()
	client := testenv.Kinesis(t)
	name := testenv.UniqueName(t, "md")
	if err := kinesispub.CreateStream(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	return client, name
}

func noSleep(context.Context, time.Duration) error { return nil }

// TestPublishBatchesAndPartitionKeys puts 1,203 records (three PutRecords calls of
// ≤ 500) on kinesis-mock and reads them back.
func TestPublishBatchesAndPartitionKeys(t *testing.T) {
	client, name := newStream(t)
	counting := &countingAPI{API: client}
	p := kinesispub.New(counting, name, kinesispub.Options{})
	var recs []kinesispub.Record
	for i := range 1203 {
		sym := fmt.Sprintf("S%02d", i%7)
		recs = append(recs, kinesispub.Record{PartitionKey: sym, Data: fmt.Appendf(nil, "%s|%04d", sym, i)})
	}
	res, err := p.Publish(t.Context(), recs)
	if err != nil || res.Published != 1203 || res.Calls != 3 {
		t.Fatalf("res %+v err %v", res, err)
	}
	if !slices.Equal(counting.sizes, []int{500, 500, 203}) {
		t.Fatalf("batch sizes %v", counting.sizes)
	}
	got, err := kinesispub.ReadAll(t.Context(), client, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1203 {
		t.Fatalf("read %d records", len(got))
	}
	// Per partition key, the stream keeps publication order.
	last := map[string]string{}
	for _, r := range got {
		pk, data := aws.ToString(r.PartitionKey), string(r.Data)
		if data[:3] != pk {
			t.Fatalf("record %s under key %s", data, pk)
		}
		if data <= last[pk] {
			t.Fatalf("%s after %s", data, last[pk])
		}
		last[pk] = data
	}
}

func TestPublishSplitsBySize(t *testing.T) {
	client, name := newStream(t)
	counting := &countingAPI{API: client}
	p := kinesispub.New(counting, name, kinesispub.Options{})
	big := make([]byte, 900<<10) // 900 KiB: five fit under 5 MiB, six do not
	recs := make([]kinesispub.Record, 7)
	for i := range recs {
		recs[i] = kinesispub.Record{PartitionKey: "K", Data: big}
	}
	recs = append(recs, kinesispub.Record{PartitionKey: "K", Data: make([]byte, 1<<20)}) // too large alone
	res, err := p.Publish(t.Context(), recs)
	if !errors.Is(err, kinesispub.ErrNotAllPublished) || res.Published != 7 || len(res.Failed) != 1 || res.Failed[0].Index != 7 || res.Failed[0].ErrorCode != "RecordTooLarge" {
		t.Fatalf("res %+v err %v", res, err)
	}
	if !slices.Equal(counting.sizes, []int{5, 2}) {
		t.Fatalf("batch sizes %v", counting.sizes)
	}
}

// TestPartialFailureRetriesOnlyFailed: kinesis-mock does not fail individual
// records on demand, so flaky (test-only) sits in front of the real kinesis-mock
// client: it removes chosen records from a call, sends the rest to kinesis-mock,
// and answers as Kinesis does for a partial failure (FailedRecordCount, ErrorCode
// per failed entry, the real sequence numbers for the others).
func TestPartialFailureRetriesOnlyFailed(t *testing.T) {
	client, name := newStream(t)
	// Records 1 and 3 fail twice, record 4 once.
	api := &flakyAPI{real: client, failures: map[string]int{"r1": 2, "r3": 2, "r4": 1}}
	var delays []time.Duration
	p := kinesispub.New(api, name, kinesispub.Options{
		Sleep: func(_ context.Context, d time.Duration) error { delays = append(delays, d); return nil },
		Rand:  func(n int64) int64 { return n - 1 },
	})
	var recs []kinesispub.Record
	for i := range 6 {
		recs = append(recs, kinesispub.Record{PartitionKey: "AAPL", Data: fmt.Appendf(nil, "r%d", i)})
	}
	res, err := p.Publish(t.Context(), recs)
	if err != nil || res.Published != 6 || res.Calls != 3 || res.Retried != 3+2 {
		t.Fatalf("res %+v err %v", res, err)
	}
	want := [][]string{{"r0", "r1", "r2", "r3", "r4", "r5"}, {"r1", "r3", "r4"}, {"r1", "r3"}}
	if fmt.Sprint(api.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %v, want %v", api.calls, want)
	}
	// Backoff grows (full jitter, here at its ceiling): 50 ms, then 100 ms.
	if !slices.Equal(delays, []time.Duration{50*time.Millisecond - 1, 100*time.Millisecond - 1}) {
		t.Fatalf("delays %v", delays)
	}
	got, err := kinesispub.ReadAll(t.Context(), client, name)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, r := range got {
		data = append(data, string(r.Data))
	}
	slices.Sort(data)
	if !slices.Equal(data, []string{"r0", "r1", "r2", "r3", "r4", "r5"}) {
		t.Fatalf("stream holds %v: every record exactly once", data)
	}
}

func TestPartialFailureGivesUp(t *testing.T) {
	client, name := newStream(t)
	api := &flakyAPI{real: client, failures: map[string]int{"r1": 100}}
	p := kinesispub.New(api, name, kinesispub.Options{MaxAttempts: 3, Sleep: noSleep})
	res, err := p.Publish(t.Context(), []kinesispub.Record{{PartitionKey: "A", Data: []byte("r0")}, {PartitionKey: "A", Data: []byte("r1")}})
	if !errors.Is(err, kinesispub.ErrNotAllPublished) || res.Published != 1 || res.Calls != 3 ||
		len(res.Failed) != 1 || res.Failed[0].Index != 1 || res.Failed[0].ErrorCode != "ProvisionedThroughputExceededException" {
		t.Fatalf("res %+v err %v", res, err)
	}
}

type countingAPI struct {
	kinesispub.API
	sizes []int
}

func (c *countingAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.sizes = append(c.sizes, len(in.Records))
	return c.API.PutRecords(ctx, in, opts...)
}

// flakyAPI fails the records whose data is a key of failures, that many times.
type flakyAPI struct {
	real     *kinesis.Client
	mu       sync.Mutex
	failures map[string]int
	calls    [][]string
}

func (f *flakyAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	failed := make([]bool, len(in.Records))
	pass := *in
	pass.Records = nil
	for i, r := range in.Records {
		names = append(names, string(r.Data))
		if f.failures[string(r.Data)] > 0 {
			f.failures[string(r.Data)]--
			failed[i] = true
			continue
		}
		pass.Records = append(pass.Records, r)
	}
	f.calls = append(f.calls, names)
	var real []types.PutRecordsResultEntry
	if len(pass.Records) > 0 {
		out, err := f.real.PutRecords(ctx, &pass, opts...)
		if err != nil {
			return nil, err
		}
		real = out.Records
	}
	out := &kinesis.PutRecordsOutput{}
	for i := range in.Records {
		if failed[i] {
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard"),
			})
			continue
		}
		out.Records = append(out.Records, real[0])
		real = real[1:]
	}
	return out, nil
}
