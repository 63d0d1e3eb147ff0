// Package wsconntest creates a connections table in DynamoDB Local (shared/devtools/testenv) for the
// tests of the packages that use shared/adapters/wsconn.
package wsconntest

import (
	"context"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/wsconn"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Table creates a fresh connections table, declared as in the topology, and returns its name.
func Table(t testing.TB) string {
	t.Helper()
	decl, ok := topology.TableByName(topology.ConnectionsTable)
	if !ok {
		t.Fatal("wsconntest: the topology has no connections table")
	}
	name := testenv.UniqueName(t, "connections")
	if err := dynamo.CreateTable(context.Background(), testenv.DynamoDB(t), decl, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// Store returns a store on a fresh connections table.
func Store(t testing.TB, opts wsconn.Options) *wsconn.Store {
	t.Helper()
	return wsconn.New(testenv.DynamoDB(t), Table(t), opts)
}
