package dynamostore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
)

// EraserAPI is what an Eraser needs of DynamoDB.
type EraserAPI interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Eraser deletes whole aggregates from the events table: the one exception to
// its append-only rule, for DELETE /me (a user's right to erasure). It is a type
// of its own so that only a function granted DeleteItem on the table builds one.
// Deletes are item by item, unconditioned, never BatchWriteItem (which can also
// put); the snapshots and the idempotency fingerprints ride on the items.
type Eraser struct {
	client EraserAPI
	table  string
}

// NewEraser returns the eraser of the named table.
func NewEraser(client EraserAPI, table string) *Eraser { return &Eraser{client: client, table: table} }

// EraseAggregate deletes every item of the aggregate and returns how many it
// deleted (0 for one already gone: a retry).
func (e *Eraser) EraseAggregate(ctx context.Context, aggregateID string) (int64, error) {
	if aggregateID == "" {
		return 0, nil
	}
	p := dynamodb.NewQueryPaginator(e.client, &dynamodb.QueryInput{
		TableName:                 aws.String(e.table),
		KeyConditionExpression:    aws.String("#id = :id"),
		ProjectionExpression:      aws.String("#id, #v"),
		ExpressionAttributeNames:  map[string]string{"#id": eventstore.AttrAggregateID, "#v": eventstore.AttrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: aggregateID}},
		ConsistentRead:            aws.Bool(true),
	})
	var n int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("erase %s: query: %w", aggregateID, err)
		}
		k, err := e.deleteAll(ctx, page.Items)
		n += k
		if err != nil {
			return n, fmt.Errorf("erase %s: delete: %w", aggregateID, err)
		}
	}
	return n, nil
}

// eraseConcurrency bounds the deletes in flight: a long history goes at some
// hundreds of items a second instead of one round trip at a time.
const eraseConcurrency = 16

// deleteAll deletes the items (their keys) with eraseConcurrency deletes in
// flight, and returns how many it deleted and the first error.
func (e *Eraser) deleteAll(ctx context.Context, items []map[string]types.AttributeValue) (int64, error) {
	var (
		n     atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, eraseConcurrency)
	)
	for _, it := range items {
		key := map[string]types.AttributeValue{eventstore.AttrAggregateID: it[eventstore.AttrAggregateID], eventstore.AttrVersion: it[eventstore.AttrVersion]}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := e.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: key}); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				return
			}
			n.Add(1)
		})
	}
	wg.Wait()
	return n.Load(), first
}
