// Package dynamosource is the events table as a readmodel.EventSource: aggregate
// IDs from a parallel Scan, events from a Query per aggregate.
package dynamosource

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// API is the part of the DynamoDB client the source uses.
type API interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Source reads one events table.
type Source struct {
	client   API
	table    string
	segments int
}

var _ readmodel.EventSource = (*Source)(nil)

// New returns the source for the table. segments is the number of parallel Scan
// segments (default 4).
func New(client API, table string, segments int) *Source {
	if segments <= 0 {
		segments = 4
	}
	return &Source{client: client, table: table, segments: segments}
}

// AggregateIDs lists every aggregate, of any type (their checkpoints are rebuilt
// too), by scanning the table for the items at version 1 (every aggregate has
// one), reading only the key, in parallel segments.
// The scan still reads (and is billed for) every item; the filter only saves the
// transfer.
func (s *Source) AggregateIDs(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		ids      []string
		firstErr error
		wg       sync.WaitGroup
	)
	for seg := range s.segments {
		wg.Go(func() {
			in := &dynamodb.ScanInput{
				TableName:                 aws.String(s.table),
				Segment:                   aws.Int32(int32(seg)),
				TotalSegments:             aws.Int32(int32(s.segments)),
				ProjectionExpression:      aws.String("#id"),
				FilterExpression:          aws.String("#v = :one"),
				ExpressionAttributeNames:  map[string]string{"#id": eventstore.AttrAggregateID, "#v": eventstore.AttrVersion},
				ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
			}
			var local []string
			for {
				out, err := s.client.Scan(ctx, in)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("scan %s segment %d: %w", s.table, seg, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				for _, it := range out.Items {
					if v, ok := it[eventstore.AttrAggregateID].(*types.AttributeValueMemberS); ok {
						local = append(local, v.Value)
					}
				}
				if len(out.LastEvaluatedKey) == 0 {
					break
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
			mu.Lock()
			ids = append(ids, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Events implements readmodel.EventSource: a consistent, ascending Query,
// decoded as the live projector decodes stream records (readmodel.DecodeItem), so
// events of types this build does not know come back envelope-only and a rebuild
// advances their checkpoints as the stream does. On a corrupt item it returns the
// events before it together with the error.
func (s *Source) Events(ctx context.Context, aggregateID string, from, to int64) ([]portfolio.Event, error) {
	from = max(from, 1)
	if to <= 0 {
		to = 1<<53 - 1
	}
	if from > to {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#id = :id AND #v BETWEEN :from AND :to"),
		ExpressionAttributeNames: map[string]string{"#id": eventstore.AttrAggregateID, "#v": eventstore.AttrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id":   &types.AttributeValueMemberS{Value: aggregateID},
			":from": &types.AttributeValueMemberN{Value: strconv.FormatInt(from, 10)},
			":to":   &types.AttributeValueMemberN{Value: strconv.FormatInt(to, 10)},
		},
		ConsistentRead: aws.Bool(true),
	}
	var out []portfolio.Event
	next := from
	for {
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return out, fmt.Errorf("events of %s from %d: %w", aggregateID, next, err)
		}
		for _, av := range page.Items {
			e, err := decode(av)
			if err == nil && (e.AggregateID != aggregateID || e.Version != next) {
				err = fmt.Errorf("%w: version %d where %d was expected", portfolio.ErrCorruptEvent, e.Version, next)
			}
			if err != nil {
				return out, fmt.Errorf("events of %s at version %d: %w", aggregateID, next, err)
			}
			out = append(out, e)
			next++
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func decode(av map[string]types.AttributeValue) (portfolio.Event, error) {
	it, err := dynamostore.ItemFromAttributes(av)
	if err != nil {
		return portfolio.Event{}, err
	}
	return readmodel.DecodeItem(it, time.Time{})
}
