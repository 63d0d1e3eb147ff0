package memstore_test

import (
	"testing"
	"time"

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

func TestSymbolHistoryContract(t *testing.T) {
	storetest.RunHistory(t, func(*testing.T) storetest.HistorySubject {
		h := memstore.NewSymbolHistory()
		return storetest.HistorySubject{
			Store: h,
			PutPortfolio: func(_ *testing.T, p storetest.SeedPortfolio) {
				trades := make([]memstore.HistoryTrade, len(p.Trades))
				for i, tr := range p.Trades {
					trades[i] = memstore.HistoryTrade(tr)
				}
				h.PutPortfolio(memstore.HistoryPortfolio{ID: p.ID, BaseCurrency: p.BaseCurrency, Benchmark: p.Benchmark, Archived: p.Archived, Trades: trades})
			},
			PutAlertRule:  func(_ *testing.T, _, symbol string) { h.PutAlertRule(symbol) },
			PutWatch:      func(_ *testing.T, symbol string, until time.Time) { h.PutWatch(symbol, until) },
			PutComputedAt: func(_ *testing.T, portfolioID, _ string, at time.Time) { h.PutComputedAt(portfolioID, at) },
			Row: func(_ *testing.T, symbol string) (storetest.HistoryRow, bool) {
				r, ok := h.Row(symbol)
				return storetest.HistoryRow(r), ok
			},
		}
	})
}

func TestFXRatesContract(t *testing.T) {
	storetest.RunFXRates(t, func(*testing.T) storetest.FXRateSubject {
		prices := memstore.NewPrices()
		return storetest.FXRateSubject{Rates: memstore.FXRates{Prices: prices}, Closes: prices}
	})
}
