package wsconn

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// EraseUserConnections deletes every connection item of the user and the
// user's slot item (DELETE /me), and returns how many items it deleted. The
// connections are those the byUser index lists and those the slot item names
// (read strongly consistently: the index may lag a connect). A live socket
// whose item is gone is refused by every handler and dropped by API Gateway
// within its two-hour lifetime.
func (s *Store) EraseUserConnections(ctx context.Context, userID string) (int64, error) {
	if !validID(userID, 256) {
		return 0, nil
	}
	ids, err := s.ConnectionIDsByUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	slot, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(slotPrefix + userID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("wsconn: slot of %s: %w", userID, err)
	}
	ids = append(ids, slotIDs(slot.Item)...)
	slices.Sort(ids)
	var n int64
	for _, id := range slices.Compact(ids) {
		// Only the user's: an ID in a stale slot may have been reused by nobody
		// else (API Gateway's IDs are unique), but the condition costs nothing.
		out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: key(id),
			ConditionExpression:       aws.String("#u = :u"),
			ExpressionAttributeNames:  map[string]string{"#u": AttrUserID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: userID}},
			ReturnValues:              types.ReturnValueAllOld,
		})
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("wsconn: delete connection %s of %s: %w", id, userID, err)
		}
		if len(out.Attributes) > 0 {
			n++
		}
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(slotPrefix + userID), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return n, fmt.Errorf("wsconn: delete the slot of %s: %w", userID, err)
	}
	if len(out.Attributes) > 0 {
		n++
	}
	return n, nil
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
