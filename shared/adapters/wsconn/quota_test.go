package wsconn_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn/wsconntest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// TestConnectionsPerUserHoldUnderParallelConnects: 3 × the quota of one user's
// connects at once store exactly the quota; the others are refused with it, and
// another user still connects. The fan-out's view agrees.
func TestConnectionsPerUserHoldUnderParallelConnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := wsconntest.Store(t, wsconn.Options{})
	limit := quota.ConnectionsPerUser.Limit
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		stored, refused int
		other           []error
	)
	for i := range 3 * limit {
		wg.Go(func() {
			_, err := store.Put(ctx, fmt.Sprintf("c%02d=", i), "user-a")
			var qe *quota.ExceededError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				stored++
			case errors.As(err, &qe) && qe.Quota.Name == quota.ConnectionsPerUser.Name && qe.Would == limit+1:
				refused++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if stored != limit || refused != 2*limit || len(other) > 0 {
		t.Fatalf("%d stored, %d refused, errors %v; want %d and %d", stored, refused, other, limit, 2*limit)
	}
	conns, err := store.ConnectionsByUser(ctx, "user-a")
	if err != nil || len(conns) != limit {
		t.Fatalf("%d connections of user-a (%v), want %d", len(conns), err, limit)
	}
	if _, err := store.Put(ctx, "b1=", "user-b"); err != nil {
		t.Fatalf("another user: %v", err)
	}
	// A retried $connect of a stored connection is not a new one.
	if _, err := store.Put(ctx, conns[0].ID, "user-a"); err != nil {
		t.Fatalf("a repeated $connect: %v", err)
	}
	// $disconnect makes room.
	if err := store.Delete(ctx, conns[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "after-disconnect=", "user-a"); err != nil {
		t.Fatalf("after a disconnect: %v", err)
	}
	if _, err := store.Put(ctx, "one-more=", "user-a"); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("full again: %v", err)
	}
}

// TestStaleConnectionsDoNotLockAUserOut: a full slot whose connections expired,
// or whose items went without their slot being freed (TTL, a failed clean-up),
// makes room for the next connect.
func TestStaleConnectionsDoNotLockAUserOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock := now
	table := wsconntest.Table(t)
	store := wsconn.New(testenv.DynamoDB(t), table, wsconn.Options{Now: func() time.Time { return clock }, MaxPerUser: 3})
	for i := range 3 {
		if _, err := store.Put(ctx, fmt.Sprint("old", i), "user-a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Put(ctx, "new0", "user-a"); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("full: %v", err)
	}
	// Two hours on, the three have expired (TTL has not removed them yet).
	clock = now.Add(wsconn.MaxLifetime)
	for i := range 3 {
		if _, err := store.Put(ctx, fmt.Sprint("new", i), "user-a"); err != nil {
			t.Fatalf("after the expiry, connect %d: %v", i, err)
		}
	}
	// An item deleted behind the slot's back (TTL deletes items, not slot entries).
	deleteItem(t, table, "new0")
	if _, err := store.Put(ctx, "new3", "user-a"); err != nil {
		t.Fatalf("after an item vanished: %v", err)
	}
	if _, err := store.Put(ctx, "new4", "user-a"); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("full of live connections: %v", err)
	}
}

// deleteItem removes a connection's item as TTL does, leaving its slot entry.
func deleteItem(t *testing.T, table, id string) {
	t.Helper()
	if _, err := testenv.DynamoDB(t).DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{wsconn.AttrConnectionID: &types.AttributeValueMemberS{Value: id}}}); err != nil {
		t.Fatal(err)
	}
}
