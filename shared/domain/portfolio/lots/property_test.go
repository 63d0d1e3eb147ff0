package lots

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

// propertySeeds is how many random histories each property test checks.
func propertySeeds() uint64 {
	if testing.Short() {
		return 40
	}
	return 300
}

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x107e)) }

// randDec returns a decimal in (0, max] with dp decimal places.
func randDec(r *rand.Rand, max int64, dp int32) decimal.Decimal {
	scale := decimal.New(1, dp).IntPart()
	return decimal.New(r.Int64N(max*scale)+1, -dp)
}

// randCharge is zero half the time, else up to 20.00.
func randCharge(r *rand.Rand) decimal.Decimal {
	if r.IntN(2) == 0 {
		return decimal.Decimal{}
	}
	return randDec(r, 20, 2)
}

// history generates trades over a few symbols, each transaction on its own day
// (every other day, leaving room for a split in between), ending with every
// position sold. With dust, a final sell sometimes overshoots the holding by less
// than portfolio.Dust.
func history(r *rand.Rand, n int, dust bool) []portfolio.Transaction {
	symbols := []string{"AAA", "BBB", "CCC"}[:1+r.IntN(3)]
	held := map[string]decimal.Decimal{}
	var txs []portfolio.Transaction
	date := calendar.MustNew(2020, 1, 1)
	add := func(tx portfolio.Transaction) {
		date = date.AddDays(2)
		tx.Date, tx.Seq, tx.Currency = date, int64(len(txs)), "USD"
		tx.ID = fmt.Sprintf("t%d", len(txs))
		txs = append(txs, tx)
	}
	for range n {
		s := symbols[r.IntN(len(symbols))]
		h := held[s]
		if h.IsPositive() && r.IntN(5) < 2 {
			q := h.Mul(decimal.NewFromInt(r.Int64N(9) + 1)).Div(decimal.NewFromInt(10)).Truncate(4)
			if !q.IsPositive() {
				q = h
			}
			add(portfolio.Transaction{Type: portfolio.Sell, Symbol: s, Quantity: q, Price: randDec(r, 1000, 2), Fee: randCharge(r), Tax: randCharge(r)})
			held[s] = h.Sub(q)
			continue
		}
		q := randDec(r, 200, r.Int32N(5))
		add(portfolio.Transaction{Type: portfolio.Buy, Symbol: s, Quantity: q, Price: randDec(r, 1000, int32(2+r.IntN(3))), Fee: randCharge(r), Tax: randCharge(r)})
		held[s] = h.Add(q)
	}
	for _, s := range symbols {
		h := held[s]
		if !h.IsPositive() {
			continue
		}
		if dust && r.IntN(3) == 0 {
			h = h.Add(decimal.New(r.Int64N(10)+1, -9)) // ≤ 1e-8 over
		}
		add(portfolio.Transaction{Type: portfolio.Sell, Symbol: s, Quantity: h, Price: randDec(r, 1000, 2), Fee: randCharge(r)})
	}
	return txs
}

// netTradeResult is Σ sell proceeds − Σ buy costs, computed from the conventions
// without the engine: proceeds = q×p − fee − tax, cost = q×p + fee + tax.
func netTradeResult(txs []portfolio.Transaction) decimal.Decimal {
	var net decimal.Decimal
	for _, tx := range txs {
		gross := tx.Quantity.Mul(tx.Price)
		switch tx.Type {
		case portfolio.Sell:
			net = net.Add(gross).Sub(tx.Fee).Sub(tx.Tax)
		case portfolio.Buy:
			net = net.Sub(gross).Sub(tx.Fee).Sub(tx.Tax)
		}
	}
	return net
}

// Property 1 and 3: buying in random lots and selling everything realizes exactly
// total proceeds − total cost under both methods, so FIFO and average cost agree on
// the total (and per symbol) once everything is sold. Along the way, realized −
// cost basis held equals Σ proceeds − Σ costs so far under both methods.
func TestPropertySellingEverythingRealizesNetTradeResult(t *testing.T) {
	for seed := range propertySeeds() {
		r := rng(seed)
		txs := history(r, 5+r.IntN(60), true)
		fifo, avg := New(portfolio.FIFO, "USD"), New(portfolio.AverageCost, "USD")
		for i := range txs {
			apply(t, fifo, txs[i])
			apply(t, avg, txs[i])
			want := netTradeResult(txs[:i+1])
			for _, b := range []*Book{fifo, avg} {
				s := b.Summary()
				if got := s.RealizedPnL.Sub(s.CostBasis); !got.Equal(want) {
					t.Fatalf("seed %d step %d %s: realized − cost basis = %s, want Σ proceeds − Σ costs = %s", seed, i, b.Method(), got, want)
				}
			}
		}
		want := netTradeResult(txs)
		for _, b := range []*Book{fifo, avg} {
			checkInvariants(t, b, txs)
			s := b.Summary()
			if !s.RealizedPnL.Equal(want) || !s.CostBasis.IsZero() {
				t.Fatalf("seed %d %s: realized %s, cost basis %s; want %s and 0", seed, b.Method(), s.RealizedPnL, s.CostBasis, want)
			}
			for _, p := range b.Positions() {
				if !p.Quantity.IsZero() || p.Lots != nil {
					t.Fatalf("seed %d %s: %s still holds %s (%v)", seed, b.Method(), p.Symbol, p.Quantity, p.Lots)
				}
			}
		}
		fp, ap := fifo.Positions(), avg.Positions()
		for i := range fp {
			if !fp[i].RealizedPnL.Equal(ap[i].RealizedPnL) {
				t.Fatalf("seed %d %s: FIFO realized %s, average %s", seed, fp[i].Symbol, fp[i].RealizedPnL, ap[i].RealizedPnL)
			}
		}
	}
}

// ratios whose both sides are products of 2 and 5, so that scaling quantities by
// N/D and prices by D/N is exact and the split history is economically identical.
var exactRatios = []portfolio.Ratio{
	{New: 2, Old: 1}, {New: 4, Old: 1}, {New: 5, Old: 1}, {New: 10, Old: 1}, {New: 5, Old: 2},
	{New: 1, Old: 2}, {New: 1, Old: 4}, {New: 1, Old: 8}, {New: 1, Old: 10}, {New: 2, Old: 25},
}

// scaled returns x × num / den, failing unless that is exact.
func scaled(t *testing.T, x decimal.Decimal, num, den int64) decimal.Decimal {
	y := x.Mul(decimal.NewFromInt(num)).DivRound(decimal.NewFromInt(den), 30)
	if !y.Mul(decimal.NewFromInt(den)).Equal(x.Mul(decimal.NewFromInt(num))) {
		t.Fatalf("%s × %d/%d is not exact", x, num, den)
	}
	return y
}

// Property 2: a split changes no money figure. History A inserts a split N:D of one
// symbol and expresses that symbol's later trades post-split (quantity × N/D, price ×
// D/N); history B is the same economic history without the split. After every
// transaction, every money figure of A equals B's, A's quantity of the split symbol
// is B's × N/D, and each sell realizes the same P&L.
func TestPropertySplitChangesNoMoneyFigure(t *testing.T) {
	for seed := range propertySeeds() {
		r := rng(seed)
		histB := history(r, 5+r.IntN(60), false)
		at := r.IntN(len(histB) + 1)
		ratio := exactRatios[r.IntN(len(exactRatios))]
		sym := "AAA"
		spl := portfolio.Transaction{ID: "split", Type: portfolio.Split, Symbol: sym, Ratio: ratio, Currency: "USD"}
		if at < len(histB) {
			spl.Date = histB[at].Date.AddDays(-1)
		} else {
			spl.Date = histB[len(histB)-1].Date.AddDays(1)
		}
		histA := append([]portfolio.Transaction(nil), histB[:at]...)
		histA = append(histA, spl)
		for _, tx := range histB[at:] {
			if tx.Symbol == sym {
				tx.Quantity = scaled(t, tx.Quantity, ratio.New, ratio.Old)
				tx.Price = scaled(t, tx.Price, ratio.Old, ratio.New)
			}
			histA = append(histA, tx)
		}

		for _, m := range methods {
			a, b := New(m, "USD"), New(m, "USD")
			j := 0 // index into histB
			for i := range histA {
				apply(t, a, histA[i])
				if histA[i].Type != portfolio.Split {
					apply(t, b, histB[j])
					j++
				}
				if sa, sb := fmt.Sprintf("%+v", a.Summary()), fmt.Sprintf("%+v", b.Summary()); sa != sb {
					t.Fatalf("seed %d %s step %d (%s): with split %s\nwithout %s", seed, m, i, ratio, sa, sb)
				}
				for _, pa := range a.Positions() {
					p, _ := b.Position(pa.Symbol) // the split may be all A knows of the symbol
					q := p.Quantity
					if p.Symbol == sym && i >= at {
						q = scaled(t, q, ratio.New, ratio.Old)
					}
					if !pa.Quantity.Equal(q) || !pa.CostBasis.Equal(p.CostBasis) || !pa.RealizedPnL.Equal(p.RealizedPnL) {
						t.Fatalf("seed %d %s step %d: %s with split %+v, without %+v", seed, m, i, pa.Symbol, pa, p)
					}
				}
			}
			ra, rb := a.Realizations(), b.Realizations()
			for k := range rb {
				if !ra[k].PnL.Equal(rb[k].PnL) || !ra[k].CostBasis.Equal(rb[k].CostBasis) {
					t.Fatalf("seed %d %s: sell %d realized %+v with split, %+v without", seed, m, k, ra[k], rb[k])
				}
			}
			checkInvariants(t, a, histA)
		}
	}
}

// Property: the cash identity and every invariant hold on random mixed activity
// (income, charges, transfers, splits with awkward ratios), under both methods.
func TestPropertyMixedActivityInvariants(t *testing.T) {
	for seed := range propertySeeds() {
		r := rng(seed)
		for _, m := range methods {
			b := New(m, "USD")
			var cash decimal.Decimal // Σ CashEffect
			date := calendar.MustNew(2021, 1, 1)
			for i := range 40 + r.IntN(40) {
				if r.IntN(3) == 0 {
					date = date.AddDays(1)
				}
				tx := randomActivity(r, b, date)
				tx.Seq, tx.ID = int64(i), fmt.Sprint(i)
				if tx.Type == portfolio.Split {
					tx.Date = date.AddDays(1) // a split is first on its day
					date = tx.Date
				}
				if err := b.Apply(&tx); err != nil {
					t.Fatalf("seed %d %s: %+v: %v", seed, m, tx, err)
				}
				cash = cash.Add(tx.CashEffect())
				checkState(t, b, cash)
			}
		}
	}
}

// randomActivity returns a valid transaction for the book's current state.
func randomActivity(r *rand.Rand, b *Book, date calendar.Date) portfolio.Transaction {
	sym := []string{"AAA", "BBB", "CCC", "DDD"}[r.IntN(4)]
	tx := portfolio.Transaction{Date: date, Currency: "USD", Fee: randCharge(r)}
	if r.IntN(4) == 0 {
		tx.Tax = randCharge(r)
	}
	switch k := r.IntN(20); {
	case k < 7:
		tx.Type, tx.Symbol, tx.Quantity, tx.Price = portfolio.Buy, sym, randDec(r, 100, r.Int32N(4)), randDec(r, 500, 2)
	case k < 12 && b.Quantity(sym).IsPositive():
		h := b.Quantity(sym)
		q := h
		if r.IntN(3) > 0 {
			q = h.Mul(decimal.NewFromInt(r.Int64N(99)+1)).DivRound(decimal.NewFromInt(100), 6)
		}
		if !q.IsPositive() {
			q = h
		}
		tx.Type, tx.Symbol, tx.Quantity, tx.Price = portfolio.Sell, sym, q, randDec(r, 500, 2)
	case k < 14:
		tx.Type, tx.Symbol, tx.Amount = portfolio.Dividend, sym, randDec(r, 50, 2)
	case k < 15:
		tx.Type, tx.Symbol = portfolio.Split, sym
		for tx.Ratio.New == tx.Ratio.Old {
			tx.Ratio = portfolio.Ratio{New: r.Int64N(7) + 1, Old: r.Int64N(7) + 1}
		}
		tx.Fee, tx.Tax = decimal.Decimal{}, decimal.Decimal{}
		if r.IntN(10) == 0 {
			tx.Fee = decimal.NewFromInt(1) // a corporate-action fee: a charge
		}
	case k < 16:
		tx.Type, tx.Amount = portfolio.Interest, randDec(r, 10, 2)
	case k < 17:
		tx.Type, tx.Amount = portfolio.Fee, randDec(r, 10, 2)
		if r.IntN(2) == 0 {
			tx.Symbol = sym
		}
	case k < 19:
		tx.Type, tx.Amount = portfolio.Deposit, randDec(r, 5000, 2)
	default:
		tx.Type, tx.Amount = portfolio.Withdrawal, randDec(r, 1000, 2)
	}
	return tx
}
