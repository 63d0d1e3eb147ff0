package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// recordingService keeps the inputs the handler decoded, and answers with
// outcome.
type recordingService struct {
	batches []analyticsjob.StreamBatch
	runs    []analyticsjob.ScheduledRun
	outcome analyticsjob.StreamOutcome
}

func (s *recordingService) Recompute(_ context.Context, b analyticsjob.StreamBatch) (analyticsjob.StreamOutcome, error) {
	s.batches = append(s.batches, b)
	return s.outcome, nil
}

func (s *recordingService) RunScheduled(_ context.Context, run analyticsjob.ScheduledRun) (analyticsjob.RunSummary, error) {
	s.runs = append(s.runs, run)
	return analyticsjob.RunSummary{Mode: run.Mode, Day: run.Day.String()}, nil
}

// TestHandlerDispatches: one Lambda handler serves the stream mapping and the
// schedules, refuses anything else before building its dependencies, and
// answers the stream with the records to deliver again (an empty list, not
// null, when there are none).
func TestHandlerDispatches(t *testing.T) {
	t.Parallel()
	svc := &recordingService{}
	builds := 0
	h := handler(func(context.Context) (service, error) { builds++; return svc, nil }, quiet)
	ctx := context.Background()
	for _, bad := range []string{`[1]`, `{}`, `{"detail-type":"Scheduled Event"}`, `nope`} {
		if _, err := h(ctx, json.RawMessage(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if builds != 0 {
		t.Errorf("built %d times for refused events", builds)
	}

	out, err := h(ctx, json.RawMessage(`{"mode":"daily"}`))
	if sum, ok := out.(analyticsjob.RunSummary); err != nil || !ok || sum.Mode != "daily" {
		t.Fatalf("schedule: %#v %v", out, err)
	}
	if _, err := h(ctx, json.RawMessage(`{"mode":"weekly","day":"2025-07-01"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := h(ctx, json.RawMessage(`{"mode":"daily","day":"July 1st"}`)); err == nil {
		t.Error("a day that is no date accepted")
	}
	want := []analyticsjob.ScheduledRun{{Mode: "daily"}, {Mode: "weekly", Day: calendar.MustNew(2025, time.July, 1)}}
	if !slices.Equal(svc.runs, want) {
		t.Errorf("runs %+v, want %+v", svc.runs, want)
	}

	raw := json.RawMessage(`{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","Keys":{"aggregateId":{"S":"p1"},"version":{"N":"1"}}}}]}`)
	out, err = h(ctx, raw)
	if resp, ok := out.(events.DynamoDBEventResponse); err != nil || !ok || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream: %#v %v", out, err)
	}
	if len(svc.batches) != 1 || !slices.Equal(svc.batches[0].Changes, []analyticsjob.Change{{PortfolioID: "p1", ItemID: "1", Version: 1}}) {
		t.Fatalf("decoded %+v", svc.batches)
	}
	svc.outcome = analyticsjob.StreamOutcome{FailedItems: []string{"1"}}
	out, err = h(ctx, raw)
	if resp, ok := out.(events.DynamoDBEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "1" {
		t.Fatalf("stream with a failure: %#v %v", out, err)
	}

	failing := handler(func(context.Context) (service, error) { return nil, errors.New("secret not readable yet") }, quiet)
	if _, err := failing(ctx, json.RawMessage(`{"mode":"daily"}`)); err == nil {
		t.Error("a failed build does not fail the invocation")
	}
}

// TestDecodeStreamReadsTheEventsTablesRecords: the records of the events table's
// stream, as DynamoDB Local delivers them (keys, NEW_IMAGE, sequence numbers)
// and through JSON as the Lambda runtime hands them over, decode to one change
// per portfolio event, in order, with what the quarantine needs; a MODIFY
// record, another aggregate type's record and one without an aggregate ID are
// counted and left out.
func TestDecodeStreamReadsTheEventsTablesRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ddb := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, ddb, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(ddb, name, dynamostore.Options{SnapshotEvery: 4})
	cmds := command.New(store, command.Options{SnapshotEvery: 4, Logger: quiet})
	const user = "0a0a0a0a-0000-4000-8000-00000000000a"
	var ids []string
	for _, key := range []string{"first", "second"} {
		res, err := cmds.Create(ctx, command.Request{UserID: user, CommandID: key}, portfolio.CreatePortfolio{Name: key, BaseCurrency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []int{3, 4, 5, 8, 9} {
			tx := portfolio.Transaction{Type: portfolio.Buy, Date: calendar.MustNew(2024, time.January, d), Symbol: "AAA",
				Quantity: decimal.NewFromInt(10), Price: decimal.NewFromInt(100), Currency: "USD"}
			if _, err := cmds.Execute(ctx, command.Request{AggregateID: res.AggregateID, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
				_, err := p.RecordTransaction(tx, meta)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, res.AggregateID)
	}

	ev := readStream(t, ddb, name)
	seqs := map[string]bool{}
	notInserts := 0 // an event item a snapshot was written onto afterwards, if any
	for _, r := range ev.Records {
		seqs[r.Change.SequenceNumber] = true
		if r.EventName != "INSERT" {
			notInserts++
		}
	}
	ev.Records = append(ev.Records,
		events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: "m",
			Keys: map[string]events.DynamoDBAttributeValue{eventstore.AttrAggregateID: events.NewStringAttribute(ids[0])}}},
		events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "o",
			Keys:     map[string]events.DynamoDBAttributeValue{eventstore.AttrAggregateID: events.NewStringAttribute("other-1")},
			NewImage: map[string]events.DynamoDBAttributeValue{eventstore.AttrAggregateType: events.NewStringAttribute("Watchlist")}}},
		events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "n"}})
	batch := decodeStream(ctx, ev, quiet)

	var want []analyticsjob.Change
	for _, id := range ids {
		evs, err := store.Events(ctx, id, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range evs {
			want = append(want, analyticsjob.Change{PortfolioID: id, Version: x.Version, EventType: x.EventType, EventID: x.EventID})
		}
	}
	if len(want) != 12 || batch.Ignored != notInserts+3 || len(batch.Changes) != len(want) {
		t.Fatalf("%d changes and %d ignored of %d records, want %d changes", len(batch.Changes), batch.Ignored, len(ev.Records), len(want))
	}
	// Each portfolio's records in order (a portfolio's records share a shard).
	got := slices.Clone(batch.Changes)
	slices.SortStableFunc(got, func(a, b analyticsjob.Change) int {
		return slices.Index(ids, a.PortfolioID) - slices.Index(ids, b.PortfolioID)
	})
	for i := range got {
		if !seqs[got[i].ItemID] {
			t.Errorf("change %d is not identified by its record's sequence number: %+v", i, got[i])
		}
		delete(seqs, got[i].ItemID)
		got[i].ItemID = ""
		if got[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// readStream reads every record of the table's stream from DynamoDB Local, as
// the event source mapping delivers them, through JSON as the Lambda runtime
// hands the batch over.
func readStream(t *testing.T, ddb *dynamodb.Client, table string) events.DynamoDBEvent {
	t.Helper()
	ctx := context.Background()
	desc, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil || desc.Table.LatestStreamArn == nil {
		t.Fatalf("no stream on %s: %v", table, err)
	}
	sc := testenv.DynamoDBStreams(t)
	sd, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: desc.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	for _, sh := range sd.StreamDescription.Shards {
		it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: desc.Table.LatestStreamArn,
			ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				ev.Records = append(ev.Records, events.DynamoDBEventRecord{EventName: string(r.EventName), EventSource: "aws:dynamodb",
					Change: events.DynamoDBStreamRecord{SequenceNumber: aws.ToString(r.Dynamodb.SequenceNumber), StreamViewType: string(r.Dynamodb.StreamViewType),
						Keys: lambdaImage(r.Dynamodb.Keys), NewImage: lambdaImage(r.Dynamodb.NewImage)}})
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back events.DynamoDBEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func lambdaImage(m map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case *streamtypes.AttributeValueMemberS:
			out[k] = events.NewStringAttribute(v.Value)
		case *streamtypes.AttributeValueMemberN:
			out[k] = events.NewNumberAttribute(v.Value)
		case *streamtypes.AttributeValueMemberB:
			out[k] = events.NewBinaryAttribute(v.Value)
		}
	}
	return out
}
