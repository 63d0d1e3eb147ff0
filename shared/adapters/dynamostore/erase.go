package dynamostore

import (
	"context"
	"fmt"

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
		for _, it := range page.Items {
			key := map[string]types.AttributeValue{eventstore.AttrAggregateID: it[eventstore.AttrAggregateID], eventstore.AttrVersion: it[eventstore.AttrVersion]}
			if _, err := e.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: key}); err != nil {
				return n, fmt.Errorf("erase %s: delete: %w", aggregateID, err)
			}
			n++
		}
	}
	return n, nil
}
