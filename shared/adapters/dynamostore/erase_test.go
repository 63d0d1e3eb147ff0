package dynamostore_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// The eraser deletes every item of one aggregate, across query pages and
// concurrent deletes, and nothing of another; a second run finds nothing.
func TestEraserDeletesOneAggregate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := rmtest.NewStore(t)
	gone := rmtest.NewHistory(t, "gone", rmtest.UserA, portfolio.FIFO)
	gone.Random(rand.New(rand.NewPCG(1, 2)), 120, []string{"AAA", "BBB"}, rmtest.D("2024-01-02"))
	kept := rmtest.Realistic(t, "kept", rmtest.UserB, portfolio.FIFO)
	s.Append(gone.Events...)
	s.Append(kept.Events...)
	e := dynamostore.NewEraser(s.Client, s.Table)
	n, err := e.EraseAggregate(ctx, "gone")
	if err != nil || n != int64(len(gone.Events)) {
		t.Fatalf("erased %d (err %v), want %d", n, err, len(gone.Events))
	}
	if evs, err := s.Events.Events(ctx, "gone", 1, 0); err != nil || len(evs) != 0 {
		t.Fatalf("left of the erased aggregate: %d events (err %v)", len(evs), err)
	}
	if evs, err := s.Events.Events(ctx, "kept", 1, 0); err != nil || len(evs) != len(kept.Events) {
		t.Fatalf("the other aggregate: %d events (err %v), want %d", len(evs), err, len(kept.Events))
	}
	if n, err := e.EraseAggregate(ctx, "gone"); err != nil || n != 0 {
		t.Fatalf("a second erasure: %d %v", n, err)
	}
}
