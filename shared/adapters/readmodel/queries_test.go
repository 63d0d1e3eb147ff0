package readmodel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi/querytest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// TestQueriesContract runs the query stores' contract suite on Postgres as the
// api function uses it: the projector writes as the owner, the queries read
// through the API's own login, each statement as the caller (Row Level
// Security on).
func TestQueriesContract(t *testing.T) {
	t.Parallel()
	querytest.Run(t, func(t *testing.T) querytest.Fixture {
		pool, dsn := rmtest.DB(t)
		proj := rmtest.NewProjector(pool)
		api, _ := readmodeltest.API(t, dsn)
		q := readmodel.NewQueries(api)
		return querytest.Fixture{Portfolios: q, Transactions: q,
			Apply: func(ctx context.Context, events []portfolio.Event) error {
				failed, err := proj.Apply(ctx, events)
				if err == nil && len(failed) > 0 {
					err = fmt.Errorf("events %v failed", failed)
				}
				return err
			},
			SetLatestPrices: func(ctx context.Context, prices []readmodel.LatestPrice) error {
				_, err := readmodel.UpsertLatestPrices(ctx, pool, prices)
				return err
			},
			Valuations: q,
			InsertValuations: func(ctx context.Context, vals []readmodel.Valuation) (int64, error) {
				return readmodel.InsertValuations(ctx, pool, vals)
			},
			Flags: readmodel.NewSymbolFlags(pool),
		}
	})
}
