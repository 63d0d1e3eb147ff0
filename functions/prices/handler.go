package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/app/prices"
)

// handle is the Lambda handler (ReportBatchItemFailures): it gives the event's
// records to the consumer and reports the ones to retry. It fails the
// invocation when Process does, the whole batch then being retried.
func handle(ctx context.Context, c *prices.Consumer, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	failed, _, err := c.Process(ctx, records(ev))
	if err != nil {
		return events.KinesisEventResponse{}, err
	}
	return response(failed), nil
}

// records turns the event's records into the consumer's input.
func records(ev events.KinesisEvent) []prices.Record {
	out := make([]prices.Record, len(ev.Records))
	for i, r := range ev.Records {
		out[i] = prices.Record{SequenceNumber: r.Kinesis.SequenceNumber, PartitionKey: r.Kinesis.PartitionKey,
			Stream: r.EventSourceArn, Data: r.Kinesis.Data, ArrivedAt: r.Kinesis.ApproximateArrivalTimestamp.Time}
		// A Kinesis event record's eventID is "<shard ID>:<sequence number>".
		if shard, _, ok := strings.Cut(r.EventID, ":"); ok {
			out[i].ShardID = shard
		}
	}
	return out
}

// response reports each of the sequence numbers as a batch item failure: the
// mapping checkpoints before the lowest and delivers it and what follows again.
func response(failed []string) events.KinesisEventResponse {
	var resp events.KinesisEventResponse
	for _, seq := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: seq})
	}
	return resp
}
