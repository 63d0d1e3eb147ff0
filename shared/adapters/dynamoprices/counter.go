// Package dynamoprices holds the DynamoDB adapters of the live-prices feature: the
// rate-limit counter behind marketdata.WindowLimiter (table topology.RateLimitsTable)
// and the latest-price table (topology.PricesTable).
package dynamoprices

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// API is the part of the DynamoDB client the adapters use.
type API interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Counter is marketdata.Counter on the rate-limits table: one conditional
// UpdateItem per call, so concurrent Lambda containers share one count exactly.
type Counter struct {
	api   API
	table string
}

var _ marketdata.Counter = (*Counter)(nil)

// NewCounter counts in table (the physical name of topology.RateLimitsTable).
func NewCounter(api API, table string) *Counter { return &Counter{api: api, table: table} }

// Increment implements marketdata.Counter:
//
//	ADD #count :one SET #exp = if_not_exists(#exp, :exp)
//	IF attribute_not_exists(#count) OR #count < :limit
//
// A failed condition is (false, nil); any other error is (false, err).
func (c *Counter) Increment(ctx context.Context, key string, limit int, expiresAt time.Time) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	_, err := c.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(c.table),
		Key:                      map[string]types.AttributeValue{"key": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:         aws.String("ADD #count :one SET #exp = if_not_exists(#exp, :exp)"),
		ConditionExpression:      aws.String("attribute_not_exists(#count) OR #count < :limit"),
		ExpressionAttributeNames: map[string]string{"#count": "count", "#exp": topology.AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   &types.AttributeValueMemberN{Value: "1"},
			":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
			":exp":   &types.AttributeValueMemberN{Value: strconv.FormatInt(expiresAt.Unix(), 10)},
		},
	})
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return false, nil
		}
		return false, fmt.Errorf("rate-limit counter %s: %w", key, err)
	}
	return true, nil
}
