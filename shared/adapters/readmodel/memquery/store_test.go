package memquery_test

import (
	"slices"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi/querytest"
	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/memquery"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

func TestContract(t *testing.T) {
	querytest.Run(t, func(t *testing.T) querytest.Fixture {
		vals := memstore.NewValuations()
		s := memquery.NewOver(vals)
		return querytest.Fixture{Portfolios: s, Transactions: s, Apply: s.Apply, SetLatestPrices: s.SetLatestPrices,
			Valuations: s, InsertValuations: vals.InsertValuations, Flags: s, Symbols: s, SetHistories: s.SetHistories,
			SetDailyCloses: s.SetDailyCloses}
	})
}

// As the portfolios table the alert and metrics stores join on, the store
// answers what the projection wrote there: each portfolio's owner, archived
// or not, and the active ones at their version.
func TestPortfolioDirectory(t *testing.T) {
	s := memquery.New()
	archived, active := rmtest.NewHistory(t, "pa", rmtest.UserA, portfolio.FIFO), rmtest.NewHistory(t, "pb", rmtest.UserB, portfolio.FIFO)
	archived.Archive()
	active.Rename("renamed")
	if err := s.Apply(t.Context(), slices.Concat(archived.Events, active.Events)); err != nil {
		t.Fatal(err)
	}
	if s.PortfolioOwner("pa") != rmtest.UserA || s.PortfolioOwner("pb") != rmtest.UserB || s.PortfolioOwner("nope") != "" {
		t.Errorf("owners %q %q %q", s.PortfolioOwner("pa"), s.PortfolioOwner("pb"), s.PortfolioOwner("nope"))
	}
	if got, want := s.ActivePortfolios(), []readmodel.PortfolioRef{{ID: "pb", UserID: rmtest.UserB, Version: 2}}; !slices.Equal(got, want) {
		t.Errorf("active %v, want %v", got, want)
	}
}

// TestWatchListContract runs the watch list's suite in memory (readmodel runs
// it on PostgreSQL).
func TestWatchListContract(t *testing.T) {
	storetest.RunWatchList(t, func(t *testing.T) storetest.WatchListSubject {
		s := memquery.New()
		rules, watchers := memstore.NewAlerts(s), memstore.NewWatchers()
		return storetest.WatchListSubject{
			List: memquery.WatchList{Portfolios: s, Alerts: rules, Watchers: watchers},
			Apply: func(t *testing.T, events []portfolio.Event) {
				t.Helper()
				if err := s.Apply(t.Context(), events); err != nil {
					t.Fatal(err)
				}
			},
			Rules:    rules,
			Watchers: watchers,
		}
	})
}
