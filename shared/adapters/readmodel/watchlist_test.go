package readmodel_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestWatchListContract runs the watch list's suite on PostgreSQL: the
// projector writes the portfolios, the stores the rules and watches, and one
// statement reads them (memquery.WatchList runs the same suite).
func TestWatchListContract(t *testing.T) {
	t.Parallel()
	storetest.RunWatchList(t, func(t *testing.T) storetest.WatchListSubject {
		pool, _ := rmtest.DB(t)
		proj := rmtest.NewProjector(pool)
		return storetest.WatchListSubject{
			List: readmodel.IngestStore{DB: pool},
			Apply: func(t *testing.T, events []portfolio.Event) {
				t.Helper()
				if _, err := proj.ApplyBatch(t.Context(), events); err != nil {
					t.Fatal(err)
				}
			},
			Rules:    readmodel.NewAlertRules(pool),
			Watchers: readmodel.NewWatchers(pool),
		}
	})
}
