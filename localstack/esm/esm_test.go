package esm_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/portfoliotracker/tracker/localstack/esm"
	"github.com/portfoliotracker/tracker/localstack/invoke"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// item is one record as the test's function saw it: a label the test chose
// (aggregate/version, or the Kinesis data) and its sequence number.
type item struct{ label, seq, eventID string }

// behaviour decides an invocation's outcome: the sequence numbers to report as
// failed, or an error (a function error).
type behaviour func(call int, batch []item) (failed []*string, err error)

// function stands in for a Lambda function: it decodes the event JSON as the
// aws-lambda-go types do, records what it got and answers with a
// DynamoDBEventResponse / KinesisEventResponse through JSON, as Lambda does.
type function struct {
	kinesis bool
	behave  behaviour

	mu    sync.Mutex
	calls [][]item
	done  []string // labels of records processed successfully, in order
}

func (f *function) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	var batch []item
	if f.kinesis {
		var ev events.KinesisEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, &invoke.FunctionError{Function: name, Type: "decode", Message: err.Error()}
		}
		for _, r := range ev.Records {
			batch = append(batch, item{string(r.Kinesis.Data), r.Kinesis.SequenceNumber, r.EventID})
		}
	} else {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, &invoke.FunctionError{Function: name, Type: "decode", Message: err.Error()}
		}
		for _, r := range ev.Records {
			img := r.Change.NewImage
			batch = append(batch, item{img["aggregateId"].String() + "/" + img["version"].Number(), r.Change.SequenceNumber, r.EventID})
		}
	}
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, batch)
	f.mu.Unlock()
	var failed []*string
	var err error
	if f.behave != nil {
		failed, err = f.behave(call, batch)
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	ok := len(batch)
	for _, id := range failed {
		i := -1
		if id != nil {
			i = slices.IndexFunc(batch, func(it item) bool { return it.seq == *id })
		}
		if i < 0 {
			ok = 0 // the whole batch failed
			break
		}
		ok = min(ok, i)
	}
	for _, it := range batch[:ok] {
		f.done = append(f.done, it.label)
	}
	f.mu.Unlock()
	var out any
	if f.kinesis {
		resp := events.KinesisEventResponse{}
		for _, id := range failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: deref(id)})
		}
		out = resp
	} else {
		resp := events.DynamoDBEventResponse{}
		for _, id := range failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: deref(id)})
		}
		out = resp
	}
	return json.Marshal(out)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (f *function) snapshot() (calls [][]item, done []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls), slices.Clone(f.done)
}

func labels(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.label
	}
	return out
}

// fast is a mapping with short intervals, so the tests take little time.
func fast(m esm.Mapping) esm.Mapping {
	m.Function = "fn"
	m.PollInterval = 20 * time.Millisecond
	m.RetryBackoff = 10 * time.Millisecond
	m.MaxRetryBackoff = 40 * time.Millisecond
	m.DiscoveryInterval = 100 * time.Millisecond
	return m
}

// run starts the poller and stops it when the test ends, checking Run's result.
func run(t *testing.T, p *esm.Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// --- DynamoDB ---

type ddbStream struct {
	db    *dynamodb.Client
	table string
	arn   string
}

func newEventsTable(t *testing.T) ddbStream {
	t.Helper()
	ctx := t.Context()
	db := testenv.DynamoDB(t)
	table := testenv.UniqueName(t, "events")
	decl := topology.Table{
		Name:         "events",
		PartitionKey: topology.Key{Name: "aggregateId", Type: topology.String},
		SortKey:      &topology.Key{Name: "version", Type: topology.Number},
		Stream:       topology.NewImage,
	}
	if err := dynamo.CreateTable(ctx, db, decl, table); err != nil {
		t.Fatal(err)
	}
	d, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	return ddbStream{db: db, table: table, arn: aws.ToString(d.Table.LatestStreamArn)}
}

func (s ddbStream) put(t *testing.T, aggregate string, version int, extra map[string]ddbtypes.AttributeValue) {
	t.Helper()
	it := map[string]ddbtypes.AttributeValue{
		"aggregateId": &ddbtypes.AttributeValueMemberS{Value: aggregate},
		"version":     &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(version)},
	}
	for k, v := range extra {
		it[k] = v
	}
	if _, err := s.db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		t.Fatal(err)
	}
}

func (s ddbStream) poller(t *testing.T, f *function, m esm.Mapping) *esm.Poller {
	return esm.NewDynamoDBStreamPoller(f, testenv.DynamoDBStreams(t), s.arn, fast(m), logger(t))
}

// The event is what the projector decodes in production: every attribute type
// must come through events.DynamoDBEvent with its exact value.
func TestDynamoDBEventShape(t *testing.T) {
	t.Parallel()
	s := newEventsTable(t)
	var mu sync.Mutex
	var got []events.DynamoDBEventRecord
	inv := invoke.Func(func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Errorf("decode event: %v\n%s", err, payload)
			return nil, err
		}
		mu.Lock()
		got = append(got, ev.Records...)
		mu.Unlock()
		return json.Marshal(events.DynamoDBEventResponse{})
	})
	// DynamoDB Local truncates ApproximateCreationDateTime to the minute.
	before := time.Now().Add(-62 * time.Second)
	s.put(t, "p-1", 1, map[string]ddbtypes.AttributeValue{
		"s":    &ddbtypes.AttributeValueMemberS{Value: "héllo \"x\""},
		"n":    &ddbtypes.AttributeValueMemberN{Value: "12345678901234567890.123456789"},
		"b":    &ddbtypes.AttributeValueMemberB{Value: []byte{0, 1, 2, 250, 255}},
		"t":    &ddbtypes.AttributeValueMemberBOOL{Value: true},
		"f":    &ddbtypes.AttributeValueMemberBOOL{Value: false},
		"null": &ddbtypes.AttributeValueMemberNULL{Value: true},
		"m": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"inner": &ddbtypes.AttributeValueMemberS{Value: "deep"},
			"l":     &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberN{Value: "-1.5"}}},
		}},
		"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
			&ddbtypes.AttributeValueMemberS{Value: "a"}, &ddbtypes.AttributeValueMemberN{Value: "2"},
			&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{}},
		}},
		"em": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{}},
		"el": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{}},
		"ss": &ddbtypes.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns": &ddbtypes.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs": &ddbtypes.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
	})
	// A second write of the same key is a MODIFY.
	_, err := s.db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key: map[string]ddbtypes.AttributeValue{
			"aggregateId": &ddbtypes.AttributeValueMemberS{Value: "p-1"}, "version": &ddbtypes.AttributeValueMemberN{Value: "1"},
		},
		UpdateExpression:          aws.String("SET s = :s"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "changed"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, esm.NewDynamoDBStreamPoller(inv, testenv.DynamoDBStreams(t), s.arn, fast(esm.Mapping{}), logger(t)))
	eventually(t, "two records", 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	r := got[0]
	if r.EventSource != "aws:dynamodb" || r.EventName != "INSERT" || r.EventVersion == "" || r.AWSRegion != testenv.Region ||
		r.EventSourceArn != s.arn || r.EventID == "" {
		t.Errorf("envelope: %+v", r)
	}
	c := r.Change
	if c.StreamViewType != "NEW_IMAGE" || c.SequenceNumber == "" || c.SizeBytes <= 0 || c.OldImage != nil {
		t.Errorf("change: view %q seq %q size %d old %v", c.StreamViewType, c.SequenceNumber, c.SizeBytes, c.OldImage)
	}
	if at := c.ApproximateCreationDateTime.Time; at.Before(before) || at.After(time.Now().Add(2*time.Second)) {
		t.Errorf("ApproximateCreationDateTime %v, want about now", at)
	}
	if len(c.Keys) != 2 || c.Keys["aggregateId"].String() != "p-1" || c.Keys["version"].Number() != "1" {
		t.Errorf("keys %v", c.Keys)
	}
	img := c.NewImage
	check := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("attribute %s: %#v", name, img[name])
		}
	}
	check("s", img["s"].DataType() == events.DataTypeString && img["s"].String() == "héllo \"x\"")
	check("n", img["n"].DataType() == events.DataTypeNumber && img["n"].Number() == "12345678901234567890.123456789")
	check("b", img["b"].DataType() == events.DataTypeBinary && slices.Equal(img["b"].Binary(), []byte{0, 1, 2, 250, 255}))
	check("t", img["t"].DataType() == events.DataTypeBoolean && img["t"].Boolean())
	check("f", img["f"].DataType() == events.DataTypeBoolean && !img["f"].Boolean())
	check("null", img["null"].IsNull())
	m := img["m"].Map()
	check("m", img["m"].DataType() == events.DataTypeMap && len(m) == 2 && m["inner"].String() == "deep" &&
		len(m["l"].List()) == 1 && m["l"].List()[0].Number() == "-1.5")
	l := img["l"].List()
	check("l", img["l"].DataType() == events.DataTypeList && len(l) == 3 && l[0].String() == "a" && l[1].Number() == "2" &&
		l[2].DataType() == events.DataTypeMap && len(l[2].Map()) == 0)
	ss, ns := img["ss"].StringSet(), img["ns"].NumberSet()
	slices.Sort(ss)
	slices.Sort(ns)
	check("ss", slices.Equal(ss, []string{"x", "y"}))
	check("ns", slices.Equal(ns, []string{"1", "2.5"}))
	bs := img["bs"].BinarySet()
	check("bs", len(bs) == 2 && slices.ContainsFunc(bs, func(b []byte) bool { return slices.Equal(b, []byte{2, 3}) }) &&
		slices.ContainsFunc(bs, func(b []byte) bool { return slices.Equal(b, []byte{1}) }))
	check("em", img["em"].DataType() == events.DataTypeMap && len(img["em"].Map()) == 0)
	check("el", img["el"].DataType() == events.DataTypeList && len(img["el"].List()) == 0)
	if len(img) != 15 {
		t.Errorf("NewImage has %d attributes, want 15", len(img))
	}
	r2 := got[1]
	if r2.EventName != "MODIFY" || r2.Change.NewImage["s"].String() != "changed" || r2.Change.SequenceNumber == r.Change.SequenceNumber {
		t.Errorf("second record: %s %v seq %s after %s", r2.EventName, r2.Change.NewImage["s"], r2.Change.SequenceNumber, r.Change.SequenceNumber)
	}
}

func TestDynamoDBOrderPerKeyAndBatchSize(t *testing.T) {
	t.Parallel()
	s := newEventsTable(t)
	var want []string
	for v := 1; v <= 8; v++ {
		for _, a := range []string{"a", "b", "c"} {
			s.put(t, a, v, nil)
			want = append(want, fmt.Sprintf("%s/%d", a, v))
		}
	}
	f := &function{}
	p := s.poller(t, f, esm.Mapping{BatchSize: 5})
	run(t, p)
	eventually(t, "24 records", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 24 })
	calls, done := f.snapshot()
	for i, c := range calls {
		if len(c) > 5 || len(c) == 0 {
			t.Errorf("call %d has %d records, want 1 to 5", i, len(c))
		}
	}
	// One shard: the stream's order is the write order, and each record comes once.
	if !slices.Equal(done, want) {
		t.Errorf("delivered %v, want %v", done, want)
	}
	if st := p.Stats(); st.Records != 24 || st.Invocations != int64(len(calls)) || st.Retries != 0 || st.Failures != 0 || st.Batches != int64(len(calls)) {
		t.Errorf("stats %+v with %d calls", st, len(calls))
	}
}

// A batching window gathers records written over time into one invocation.
func TestDynamoDBBatchingWindow(t *testing.T) {
	t.Parallel()
	s := newEventsTable(t)
	f := &function{}
	run(t, s.poller(t, f, esm.Mapping{BatchSize: 100, BatchingWindow: 1500 * time.Millisecond}))
	for v := 1; v <= 4; v++ {
		s.put(t, "w", v, nil)
		time.Sleep(100 * time.Millisecond)
	}
	eventually(t, "4 records", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 4 })
	calls, _ := f.snapshot()
	if len(calls) != 1 || len(calls[0]) != 4 {
		t.Errorf("calls %v, want one batch of 4", calls)
	}
}

// An itemIdentifier that is empty or names no record of the batch fails the
// whole batch: it comes again, whole.
func TestDynamoDBBadItemIdentifierFailsWholeBatch(t *testing.T) {
	t.Parallel()
	s := newEventsTable(t)
	for v := 1; v <= 3; v++ {
		s.put(t, "x", v, nil)
	}
	bogus := "12345"
	f := &function{behave: func(call int, batch []item) ([]*string, error) {
		switch call {
		case 0:
			return []*string{new(string)}, nil // ""
		case 1:
			return []*string{&batch[2].seq, &bogus}, nil
		}
		return nil, nil
	}}
	p := s.poller(t, f, esm.Mapping{BatchSize: 10, ReportBatchItemFailures: true, MaxRetries: 5})
	run(t, p)
	eventually(t, "3 records", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 3 })
	calls, done := f.snapshot()
	all := []string{"x/1", "x/2", "x/3"}
	if len(calls) != 3 || !slices.Equal(labels(calls[0]), all) || !slices.Equal(labels(calls[1]), all) || !slices.Equal(labels(calls[2]), all) {
		t.Errorf("calls %v, want the whole batch three times", calls)
	}
	if !slices.Equal(done, all) {
		t.Errorf("done %v", done)
	}
	if st := p.Stats(); st.Retries != 2 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A poison record in a batch: bisection isolates it, the records around it are
// processed, it alone ends in the on-failure destination after MaxRetries, and
// records written later still arrive.
func TestDynamoDBPoisonRecordBisectedToDestination(t *testing.T) {
	t.Parallel()
	s := newEventsTable(t)
	for v := 1; v <= 5; v++ {
		s.put(t, "p", v, nil)
	}
	dest, err := esm.NewFileDestination(filepath.Join(t.TempDir(), "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	f := &function{behave: func(call int, batch []item) ([]*string, error) {
		if slices.ContainsFunc(batch, func(it item) bool { return it.label == "p/3" }) {
			return nil, &invoke.FunctionError{Function: "fn", Type: "errorString", Message: "poison"}
		}
		return nil, nil
	}}
	p := s.poller(t, f, esm.Mapping{BatchSize: 10, BisectOnError: true, MaxRetries: 2, OnFailure: dest})
	run(t, p)
	eventually(t, "a failure", 15*time.Second, func() bool { fs, _ := dest.Failures(); return len(fs) > 0 })
	s.put(t, "p", 6, nil)
	s.put(t, "p", 7, nil)
	eventually(t, "later records", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 6 })
	calls, done := f.snapshot()
	if want := []string{"p/1", "p/2", "p/4", "p/5", "p/6", "p/7"}; !slices.Equal(done, want) {
		t.Errorf("done %v, want %v", done, want)
	}
	var shapes []string
	for _, c := range calls[:min(len(calls), 7)] {
		shapes = append(shapes, strings.Join(labels(c), ","))
	}
	// [1..5] fails → [1,2] ok, [3,4,5] fails → [3] fails three times (first try + 2
	// retries), then [4,5].
	want := []string{"p/1,p/2,p/3,p/4,p/5", "p/1,p/2", "p/3,p/4,p/5", "p/3", "p/3", "p/3", "p/4,p/5"}
	if !slices.Equal(shapes, want) {
		t.Errorf("invocations %q, want %q", shapes, want)
	}
	fs, err := dest.Failures()
	if err != nil || len(fs) != 1 {
		t.Fatalf("failures %+v, %v", fs, err)
	}
	poison := calls[3][0]
	got := fs[0]
	if got.RequestContext.Condition != "RetryAttemptsExhausted" || got.RequestContext.ApproximateInvokeCount != 3 ||
		!strings.HasPrefix(got.RequestContext.FunctionARN, "arn:aws:lambda:us-east-1:") || !strings.HasSuffix(got.RequestContext.FunctionARN, ":function:fn") ||
		got.RequestContext.RequestID == "" || got.Version != "1.0" || got.ResponseContext.FunctionError != "Unhandled" ||
		got.ResponseContext.StatusCode != 200 || got.KinesisBatchInfo != nil {
		t.Errorf("failure record %+v", got)
	}
	if _, err := time.Parse(time.RFC3339Nano, got.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", got.Timestamp, err)
	}
	info := got.DDBStreamBatchInfo
	if info == nil || info.StartSequenceNumber != poison.seq || info.EndSequenceNumber != poison.seq || info.BatchSize != 1 ||
		info.StreamARN != s.arn || info.ShardID == "" {
		t.Errorf("batch info %+v, want the poison record %s", info, poison.seq)
	}
	if st := p.Stats(); st.Failures != 1 {
		t.Errorf("stats %+v", st)
	}
}

// The poller resumes from its file checkpoints: nothing processed before the
// restart comes again.
func TestDynamoDBRestartFromFileCheckpoints(t *testing.T) {
	t.Parallel()
	s := newEventsTable(t)
	path := filepath.Join(t.TempDir(), "checkpoints.json")
	for v := 1; v <= 3; v++ {
		s.put(t, "r", v, nil)
	}
	cp, err := esm.NewFileCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	f1 := &function{}
	stop := run(t, s.poller(t, f1, esm.Mapping{Checkpoints: cp}))
	eventually(t, "first records", 15*time.Second, func() bool { _, done := f1.snapshot(); return len(done) >= 3 })
	stop()
	for v := 4; v <= 5; v++ {
		s.put(t, "r", v, nil)
	}
	cp2, err := esm.NewFileCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	f2 := &function{}
	run(t, s.poller(t, f2, esm.Mapping{Checkpoints: cp2}))
	eventually(t, "later records", 15*time.Second, func() bool { _, done := f2.snapshot(); return len(done) >= 2 })
	time.Sleep(300 * time.Millisecond) // a redelivery would show by now
	_, done := f2.snapshot()
	if want := []string{"r/4", "r/5"}; !slices.Equal(done, want) {
		t.Errorf("after restart: %v, want %v", done, want)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "shardId") {
		t.Errorf("checkpoint file: %s %v", b, err)
	}
}

// --- Kinesis ---

type kinStream struct {
	k    *kinesis.Client
	name string
}

func newKinesisStream(t *testing.T, shards int32) kinStream {
	t.Helper()
	ctx := t.Context()
	k := testenv.Kinesis(t)
	name := testenv.UniqueName(t, "prices")
	if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, k, name)
	return kinStream{k: k, name: name}
}

func waitActive(t *testing.T, k *kinesis.Client, name string) {
	t.Helper()
	eventually(t, "stream ACTIVE", 30*time.Second, func() bool {
		s, err := k.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		return err == nil && s.StreamDescriptionSummary.StreamStatus == kintypes.StreamStatusActive
	})
}

// Hash keys at the two ends of the key space: the first and the last shard of
// an evenly split stream.
const (
	lowHash  = "0"
	highHash = "340282366920938463463374607431768211455"
)

func (s kinStream) put(t *testing.T, data, key, hash string) string {
	t.Helper()
	in := &kinesis.PutRecordInput{StreamName: aws.String(s.name), Data: []byte(data), PartitionKey: aws.String(key)}
	if hash != "" {
		in.ExplicitHashKey = aws.String(hash)
	}
	out, err := s.k.PutRecord(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ShardId)
}

func (s kinStream) poller(t *testing.T, f *function, m esm.Mapping) *esm.Poller {
	f.kinesis = true
	return esm.NewKinesisPoller(f, s.k, s.name, fast(m), logger(t))
}

func TestKinesisEventShape(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	var mu sync.Mutex
	var got []events.KinesisEventRecord
	inv := invoke.Func(func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		var ev events.KinesisEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Errorf("decode: %v", err)
			return nil, err
		}
		mu.Lock()
		got = append(got, ev.Records...)
		mu.Unlock()
		return nil, nil // no response at all is a success too
	})
	before := time.Now().Add(-time.Second)
	data := `{"s":"AAPL","p":"189.5"}` + "\x00\xff"
	shardID := s.put(t, data, "AAPL", "")
	run(t, esm.NewKinesisPoller(inv, s.k, s.name, fast(esm.Mapping{Function: "prices"}), logger(t)))
	eventually(t, "a record", 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 0 })
	mu.Lock()
	defer mu.Unlock()
	r := got[0]
	sum, err := s.k.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.name)})
	if err != nil {
		t.Fatal(err)
	}
	k := r.Kinesis
	if string(k.Data) != data || k.PartitionKey != "AAPL" || k.KinesisSchemaVersion != "1.0" || k.SequenceNumber == "" {
		t.Errorf("kinesis part %+v", k)
	}
	if r.EventSource != "aws:kinesis" || r.EventName != "aws:kinesis:record" || r.EventVersion != "1.0" ||
		r.EventID != shardID+":"+k.SequenceNumber || r.AwsRegion != testenv.Region ||
		r.EventSourceArn != aws.ToString(sum.StreamDescriptionSummary.StreamARN) || !strings.HasPrefix(r.InvokeIdentityArn, "arn:aws:iam::") {
		t.Errorf("envelope %+v", r)
	}
	if at := k.ApproximateArrivalTimestamp.Time; at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("arrival %v", at)
	}
}

// ReportBatchItemFailures: the batch is checkpointed before the lowest failed
// record, and only the records from there on come again.
func TestKinesisPartialFailureRedeliversFromLowestFailed(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	var want []string
	for i := range 8 {
		d := fmt.Sprintf("r%d", i)
		s.put(t, d, "k", "")
		want = append(want, d)
	}
	f := &function{behave: func(call int, batch []item) ([]*string, error) {
		if call == 0 {
			// Two failures reported, in reverse order: the lowest (r4) counts.
			return []*string{&batch[6].seq, &batch[4].seq}, nil
		}
		return nil, nil
	}}
	p := s.poller(t, f, esm.Mapping{BatchSize: 8, ReportBatchItemFailures: true, MaxRetries: 3})
	run(t, p)
	eventually(t, "8 records", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 8 })
	time.Sleep(200 * time.Millisecond)
	calls, done := f.snapshot()
	if len(calls) != 2 || !slices.Equal(labels(calls[0]), want) || !slices.Equal(labels(calls[1]), want[4:]) {
		t.Errorf("calls %v, want all 8 then r4..r7", calls)
	}
	if !slices.Equal(done, want) {
		t.Errorf("done %v", done)
	}
	if st := p.Stats(); st.Invocations != 2 || st.Retries != 1 || st.Batches != 1 || st.Records != 8 {
		t.Errorf("stats %+v", st)
	}
}

// A poison record reported as a batch item failure, with bisection on (as every
// mapping of the topology has it), takes the records after it in its batch to the
// on-failure destination when its retries run out: the batch is checkpointed
// before it and the rest is retried as it is, which is what AWS documents
// ("bisected at the returned sequence number"; consumers already applied those
// records). A function that fails the whole invocation when the poison heads its
// batch gets it bisected down to itself: the destination names it alone.
func TestKinesisPoisonAtTheHeadOfABatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		wholeError bool
		discarded  []string
		done       []string
	}{
		{"reported as an item failure", false, []string{"p", "r2", "r3"}, []string{"r0"}},
		{"the invocation failed when it heads the batch", true, []string{"p"}, []string{"r0", "r2", "r3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newKinesisStream(t, 1)
			dest, err := esm.NewFileDestination(filepath.Join(t.TempDir(), "failures.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer dest.Close()
			for _, d := range []string{"r0", "p", "r2", "r3"} {
				s.put(t, d, "k", "")
			}
			f := &function{behave: func(call int, batch []item) ([]*string, error) {
				i := slices.IndexFunc(batch, func(it item) bool { return it.label == "p" })
				switch {
				case i < 0:
					return nil, nil
				case i == 0 && c.wholeError:
					return nil, &invoke.FunctionError{Function: "fn", Type: "poison", Message: "a poison record heads the batch"}
				}
				return []*string{&batch[i].seq}, nil
			}}
			p := s.poller(t, f, esm.Mapping{BatchSize: 10, ReportBatchItemFailures: true, BisectOnError: true, MaxRetries: 2, OnFailure: dest})
			run(t, p)
			eventually(t, "a failure", 15*time.Second, func() bool { fs, _ := dest.Failures(); return len(fs) > 0 })
			eventually(t, "the records after it", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= len(c.done) })
			calls, done := f.snapshot()
			if !slices.Equal(done, c.done) {
				t.Errorf("done %v, want %v", done, c.done)
			}
			seq := map[string]string{}
			for _, it := range calls[0] {
				seq[it.label] = it.seq
			}
			fs, _ := dest.Failures()
			if len(fs) != 1 {
				t.Fatalf("failures %+v, want one", fs)
			}
			info := fs[0].KinesisBatchInfo
			if info == nil || info.BatchSize != len(c.discarded) || info.StartSequenceNumber != seq[c.discarded[0]] ||
				info.EndSequenceNumber != seq[c.discarded[len(c.discarded)-1]] {
				t.Errorf("batch info %+v, want %v (%v)", info, c.discarded, seq)
			}
		})
	}
}

// Without ReportBatchItemFailures the response is ignored: Lambda only reads it
// when the mapping asks for it.
func TestKinesisItemFailuresIgnoredWhenNotReported(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	s.put(t, "a", "k", "")
	s.put(t, "b", "k", "")
	f := &function{behave: func(call int, batch []item) ([]*string, error) { return []*string{&batch[0].seq}, nil }}
	p := s.poller(t, f, esm.Mapping{})
	run(t, p)
	eventually(t, "an invocation", 15*time.Second, func() bool { c, _ := f.snapshot(); return len(c) > 0 })
	time.Sleep(300 * time.Millisecond)
	if st := p.Stats(); st.Invocations != 1 || st.Retries != 0 {
		t.Errorf("stats %+v, want one invocation", st)
	}
}

// A timeout is a failed attempt like a function error; a throttle is not (it is
// retried without using up the retries).
func TestKinesisTimeoutCountsThrottleDoesNot(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	dest, err := esm.NewFileDestination(filepath.Join(t.TempDir(), "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	s.put(t, "slow", "k", "")
	f := &function{behave: func(call int, batch []item) ([]*string, error) {
		switch {
		case batch[0].label == "slow":
			return nil, fmt.Errorf("fn: %w", invoke.ErrTimeout)
		case call < 5:
			return nil, invoke.ErrThrottled
		}
		return nil, nil
	}}
	p := s.poller(t, f, esm.Mapping{MaxRetries: 1, OnFailure: dest})
	run(t, p)
	eventually(t, "a failure", 15*time.Second, func() bool { fs, _ := dest.Failures(); return len(fs) > 0 })
	s.put(t, "next", "k", "")
	eventually(t, "next", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) > 0 })
	calls, done := f.snapshot()
	if len(calls) != 6 || !slices.Equal(done, []string{"next"}) {
		t.Errorf("calls %v done %v: want slow twice, next throttled thrice then delivered", calls, done)
	}
	fs, _ := dest.Failures()
	if len(fs) != 1 || fs[0].RequestContext.ApproximateInvokeCount != 2 || fs[0].ResponseContext.FunctionError != "Unhandled" ||
		fs[0].KinesisBatchInfo == nil || fs[0].KinesisBatchInfo.StartSequenceNumber != calls[0][0].seq || fs[0].DDBStreamBatchInfo != nil {
		t.Errorf("failures %+v", fs)
	}
}

// A record older than MaxRecordAge is given up on even with infinite retries.
func TestKinesisMaxRecordAge(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	dest, err := esm.NewFileDestination(filepath.Join(t.TempDir(), "failures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.put(t, "bad", "k", "")
	f := &function{behave: func(call int, batch []item) ([]*string, error) {
		if batch[0].label == "bad" {
			return nil, &invoke.FunctionError{Function: "fn", Type: "errorString", Message: "always"}
		}
		return nil, nil
	}}
	p := s.poller(t, f, esm.Mapping{MaxRetries: -1, MaxRecordAge: time.Second, OnFailure: dest})
	run(t, p)
	eventually(t, "a failure", 15*time.Second, func() bool { fs, _ := dest.Failures(); return len(fs) > 0 })
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("given up after %s, before the record was a second old", waited)
	}
	s.put(t, "good", "k", "")
	eventually(t, "good", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) > 0 })
	fs, _ := dest.Failures()
	calls, _ := f.snapshot()
	// How many attempts fit in the second depends on the machine's load; at least
	// one was made, and the record was given up for its age, not its attempts.
	if len(fs) != 1 || fs[0].RequestContext.Condition != "RecordAgeExceeded" || fs[0].KinesisBatchInfo.BatchSize != 1 ||
		len(calls) < 1 {
		t.Errorf("failures %+v after %d calls", fs, len(calls))
	}
}

// Each shard is read on its own, in order; records of both come through.
func TestKinesisTwoShards(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 2)
	shards := map[string]bool{}
	var want []string
	for i := range 6 {
		for _, h := range []string{lowHash, highHash} {
			d := fmt.Sprintf("%s-%d", h[:1], i)
			shards[s.put(t, d, d, h)] = true
			want = append(want, d)
		}
	}
	if len(shards) != 2 {
		t.Fatalf("records went to shards %v, want two", shards)
	}
	f := &function{}
	run(t, s.poller(t, f, esm.Mapping{BatchSize: 4}))
	eventually(t, "12 records", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 12 })
	calls, done := f.snapshot()
	seen := map[string]bool{}
	for _, c := range calls {
		shard := strings.SplitN(c[0].eventID, ":", 2)[0]
		for _, it := range c {
			if !strings.HasPrefix(it.eventID, shard+":") {
				t.Errorf("batch mixes shards: %v", c)
			}
		}
		seen[shard] = true
	}
	if len(seen) != 2 {
		t.Errorf("batches from shards %v", seen)
	}
	for _, prefix := range []string{"0-", "3-"} {
		var got, exp []string
		for _, d := range done {
			if strings.HasPrefix(d, prefix) {
				got = append(got, d)
			}
		}
		for _, d := range want {
			if strings.HasPrefix(d, prefix) {
				exp = append(exp, d)
			}
		}
		if !slices.Equal(got, exp) {
			t.Errorf("shard %s order %v, want %v", prefix, got, exp)
		}
	}
}

// A shard split while the poller runs: the children are found and read, and
// only after their parent is read to its end, so a key's order holds across the
// split.
func TestKinesisSplitShardPickedUp(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	f := &function{}
	run(t, s.poller(t, f, esm.Mapping{}))
	s.put(t, "before-1", "k", lowHash)
	eventually(t, "the first record", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 1 })
	// These may or may not be read before the split; either way they must come
	// before the children's records.
	s.put(t, "before-2", "k", lowHash)
	s.put(t, "before-3", "k", highHash)
	ls, err := s.k.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(s.name)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.k.SplitShard(t.Context(), &kinesis.SplitShardInput{
		StreamName: aws.String(s.name), ShardToSplit: ls.Shards[0].ShardId,
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728"),
	})
	if err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	waitActive(t, s.k, s.name)
	children := map[string]bool{}
	children[s.put(t, "after-low", "k", lowHash)] = true
	children[s.put(t, "after-high", "k", highHash)] = true
	if children[aws.ToString(ls.Shards[0].ShardId)] || len(children) != 2 {
		t.Fatalf("records after the split went to %v", children)
	}
	eventually(t, "records of the children", 15*time.Second, func() bool { _, done := f.snapshot(); return len(done) >= 5 })
	time.Sleep(200 * time.Millisecond)
	_, done := f.snapshot()
	if len(done) != 5 || !slices.Equal(done[:3], []string{"before-1", "before-2", "before-3"}) ||
		!slices.Contains(done, "after-low") || !slices.Contains(done, "after-high") {
		t.Errorf("delivered %v, want the parent's three records first, then both children's", done)
	}
}

// StartingPosition LATEST skips what was written before the poller started.
func TestKinesisStartingPositionLatest(t *testing.T) {
	t.Parallel()
	s := newKinesisStream(t, 1)
	s.put(t, "old", "k", "")
	f := &function{}
	run(t, s.poller(t, f, esm.Mapping{StartingPosition: esm.Latest}))
	// When the poller takes its LATEST iterator depends on the machine's load:
	// write until a record arrives, then check the old one never did.
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; ; n++ {
		if _, done := f.snapshot(); len(done) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no record written after the start arrived within 15 s")
		}
		s.put(t, fmt.Sprintf("new-%d", n), "k", "")
		time.Sleep(300 * time.Millisecond)
	}
	if _, done := f.snapshot(); slices.Contains(done, "old") || !strings.HasPrefix(done[0], "new-") {
		t.Errorf("delivered %v, want only records written after the start", done)
	}
}

// kinesis-mock saves its streams every few seconds and is killed, not stopped:
// restarted, it may have lost records the poller had already checkpointed, and
// then answers GetShardIterator AFTER_SEQUENCE_NUMBER with ResourceNotFound.
// That was taken for a deleted shard, which ended the shard's reading for good
// (the local stack's prices stopped after a restart). The poller now reads the
// shard again from its trim horizon: what the file kept is delivered again and
// nothing written after the restart is lost.
func TestKinesisRestartFromAnOlderPersistenceFile(t *testing.T) {
	t.Parallel()
	if external, err := emulator.ExternalAWS(); err != nil || external {
		t.Skip("needs its own kinesis-mock, restarted from its persistence file")
	}
	root, err := emulator.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	set, err := emulator.Open(root, dir, emulator.Options{Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set.Stop(false); err != nil {
			t.Errorf("stop kinesis-mock: %v", err)
		}
	})
	endpoint, err := set.Start(t.Context(), emulator.Kinesis)
	if err != nil {
		t.Fatal(err)
	}
	k := kinesis.NewFromConfig(aws.Config{Region: emulator.Region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
	s := kinStream{k: k, name: "prices"}
	if _, err := k.CreateStream(t.Context(), &kinesis.CreateStreamInput{StreamName: aws.String(s.name), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, k, s.name)
	s.put(t, "r1", "k", "")

	// The file as it is once it holds r1: the restart below loads it, as if
	// kinesis-mock had been killed before saving r2 and r3.
	file := filepath.Join(dir, "kinesis", "kinesis-data.json")
	var saved []byte
	eventually(t, "r1 saved", 30*time.Second, func() bool {
		saved, _ = os.ReadFile(file)
		return strings.Contains(string(saved), base64.StdEncoding.EncodeToString([]byte("r1")))
	})
	s.put(t, "r2", "k", "")
	s.put(t, "r3", "k", "")
	cp, err := esm.NewFileCheckpoints(filepath.Join(dir, "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	f1 := &function{}
	stop := run(t, s.poller(t, f1, esm.Mapping{Checkpoints: cp}))
	eventually(t, "first records", 15*time.Second, func() bool { _, done := f1.snapshot(); return len(done) >= 3 })
	stop()

	if err := set.StopEmulator(emulator.Kinesis); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := set.Start(t.Context(), emulator.Kinesis); err != nil { // on the same port
		t.Fatal(err)
	}
	waitActive(t, k, s.name)
	// kinesis-mock numbers these from where its file ended: r4's sequence
	// number is below the checkpoint (r3's).
	for _, d := range []string{"r4", "r5", "r6"} {
		s.put(t, d, "k", "")
	}
	cp2, err := esm.NewFileCheckpoints(filepath.Join(dir, "checkpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	f2 := &function{}
	run(t, s.poller(t, f2, esm.Mapping{Checkpoints: cp2}))
	eventually(t, "records written after the restart", 15*time.Second, func() bool {
		_, done := f2.snapshot()
		return slices.Contains(done, "r6")
	})
	if _, done := f2.snapshot(); !slices.Equal(done, []string{"r1", "r4", "r5", "r6"}) {
		t.Errorf("after the restart: %v, want r1 again (the file's records), then r4, r5, r6", done)
	}
}

func TestFileDestinationConcurrentAppends(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f.jsonl")
	d, err := esm.NewFileDestination(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			f := esm.Failure{Version: "1.0", KinesisBatchInfo: &esm.BatchInfo{BatchSize: i + 1, ShardID: strings.Repeat("x", 5000)}}
			if err := d.Send(t.Context(), f); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// A function appends its own quarantine record to the same file, as it sends
	// it to the same queue on AWS: Failures leaves it out, Messages has it.
	own := `{"kind":"QuarantinedEvent","consumer":"projector","aggregateId":"p1","version":3,"reason":"corrupt"}`
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(own + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d2, err := esm.NewFileDestination(path) // reopened: appends, and reads what was there
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	fs, err := d2.Failures()
	if err != nil || len(fs) != 20 {
		t.Fatalf("%d failures, %v", len(fs), err)
	}
	if msgs, err := d2.Messages(); err != nil || len(msgs) != 21 || string(msgs[20]) != own {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	var sizes []int
	for _, f := range fs {
		sizes = append(sizes, f.KinesisBatchInfo.BatchSize)
	}
	slices.Sort(sizes)
	for i, n := range sizes {
		if n != i+1 {
			t.Fatalf("batch sizes %v", sizes)
		}
	}
}

func TestFileCheckpointsPersist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	c, err := esm.NewFileCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	if seq, err := c.Get("s1"); seq != "" || err != nil {
		t.Fatalf("empty: %q %v", seq, err)
	}
	if err := errors.Join(c.Put("s1", "100"), c.Put("s2", "7"), c.Put("s1", "200")); err != nil {
		t.Fatal(err)
	}
	c2, err := esm.NewFileCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c2.Get("s1")
	b, _ := c2.Get("s2")
	if a != "200" || b != "7" {
		t.Errorf("reloaded %q %q", a, b)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := esm.NewFileCheckpoints(path); err == nil {
		t.Error("a corrupt file must be refused, not silently restart from the stream's start")
	}
}
