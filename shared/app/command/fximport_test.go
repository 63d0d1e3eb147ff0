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
	"github.com/portfoliotracker/tracker/shared/domain/currency"
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

// countingRates counts the reads through the rates port; onFirstRead, when
// set, runs at the first (another writer winning the race meanwhile).
type countingRates struct {
	command.Rates
	reads       atomic.Int64
	onFirstRead func()
}

func (c *countingRates) RatesBetween(ctx context.Context, currencies []string, from, to calendar.Date) (*currency.Rates, error) {
	if c.reads.Add(1) == 1 && c.onFirstRead != nil {
		c.onFirstRead()
	}
	return c.Rates.RatesBetween(ctx, currencies, from, to)
}

// An import of 300 rows over 300 days (weekends and a holiday included) in USD,
// GBp, JPY and the base, none with an fxRate, reads the rates once: one call of
// the port, one PostgreSQL statement. Each row gets the rate of its own day,
// checked against the closes (the last on or before the day; USD 1/EURUSD, GBP
// and JPY through USD, 12 places). By hand:
//   - row 5, GBp on Saturday 9 January 2021: Friday's closes (weekday 4) EURUSD
//     1.0504, GBPUSD 1.2508; 1/1.0504 = 0.952018278751, × 1.2508 =
//     1.190784463062 EUR per pound;
//   - row 68, USD on Saturday 13 March 2021: Friday the 12th (weekday 49) has no
//     EUR close, so Thursday's 1.0548 is in force: 1/1.0548 = 0.948047023132.
func TestImportOverManyDatesReadsTheRatesOnce(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		ctx := context.Background()
		pool, _ := rmtest.DB(t)
		closes := fxImportCloses(300)
		if _, err := readmodel.UpsertDailyCloses(ctx, pool, closes); err != nil {
			t.Fatal(err)
		}
		db := &countingDB{PriceDB: pool}
		rates := &countingRates{Rates: readmodel.NewFXRates(db)}
		svc := command.New(store, command.Options{SnapshotEvery: snapshotEvery, MaxAttempts: 60, BaseBackoff: time.Millisecond, Rates: rates})
		id := createIn(t, svc, "u1", "create", "EUR")
		rows := fxImportRows(300)
		res, err := svc.ImportTransactions(ctx, command.Request{AggregateID: id, UserID: "u1"}, rows)
		if err != nil {
			t.Fatal(err)
		}
		if n, q := rates.reads.Load(), db.queries.Load(); n != 1 || q != 1 {
			t.Errorf("%d reads of the rates port, %d statements; want 1 and 1", n, q)
		}
		got := recorded(t, res)
		if len(got) != len(rows) {
			t.Fatalf("%d rows recorded, want %d", len(got), len(rows))
		}
		want := expectedRates(closes, rows, "EUR")
		for i := range got {
			if !got[i].FXRate.Equal(want[i]) {
				t.Errorf("row %d, %s on %s: fxRate %s, want %s", i, rows[i].Currency, rows[i].Date, got[i].FXRate, want[i])
			}
		}
		for i, v := range map[int]string{5: "1.190784463062", 68: "0.948047023132"} {
			if !got[i].FXRate.Equal(rmtest.Dec(v)) {
				t.Errorf("row %d: fxRate %s, want %s (by hand)", i, got[i].FXRate, v)
			}
		}
	})
}

// An import that loses the race to another writer while it reads its rates
// decides again on the new version with the rates it read: one read for the
// command, not one an attempt.
func TestImportRetriedAfterALostRaceReadsTheRatesOnce(t *testing.T) {
	stores(t, func(t *testing.T, store eventstore.Store) {
		ctx := context.Background()
		pool, _ := rmtest.DB(t)
		closes := fxImportCloses(40)
		if _, err := readmodel.UpsertDailyCloses(ctx, pool, closes); err != nil {
			t.Fatal(err)
		}
		rates := &countingRates{Rates: readmodel.NewFXRates(pool)}
		svc := command.New(store, command.Options{SnapshotEvery: snapshotEvery, MaxAttempts: 60, BaseBackoff: time.Millisecond, Rates: rates})
		id := createIn(t, svc, "u1", "create", "EUR")
		rates.onFirstRead = func() {
			deposit := rmtest.In(rmtest.Cash(portfolio.Deposit, "2021-01-04", "", "50", "", ""), "EUR", "")
			if _, err := svc.Execute(ctx, command.Request{AggregateID: id, UserID: "u1"}, record(deposit)); err != nil {
				t.Errorf("the other writer: %v", err)
			}
		}
		rows := fxImportRows(40)
		res, err := svc.ImportTransactions(ctx, command.Request{AggregateID: id, UserID: "u1"}, rows)
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempts != 2 || res.Version != 3 {
			t.Errorf("import took %d attempts to version %d, want 2 to version 3 (after the other writer's deposit)", res.Attempts, res.Version)
		}
		if n := rates.reads.Load(); n != 1 {
			t.Errorf("%d reads of the rates port, want 1", n)
		}
		want := expectedRates(closes, rows, "EUR")
		for i, tx := range recorded(t, res) {
			if !tx.FXRate.Equal(want[i]) {
				t.Errorf("row %d: fxRate %s, want %s", i, tx.FXRate, want[i])
			}
		}
	})
}

// expectedRates is each row's rate into base (EUR) at the closes, computed
// apart from currency.Rates: the last EURUSD=X close on or before the row's day
// inverted to 12 places for USD, times the last GBPUSD=X or JPYUSD=X close
// (rounded to 12 places) for GBp and JPY; zero for the base.
func expectedRates(closes []readmodel.DailyClose, rows []portfolio.Transaction, base string) []decimal.Decimal {
	last := func(symbol string, day calendar.Date) decimal.Decimal {
		var v decimal.Decimal
		for _, c := range closes { // sorted by day
			if c.Symbol == symbol && c.Day <= day {
				v = c.Close
			}
		}
		return v
	}
	out := make([]decimal.Decimal, len(rows))
	for i, tx := range rows {
		if tx.Currency == base {
			continue
		}
		usdInEUR := decimal.NewFromInt(1).DivRound(last("EURUSD=X", tx.Date), 12)
		switch tx.Currency {
		case "USD":
			out[i] = usdInEUR
		case "GBp":
			out[i] = last("GBPUSD=X", tx.Date).Mul(usdInEUR).Round(12)
		case "JPY":
			out[i] = last("JPYUSD=X", tx.Date).Mul(usdInEUR).Round(12)
		}
	}
	return out
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
