package readmodel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/portfoliotracker/tracker/shared/adapters/httpapi/querytest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/readmodeltest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/domain/market"
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
			SetDailyCloses: func(ctx context.Context, closes []readmodel.DailyClose) error {
				_, err := readmodel.UpsertDailyCloses(ctx, pool, closes)
				return err
			},
			Flags:   readmodel.NewSymbolFlags(pool),
			Symbols: q,
			SetHistories: func(ctx context.Context, hs []market.HistoryStatus) error {
				for _, h := range hs {
					var from, to *string
					if h.FilledFrom != nil {
						f, t := h.FilledFrom.String(), h.FilledTo.String()
						from, to = &f, &t
					}
					if _, err := pool.Exec(ctx, `
insert into symbol_history (symbol, state, needed_from, filled_from, filled_to, reason, source, next_attempt_at, updated_at)
values ($1, $2, $3::date, $4::date, $5::date, nullif($6, ''), nullif($7, ''), $8, $8)
on conflict (symbol) do update set state = excluded.state, needed_from = excluded.needed_from, filled_from = excluded.filled_from,
  filled_to = excluded.filled_to, reason = excluded.reason, source = excluded.source, updated_at = excluded.updated_at`,
						h.Symbol, string(h.State), h.NeededFrom.String(), from, to, h.Reason, h.Source, h.UpdatedAt); err != nil {
						return err
					}
				}
				return nil
			},
		}
	})
}
