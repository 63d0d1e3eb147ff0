package dynamolease_test

import (
	"context"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamolease"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamolease/leasetest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestContract runs the lease suite on DynamoDB Local (one leases table, each
// case with leases of its own) and in memory.
func TestContract(t *testing.T) {
	t.Run("DynamoDB", func(t *testing.T) {
		t.Parallel()
		decl, _ := topology.TableByName(topology.LeasesTable)
		table := testenv.UniqueName(t, "leases")
		db := testenv.DynamoDB(t)
		if err := dynamo.CreateTable(context.Background(), db, decl, table); err != nil {
			t.Fatal(err)
		}
		leasetest.Run(t, func(t *testing.T, now func() time.Time) leasetest.Lease { return dynamolease.New(db, table, now) })
	})
	t.Run("Memory", func(t *testing.T) {
		t.Parallel()
		leasetest.Run(t, func(t *testing.T, now func() time.Time) leasetest.Lease { return dynamolease.NewMemory(now) })
	})
}
