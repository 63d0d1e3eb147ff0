package dynamoquota_test

import (
	"context"
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamoquota"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/quota"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// The eraser lists every portfolio the user ever created and deletes the
// user's items of every per-user quota, and nothing of another user's.
func TestEraserOfAUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	decl, _ := topology.TableByName(topology.QuotasTable)
	name := testenv.UniqueName(t, "quotas")
	client := testenv.DynamoDB(t)
	if err := dynamo.CreateTable(ctx, client, decl, name); err != nil {
		t.Fatal(err)
	}
	s, e := dynamoquota.New(client, name), dynamoquota.NewEraser(client, name)
	for _, u := range []string{"u1", "u2"} {
		if err := s.Reserve(ctx, quota.PortfoliosPerUser, u, []string{u + "-p2", u + "-p1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Reserve(ctx, quota.SymbolsPerUser, u, []string{"AAPL"}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := e.PortfoliosCreated(ctx, "u1"); err != nil || !slices.Equal(ids, []string{"u1-p1", "u1-p2"}) {
		t.Fatalf("portfolios of u1: %v %v", ids, err)
	}
	if n, err := e.EraseUserQuotas(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("erased %d (err %v), want 2", n, err)
	}
	if ids, err := e.PortfoliosCreated(ctx, "u1"); err != nil || len(ids) != 0 {
		t.Fatalf("u1 after: %v %v", ids, err)
	}
	if n, err := s.Count(ctx, quota.SymbolsPerUser, "u2"); err != nil || n != 1 {
		t.Fatalf("u2's symbols: %d %v", n, err)
	}
	if n, err := e.EraseUserQuotas(ctx, "u1"); err != nil || n != 0 {
		t.Fatalf("a second erasure: %d %v", n, err)
	}
}
