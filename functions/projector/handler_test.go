package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/functions/edge/dynamostream"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/projection"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stream builds stream records the way DynamoDB Streams delivers them, from the
// event store's own item encoding.
type stream struct {
	t   *testing.T
	seq int
	rec []events.DynamoDBEventRecord
}

func image(it eventstore.Item) map[string]events.DynamoDBAttributeValue {
	m := make(map[string]events.DynamoDBAttributeValue, len(it))
	for k, v := range it {
		if eventstore.NumericAttrs[k] {
			m[k] = events.NewNumberAttribute(v)
		} else {
			m[k] = events.NewStringAttribute(v)
		}
	}
	return m
}

func (s *stream) add(name string, it eventstore.Item, edit func(map[string]events.DynamoDBAttributeValue)) string {
	s.seq++
	seq := fmt.Sprintf("%021d", 4000000000000000000+s.seq)
	img := image(it)
	if edit != nil {
		edit(img)
	}
	r := events.DynamoDBEventRecord{
		AWSRegion: "us-east-1", EventID: fmt.Sprintf("ev-%d", s.seq), EventName: name, EventSource: "aws:dynamodb",
		EventVersion: "1.1", EventSourceArn: "arn:aws:dynamodb:us-east-1:000000000000:table/events/stream/2026-01-01T00:00:00.000",
		Change: events.DynamoDBStreamRecord{
			Keys: map[string]events.DynamoDBAttributeValue{
				eventstore.AttrAggregateID: events.NewStringAttribute(it[eventstore.AttrAggregateID]),
				eventstore.AttrVersion:     events.NewNumberAttribute(it[eventstore.AttrVersion]),
			},
			SequenceNumber: seq, SizeBytes: 512, StreamViewType: "NEW_IMAGE",
		},
	}
	if name != "REMOVE" {
		r.Change.NewImage = img
	}
	if name != "INSERT" {
		r.Change.OldImage = img
	}
	s.rec = append(s.rec, r)
	return seq
}

func (s *stream) event(e portfolio.Event) string {
	return s.add("INSERT", encode(s.t, e), nil)
}

// take returns the records as the Lambda runtime hands them over: decoded from JSON.
func (s *stream) take() events.DynamoDBEvent {
	b, err := json.Marshal(events.DynamoDBEvent{Records: s.rec})
	if err != nil {
		s.t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		s.t.Fatal(err)
	}
	s.rec = nil
	return ev
}

func encode(t *testing.T, e portfolio.Event) eventstore.Item {
	t.Helper()
	it, err := eventstore.EncodeItem(&e)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func failures(resp events.DynamoDBEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

func TestHandlerEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	proj := rmtest.NewProjector(pool)
	var logs, metrics bytes.Buffer
	h := handler{projection.New(proj, projection.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: &metrics})}

	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	b := rmtest.Realistic(t, "pb", rmtest.UserB, portfolio.AverageCost)
	s := &stream{t: t}

	// Batch 1: pa 1–10 and pb 1–5 interleaved; operator MODIFY and REMOVE records;
	// pa 10 carries a snapshot; a poison pb 6 (its data does not decode) followed by
	// a good pb 7; events of another aggregate type this build does not know.
	for i := range 10 {
		s.event(a.Events[i])
		if i < 5 {
			s.event(b.Events[i])
		}
		if i == 2 {
			s.add("MODIFY", encode(t, a.Events[1]), nil)
		}
	}
	s.rec[len(s.rec)-1].Change.NewImage["snapshot"] = events.NewBinaryAttribute([]byte{0x78, 0x9c, 0x01})
	s.add("REMOVE", encode(t, a.Events[0]), nil)
	poison := s.add("INSERT", encode(t, b.Events[5]), func(m map[string]events.DynamoDBAttributeValue) {
		m[eventstore.AttrData] = events.NewStringAttribute(`{"transactionId": "x", "type": "BUY"`)
	})
	after := s.event(b.Events[6])
	alert := portfolio.Event{EventID: "al-1", EventType: "AlertRuleCreated", AggregateID: "alert-1", AggregateType: "AlertRule",
		Version: 1, Timestamp: a.Events[0].Timestamp, UserID: rmtest.UserA, SchemaVersion: 1, Data: &portfolio.PortfolioArchived{}}
	it := encode(t, alert)
	it[eventstore.AttrData] = `{"symbol":"AAPL","above":"200"}`
	s.add("INSERT", it, nil)
	alert.Version = 2
	it = encode(t, alert)
	it[eventstore.AttrEventType] = "AlertRuleChanged"
	s.add("INSERT", it, nil)

	resp, err := h.Handle(ctx, s.take())
	if err != nil {
		t.Fatal(err)
	}
	if got := failures(resp); !slices.Equal(got, []string{poison, after}) {
		t.Fatalf("failures %v, want the poison record %s and the later record of its aggregate %s", got, poison, after)
	}
	for id, want := range map[string]int64{"pa": 10, "pb": 5, "alert-1": 2} {
		var cp int64
		if err := pool.QueryRow(ctx, "select version from projection_checkpoints where aggregate_id = $1", id).Scan(&cp); err != nil || cp != want {
			t.Errorf("%s checkpoint %d (err %v), want %d", id, cp, err, want)
		}
	}
	var logged []string
	rows, err := pool.Query(ctx, "select aggregate_id || '/' || version from projection_failures order by 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		logged = append(logged, s)
	}
	if !slices.Equal(logged, []string{"pb/6", "pb/7"}) {
		t.Errorf("projection_failures %v", logged)
	}
	for _, want := range []string{`"StreamRecordsPoison":1`, `"StreamRecordsUnknownType":2`, `"StreamRecordsIgnored":2`,
		`"StreamRecordsFailed":2`, `"CloudWatchMetrics"`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics.String())
		}
	}
	if !strings.Contains(logs.String(), "poison stream record") {
		t.Errorf("poison not logged:\n%s", logs.String())
	}

	// Batch 2: the stream retries from the failed records (now intact) and goes on;
	// some records are delivered again.
	for i := 5; i < len(b.Events); i++ {
		s.event(b.Events[i])
	}
	for i := 8; i < len(a.Events); i++ {
		s.event(a.Events[i])
	}
	resp, err = h.Handle(ctx, s.take())
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %v %v", failures(resp), err)
	}
	var left int
	if err := pool.QueryRow(ctx, "select count(*) from projection_failures").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d failures still logged (err %v)", left, err)
	}

	// The result is the projection of the two histories.
	want, _ := rmtest.DB(t)
	wp := rmtest.NewProjector(want)
	if failed, err := wp.Apply(ctx, append(slices.Clone(a.Events), b.Events...)); err != nil || len(failed) > 0 {
		t.Fatal(failed, err)
	}
	if _, err := wp.ApplyBatch(ctx, []portfolio.Event{{EventType: "AlertRuleCreated", AggregateID: "alert-1", Version: 1, Timestamp: alert.Timestamp},
		{EventType: "AlertRuleChanged", AggregateID: "alert-1", Version: 2, Timestamp: alert.Timestamp}}); err != nil {
		t.Fatal(err)
	}
	if d1, d2 := rmtest.Dump(t, want), rmtest.Dump(t, pool); d1 != d2 {
		t.Fatalf("stream projection differs from direct projection:\n%s\n----\n%s", d1, d2)
	}
}

func TestHandlerPoisonShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := rmtest.DB(t)
	h := handler{projection.New(rmtest.NewProjector(pool), projection.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: io.Discard,
		Retry: retry.Policy{First: time.Millisecond, For: 50 * time.Millisecond}})}
	a := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	s := &stream{t: t}
	ok1 := s.event(a.Events[0])
	noImage := s.add("INSERT", encode(t, a.Events[1]), func(m map[string]events.DynamoDBAttributeValue) { clear(m) })
	binary := s.add("INSERT", encode(t, a.Events[1]), func(m map[string]events.DynamoDBAttributeValue) {
		m[eventstore.AttrData] = events.NewBinaryAttribute([]byte("{}"))
	})
	newer := s.add("INSERT", encode(t, a.Events[1]), func(m map[string]events.DynamoDBAttributeValue) {
		m[eventstore.AttrSchemaVersion] = events.NewNumberAttribute("99")
	})
	resp, err := h.Handle(ctx, s.take())
	if err != nil {
		t.Fatal(err)
	}
	if got := failures(resp); !slices.Equal(got, []string{noImage, binary, newer}) || slices.Contains(got, ok1) {
		t.Fatalf("failures %v", got)
	}
	// A database that cannot be reached, beyond the retries within the invocation,
	// fails the invocation (the stream retries it).
	pool.Close()
	s.event(a.Events[1])
	if _, err := h.Handle(ctx, s.take()); err == nil {
		t.Fatal("closed database: no error")
	}
}

func TestItemFromImage(t *testing.T) {
	e := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO).Events[1]
	img := image(encode(t, e))
	img["snapshot"] = events.NewBinaryAttribute([]byte{1, 2, 3})
	it, err := dynamostream.Item(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := it["snapshot"]; ok {
		t.Error("snapshot kept")
	}
	back, err := eventstore.DecodeItem(it)
	if err != nil || back.EventID != e.EventID || back.Version != e.Version {
		t.Fatalf("decode: %+v %v", back, err)
	}
	if !readmodel.KnownEventType(back.EventType) {
		t.Fatal("type")
	}
}

// decodeRecords names every record by its sequence number and tells the service
// what each is: an event, an operator's record to ignore, or a poison record with
// what its keys and image still say.
func TestDecodeRecords(t *testing.T) {
	h := rmtest.Realistic(t, "pa", rmtest.UserA, portfolio.FIFO)
	s := &stream{t: t}
	ok := s.event(h.Events[1])
	modify := s.add("MODIFY", encode(t, h.Events[2]), nil)
	poison := s.add("INSERT", encode(t, h.Events[3]), func(m map[string]events.DynamoDBAttributeValue) {
		m[eventstore.AttrData] = events.NewBinaryAttribute([]byte("{}"))
	})
	nameless := s.add("INSERT", encode(t, h.Events[4]), func(m map[string]events.DynamoDBAttributeValue) {
		m[eventstore.AttrData] = events.NewStringAttribute("{")
	})
	s.rec[len(s.rec)-1].Change.Keys = nil
	recs := decodeRecords(s.take().Records)
	if len(recs) != 4 || recs[0].ID != ok || recs[1].ID != modify || recs[2].ID != poison || recs[3].ID != nameless {
		t.Fatalf("records %+v", recs)
	}
	if r := recs[0]; r.Ignored != "" || r.Undecodable != "" || r.Event.EventID != h.Events[1].EventID || r.Event.Data == nil {
		t.Errorf("INSERT decoded as %+v", r)
	}
	if r := recs[1]; r.Ignored != "MODIFY" || r.Event.AggregateID != "pa" || r.Event.Version != 3 {
		t.Errorf("MODIFY decoded as %+v", r)
	}
	if r := recs[2]; !strings.Contains(r.Undecodable, "binary") || r.Event.AggregateID != "pa" || r.Event.Version != 4 ||
		r.Event.EventID != h.Events[3].EventID || r.Event.EventType != h.Events[3].EventType || !strings.Contains(string(r.Image), `"B"`) {
		t.Errorf("binary data decoded as %+v", r)
	}
	if r := recs[3]; r.Undecodable == "" || r.Event.AggregateID != "pa" || r.Event.Version != 0 || len(r.Image) == 0 {
		t.Errorf("keyless poison decoded as %+v", r)
	}
}
