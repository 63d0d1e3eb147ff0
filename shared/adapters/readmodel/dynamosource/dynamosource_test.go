package dynamosource_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/dynamosource"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The DynamoDB events table as a rebuild's source: every aggregate listed once by
// the parallel scan, its events in order, and the rebuild matching the live
// projection.
func TestRebuildFromDynamoDB(t *testing.T) {
	ctx := context.Background()
	client := testenv.DynamoDB(t)
	name := testenv.UniqueName(t, "events")
	table, _ := topology.TableByName(topology.EventsTable)
	if err := dynamo.CreateTable(ctx, client, table, name); err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(client, name, dynamostore.Options{})
	var want []string
	var all []portfolio.Event
	for i := range 12 {
		user := []string{rmtest.UserA, rmtest.UserB}[i%2]
		id := fmt.Sprintf("p%02d", i)
		h := rmtest.NewHistory(t, id, user, portfolio.FIFO)
		if i%4 == 0 {
			h = rmtest.Realistic(t, id, user, portfolio.AverageCost)
		}
		for start := 0; start < len(h.Events); start += 25 {
			end := min(start+25, len(h.Events))
			if err := store.Append(ctx, id, int64(start), h.Events[start:end], []byte(`{"snapshot":true}`)); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, id)
		all = append(all, h.Events...)
	}
	// Another aggregate type shares the table: its events are of types the
	// projector does not know, and their checkpoints are rebuilt all the same.
	var alerts []portfolio.Event
	for v := 1; v <= 2; v++ {
		ts := time.Date(2024, 1, 1, 0, v, 0, 0, time.UTC)
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{
			"aggregateId": &types.AttributeValueMemberS{Value: "alert-1"}, "version": &types.AttributeValueMemberN{Value: fmt.Sprint(v)},
			"eventVersion": &types.AttributeValueMemberN{Value: fmt.Sprint(v)}, "eventId": &types.AttributeValueMemberS{Value: fmt.Sprint("al-", v)},
			"eventType": &types.AttributeValueMemberS{Value: "AlertRuleCreated"}, "aggregateType": &types.AttributeValueMemberS{Value: "AlertRule"},
			"timestamp": &types.AttributeValueMemberS{Value: ts.Format(time.RFC3339Nano)}, "userId": &types.AttributeValueMemberS{Value: rmtest.UserA},
			"schemaVersion": &types.AttributeValueMemberN{Value: "1"}, "data": &types.AttributeValueMemberS{Value: `{"above":"200"}`},
		}}); err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, portfolio.Event{EventType: "AlertRuleCreated", AggregateID: "alert-1", Version: int64(v), Timestamp: ts})
	}
	want = append([]string{"alert-1"}, want...)
	// A corrupt item: the rebuild quarantines it, as the live projector would, and
	// reports it.
	bad := `{"transactionId":`
	if err := store.Tamper(ctx, "p03", 2, "data", &bad); err != nil {
		t.Fatal(err)
	}
	var applicable []portfolio.Event
	for _, e := range all {
		if e.AggregateID != "p03" || e.Version < 2 {
			applicable = append(applicable, e)
		}
	}

	src := dynamosource.New(client, name, 3)
	ids, err := src.AggregateIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("aggregate IDs %v, want %v", ids, want)
	}

	pool, _ := rmtest.DB(t)
	st, err := readmodel.Rebuild(ctx, pool, src, readmodel.RebuildOptions{PageSize: 7, BatchSize: 20})
	if err != nil || len(st.Quarantined) != 1 || !strings.Contains(st.Quarantined[0], "aggregate p03 version 2") {
		t.Fatalf("rebuild: err %v, failures %v, quarantined %v", err, st.Failures, st.Quarantined)
	}
	if st.Events != len(applicable)+len(alerts)+1 || st.Aggregates != len(want) {
		t.Errorf("stats %+v", st)
	}
	// The live projector, meeting the corrupt item in the stream, gives the same.
	live, _ := rmtest.DB(t)
	var recs []readmodel.Record
	for _, e := range append(applicable, alerts...) {
		recs = append(recs, readmodel.Record{Event: e})
	}
	recs = append(recs, readmodel.Record{Event: portfolio.Event{AggregateID: "p03", Version: 2}, Undecodable: "stream: corrupt"})
	proj := readmodel.NewProjector(live, readmodel.ProjectorOptions{Metrics: io.Discard, Source: src})
	if res, err := proj.ApplyRecords(ctx, recs); err != nil || len(res.Failures) > 0 || len(res.Quarantined) != 1 {
		t.Fatal(res, err)
	}
	if a, b := rmtest.Dump(t, pool), rmtest.Dump(t, live); a != b {
		t.Fatalf("rebuild from DynamoDB differs from the live projection")
	}
}
