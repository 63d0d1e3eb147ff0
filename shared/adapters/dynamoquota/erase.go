package dynamoquota

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// EraserDB is what an Eraser needs of DynamoDB.
type EraserDB interface {
	DynamoDB
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Eraser reads and deletes a user's quota items (DELETE /me). It is separate
// from Store so the functions that only count need no DeleteItem.
type Eraser struct {
	store *Store
	db    EraserDB
}

// NewEraser returns the eraser of the table (physical name).
func NewEraser(db EraserDB, table string) *Eraser { return &Eraser{store: New(db, table), db: db} }

// PortfoliosCreated returns every portfolio the user ever created (the
// portfolios quota's set: members are never removed), sorted.
func (e *Eraser) PortfoliosCreated(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, nil
	}
	held, err := e.store.members(ctx, map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: quota.PortfoliosPerUser.Name + "#" + userID}}, true)
	if err != nil {
		return nil, fmt.Errorf("dynamoquota: portfolios of %s: %w", userID, err)
	}
	ids := make([]string, 0, len(held))
	for id := range held {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// EraseUserQuotas deletes the user's item of every per-user quota, and returns
// how many existed.
func (e *Eraser) EraseUserQuotas(ctx context.Context, userID string) (int64, error) {
	if userID == "" {
		return 0, nil
	}
	var n int64
	for _, q := range quota.All() {
		if q.Scope != quota.PerUser {
			continue
		}
		out, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:    aws.String(e.store.table),
			Key:          map[string]types.AttributeValue{AttrKey: &types.AttributeValueMemberS{Value: q.Name + "#" + userID}},
			ReturnValues: types.ReturnValueAllOld,
		})
		if err != nil {
			return n, fmt.Errorf("dynamoquota: delete %s of %s: %w", q.Name, userID, err)
		}
		if len(out.Attributes) > 0 {
			n++
		}
	}
	return n, nil
}
