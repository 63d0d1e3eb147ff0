package memstore_test

import (
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/memstore"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
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

func TestMetricsContract(t *testing.T) {
	storetest.RunMetrics(t, func(*testing.T) storetest.MetricsSubject {
		dir, prices, vals := memstore.NewDirectory(), memstore.NewPrices(), memstore.NewValuations()
		m := memstore.NewMetrics(dir, prices, vals)
		return storetest.MetricsSubject{
			Store:        m,
			PutPortfolio: func(_ *testing.T, ref readmodel.PortfolioRef, archived bool) { dir.Put(ref, archived) },
			Closes:       prices,
			Valuations:   vals,
			MetricDays:   func(_ *testing.T, id string) []calendar.Date { return m.MetricDays(id) },
		}
	})
}

func TestSuggestionsContract(t *testing.T) {
	storetest.RunSuggestions(t, func(*testing.T) storetest.SuggestionSubject {
		holdings := memstore.NewHoldings()
		return storetest.SuggestionSubject{
			Store: memstore.NewSuggestions(holdings),
			Hold:  func(_ *testing.T, h suggestions.Holder) { holdings.Put(h) },
		}
	})
}
