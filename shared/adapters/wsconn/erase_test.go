package wsconn_test

import (
	"context"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn/wsconntest"
)

// Erasing a user deletes their connections and their slot item, and nothing of
// another user's; a second run finds nothing.
func TestEraseUserConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := wsconntest.Store(t, wsconn.Options{})
	for _, c := range [][2]string{{"a1", "user-a"}, {"a2", "user-a"}, {"b1", "user-b"}} {
		if _, err := store.Put(ctx, c[0], c[1]); err != nil {
			t.Fatal(err)
		}
	}
	n, err := store.EraseUserConnections(ctx, "user-a")
	if err != nil || n != 3 { // two connections and the slot
		t.Fatalf("erased %d (err %v), want 3", n, err)
	}
	for _, id := range []string{"a1", "a2"} {
		if _, err := store.Get(ctx, id); err == nil {
			t.Errorf("connection %s survived", id)
		}
	}
	if _, err := store.Get(ctx, "b1"); err != nil {
		t.Errorf("user-b's connection: %v", err)
	}
	if n, err := store.EraseUserConnections(ctx, "user-a"); err != nil || n != 0 {
		t.Fatalf("a second erasure: %d %v", n, err)
	}
	// The slot is gone too: user-a may connect afresh, up to the full quota.
	if _, err := store.Put(ctx, "a3", "user-a"); err != nil {
		t.Fatal(err)
	}
}
