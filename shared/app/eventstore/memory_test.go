package eventstore_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/app/eventstore/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Subject { return eventstore.NewMemory() })
}
