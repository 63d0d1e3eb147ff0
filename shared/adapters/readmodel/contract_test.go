package readmodel_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
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

func TestMetricsContract(t *testing.T) {
	storetest.RunMetrics(t, func(t *testing.T) storetest.MetricsSubject {
		pool, _ := rmtest.DB(t)
		return storetest.MetricsSubject{
			Store: readmodel.NewMetrics(pool),
			PutPortfolio: func(t *testing.T, ref readmodel.PortfolioRef, archived bool) {
				if _, err := pool.Exec(t.Context(), `
insert into portfolios (id, user_id, name, base_currency, lot_method, archived, created_at, updated_at, version)
values ($1, $2::uuid, 'p', 'USD', 'FIFO', $3, now(), now(), $4)
on conflict (id) do update set user_id = excluded.user_id, archived = excluded.archived, version = excluded.version`,
					ref.ID, ref.UserID, archived, ref.Version); err != nil {
					t.Fatal(err)
				}
			},
			Closes:     readmodel.NewPrices(pool),
			Valuations: readmodel.NewValuations(pool),
			MetricDays: func(t *testing.T, portfolioID string) []calendar.Date {
				rows, err := pool.Query(t.Context(), `select as_of::text from portfolio_metrics where portfolio_id = $1 order by as_of`, portfolioID)
				if err != nil {
					t.Fatal(err)
				}
				days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calendar.Date, error) {
					var s string
					if err := r.Scan(&s); err != nil {
						return 0, err
					}
					return calendar.Parse(s)
				})
				if err != nil {
					t.Fatal(err)
				}
				return days
			},
		}
	})
}
