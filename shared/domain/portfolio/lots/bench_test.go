package lots

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

const (
	benchActivities = 50_000
	benchSymbols    = 300
)

var benchTxs = sync.OnceValue(func() []portfolio.Transaction { return realisticMix(benchActivities, benchSymbols) })

// realisticMix generates n activities over nsym symbols, about 20 a day, sorted for
// replay: 45% buys (mostly whole shares, some fractional; prices in cents; a fee
// on most, a stamp-duty tax on some), 30% sells (a part of the holding, or all of
// it), 15% dividends (often with withholding), and the rest splits, FEEs, interest,
// deposits and withdrawals. A FIFO book sizes the sells.
func realisticMix(n, nsym int) []portfolio.Transaction {
	r := rand.New(rand.NewPCG(2024, 50_000))
	symbols := make([]string, nsym)
	for i := range symbols {
		symbols[i] = fmt.Sprintf("S%03d", i)
	}
	ratios := []portfolio.Ratio{{New: 2, Old: 1}, {New: 3, Old: 1}, {New: 4, Old: 1}, {New: 1, Old: 2}, {New: 1, Old: 5}, {New: 1, Old: 10}}
	sizer := New(portfolio.FIFO, "USD")
	txs := make([]portfolio.Transaction, 0, n)
	date := calendar.MustNew(2015, 1, 2)
	for i := range n {
		if i%20 == 0 {
			date = date.AddDays(1)
		}
		sym := symbols[r.IntN(nsym)]
		held := sizer.Quantity(sym)
		tx := portfolio.Transaction{ID: fmt.Sprintf("tx-%06d", i), Seq: int64(i), Date: date, Symbol: sym, Currency: "USD"}
		switch k := r.IntN(100); {
		case k < 45 || (k < 75 && !held.IsPositive()):
			tx.Type, tx.Price = portfolio.Buy, randDec(r, 500, 2)
			if r.IntN(5) == 0 {
				tx.Quantity = randDec(r, 50, 4)
			} else {
				tx.Quantity = decimal.NewFromInt(r.Int64N(100) + 1)
			}
			if r.IntN(4) > 0 {
				tx.Fee = randDec(r, 10, 2)
			}
			if r.IntN(10) == 0 {
				tx.Tax = tx.Quantity.Mul(tx.Price).Mul(decimal.New(5, -3)).Round(2) // 0.5% stamp duty
			}
		case k < 75:
			tx.Type, tx.Price, tx.Quantity = portfolio.Sell, randDec(r, 500, 2), held
			if r.IntN(5) > 0 {
				if q := held.Mul(decimal.NewFromInt(r.Int64N(9) + 1)).Div(decimal.NewFromInt(10)).Truncate(4); q.IsPositive() {
					tx.Quantity = q
				}
			}
			if r.IntN(4) > 0 {
				tx.Fee = randDec(r, 10, 2)
			}
		case k < 90:
			tx.Type, tx.Amount = portfolio.Dividend, randDec(r, 200, 2)
			if r.IntN(3) > 0 {
				tx.Tax = tx.Amount.Mul(decimal.New(15, -2)).Round(2)
			}
		case k < 91:
			tx.Type, tx.Ratio = portfolio.Split, ratios[r.IntN(len(ratios))]
			date = date.AddDays(1) // first on its day
			tx.Date = date
		case k < 94:
			tx.Type, tx.Amount = portfolio.Fee, randDec(r, 25, 2)
			if r.IntN(2) == 0 {
				tx.Symbol = ""
			}
		case k < 97:
			tx.Type, tx.Amount, tx.Symbol = portfolio.Interest, randDec(r, 50, 2), ""
		case k < 99:
			tx.Type, tx.Amount, tx.Symbol = portfolio.Deposit, randDec(r, 20_000, 2), ""
		default:
			tx.Type, tx.Amount, tx.Symbol = portfolio.Withdrawal, randDec(r, 5_000, 2), ""
		}
		if err := sizer.Apply(&tx); err != nil {
			panic(err)
		}
		txs = append(txs, tx)
	}
	return txs
}

// benchApply measures one Apply over the realistic mix (one op = one transaction).
func benchApply(b *testing.B, m portfolio.LotMethod) {
	txs := benchTxs()
	book, i := New(m, "USD"), 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(txs) {
			book, i = New(m, "USD"), 0
		}
		if err := book.Apply(&txs[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkApplyFIFO(b *testing.B)    { benchApply(b, portfolio.FIFO) }
func BenchmarkApplyAverage(b *testing.B) { benchApply(b, portfolio.AverageCost) }

// BenchmarkReplay50k replays the whole mix and reads the result, as the CLI does
// once per run (one op = 50,000 activities).
func BenchmarkReplay50k(b *testing.B) {
	txs := benchTxs()
	for _, m := range methods {
		b.Run(string(m), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				book := New(m, "USD")
				for i := range txs {
					if err := book.Apply(&txs[i]); err != nil {
						b.Fatal(err)
					}
				}
				_ = book.Positions()
				_ = book.Summary()
			}
		})
	}
}

// BenchmarkHoldings is the per-day read of a daily series: every open quantity.
func BenchmarkHoldings(b *testing.B) {
	txs := benchTxs()
	book := New(portfolio.FIFO, "USD")
	for i := range txs {
		if err := book.Apply(&txs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for range book.Holdings() {
			n++
		}
		if n == 0 {
			b.Fatal("no holdings")
		}
	}
}
