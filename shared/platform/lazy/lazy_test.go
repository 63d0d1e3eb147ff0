package lazy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestBuildsOnceAndRetriesAfterFailure(t *testing.T) {
	var calls atomic.Int32
	v := New(func(context.Context) (int, error) {
		if calls.Add(1) == 1 {
			return 0, errors.New("secret not readable yet")
		}
		return 42, nil
	})
	if _, err := v.Get(context.Background()); err == nil {
		t.Fatal("first build should fail")
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := v.Get(context.Background()); err != nil || got != 42 {
				t.Errorf("Get = %d, %v", got, err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 2 {
		t.Fatalf("built %d times, want 2 (one failure, one success)", calls.Load())
	}
}
