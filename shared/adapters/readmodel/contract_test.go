package readmodel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/storetest"
	"github.com/portfoliotracker/tracker/shared/app/suggestions"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// TestStoreContracts runs the stores' contract suites on PostgreSQL, over the
// owner's pool; the in-memory stores run the same suites (package memstore).
// The cases share a few migrated databases, one case at a time each, emptied of
// the suites' tables between cases: a fresh database per case cost half a
// second or more each, for some fifty cases.
func TestStoreContracts(t *testing.T) {
	t.Parallel()
	dbs := newCaseDatabases(t, 3)
	t.Run("Alerts", func(t *testing.T) {
		storetest.RunAlerts(t, func(t *testing.T) storetest.AlertSubject {
			pool := dbs.borrow(t)
			return storetest.AlertSubject{
				Store: readmodel.NewAlertRules(pool),
				OwnPortfolios: func(t *testing.T, userID string, ids ...string) {
					ownPortfolios(t, pool, userID, ids...)
				},
				Computed: func(t *testing.T, r readmodel.AnalyticsResult) {
					if err := readmodel.NewMetrics(pool).SaveResults(t.Context(), []readmodel.AnalyticsResult{r}); err != nil {
						t.Fatal(err)
					}
				},
			}
		})
	})
	t.Run("Metrics", func(t *testing.T) {
		storetest.RunMetrics(t, func(t *testing.T) storetest.MetricsSubject {
			pool := dbs.borrow(t)
			return storetest.MetricsSubject{
				Store:        readmodel.NewMetrics(pool),
				PutPortfolio: func(t *testing.T, ref readmodel.PortfolioRef, archived bool) { putPortfolio(t, pool, ref, archived) },
				Closes:       readmodel.NewPrices(pool),
				Valuations:   readmodel.NewValuations(pool),
				MetricDays:   func(t *testing.T, portfolioID string) []calendar.Date { return metricDays(t, pool, portfolioID) },
			}
		})
	})
	t.Run("Prices", func(t *testing.T) {
		storetest.RunPrices(t, func(t *testing.T) storetest.PriceStore { return readmodel.NewPrices(dbs.borrow(t)) })
	})
	t.Run("Valuations", func(t *testing.T) {
		storetest.RunValuations(t, func(t *testing.T) storetest.ValuationStore { return readmodel.NewValuations(dbs.borrow(t)) })
	})
	t.Run("History", func(t *testing.T) {
		storetest.RunHistory(t, func(t *testing.T) storetest.HistorySubject {
			pool := dbs.borrow(t)
			return storetest.HistorySubject{
				Store:        readmodel.NewSymbolHistory(pool),
				PutPortfolio: func(t *testing.T, p storetest.SeedPortfolio) { putSeedPortfolio(t, pool, p) },
				PutAlertRule: func(t *testing.T, userID, symbol string) {
					exec(t, pool, `insert into alert_rules (id, user_id, kind, symbol, definition) values (gen_random_uuid()::text, $1::uuid, 'price', $2, '{}')`,
						userID, symbol)
				},
				PutWatch: func(t *testing.T, symbol string, until time.Time) {
					exec(t, pool, `insert into symbol_watchers (symbol, connection_id, user_id, expires_at) values ($1, gen_random_uuid()::text, $2::uuid, $3)`,
						symbol, storetest.UserA, until)
				},
				PutComputedAt: func(t *testing.T, portfolioID, userID string, at time.Time) {
					exec(t, pool, `
insert into portfolio_metrics (portfolio_id, as_of, user_id, version, benchmark, market_value, report, computed_at)
values ($1, '2026-03-02', $2::uuid, 1, 'SPY', 0, '{}', $3)`, portfolioID, userID, at)
				},
				Row: func(t *testing.T, symbol string) (storetest.HistoryRow, bool) { return historyRow(t, pool, symbol) },
			}
		})
	})
	t.Run("FXRates", func(t *testing.T) {
		storetest.RunFXRates(t, func(t *testing.T) storetest.FXRateSubject {
			pool := dbs.borrow(t)
			return storetest.FXRateSubject{Rates: readmodel.NewFXRates(pool), Closes: readmodel.NewPrices(pool)}
		})
	})
	t.Run("Watchers", func(t *testing.T) {
		storetest.RunWatchers(t, func(t *testing.T) storetest.WatcherStore { return readmodel.NewWatchers(dbs.borrow(t)) })
	})
	t.Run("Suggestions", func(t *testing.T) {
		storetest.RunSuggestions(t, func(t *testing.T) storetest.SuggestionSubject {
			pool := dbs.borrow(t)
			return storetest.SuggestionSubject{
				Store: readmodel.NewSuggestions(pool),
				Hold:  func(t *testing.T, h suggestions.Holder) { putHolder(t, pool, h) },
			}
		})
	})
}

// caseDatabases lends migrated databases to one case at a time.
type caseDatabases chan *pgxpool.Pool

// suiteTables are the tables the suites write: emptied when a case ends.
const suiteTables = `alert_rules, alert_history, alert_state_marks, alert_value_samples, portfolios,
  portfolio_metrics, portfolio_series, portfolio_rebalancing, analytics_status, latest_prices, daily_closes,
  valuations, symbol_watchers, transactions, suggestions, symbol_history`

func newCaseDatabases(t *testing.T, n int) caseDatabases {
	dbs := make(caseDatabases, n)
	for range n {
		pool, _ := rmtest.DB(t)
		dbs <- pool
	}
	return dbs
}

// borrow returns a database for t, empty of the suites' tables, until t ends.
func (dbs caseDatabases) borrow(t *testing.T) *pgxpool.Pool {
	pool := <-dbs
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `truncate `+suiteTables+` cascade`); err != nil {
			t.Errorf("empty the suites' tables: %v", err)
			return // the database is not lent again
		}
		dbs <- pool
	})
	return pool
}

// putPortfolio writes (or replaces) a portfolios row as the projector does.
func putPortfolio(t *testing.T, pool *pgxpool.Pool, ref readmodel.PortfolioRef, archived bool) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `
insert into portfolios (id, user_id, name, base_currency, lot_method, archived, created_at, updated_at, version)
values ($1, $2::uuid, 'p', 'USD', 'FIFO', $3, now(), now(), $4)
on conflict (id) do update set user_id = excluded.user_id, archived = excluded.archived, version = excluded.version`,
		ref.ID, ref.UserID, archived, ref.Version); err != nil {
		t.Fatal(err)
	}
}

// putHolder writes a portfolio and its transactions as the projector does.
func putHolder(t *testing.T, pool *pgxpool.Pool, h suggestions.Holder) {
	t.Helper()
	putPortfolio(t, pool, readmodel.PortfolioRef{ID: h.PortfolioID, UserID: h.UserID, Version: int64(len(h.Transactions) + 1)}, false)
	if _, err := pool.Exec(t.Context(), `update portfolios set base_currency = $2, lot_method = $3 where id = $1`,
		h.PortfolioID, h.BaseCurrency, string(h.LotMethod)); err != nil {
		t.Fatal(err)
	}
	for _, tx := range h.Transactions {
		null := func(d decimal.Decimal) any {
			if d.IsZero() {
				return nil
			}
			return d.String()
		}
		var ratio any
		if !tx.Ratio.IsZero() {
			ratio = tx.Ratio.String()
		}
		if _, err := pool.Exec(t.Context(), `
insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity, price, amount,
                          fee, tax, currency, ratio, recorded_at, version)
values ($1, $2, $3::uuid, $4, $5, $6::date, $7, $8::numeric, $9::numeric, $10::numeric, $11::numeric, $12::numeric, $13, $14, now(), $15)`,
			tx.ID, h.PortfolioID, h.UserID, tx.Seq, string(tx.Type), tx.Date.String(), tx.Symbol, null(tx.Quantity), null(tx.Price),
			null(tx.Amount), tx.Fee.String(), tx.Tax.String(), tx.Currency, ratio, portfolio.VersionOfSeq(tx.Seq)); err != nil {
			t.Fatal(err)
		}
	}
}

// metricDays lists the days of portfolioID's portfolio_metrics rows.
func metricDays(t *testing.T, pool *pgxpool.Pool, portfolioID string) []calendar.Date {
	t.Helper()
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
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// putSeedPortfolio writes (or replaces) a portfolio and its transactions as the
// projector does.
func putSeedPortfolio(t *testing.T, pool *pgxpool.Pool, p storetest.SeedPortfolio) {
	t.Helper()
	exec(t, pool, `
insert into portfolios (id, user_id, name, base_currency, lot_method, archived, created_at, updated_at, version, benchmark)
values ($1, $2::uuid, 'p', $3, 'FIFO', $4, now(), now(), 1, $5)
on conflict (id) do update set base_currency = excluded.base_currency, archived = excluded.archived, benchmark = excluded.benchmark`,
		p.ID, p.UserID, p.BaseCurrency, p.Archived, p.Benchmark)
	exec(t, pool, `delete from transactions where portfolio_id = $1`, p.ID)
	for i, tr := range p.Trades {
		var symbol *string
		if tr.Symbol != "" {
			symbol = &tr.Symbol
		}
		recorded := tr.RecordedAt
		if recorded.IsZero() {
			recorded = time.Unix(0, 0) // long ago, as the memory store's zero
		}
		cur := tr.Currency
		if cur == "" {
			cur = "USD"
		}
		var to *string
		if tr.ToCurrency != "" {
			to = &tr.ToCurrency
		}
		exec(t, pool, `
insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity, price, currency, voided, recorded_at, version,
  to_currency)
values ($1 || '-' || $4::text, $1, $2::uuid, $4, 'buy', $3::date, $5, 1, 1, $8, $6, $7, 1, $9)`,
			p.ID, p.UserID, tr.Day.String(), i+1, symbol, tr.Voided, recorded.UTC(), cur, to)
	}
}

// historyRow reads symbol's symbol_history row whole.
func historyRow(t *testing.T, pool *pgxpool.Pool, symbol string) (storetest.HistoryRow, bool) {
	t.Helper()
	st, err := readmodel.NewSymbolHistory(pool).Status(t.Context(), []string{symbol})
	if err != nil {
		t.Fatal(err)
	}
	r := storetest.HistoryRow{HistoryStatus: st[symbol]}
	var completed *time.Time
	err = pool.QueryRow(t.Context(), `select attempts, next_attempt_at, completed_at from symbol_history where symbol = $1`, symbol).
		Scan(&r.Attempts, &r.NextAttemptAt, &completed)
	if errors.Is(err, pgx.ErrNoRows) {
		return storetest.HistoryRow{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	r.NextAttemptAt = r.NextAttemptAt.UTC()
	if completed != nil {
		r.CompletedAt = completed.UTC()
	}
	return r, true
}
