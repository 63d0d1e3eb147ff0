package memstore_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
)

var _ storetest.AlertStore = (*memstore.Alerts)(nil)

func TestAlertsContract(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) storetest.AlertSubject {
		dir := memstore.NewDirectory()
		return storetest.AlertSubject{
			Store:         memstore.NewAlerts(dir),
			OwnPortfolios: func(_ *testing.T, userID string, ids ...string) { dir.Own(userID, ids...) },
		}
	})
}
