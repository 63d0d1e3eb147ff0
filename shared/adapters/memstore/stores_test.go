package memstore_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
)

func TestPricesContract(t *testing.T) {
	storetest.RunPrices(t, func(*testing.T) storetest.PriceStore { return memstore.NewPrices() })
}

func TestValuationsContract(t *testing.T) {
	storetest.RunValuations(t, func(*testing.T) storetest.ValuationStore { return memstore.NewValuations() })
}

func TestWatchersContract(t *testing.T) {
	storetest.RunWatchers(t, func(*testing.T) storetest.WatcherStore { return memstore.NewWatchers() })
}
