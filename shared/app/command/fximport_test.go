package command_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel/rmtest"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/app/eventstore"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// fxImportStart is the first day of the generated closes and rows: a Monday.
var fxImportStart = calendar.MustNew(2021, 1, 4)

// fxImportCloses are the daily closes of EURUSD=X, GBPUSD=X and JPYUSD=X on
// every weekday from fxImportStart for the given number of days, each pair's
// close moving by a step a weekday (weekday k: EUR 1.0500 + 0.0001 × (k mod
// 400), GBP 1.2500 + 0.0002 × (k mod 300), JPY 0.006700 + 0.000001 × (k mod
// 250)); every 50th weekday has no EUR close (a holiday: the day before's is in
// force).
func fxImportCloses(days int) []readmodel.DailyClose {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []readmodel.DailyClose
	k := 0
	for i := 0; i < days; i++ {
		day := fxImportStart.AddDays(i)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		if k%50 != 49 {
			out = append(out, readmodel.DailyClose{Symbol: "EURUSD=X", Day: day, Close: decimal.New(10500+int64(k%400), -4), AsOf: at, Source: "test"})
		}
		out = append(out,
			readmodel.DailyClose{Symbol: "GBPUSD=X", Day: day, Close: decimal.New(12500+2*int64(k%300), -4), AsOf: at, Source: "test"},
			readmodel.DailyClose{Symbol: "JPYUSD=X", Day: day, Close: decimal.New(6700+int64(k%250), -6), AsOf: at, Source: "test"})
		k++
	}
	return out
}

// fxImportCurrencies is the currency of row i: i mod 4.
var fxImportCurrencies = []string{"USD", "GBp", "JPY", "EUR"}

// fxImportRows are n import rows, row i on day i from fxImportStart (weekends
// included) in fxImportCurrencies[i mod 4], none with an fxRate: a buy of one
// AAPL (USD), VUSA.L (GBp, pence) or 7203.T (JPY), a deposit in EUR.
func fxImportRows(n int) []portfolio.Transaction {
	symbols := map[string]string{"USD": "AAPL", "GBp": "VUSA.L", "JPY": "7203.T"}
	prices := map[string]string{"USD": "150.25", "GBp": "7012.5", "JPY": "2500"}
	out := make([]portfolio.Transaction, n)
	for i := range out {
		day := fxImportStart.AddDays(i).String()
		c := fxImportCurrencies[i%len(fxImportCurrencies)]
		if c == "EUR" {
			out[i] = rmtest.In(rmtest.Cash(portfolio.Deposit, day, "", "1000", "", ""), c, "")
			continue
		}
		out[i] = rmtest.In(rmtest.Buy(day, symbols[c], "1", prices[c], "1"), c, "")
	}
	return out
}

// countingDB counts the statements sent to PostgreSQL.
type countingDB struct {
	readmodel.PriceDB
	queries atomic.Int64
}

func (c *countingDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.queries.Add(1)
	return c.PriceDB.Query(ctx, sql, args...)
}

func (c *countingDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.queries.Add(1)
	return c.PriceDB.Exec(ctx, sql, args...)
}

// BenchmarkFillRates1000Rows fills the rates of a 1,000-row import over 1,000
// days in a EUR portfolio (750 rows in USD, GBp or JPY, each on its own day)
// from the daily closes in PostgreSQL; queries/op counts the statements.
func BenchmarkFillRates1000Rows(b *testing.B) {
	ctx := context.Background()
	pool, _ := rmtest.DB(b)
	if _, err := readmodel.UpsertDailyCloses(ctx, pool, fxImportCloses(1000)); err != nil {
		b.Fatal(err)
	}
	db := &countingDB{PriceDB: pool}
	svc := command.New(eventstore.NewMemory(), command.Options{Rates: readmodel.NewFXRates(db)})
	rows := fxImportRows(1000)
	batch := make([]portfolio.Transaction, len(rows))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		copy(batch, rows)
		if err := svc.FillRates(ctx, "EUR", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(db.queries.Load())/float64(b.N), "queries/op")
}
