package main

import (
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/app/prices"
)

// The adapter gives the consumer each record's data, where it was on the stream
// (the shard from the eventID), and reports the sequence numbers it returns as
// batch item failures, in its order.
func TestRecordsAndResponse(t *testing.T) {
	const arn = "arn:aws:kinesis:us-east-1:000000000000:stream/market-data-updates"
	ev := events.KinesisEvent{Records: []events.KinesisEventRecord{
		{EventID: "shardId-000000000001:49590338271490256608559692538361571095921575989136588898", EventSourceArn: arn,
			Kinesis: events.KinesisRecord{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", PartitionKey: "AAPL", Data: []byte(`{"a":1}`)}},
		{EventSourceArn: arn, Kinesis: events.KinesisRecord{SequenceNumber: "2", PartitionKey: "MSFT", Data: []byte(`{}`)}},
	}}
	want := []prices.Record{
		{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", PartitionKey: "AAPL", ShardID: "shardId-000000000001",
			Stream: arn, Data: []byte(`{"a":1}`)},
		{SequenceNumber: "2", PartitionKey: "MSFT", Stream: arn, Data: []byte(`{}`)},
	}
	if got := records(ev); !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got %+v\nwant %+v", got, want)
	}
	resp := response([]string{"7", "3"})
	if wantResp := (events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: "7"}, {ItemIdentifier: "3"}}}); !reflect.DeepEqual(resp, wantResp) {
		t.Fatalf("response %+v, want %+v", resp, wantResp)
	}
	if resp := response(nil); resp.BatchItemFailures != nil {
		t.Fatalf("no failures: %+v", resp)
	}
}
