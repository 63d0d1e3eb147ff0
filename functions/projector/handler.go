package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/projection"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// handler decodes a DynamoDB stream batch of the events table for the
// projection service, and reports its failed records with ReportBatchItemFailures.
type handler struct{ svc *projection.Service }

// Handle is the Lambda handler.
func (h handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	failed, err := h.svc.Project(ctx, decodeRecords(ev.Records))
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
		rec.Event.AggregateID = keyString(r.Keys, eventstore.AttrAggregateID)
		rec.Event.Version = keyInt(r.Keys, eventstore.AttrVersion)
		if in[i].EventName != string(events.DynamoDBOperationTypeInsert) {
			rec.Ignored = in[i].EventName
			continue
		}
		item, err := itemFromImage(r.NewImage)
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
	e := portfolio.Event{AggregateID: id, Version: version, EventType: keyString(img, eventstore.AttrEventType),
		EventID: keyString(img, eventstore.AttrEventID), UserID: keyString(img, eventstore.AttrUserID)}
	if ts, err := time.Parse(time.RFC3339Nano, keyString(img, eventstore.AttrTimestamp)); err == nil {
		e.Timestamp = ts.UTC()
	}
	return e
}

func keyInt(m map[string]events.DynamoDBAttributeValue, name string) int64 {
	v, err := strconv.ParseInt(keyString(m, name), 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func keyString(m map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := m[name]
	if !ok || v.IsNull() {
		return ""
	}
	switch v.DataType() {
	case events.DataTypeString:
		return v.String()
	case events.DataTypeNumber:
		return v.Number()
	}
	return ""
}

// errBadImage is wrapped by itemFromImage's errors.
var errBadImage = errors.New("stream record image")

// itemFromImage converts a stream record's NewImage to the event item form that
// eventstore.DecodeItem reads: strings and numbers as text. The binary snapshot
// attribute is left out (the projector does not need it); any other attribute
// type makes the record poison.
func itemFromImage(img map[string]events.DynamoDBAttributeValue) (eventstore.Item, error) {
	if len(img) == 0 {
		return nil, fmt.Errorf("%w: no NewImage (is the stream's view type NEW_IMAGE?)", errBadImage)
	}
	it := make(eventstore.Item, len(img))
	for k, v := range img {
		if v.IsNull() && v.DataType() != events.DataTypeNull {
			return nil, fmt.Errorf("%w: attribute %s has no value", errBadImage, k)
		}
		switch v.DataType() {
		case events.DataTypeString:
			it[k] = v.String()
		case events.DataTypeNumber:
			it[k] = v.Number()
		case events.DataTypeBinary:
			if k != eventstore.AttrSnapshot {
				return nil, fmt.Errorf("%w: attribute %s is binary", errBadImage, k)
			}
		default:
			return nil, fmt.Errorf("%w: attribute %s has DynamoDB type %d", errBadImage, k, v.DataType())
		}
	}
	return it, nil
}
