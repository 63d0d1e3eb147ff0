package dynamoquota_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newStore returns a store on a fresh quotas table in DynamoDB Local.
func newStore(t *testing.T) *dynamoquota.Store {
	t.Helper()
	decl, _ := topology.TableByName(topology.QuotasTable)
	name := testenv.UniqueName(t, "quotas")
	if err := dynamo.CreateTable(context.Background(), testenv.DynamoDB(t), decl, name); err != nil {
		t.Fatal(err)
	}
	return dynamoquota.New(testenv.DynamoDB(t), name)
}

func TestReserveCountsDistinctMembersUpToTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	q := quota.Quota{Name: "things_per_user", Limit: 5, Scope: quota.PerUser, Status: quota.StatusStored}
	if err := s.Reserve(ctx, q, "u1", []string{"a", "b", "a", ""}); err != nil {
		t.Fatal(err)
	}
	// Counted members cost nothing; new ones fill the rest.
	if err := s.Reserve(ctx, q, "u1", []string{"b", "a", "c", "d", "e"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, q, "u1", []string{"e", "a"}); err != nil {
		t.Fatalf("counted members at the limit: %v", err)
	}
	err := s.Reserve(ctx, q, "u1", []string{"a", "f", "g"})
	var qe *quota.ExceededError
	if !errors.As(err, &qe) || qe.Would != 7 || qe.Quota.Name != q.Name {
		t.Fatalf("past the limit: %v", err)
	}
	if n, err := s.Count(ctx, q, "u1"); err != nil || n != 5 {
		t.Fatalf("count %d (%v), want 5: a refusal adds nothing", n, err)
	}
	if err := s.Reserve(ctx, q, "u2", []string{"f", "g"}); err != nil {
		t.Fatalf("another user: %v", err)
	}
}

// TestReserveHoldsUnderABurst: 40 requests of one user at once, each adding two
// symbols of its own and one shared, against room for 20 more: the set ends at
// the limit exactly, and every request either reserved all its members or none.
func TestReserveHoldsUnderABurst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	q := quota.Quota{Name: "symbols_burst", Limit: 30, Scope: quota.PerUser, Status: quota.StatusStored}
	var seed []string
	for i := range 10 {
		seed = append(seed, fmt.Sprint("S", i))
	}
	if err := s.Reserve(ctx, q, "u", seed); err != nil {
		t.Fatal(err)
	}
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		granted, denied int
		other           []error
	)
	for i := range 40 {
		wg.Go(func() {
			err := s.Reserve(ctx, q, "u", []string{fmt.Sprint("A", i), fmt.Sprint("B", i), "SHARED"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				granted++
			case errors.Is(err, quota.ErrExceeded):
				denied++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	n, err := s.Count(ctx, q, "u")
	if err != nil || len(other) > 0 {
		t.Fatalf("count %v, errors %v", err, other)
	}
	// The shared symbol plus two per granted request, never past the limit.
	if n > q.Limit || n != 10+1+2*granted || granted+denied != 40 || granted == 0 {
		t.Fatalf("%d members after %d granted and %d denied; limit %d", n, granted, denied, q.Limit)
	}
	t.Logf("%d granted, %d denied, %d members", granted, denied, n)
}
