package retry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/retry"
)

// The budget is the smaller of For and the deadline less the reserve: with a
// deadline already inside the reserve there is no retry at all, and a cancelled
// context stops the run.
func TestBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if (retry.Policy{Reserve: 5 * time.Second}).Start(ctx).Wait() {
		t.Error("retried past the deadline's reserve")
	}
	a := retry.Policy{First: time.Millisecond, Max: 2 * time.Millisecond, For: time.Hour}.Start(context.Background())
	for range 3 {
		if !a.Wait() {
			t.Fatal("no retry within the budget")
		}
	}
	if a.Retries() != 3 {
		t.Errorf("%d retries", a.Retries())
	}
	counted := retry.Policy{First: time.Millisecond, Max: time.Millisecond, For: time.Hour, Times: 2}.Start(context.Background())
	var allowed []bool
	for range 3 {
		allowed = append(allowed, counted.Wait())
	}
	if !slices.Equal(allowed, []bool{true, true, false}) || counted.Retries() != 2 {
		t.Errorf("Times 2: waits %v, %d retries, want two and no third", allowed, counted.Retries())
	}
	stopped, stop := context.WithCancel(context.Background())
	stop()
	if (retry.Policy{First: time.Millisecond}).Start(stopped).Wait() {
		t.Error("retried after the context ended")
	}
}
