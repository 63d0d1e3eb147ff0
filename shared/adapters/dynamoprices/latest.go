package dynamoprices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/marketdata"
	"github.com/portfoliotracker/tracker/shared/app/pricing"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
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
	attrCurrency = "currency"
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
	if q.Currency != "" {
		item[attrCurrency] = &types.AttributeValueMemberS{Value: q.Currency}
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
	q, err := quoteFromItem(symbol, out.Item)
	if err != nil {
		return marketdata.Quote{}, false, err
	}
	return q, true, nil
}

// batchGetKeys is BatchGetItem's limit of keys per request.
const batchGetKeys = 100

// GetMany returns the stored quotes of symbols, by symbol (absent symbols are
// not in the map): one BatchGetItem per 100 symbols (eventually consistent:
// the ingest asks how fresh a quote is, a second's lag does not matter), and
// the keys DynamoDB leaves unprocessed (throttling, the 16 MB answer limit)
// asked again with backoff for up to 10 s.
func (l *Latest) GetMany(ctx context.Context, symbols []string) (map[string]marketdata.Quote, error) {
	got := make(map[string]marketdata.Quote, len(symbols))
	for chunk := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(symbols))), batchGetKeys) {
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, sym := range chunk {
			keys[i] = map[string]types.AttributeValue{attrSymbol: &types.AttributeValueMemberS{Value: sym}}
		}
		if err := l.batchGet(ctx, keys, got); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// batchGet reads keys into got, asking again for the unprocessed ones.
func (l *Latest) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, got map[string]marketdata.Quote) error {
	attempts := retry.Policy{First: 50 * time.Millisecond, Max: time.Second, For: 10 * time.Second, Reserve: time.Second}.Start(ctx)
	request := map[string]types.KeysAndAttributes{l.table: {Keys: keys}}
	for {
		out, err := l.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return fmt.Errorf("prices table: batch get: %w", err)
		}
		for _, item := range out.Responses[l.table] {
			sym, _ := item[attrSymbol].(*types.AttributeValueMemberS)
			if sym == nil {
				continue
			}
			q, err := quoteFromItem(sym.Value, item)
			if err != nil {
				return err
			}
			got[sym.Value] = q
		}
		left, ok := out.UnprocessedKeys[l.table]
		if !ok || len(left.Keys) == 0 {
			return nil
		}
		if !attempts.Wait() {
			return fmt.Errorf("prices table: batch get: %d keys still unprocessed after %d retries", len(left.Keys), attempts.Retries())
		}
		request = map[string]types.KeysAndAttributes{l.table: left}
	}
}

// quoteFromItem reads a quote of symbol from its item.
func quoteFromItem(symbol string, item map[string]types.AttributeValue) (marketdata.Quote, error) {
	s := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	var err error
	q := marketdata.Quote{Symbol: symbol, Source: s(attrSource), Exchange: s(attrExchange), Currency: s(attrCurrency)}
	if q.Timestamp, err = time.Parse(time.RFC3339Nano, s(attrAsOf)); err != nil {
		return marketdata.Quote{}, fmt.Errorf("prices table: %s: asOf: %w", symbol, err)
	}
	if q.Price, err = decimal.NewFromString(s(attrPrice)); err != nil {
		return marketdata.Quote{}, fmt.Errorf("prices table: %s: price: %w", symbol, err)
	}
	if v := s(attrVolume); v != "" {
		q.Volume, _ = decimal.NewFromString(v)
	}
	if v := s(attrPrevious); v != "" {
		q.PreviousClose, _ = decimal.NewFromString(v)
	}
	return q, nil
}
