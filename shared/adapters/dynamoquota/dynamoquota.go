// Package dynamoquota holds the per-user quotas that count distinct things a
// command adds (quota.PortfoliosPerUser: portfolio IDs; quota.SymbolsPerUser:
// symbols) in the DynamoDB quotas table (topology.QuotasTable), where they hold
// under a burst: the read models that could count them lag the commands by up
// to a second.
//
// Item layout (one item per user and quota):
//
//	key      S   "<quota name>#<user ID>"
//	members  SS  what the quota counts (absent until the first one)
//
// Reserve adds members with one UpdateItem ADD, conditional on the set holding
// at most limit − (members it lacks) before it: whatever else is added
// concurrently, the set can never pass the limit. A condition that fails because
// a concurrent request added the same members is retried on a fresh read.
// Members are never removed: a set counts what a user ever added.
package dynamoquota

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// Attribute names.
const (
	AttrKey     = "key"
	AttrMembers = "members"
)

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store is the quotas table.
type Store struct {
	db    DynamoDB
	table string
}

// New returns the store on the table (physical name).
func New(db DynamoDB, table string) *Store { return &Store{db: db, table: table} }

// maxAttempts bounds the reads and conditional writes of one Reserve that keeps
// losing races to the user's other requests.
const maxAttempts = 8

// Reserve counts members (portfolio IDs, symbols) against the user's quota q: it
// adds those the user's set lacks, or returns *quota.ExceededError, changing
// nothing, when they would take the set past q.Limit. Members already counted
// cost one read and no write, so a retried command reserves nothing twice.
func (s *Store) Reserve(ctx context.Context, q quota.Quota, userID string, members []string) error {
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	members = slices.DeleteFunc(members, func(m string) bool { return m == "" })
	if len(members) == 0 {
		return nil
	}
	if userID == "" {
		return fmt.Errorf("dynamoquota: %s without a user", q.Name)
	}
	key := map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: q.Name + "#" + userID}}
	// The first read may be eventually consistent: members are never removed, so
	// one it shows is really there; one it misses is looked at again below.
	consistent := false
	for attempt := 1; ; attempt++ {
		held, err := s.members(ctx, key, consistent)
		if err != nil {
			return fmt.Errorf("dynamoquota: %s of %s: %w", q.Name, userID, err)
		}
		var missing []string
		for _, m := range members {
			if _, ok := held[m]; !ok {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if would := len(held) + len(missing); would > q.Limit {
			return quota.Exceeded(q, would)
		}
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(s.table),
			Key:                      key,
			UpdateExpression:         aws.String("ADD #m :new"),
			ConditionExpression:      aws.String("attribute_not_exists(#m) OR size(#m) <= :room"),
			ExpressionAttributeNames: map[string]string{"#m": AttrMembers},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":new":  &types.AttributeValueMemberSS{Value: missing},
				":room": &types.AttributeValueMemberN{Value: strconv.Itoa(q.Limit - len(missing))},
			},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &ccf):
			return fmt.Errorf("dynamoquota: %s of %s: %w", q.Name, userID, err)
		case attempt >= maxAttempts:
			return fmt.Errorf("dynamoquota: %s of %s: gave up after %d attempts under contention: %w", q.Name, userID, attempt, err)
		}
		// The set grew meanwhile: read it again, consistently, after a short pause.
		consistent = true
		if err := retry.Sleep(ctx, time.Duration(1+rand.IntN(5<<min(attempt, 4)))*time.Millisecond); err != nil {
			return err
		}
	}
}

// Seed adds members to the user's set of q whatever its size: the backfill of
// what a user held before the quota existed (tracker quotas-backfill). A user
// already past the limit keeps what they have and can add nothing new.
func (s *Store) Seed(ctx context.Context, q quota.Quota, userID string, members []string) error {
	members = slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(members))), func(m string) bool { return m == "" })
	if len(members) == 0 || userID == "" {
		return nil
	}
	for chunk := range slices.Chunk(members, 1000) { // bounds one request's size
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: q.Name + "#" + userID}},
			UpdateExpression:          aws.String("ADD #m :new"),
			ExpressionAttributeNames:  map[string]string{"#m": AttrMembers},
			ExpressionAttributeValues: map[string]types.AttributeValue{":new": &types.AttributeValueMemberSS{Value: chunk}},
		})
		if err != nil {
			return fmt.Errorf("dynamoquota: seed %s of %s: %w", q.Name, userID, err)
		}
	}
	return nil
}

// Count returns how many members the user's set of q holds (strongly consistent).
func (s *Store) Count(ctx context.Context, q quota.Quota, userID string) (int, error) {
	held, err := s.members(ctx, map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: q.Name + "#" + userID}}, true)
	return len(held), err
}

func (s *Store) members(ctx context.Context, key map[string]types.AttributeValue, consistent bool) (map[string]struct{}, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      key,
		ConsistentRead:           aws.Bool(consistent),
		ProjectionExpression:     aws.String("#m"),
		ExpressionAttributeNames: map[string]string{"#m": AttrMembers},
	})
	if err != nil {
		return nil, err
	}
	v, _ := out.Item[AttrMembers].(*types.AttributeValueMemberSS)
	if v == nil {
		return map[string]struct{}{}, nil
	}
	held := make(map[string]struct{}, len(v.Value))
	for _, m := range v.Value {
		held[m] = struct{}{}
	}
	return held, nil
}
