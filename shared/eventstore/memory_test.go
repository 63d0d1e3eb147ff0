package eventstore_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/eventstore"
	"github.com/portfoliotracker/tracker/shared/eventstore/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Subject { return eventstore.NewMemory() })
}
