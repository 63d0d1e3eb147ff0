package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/portfoliotracker/tracker/functions/edge/dynamostream"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/platform/tracing"
)

// service is the analytics use case (*analyticsjob.Job).
type service interface {
	Recompute(ctx context.Context, batch analyticsjob.StreamBatch) (analyticsjob.StreamOutcome, error)
	RunScheduled(ctx context.Context, run analyticsjob.ScheduledRun) (analyticsjob.RunSummary, error)
}

// scheduleEvent is what a schedule delivers: {"mode":"daily"}. Day (YYYY-MM-DD)
// overrides the run's day, for backfills and reruns.
type scheduleEvent struct {
	Mode string `json:"mode"`
	Day  string `json:"day,omitempty"`
}

// handler is the Lambda handler of the analytics function: one function serves the
// stream mapping (an event with "Records") and the schedules ({"mode": ...}),
// decoding each into the service's plain inputs. get builds the service on first
// use (after the secrets are read); a failed build fails the invocation, and the
// stream or the scheduler retries it.
func handler(get func(context.Context) (service, error), log *slog.Logger) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Records json.RawMessage `json:"Records"`
			Mode    string          `json:"mode"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("analytics: event is not a JSON object: %w", err)
		}
		if probe.Records == nil && probe.Mode == "" {
			return nil, errors.New(`analytics: unknown event: neither stream records nor {"mode": ...}`)
		}
		svc, err := get(ctx)
		if err != nil {
			return nil, fmt.Errorf("analytics: dependencies unavailable: %w", err)
		}
		log := log
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			ctx = analyticsjob.WithRequestID(ctx, lc.AwsRequestID)
			log = log.With("requestId", lc.AwsRequestID)
		}
		if probe.Records != nil {
			var ev events.DynamoDBEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("analytics: stream event: %w", err)
			}
			// The recomputation (and what it pushes) runs in the span of the
			// batch's last traced record: a trade's trace goes on to it.
			spans := tracing.StartBatch(ctx, "analytics batch", len(ev.Records), func(i int) string {
				return dynamostream.Text(ev.Records[i].Change.NewImage, tracing.AttrTraceparent)
			})
			out, err := svc.Recompute(spans.Last(), decodeStream(ctx, ev, log))
			spans.End(err)
			if err != nil {
				return nil, err
			}
			return batchResponse(out), nil
		}
		var in scheduleEvent
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, fmt.Errorf("analytics: schedule input: %w", err)
		}
		run, err := decodeSchedule(in)
		if err != nil {
			return nil, err
		}
		return svc.RunScheduled(ctx, run)
	}
}

// decodeStream turns a batch of the events table's stream into the portfolios'
// changes: its INSERT records of portfolio events. The others (an operator's
// MODIFY, another aggregate type sharing the table, a record without an aggregate
// ID) are only counted.
func decodeStream(ctx context.Context, ev events.DynamoDBEvent, log *slog.Logger) analyticsjob.StreamBatch {
	var b analyticsjob.StreamBatch
	for i := range ev.Records {
		r := &ev.Records[i]
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			b.Ignored++
			continue
		}
		id := aggregateID(r)
		if id == "" {
			log.WarnContext(ctx, "stream record without an aggregate ID: skipped", "sequenceNumber", r.Change.SequenceNumber)
			b.Ignored++
			continue
		}
		v, _ := strconv.ParseInt(dynamostream.KeyOrImage(&r.Change, eventstore.AttrVersion), 10, 64)
		b.Changes = append(b.Changes, analyticsjob.Change{PortfolioID: id, ItemID: r.Change.SequenceNumber, Version: v,
			EventType: dynamostream.KeyOrImage(&r.Change, eventstore.AttrEventType), EventID: dynamostream.KeyOrImage(&r.Change, eventstore.AttrEventID)})
	}
	return b
}

// batchResponse reports the records to deliver again (ReportBatchItemFailures);
// an empty list, never null, acknowledges the whole batch.
func batchResponse(out analyticsjob.StreamOutcome) events.DynamoDBEventResponse {
	resp := events.DynamoDBEventResponse{BatchItemFailures: make([]events.DynamoDBBatchItemFailure, len(out.FailedItems))}
	for i, id := range out.FailedItems {
		resp.BatchItemFailures[i] = events.DynamoDBBatchItemFailure{ItemIdentifier: id}
	}
	return resp
}

// decodeSchedule turns a schedule's event into the run it asks for.
func decodeSchedule(in scheduleEvent) (analyticsjob.ScheduledRun, error) {
	run := analyticsjob.ScheduledRun{Mode: in.Mode}
	if in.Day != "" {
		d, err := calendar.Parse(in.Day)
		if err != nil {
			return run, fmt.Errorf("analytics: day: %w", err)
		}
		run.Day = d
	}
	return run, nil
}

// aggregateID reads the record's partition key, falling back to the image; ""
// for another aggregate type sharing the table.
func aggregateID(r *events.DynamoDBEventRecord) string {
	for _, m := range []map[string]events.DynamoDBAttributeValue{r.Change.Keys, r.Change.NewImage} {
		if v, ok := m[eventstore.AttrAggregateID]; ok && v.DataType() == events.DataTypeString {
			if t, ok := r.Change.NewImage[eventstore.AttrAggregateType]; ok && t.DataType() == events.DataTypeString &&
				t.String() != "" && t.String() != portfolio.AggregateType {
				return "" // another aggregate type sharing the table
			}
			return v.String()
		}
	}
	return ""
}
