package readmodel_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
)

// The contract suites of the stores on PostgreSQL: each case on a fresh migrated
// database, the owner's pool. The in-memory stores run the same suites
// (package memstore).

func TestAlertRulesContract(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) storetest.AlertSubject {
		pool, _ := rmtest.DB(t)
		return storetest.AlertSubject{
			Store: readmodel.NewAlertRules(pool),
			OwnPortfolios: func(t *testing.T, userID string, ids ...string) {
				ownPortfolios(t, pool, userID, ids...)
			},
		}
	})
}

func TestPricesContract(t *testing.T) {
	storetest.RunPrices(t, func(t *testing.T) storetest.PriceStore {
		pool, _ := rmtest.DB(t)
		return readmodel.NewPrices(pool)
	})
}

func TestValuationsContract(t *testing.T) {
	storetest.RunValuations(t, func(t *testing.T) storetest.ValuationStore {
		pool, _ := rmtest.DB(t)
		return readmodel.NewValuations(pool)
	})
}

func TestWatchersContract(t *testing.T) {
	storetest.RunWatchers(t, func(t *testing.T) storetest.WatcherStore {
		pool, _ := rmtest.DB(t)
		return readmodel.NewWatchers(pool)
	})
}
