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
	"github.com/aws/smithy-go"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
)

// Item attributes of the prices table (partition key "symbol").
const (
	attrSymbol   = "symbol"
	attrTS       = "ts" // N: Unix nanoseconds of the quote, the newer-wins order
	attrAsOf     = "asOf"
	attrPrice    = "price"
	attrVolume   = "volume"
	attrSource   = "source"
	attrExchange = "exchange"
	attrPrevious = "previousClose"
	attrEventID  = "eventId"
)

// Latest keeps the newest quote per symbol in the prices table.
type Latest struct {
	api   API
	table string
}

// NewLatest writes to table (the physical name of topology.PricesTable).
func NewLatest(api API, table string) *Latest { return &Latest{api: api, table: table} }

// Put stores q unless the table already holds a quote of the symbol at the same or
// a later timestamp (a duplicate or a late tick): one conditional PutItem,
//
//	attribute_not_exists(symbol) OR #ts < :ts
//
// It reports whether q was stored. Prices are strings, exactly as quoted. An
// item DynamoDB refuses (a ValidationException) fails with pricing.ErrRefused.
func (l *Latest) Put(ctx context.Context, q marketdata.Quote, eventID string) (bool, error) {
	item := map[string]types.AttributeValue{
		attrSymbol: &types.AttributeValueMemberS{Value: q.Symbol},
		attrTS:     &types.AttributeValueMemberN{Value: strconv.FormatInt(q.Timestamp.UnixNano(), 10)},
		attrAsOf:   &types.AttributeValueMemberS{Value: q.Timestamp.UTC().Format(time.RFC3339Nano)},
		attrPrice:  &types.AttributeValueMemberS{Value: q.Price.String()},
		attrVolume: &types.AttributeValueMemberS{Value: q.Volume.String()},
		attrSource: &types.AttributeValueMemberS{Value: q.Source},
	}
	if q.Exchange != "" {
		item[attrExchange] = &types.AttributeValueMemberS{Value: q.Exchange}
	}
	if !q.PreviousClose.IsZero() {
		item[attrPrevious] = &types.AttributeValueMemberS{Value: q.PreviousClose.String()}
	}
	if eventID != "" {
		item[attrEventID] = &types.AttributeValueMemberS{Value: eventID}
	}
	_, err := l.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(l.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#sym) OR #ts < :ts"),
		ExpressionAttributeNames:  map[string]string{"#sym": attrSymbol, "#ts": attrTS},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ts": item[attrTS]},
	})
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return false, nil
		}
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
			// The item itself is refused: no retry mends it.
			return false, fmt.Errorf("prices table: put %s: %w: %w", q.Symbol, pricing.ErrRefused, err)
		}
		return false, fmt.Errorf("prices table: put %s: %w", q.Symbol, err)
	}
	return true, nil
}

// Get returns the stored quote of symbol, or false.
func (l *Latest) Get(ctx context.Context, symbol string) (marketdata.Quote, bool, error) {
	out, err := l.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{attrSymbol: &types.AttributeValueMemberS{Value: symbol}},
	})
	if err != nil {
		return marketdata.Quote{}, false, fmt.Errorf("prices table: get %s: %w", symbol, err)
	}
	if out.Item == nil {
		return marketdata.Quote{}, false, nil
	}
	s := func(name string) string {
		if v, ok := out.Item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	q := marketdata.Quote{Symbol: symbol, Source: s(attrSource), Exchange: s(attrExchange)}
	if q.Timestamp, err = time.Parse(time.RFC3339Nano, s(attrAsOf)); err != nil {
		return marketdata.Quote{}, false, fmt.Errorf("prices table: %s: asOf: %w", symbol, err)
	}
	if q.Price, err = decimal.NewFromString(s(attrPrice)); err != nil {
		return marketdata.Quote{}, false, fmt.Errorf("prices table: %s: price: %w", symbol, err)
	}
	if v := s(attrVolume); v != "" {
		q.Volume, _ = decimal.NewFromString(v)
	}
	if v := s(attrPrevious); v != "" {
		q.PreviousClose, _ = decimal.NewFromString(v)
	}
	return q, true, nil
}
