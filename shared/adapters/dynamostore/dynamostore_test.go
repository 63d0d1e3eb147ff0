package dynamostore_test

import (
	"context"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/dynamo"
	"github.com/portfoliotracker/tracker/shared/adapters/dynamostore"
	"github.com/portfoliotracker/tracker/shared/app/eventstore/storetest"
	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newStore creates a fresh events table, from the topology declaration, in
// DynamoDB Local (or the external endpoint under PT_EXTERNAL_AWS=1).
func newStore(t testing.TB, opts dynamostore.Options) *dynamostore.Store {
	t.Helper()
	client := testenv.DynamoDB(t)
	table, _ := topology.TableByName(topology.EventsTable)
	name := testenv.UniqueName(t, "events")
	if err := dynamo.CreateTable(context.Background(), client, table, name); err != nil {
		t.Fatal(err)
	}
	return dynamostore.New(client, name, opts)
}

func TestDynamoDBContract(t *testing.T) {
	// One table for the whole suite: the suite's aggregate IDs are unique, and
	// creating a table per case costs DynamoDB Local more than the cases do.
	store := newStore(t, dynamostore.Options{SnapshotEvery: 100})
	storetest.Run(t, func(*testing.T) storetest.Subject { return store })
}
