// Package leasetest is the contract suite of a lease store (the streaming
// use case's Lease port): run against dynamolease.Store on DynamoDB Local and
// against dynamolease.Memory, so that the memory one may stand for the real
// one in the use case's tests.
package leasetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamolease"
)

// Lease is the store under test.
type Lease interface {
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	Renew(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, name, holder string) (bool, error)
}

var (
	_ Lease = (*dynamolease.Store)(nil)
	_ Lease = (*dynamolease.Memory)(nil)
)

// Clock is a time the suite moves by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Run runs the suite. newLease returns a store whose expiries are read
// against now; stores of several cases may share a table, since every case
// names its leases after itself.
func Run(t *testing.T, newLease func(t *testing.T, now func() time.Time) Lease) {
	cases := []struct {
		name string
		run  func(t *testing.T, s Lease, clock *Clock, lease string)
	}{
		{"OneHolderAtATime", testOneHolder},
		{"ExpiryTakeover", testExpiryTakeover},
		{"RenewExtends", testRenewExtends},
		{"AcquireRaceOneWinner", testAcquireRace},
		{"TakeoverRaceOneWinner", testTakeoverRace},
		{"Invalid", testInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := &Clock{now: time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)}
			c.run(t, newLease(t, clock.Now), clock, fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()))
		})
	}
}

const ttl = 30 * time.Second

func is(t *testing.T, what string, got bool, err error, want bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != want {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// testOneHolder: a lease has one holder; another may neither take, renew nor
// release it; its holder may take it again, renew it and release it, after
// which another takes it. Leases of other names are independent.
func testOneHolder(t *testing.T, s Lease, _ *Clock, lease string) {
	ctx := t.Context()
	ok, err := s.Acquire(ctx, lease, "a", ttl)
	is(t, "a acquires a free lease", ok, err, true)
	ok, err = s.Acquire(ctx, lease, "b", ttl)
	is(t, "b acquires a's lease", ok, err, false)
	ok, err = s.Acquire(ctx, lease, "a", ttl)
	is(t, "a acquires its own lease again", ok, err, true)
	ok, err = s.Renew(ctx, lease, "a", ttl)
	is(t, "a renews", ok, err, true)
	ok, err = s.Renew(ctx, lease, "b", ttl)
	is(t, "b renews a's lease", ok, err, false)
	ok, err = s.Release(ctx, lease, "b")
	is(t, "b releases a's lease", ok, err, false)
	ok, err = s.Acquire(ctx, lease, "c", ttl)
	is(t, "c acquires after b's release", ok, err, false)
	ok, err = s.Acquire(ctx, lease+"-other", "c", ttl)
	is(t, "c acquires another lease", ok, err, true)
	ok, err = s.Release(ctx, lease, "a")
	is(t, "a releases", ok, err, true)
	ok, err = s.Release(ctx, lease, "a")
	is(t, "a releases twice", ok, err, false)
	ok, err = s.Renew(ctx, lease, "a", ttl)
	is(t, "a renews a released lease", ok, err, false)
	ok, err = s.Acquire(ctx, lease, "b", ttl)
	is(t, "b acquires the released lease", ok, err, true)
}

// testExpiryTakeover: a lease not renewed is another's to take from its
// expiry on (to the millisecond); its former holder can then neither renew
// nor release it.
func testExpiryTakeover(t *testing.T, s Lease, clock *Clock, lease string) {
	ctx := t.Context()
	ok, err := s.Acquire(ctx, lease, "a", ttl)
	is(t, "a acquires", ok, err, true)
	clock.Advance(ttl - time.Millisecond)
	ok, err = s.Acquire(ctx, lease, "b", ttl)
	is(t, "b acquires a millisecond before the expiry", ok, err, false)
	clock.Advance(time.Millisecond)
	ok, err = s.Acquire(ctx, lease, "b", ttl)
	is(t, "b acquires at the expiry", ok, err, true)
	ok, err = s.Renew(ctx, lease, "a", ttl)
	is(t, "a renews after b took over", ok, err, false)
	ok, err = s.Release(ctx, lease, "a")
	is(t, "a releases after b took over", ok, err, false)
	ok, err = s.Acquire(ctx, lease, "c", ttl)
	is(t, "c acquires b's fresh lease", ok, err, false)
	// An expired lease nobody took is still its holder's to renew.
	clock.Advance(2 * ttl)
	ok, err = s.Renew(ctx, lease, "b", ttl)
	is(t, "b renews its expired lease", ok, err, true)
	ok, err = s.Acquire(ctx, lease, "c", ttl)
	is(t, "c acquires the renewed lease", ok, err, false)
}

// testRenewExtends: a renewal counts its length from the renewal.
func testRenewExtends(t *testing.T, s Lease, clock *Clock, lease string) {
	ctx := t.Context()
	ok, err := s.Acquire(ctx, lease, "a", ttl)
	is(t, "a acquires", ok, err, true)
	clock.Advance(20 * time.Second)
	ok, err = s.Renew(ctx, lease, "a", ttl)
	is(t, "a renews", ok, err, true)
	clock.Advance(20 * time.Second) // past the first expiry, before the renewed one
	ok, err = s.Acquire(ctx, lease, "b", ttl)
	is(t, "b acquires before the renewed expiry", ok, err, false)
	clock.Advance(10 * time.Second)
	ok, err = s.Acquire(ctx, lease, "b", ttl)
	is(t, "b acquires at the renewed expiry", ok, err, true)
}

// race has n holders acquire lease at once and returns the winners.
func race(t *testing.T, s Lease, lease string, n int) []string {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		errs    []error
		start   = make(chan struct{})
		ready   atomic.Int32
	)
	for i := range n {
		wg.Go(func() {
			holder := fmt.Sprint("h", i)
			ready.Add(1)
			<-start
			ok, err := s.Acquire(context.Background(), lease, holder, ttl)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				winners = append(winners, holder)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return winners
}

// testAcquireRace: 24 invocations acquire a free lease at once: exactly one
// wins, and only the winner may renew it.
func testAcquireRace(t *testing.T, s Lease, _ *Clock, lease string) {
	const n = 24
	winners := race(t, s, lease, n)
	if len(winners) != 1 {
		t.Fatalf("%d winners (%v), want exactly one", len(winners), winners)
	}
	for i := range n {
		holder := fmt.Sprint("h", i)
		ok, err := s.Renew(t.Context(), lease, holder, ttl)
		is(t, holder+" renews", ok, err, holder == winners[0])
	}
}

// testTakeoverRace: 24 invocations race for an expired lease: exactly one
// takes it over.
func testTakeoverRace(t *testing.T, s Lease, clock *Clock, lease string) {
	ok, err := s.Acquire(t.Context(), lease, "old", ttl)
	is(t, "old acquires", ok, err, true)
	clock.Advance(ttl)
	if winners := race(t, s, lease, 24); len(winners) != 1 {
		t.Fatalf("%d winners (%v), want exactly one", len(winners), winners)
	}
	ok, err = s.Renew(t.Context(), lease, "old", ttl)
	is(t, "old renews after the takeover", ok, err, false)
}

// testInvalid: a lease needs a name, a holder and a positive length.
func testInvalid(t *testing.T, s Lease, _ *Clock, lease string) {
	ctx := t.Context()
	for _, err := range []error{
		second(s.Acquire(ctx, "", "a", ttl)), second(s.Acquire(ctx, lease, "", ttl)), second(s.Acquire(ctx, lease, "a", 0)),
		second(s.Renew(ctx, lease, "a", -time.Second)), second(s.Release(ctx, lease, "")),
	} {
		if !errors.Is(err, dynamolease.ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	}
}

func second(_ bool, err error) error { return err }
