package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/alerts"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
)

// TestAlertRulesPerUserQuotaHoldsUnderParallelCreates: a user five rules short of
// the quota sends 24 creates at once on 16 connections; exactly five are stored,
// the others are refused with the quota, another user is not affected, and a
// delete makes room again.
func TestAlertRulesPerUserQuotaHoldsUnderParallelCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn := rmtest.DB(t)
	pool, err := readmodel.Open(ctx, dsn, readmodel.PoolOptions{MaxConns: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := readmodel.NewAlertRules(pool)
	limit := quota.AlertRulesPerUser.Limit
	rule := func(i int) alerts.Rule {
		return alerts.Rule{ID: fmt.Sprintf("r%d", i), Kind: alerts.KindPriceAbove, Symbol: "AAPL", Threshold: decimal.NewFromInt(int64(100 + i))}
	}
	// Up to five short of the limit, as the API would (sequentially).
	for i := range limit - 5 {
		if _, err := store.Create(ctx, rmtest.UserA, rule(i)); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg               sync.WaitGroup
		mu               sync.Mutex
		created, refused int
		other            []error
	)
	for i := range 24 {
		wg.Go(func() {
			_, err := store.Create(ctx, rmtest.UserA, rule(limit+i))
			var qe *quota.ExceededError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.As(err, &qe) && qe.Quota.Name == quota.AlertRulesPerUser.Name && qe.Would == limit+1:
				refused++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if created != 5 || refused != 19 || len(other) > 0 {
		t.Fatalf("%d created, %d refused, errors %v; want 5 created and 19 refused", created, refused, other)
	}
	if rules, err := store.List(ctx, rmtest.UserA); err != nil || len(rules) != limit {
		t.Fatalf("%d rules stored (%v), want %d", len(rules), err, limit)
	}
	if _, err := store.Create(ctx, rmtest.UserB, rule(-1)); err != nil {
		t.Fatalf("another user: %v", err)
	}
	if err := store.Delete(ctx, rmtest.UserA, "r0"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, rmtest.UserA, rule(0)); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	if _, err := store.Create(ctx, rmtest.UserA, rule(-2)); !errors.Is(err, quota.ErrExceeded) {
		t.Fatalf("at the limit again: %v", err)
	}
}
