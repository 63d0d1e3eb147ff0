// Package dynamolease holds named leases in the DynamoDB leases table
// (topology.LeasesTable): at most one holder per name at a time, each lease
// ending at an expiry its holder pushes forward by renewing it. The quote
// stream (functions/stream) holds one, so that exactly one Finnhub connection
// is live however many invocations the schedule starts.
//
// Item layout (one item per name):
//
//	key        S  the lease's name
//	holder     S  who holds it (an invocation's own ID)
//	until      N  its expiry, Unix milliseconds (the conditions compare it)
//	expiresAt  N  Unix seconds an hour after until: DynamoDB's TTL removes
//	              what nobody released (a missing item is a free lease)
//
// Every operation is one conditional write and nothing reads: Acquire is a
// PutItem "free, expired or mine", Renew an UpdateItem "mine", Release a
// DeleteItem "mine". A failed condition is (false, nil), so concurrent
// acquirers race inside DynamoDB and exactly one wins. The time compared is
// the caller's clock (New's now): holders' clocks must agree to well within a
// lease's length, which Lambda's NTP-disciplined clocks do.
//
// Memory is the same semantics in one process (tests, the local stack); one
// contract suite (package leasetest) runs against both.
package dynamolease

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Attribute names.
const (
	AttrKey    = "key"
	AttrHolder = "holder"
	AttrUntil  = "until"
)

// ttlGrace is how long after its expiry DynamoDB's TTL may remove a lease
// item: long enough that nobody reads an item mid-removal as anything but
// expired (the conditions never depend on the TTL).
const ttlGrace = time.Hour

// DynamoDB is the part of the DynamoDB client the store uses: conditional
// writes only (the function's access is topology.Write).
type DynamoDB interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Store is the leases table.
type Store struct {
	db    DynamoDB
	table string
	now   func() time.Time
}

// New returns the store on table (a physical name); now is the clock the
// expiries are read against (time.Now when nil).
func New(db DynamoDB, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, now: now}
}

// ErrInvalid is matched by the error of a call without a name or holder, or
// with a length that is not positive.
var ErrInvalid = errors.New("dynamolease: a lease needs a name, a holder and a positive length")

func check(name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" || ttl <= 0 {
		return fmt.Errorf("%w (name %q, holder %q, ttl %s)", ErrInvalid, name, holder, ttl)
	}
	return nil
}

// Acquire takes the lease name for holder until now+ttl when it is free,
// expired, or already holder's (which extends it): true when holder has it.
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := check(name, holder, ttl); err != nil {
		return false, err
	}
	now := s.now()
	until := now.Add(ttl)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrKey:          str(name),
			AttrHolder:       str(holder),
			AttrUntil:        millis(until),
			topology.AttrTTL: seconds(until.Add(ttlGrace)),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#k) OR #until <= :now OR #holder = :holder"),
		ExpressionAttributeNames: map[string]string{"#k": AttrKey, "#until": AttrUntil, "#holder": AttrHolder},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": millis(now), ":holder": str(holder),
		},
	})
	return conditional("acquire", name, err)
}

// Renew pushes holder's lease to now+ttl: false when holder does not hold it
// (another took it after it expired, or it was released). A lease that
// expired and that nobody took is still holder's to renew: the write is
// atomic, so nobody else can hold it meanwhile.
func (s *Store) Renew(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := check(name, holder, ttl); err != nil {
		return false, err
	}
	until := s.now().Add(ttl)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{AttrKey: str(name)},
		UpdateExpression:         aws.String("SET #until = :until, #exp = :exp"),
		ConditionExpression:      aws.String("#holder = :holder"),
		ExpressionAttributeNames: map[string]string{"#until": AttrUntil, "#exp": topology.AttrTTL, "#holder": AttrHolder},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": millis(until), ":exp": seconds(until.Add(ttlGrace)), ":holder": str(holder),
		},
	})
	return conditional("renew", name, err)
}

// Release frees holder's lease at once: false (and nothing changed) when
// holder does not hold it.
func (s *Store) Release(ctx context.Context, name, holder string) (bool, error) {
	if err := check(name, holder, time.Nanosecond); err != nil {
		return false, err
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{AttrKey: str(name)},
		ConditionExpression:       aws.String("#holder = :holder"),
		ExpressionAttributeNames:  map[string]string{"#holder": AttrHolder},
		ExpressionAttributeValues: map[string]types.AttributeValue{":holder": str(holder)},
	})
	return conditional("release", name, err)
}

// conditional reads a conditional write's outcome: done, refused by its
// condition (false, nil), or failed.
func conditional(op, name string, err error) (bool, error) {
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	}
	return false, fmt.Errorf("dynamolease: %s %s: %w", op, name, err)
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func millis(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

func seconds(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}
