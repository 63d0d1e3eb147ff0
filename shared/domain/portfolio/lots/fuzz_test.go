package lots

import (
	"errors"
	"fmt"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// FuzzBook decodes data into a transaction sequence — mostly valid, some
// malformed, some out of order, some oversold — and applies it under both lot
// methods. The book must never panic; a refused transaction must wrap one of the
// two sentinels and leave the book unchanged; after every accepted one the
// invariants of checkInvariants hold (quantities and cost bases never negative,
// lots summing to their position, summary matching positions, cash equal to
// Σ CashEffect and to the cash identity).
func FuzzBook(f *testing.F) {
	f.Add([]byte("\x00\x10\x05\x07\x00\x21\x09\x03\x04\x00\x00\x00\x05\x01\x01\x01"))
	f.Add([]byte("\x00\x00\x0a\x0a\x07\x00\x01\x03\x05\x00\x00\x00\x06\x21\x30\x05\x08\x11\x22\x33"))
	f.Add([]byte("\x01\x04\xff\x02\x02\x08\x7f\x01\x07\x01\x00\x02\x04\x01\x03\x11\x04\x01\x03\x13\x09\x00\x00\x00"))
	f.Add([]byte("\x00\x24\x01\x01\x10\x24\x01\x01\x07\x00\x00\x09\x07\x00\x00\x09\x05\x00\x00\x00\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range methods {
			fuzzOne(t, m, data)
		}
	})
}

func fuzzOne(t *testing.T, m portfolio.LotMethod, data []byte) {
	b := New(m, "USD")
	var cash decimal.Decimal // Σ CashEffect of the accepted transactions
	date := calendar.MustNew(2024, 1, 1)
	before := snapshot(b) // of the book as of the last accepted transaction
	for i := 0; i+4 <= len(data) && i < 4*128; i += 4 {
		op, x, y, z := data[i], data[i+1], data[i+2], data[i+3]
		switch op >> 5 {
		case 0, 1, 2:
		case 3, 4, 5:
			date = date.AddDays(1)
		case 6:
			date = date.AddDays(30)
		case 7:
			date = date.AddDays(-1) // out of order unless nothing was applied yet
		}
		sym := string(rune('A' + x%3))
		qty := decimal.New(int64(y)+1, -int32(x>>2%10)) // 1e-9 … 256
		price := decimal.New(int64(z)+1, -int32(z%4))
		var fee, tax decimal.Decimal
		if x&0x40 != 0 {
			fee = decimal.New(int64(z%9), -2)
		}
		if x&0x80 != 0 {
			tax = decimal.New(int64(y%7), -3)
		}
		tx := portfolio.Transaction{ID: fmt.Sprint(i / 4), Seq: int64(i), Date: date, Symbol: sym, Fee: fee, Tax: tax, Currency: "USD"}
		held := b.Quantity(sym)
		switch op & 0x0f {
		case 0, 1, 2:
			tx.Type, tx.Quantity, tx.Price = portfolio.Buy, qty, price
		case 3:
			tx.Type, tx.Quantity, tx.Price = portfolio.Sell, qty, price
		case 4: // part of the holding, sometimes plus up to 2e-8 (dust or oversell)
			q := held.Mul(decimal.NewFromInt(int64(y%4)+1)).DivRound(decimal.NewFromInt(4), 9)
			tx.Type, tx.Quantity, tx.Price = portfolio.Sell, q.Add(decimal.New(int64(z%21), -9)), price
		case 5:
			tx.Type, tx.Quantity, tx.Price = portfolio.Sell, held, price
		case 6:
			tx.Type, tx.Amount = portfolio.Dividend, qty
		case 7:
			tx.Type, tx.Ratio, tx.Fee, tx.Tax = portfolio.Split, portfolio.Ratio{New: int64(y%12) + 1, Old: int64(z%12) + 1}, decimal.Decimal{}, decimal.Decimal{}
		case 8:
			tx.Type, tx.Amount = portfolio.Interest, qty
		case 9:
			tx.Type, tx.Amount = portfolio.Fee, qty
			if y&1 == 0 {
				tx.Symbol = ""
			}
		case 10:
			tx.Type, tx.Amount, tx.Symbol = portfolio.Deposit, qty, ""
		case 11:
			tx.Type, tx.Amount, tx.Symbol = portfolio.Withdrawal, qty, ""
		case 12: // malformed: negative or zero figures
			tx.Type, tx.Quantity, tx.Price = portfolio.Buy, qty.Neg(), price
			if y&1 == 0 {
				tx.Quantity, tx.Price, tx.Fee = qty, decimal.Decimal{}, fee.Neg()
			}
		case 13:
			tx.Type, tx.Amount, tx.Tax = portfolio.Dividend, qty.Neg(), tax
		default:
			tx.Type = portfolio.TxType(fmt.Sprint(op))
			tx.Quantity, tx.Price, tx.Amount = qty, price, qty
		}
		if err := b.Apply(&tx); err != nil {
			if !errors.Is(err, portfolio.ErrInvalidTransaction) && !errors.Is(err, portfolio.ErrInsufficientHoldings) {
				t.Fatalf("%s: %+v: unexpected error %v", m, tx, err)
			}
			if after := snapshot(b); after != before {
				t.Fatalf("%s: refused %+v (%v) changed the book:\n%s\n→\n%s", m, tx, err, before, after)
			}
			continue
		}
		cash = cash.Add(tx.CashEffect())
		checkState(t, b, cash)
		before = snapshot(b)
	}
}
