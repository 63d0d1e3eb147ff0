package readmodel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/history"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
)

// BenchmarkReconcile is the backfill's every-minute reconcile at scale:
// 10,000 portfolios of 50 transactions each (500,000 rows) over 500 symbols,
// half of them with a benchmark of their own, and every symbol already
// recorded (the steady state: the statement derives every need and changes
// nothing). It is the backfill's standing cost on the database.
func BenchmarkReconcile(b *testing.B) {
	const portfolios, perPortfolio, symbols = 10_000, 50, 500
	ctx := b.Context()
	pool, _ := rmtest.DB(b)
	seed := []string{
		fmt.Sprintf(`insert into portfolios (id, user_id, name, base_currency, lot_method, created_at, updated_at, version, benchmark)
select 'p' || i, gen_random_uuid(), 'p', case when i %% 10 = 0 then 'EUR' else 'USD' end, 'FIFO', now(), now(), 1,
       case when i %% 2 = 0 then 'S' || lpad((i %% %[2]d)::text, 3, '0') else 'SPY' end
  from generate_series(1, %[1]d) i`, portfolios, symbols),
		fmt.Sprintf(`insert into transactions (transaction_id, portfolio_id, user_id, seq, type, trade_date, symbol, quantity, price, currency, recorded_at, version)
select 'p' || i || '-' || j, 'p' || i, p.user_id, j, 'BUY', date '2020-01-01' + ((i * 7 + j * 13) %% 2000), 'S' || lpad(((i * 31 + j) %% %[2]d)::text, 3, '0'),
       1, 100, 'USD', now(), j
  from generate_series(1, %[1]d) i, generate_series(1, %[3]d) j, portfolios p where p.id = 'p' || i`, portfolios, symbols, perPortfolio),
		`analyze portfolios`, `analyze transactions`,
	}
	for _, q := range seed {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	store := readmodel.NewSymbolHistory(pool)
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	today := calendar.FromTime(now)
	needs := history.Needs{Today: today, Lookback: 365, Earliest: today.AddDays(-3660), QuoteCurrency: "USD"}
	n, err := store.Reconcile(ctx, needs, now)
	if err != nil || n < symbols {
		b.Fatalf("first reconcile recorded %d symbols, %v", n, err)
	}
	b.ResetTimer()
	for b.Loop() {
		if n, err := store.Reconcile(ctx, needs, now); err != nil || n != 0 {
			b.Fatalf("steady reconcile changed %d, %v", n, err)
		}
	}
}
