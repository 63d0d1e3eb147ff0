package memstore_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
)

var _ storetest.AlertStore = (*memstore.Alerts)(nil)

func TestAlertsContract(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) storetest.AlertSubject {
		dir := memstore.NewDirectory()
		store, metrics := memstore.NewAlerts(dir), memstore.NewMetrics(dir, memstore.NewPrices(), memstore.NewValuations())
		store.ReadWealthFrom(metrics)
		return storetest.AlertSubject{
			Store:         store,
			OwnPortfolios: func(_ *testing.T, userID string, ids ...string) { dir.Own(userID, ids...) },
			Computed: func(t *testing.T, r readmodel.AnalyticsResult) {
				if err := metrics.SaveResults(t.Context(), []readmodel.AnalyticsResult{r}); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}
