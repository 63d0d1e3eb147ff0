package main

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/functions/edge/dynamostream"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/projection"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// handler decodes a DynamoDB stream batch of the events table for the
// projection service, and reports its failed records with ReportBatchItemFailures.
type handler struct{ svc *projection.Service }

// Handle is the Lambda handler.
// The batch has a span, and each event carrying the traceparent of its append
// a span that continues the command's trace (tracing.Batch).
func (h handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	spans := tracing.StartBatch(ctx, "projector batch", len(ev.Records), func(i int) string {
		return dynamostream.Text(ev.Records[i].Change.NewImage, tracing.AttrTraceparent)
	})
	failed, err := h.svc.Project(spans.Context(), decodeRecords(ev.Records))
	spans.End(err)
	if err != nil {
		return events.DynamoDBEventResponse{}, err
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: make([]events.DynamoDBBatchItemFailure, 0, len(failed))}
	for _, id := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: id})
	}
	return resp, nil
}

// decodeRecords turns stream records into the service's records, each named by
// its sequence number. An INSERT carries a new event in its NEW_IMAGE; any other
// operation is Ignored. An image that does not decode makes the record
// Undecodable, with what its keys and image still tell.
func decodeRecords(in []events.DynamoDBEventRecord) []projection.Record {
	out := make([]projection.Record, len(in))
	for i := range in {
		r, rec := &in[i].Change, &out[i]
		rec.ID = r.SequenceNumber
		rec.Event.AggregateID = dynamostream.Text(r.Keys, eventstore.AttrAggregateID)
		rec.Event.Version = keyInt(r.Keys, eventstore.AttrVersion)
		if in[i].EventName != string(events.DynamoDBOperationTypeInsert) {
			rec.Ignored = in[i].EventName
			continue
		}
		item, err := dynamostream.Item(r.NewImage)
		if err == nil {
			var e portfolio.Event
			if e, err = readmodel.DecodeItem(item, r.ApproximateCreationDateTime.Time); err == nil {
				rec.Event = e
				continue
			}
		}
		rec.Undecodable = err.Error()
		rec.Image, _ = json.Marshal(r.NewImage)
		rec.Event = envelope(rec.Event.AggregateID, rec.Event.Version, item, r.NewImage)
	}
	return out
}

// envelope is what a poison record's keys and image still tell of its event: the
// aggregate and version of its keys (else the aggregate its image names).
func envelope(id string, version int64, item eventstore.Item, img map[string]events.DynamoDBAttributeValue) portfolio.Event {
	if id == "" {
		id = item[eventstore.AttrAggregateID]
	}
	e := portfolio.Event{AggregateID: id, Version: version, EventType: dynamostream.Text(img, eventstore.AttrEventType),
		EventID: dynamostream.Text(img, eventstore.AttrEventID), UserID: dynamostream.Text(img, eventstore.AttrUserID)}
	if ts, err := time.Parse(time.RFC3339Nano, dynamostream.Text(img, eventstore.AttrTimestamp)); err == nil {
		e.Timestamp = ts.UTC()
	}
	return e
}

func keyInt(m map[string]events.DynamoDBAttributeValue, name string) int64 {
	v, err := strconv.ParseInt(dynamostream.Text(m, name), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
