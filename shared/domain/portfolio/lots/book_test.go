package lots

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
)

// threeBuysTwoSells is the sequence the FIFO and average cost tests share:
//
//	BUY  10 @ 100 fee 5  → cost 10×100 + 5 = 1005
//	BUY  20 @ 110 fee 4  → cost 20×110 + 4 = 2204
//	BUY   5 @ 120        → cost  5×120     =  600     held 35, cost 3809
//	SELL 15 @ 130 fee 6  → proceeds 15×130 − 6 = 1944
//	SELL 18 @ 125 fee 7  → proceeds 18×125 − 7 = 2243
//	SELL  2 @ 130        → proceeds  2×130     =  260 (closes the position)
func threeBuysTwoSells() []portfolio.Transaction {
	return []portfolio.Transaction{
		buy("2024-01-02", "AAA", "10", "100", "5"),
		buy("2024-02-01", "AAA", "20", "110", "4"),
		buy("2024-03-01", "AAA", "5", "120"),
		sell("2024-04-01", "AAA", "15", "130", "6"),
		sell("2024-05-01", "AAA", "18", "125", "7"),
		sell("2024-06-03", "AAA", "2", "130"),
	}
}

func TestFIFOPartialSellsAcrossLots(t *testing.T) {
	txs := threeBuysTwoSells()
	b := New(portfolio.FIFO, "USD")
	apply(t, b, txs[:3]...)
	p := mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "35")
	eq(t, "cost basis", p.CostBasis, "3809") // 1005 + 2204 + 600
	lotsAre(t, p, "10@1005", "20@2204", "5@600")

	// SELL 15: all of lot 1 (10 sh, 1005) + 5 of lot 2's 20: 2204 × 5/20 = 551.
	// consumed 1005 + 551 = 1556; P&L 1944 − 1556 = 388.
	apply(t, b, txs[3])
	p = mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "20")
	eq(t, "cost basis", p.CostBasis, "2253") // 3809 − 1556 = (2204 − 551) + 600
	lotsAre(t, p, "15@1653", "5@600")
	eq(t, "realized", p.RealizedPnL, "388")

	// SELL 18: rest of lot 2 (15 sh, 1653) + 3 of lot 3's 5: 600 × 3/5 = 360.
	// consumed 1653 + 360 = 2013; P&L 2243 − 2013 = 230.
	apply(t, b, txs[4])
	p = mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "2")
	eq(t, "cost basis", p.CostBasis, "240") // 600 − 360
	lotsAre(t, p, "2@240")
	eq(t, "realized", p.RealizedPnL, "618") // 388 + 230
	eq(t, "average price", p.AveragePrice(), "120")

	rz := b.Realizations()
	if len(rz) != 2 {
		t.Fatalf("%d realizations, want 2", len(rz))
	}
	r := rz[0]
	if r.TxID != txs[3].ID || r.Symbol != "AAA" || r.Date != day("2024-04-01") {
		t.Errorf("realization 0 = %+v", r)
	}
	eq(t, "r0 quantity", r.Quantity, "15")
	eq(t, "r0 proceeds", r.Proceeds, "1944")
	eq(t, "r0 cost basis", r.CostBasis, "1556")
	eq(t, "r0 pnl", r.PnL, "388")
	eq(t, "r1 cost basis", rz[1].CostBasis, "2013")
	eq(t, "r1 pnl", rz[1].PnL, "230")

	// SELL 2 closes: 260 − 240 = 20; total 618 + 20 = 638 = (1944 + 2243 + 260) − 3809.
	apply(t, b, txs[5])
	p = mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "0")
	eq(t, "cost basis", p.CostBasis, "0")
	eq(t, "realized", p.RealizedPnL, "638")
	eq(t, "fees", p.Fees, "22") // 5 + 4 + 6 + 7
	eq(t, "average price when closed", p.AveragePrice(), "0")
	if p.Lots != nil {
		t.Errorf("closed position has lots %v", p.Lots)
	}
	// The closed position is still listed.
	if ps := b.Positions(); len(ps) != 1 || ps[0].Symbol != "AAA" || !ps[0].RealizedPnL.Equal(dec("638")) {
		t.Errorf("Positions() = %+v", ps)
	}
	s := b.Summary()
	eq(t, "summary realized", s.RealizedPnL, "638")
	eq(t, "summary cost basis", s.CostBasis, "0")
	eq(t, "summary fees", s.Fees, "22")
	eq(t, "summary cash", s.Cash, "638") // −3809 + 1944 + 2243 + 260
	checkInvariants(t, b, txs)
}

func TestAverageCostSameSequence(t *testing.T) {
	txs := threeBuysTwoSells()
	b := New(portfolio.AverageCost, "USD")
	apply(t, b, txs[:3]...)
	p := mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "35")
	eq(t, "cost basis", p.CostBasis, "3809")
	lotsAre(t, p, "35@3809")
	if p.Lots[0].Date != day("2024-01-02") {
		t.Errorf("pool date %s, want the first buy's", p.Lots[0].Date)
	}
	eq(t, "average price", p.AveragePrice(), "108.8285714286") // 3809 / 35 = 108.828571428571…

	// SELL 15: removed = 3809 × 15/35 = 1632.428571428571… → 1632.4285714286 (10 dp).
	// P&L = 1944 − 1632.4285714286 = 311.5714285714.
	apply(t, b, txs[3])
	p = mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "20")
	eq(t, "cost basis", p.CostBasis, "2176.5714285714") // 3809 − 1632.4285714286
	eq(t, "realized", p.RealizedPnL, "311.5714285714")

	// SELL 18: removed = 2176.5714285714 × 18/20 = 1958.91428571426 → 1958.9142857143.
	// P&L = 2243 − 1958.9142857143 = 284.0857142857.
	apply(t, b, txs[4])
	p = mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "2")
	eq(t, "cost basis", p.CostBasis, "217.6571428571")         // 2176.5714285714 − 1958.9142857143
	eq(t, "realized", p.RealizedPnL, "595.6571428571")         // 311.5714285714 + 284.0857142857
	eq(t, "average price", p.AveragePrice(), "108.8285714286") // 217.6571428571 / 2 = 108.82857142855 → …286
	// FIFO realized 618 on the same two sells; average cost 595.6571428571. Both have
	// realized − remaining cost = proceeds − total cost: 618 − 240 = 595.6571428571 − 217.6571428571 = 378.

	// SELL 2 closes the pool with its whole cost basis: 260 − 217.6571428571 = 42.3428571429.
	// Total 595.6571428571 + 42.3428571429 = 638, the same as FIFO once everything is sold.
	apply(t, b, txs[5])
	p = mustPosition(t, b, "AAA")
	eq(t, "quantity", p.Quantity, "0")
	eq(t, "cost basis", p.CostBasis, "0")
	eq(t, "realized", p.RealizedPnL, "638")
	if p.Lots != nil {
		t.Errorf("closed position has lots %v", p.Lots)
	}
	rz := b.Realizations()
	eq(t, "r0 cost basis", rz[0].CostBasis, "1632.4285714286")
	eq(t, "r1 cost basis", rz[1].CostBasis, "1958.9142857143")
	eq(t, "r2 pnl", rz[2].PnL, "42.3428571429")
	checkInvariants(t, b, txs)

	// A new buy after the pool closed opens a new pool dated that buy.
	apply(t, b, buy("2024-07-01", "AAA", "1", "90"))
	if p := mustPosition(t, b, "AAA"); p.Lots[0].Date != day("2024-07-01") {
		t.Errorf("reopened pool date %s", p.Lots[0].Date)
	}
}

func TestTaxOnBuyAndSell(t *testing.T) {
	for _, m := range methods { // one lot: both methods agree
		b := New(m, "USD")
		txs := []portfolio.Transaction{
			buy("2024-01-02", "BBB", "100", "10", "1", "2.50"), // cost 100×10 + 1 + 2.50 = 1003.50
			sell("2024-02-01", "BBB", "40", "12", "1", "0.48"), // proceeds 40×12 − 1 − 0.48 = 478.52
		}
		apply(t, b, txs[0])
		eq(t, string(m)+" cost after buy", mustPosition(t, b, "BBB").CostBasis, "1003.50")
		apply(t, b, txs[1])
		p := mustPosition(t, b, "BBB")
		// consumed 1003.50 × 40/100 = 401.40; P&L 478.52 − 401.40 = 77.12
		eq(t, string(m)+" realized", p.RealizedPnL, "77.12")
		eq(t, string(m)+" cost basis", p.CostBasis, "602.10") // 1003.50 − 401.40
		eq(t, string(m)+" quantity", p.Quantity, "60")
		eq(t, string(m)+" average price", p.AveragePrice(), "10.035") // 602.10 / 60
		eq(t, string(m)+" fees", p.Fees, "2")                         // 1 + 1
		eq(t, string(m)+" taxes", p.Taxes, "2.98")                    // 2.50 + 0.48
		s := b.Summary()
		eq(t, string(m)+" summary taxes", s.Taxes, "2.98")
		eq(t, string(m)+" charges", s.Charges, "0") // all inside cost basis / proceeds
		eq(t, string(m)+" cash", s.Cash, "-524.98") // −1003.50 + 478.52
		checkInvariants(t, b, txs)
	}
}

func TestDividendWithWithholding(t *testing.T) {
	b := New(portfolio.FIFO, "USD")
	txs := []portfolio.Transaction{
		buy("2024-01-02", "CCC", "50", "20"),                // cost 1000
		dividend("2024-03-15", "CCC", "25", "0.50", "3.75"), // gross 25, fee 0.50, 15% withheld = 3.75
		dividend("2024-03-20", "DDD", "7"),                  // never held (sold before pay date, say)
	}
	apply(t, b, txs...)
	p := mustPosition(t, b, "CCC")
	eq(t, "dividends", p.Dividends, "25")
	eq(t, "taxes", p.Taxes, "3.75")
	eq(t, "fees", p.Fees, "0.50")
	eq(t, "cost basis unchanged", p.CostBasis, "1000")
	eq(t, "quantity unchanged", p.Quantity, "50")
	d := mustPosition(t, b, "DDD")
	eq(t, "DDD quantity", d.Quantity, "0")
	eq(t, "DDD dividends", d.Dividends, "7")
	s := b.Summary()
	eq(t, "summary dividends", s.Dividends, "32") // 25 + 7
	eq(t, "summary taxes", s.Taxes, "3.75")
	eq(t, "charges", s.Charges, "4.25")   // 0.50 + 3.75
	eq(t, "cash", s.Cash, "-972.25")      // −1000 + (25 − 0.50 − 3.75) + 7 = −1000 + 20.75 + 7
	eq(t, "realized", s.RealizedPnL, "0") // income is not realized P&L
	if ps := b.Positions(); len(ps) != 2 || ps[0].Symbol != "CCC" || ps[1].Symbol != "DDD" {
		t.Errorf("Positions() = %+v", ps)
	}
	checkInvariants(t, b, txs)
}

func TestInterestIsPortfolioLevel(t *testing.T) {
	b := New(portfolio.FIFO, "USD")
	txs := []portfolio.Transaction{
		buy("2024-01-02", "CCC", "1", "10"),
		interest("2024-01-31", "", "12.34"),
		interest("2024-02-29", "CCC", "1", "", "0.10"), // names a symbol; tax 0.10
		interest("2024-03-31", "XYZ", "2"),             // a symbol never traded
	}
	apply(t, b, txs...)
	s := b.Summary()
	eq(t, "interest", s.Interest, "15.34") // 12.34 + 1 + 2
	eq(t, "taxes", s.Taxes, "0.10")
	eq(t, "charges", s.Charges, "0.10")
	eq(t, "cash", s.Cash, "5.24") // −10 + 12.34 + (1 − 0.10) + 2
	p := mustPosition(t, b, "CCC")
	eq(t, "CCC taxes", p.Taxes, "0")
	eq(t, "CCC dividends", p.Dividends, "0")
	if _, ok := b.Position("XYZ"); ok {
		t.Error("interest naming XYZ created a position")
	}
	checkInvariants(t, b, txs)
}

func TestFeeWithAndWithoutSymbol(t *testing.T) {
	b := New(portfolio.AverageCost, "USD")
	txs := []portfolio.Transaction{
		buy("2024-01-02", "EEE", "1", "50"),
		feeTx("2024-01-31", "", "10"),                   // account fee
		feeTx("2024-02-29", "EEE", "2", "0.50", "0.38"), // ADR custody fee 2, plus fee 0.50 and tax 0.38
	}
	apply(t, b, txs...)
	p := mustPosition(t, b, "EEE")
	eq(t, "EEE fees", p.Fees, "2.50") // 2 + 0.50
	eq(t, "EEE taxes", p.Taxes, "0.38")
	eq(t, "EEE cost basis unchanged", p.CostBasis, "50")
	s := b.Summary()
	eq(t, "fees", s.Fees, "12.50") // 10 + 2 + 0.50
	eq(t, "taxes", s.Taxes, "0.38")
	eq(t, "charges", s.Charges, "12.88") // 10 + 2.88
	eq(t, "cash", s.Cash, "-62.88")      // −50 − 10 − 2.88
	if ps := b.Positions(); len(ps) != 1 {
		t.Errorf("FEE without symbol created a position: %+v", ps)
	}
	checkInvariants(t, b, txs)
}

func TestSplitAndReverseSplit(t *testing.T) {
	txs := []portfolio.Transaction{
		buy("2024-01-10", "SPL", "10", "400"),  // 10 sh, cost 4000, 400/sh
		split("2024-06-10", "SPL", 4, 1),       // 40 sh, cost 4000, 100/sh
		buy("2024-06-11", "SPL", "20", "105"),  // +20 sh, cost 2100
		sell("2024-07-01", "SPL", "50", "110"), // proceeds 5500
		split("2024-08-01", "SPL", 1, 10),      // reverse split
		sell("2024-08-02", "SPL", "1", "1200"), // proceeds 1200, closes
	}
	// Totals under both methods: proceeds 5500 + 1200 − cost 4000 + 2100 = 600.
	for _, m := range methods {
		b := New(m, "USD")
		apply(t, b, txs[0])
		before := b.Summary()
		apply(t, b, txs[1])
		if after := b.Summary(); fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
			t.Errorf("%s: split changed the summary: %+v → %+v", m, before, after)
		}
		p := mustPosition(t, b, "SPL")
		eq(t, string(m)+" quantity after 4:1", p.Quantity, "40") // 10 × 4/1
		eq(t, string(m)+" cost after 4:1", p.CostBasis, "4000")
		eq(t, string(m)+" per share after 4:1", p.AveragePrice(), "100") // 4000 / 40
		eq(t, string(m)+" lot unit cost", p.Lots[0].UnitCost(), "100")
		if p.Lots[0].Date != day("2024-01-10") {
			t.Errorf("%s: split moved the lot date to %s", m, p.Lots[0].Date)
		}
		apply(t, b, txs[2:4]...)
		p = mustPosition(t, b, "SPL")
		if m == portfolio.FIFO {
			// SELL 50: lot 1 whole (40 sh, 4000) + 10 of lot 2's 20: 2100 × 10/20 = 1050.
			// P&L 5500 − 5050 = 450; left lot 2: 10 sh, 1050.
			eq(t, "FIFO realized", p.RealizedPnL, "450")
			lotsAre(t, p, "10@1050")
		} else {
			// Pool 60 sh, 6100. SELL 50 removes 6100 × 50/60 = 5083.333… → 5083.3333333333.
			// P&L 5500 − 5083.3333333333 = 416.6666666667; left 10 sh, 1016.6666666667.
			eq(t, "AVG realized", p.RealizedPnL, "416.6666666667")
			lotsAre(t, p, "10@1016.6666666667")
		}
		cost := p.CostBasis
		before = b.Summary()
		apply(t, b, txs[4])
		if after := b.Summary(); fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
			t.Errorf("%s: reverse split changed the summary: %+v → %+v", m, before, after)
		}
		p = mustPosition(t, b, "SPL")
		eq(t, string(m)+" quantity after 1:10", p.Quantity, "1") // 10 × 1/10
		if !p.CostBasis.Equal(cost) {
			t.Errorf("%s: reverse split changed cost %s → %s", m, cost, p.CostBasis)
		}
		if m == portfolio.FIFO {
			eq(t, "FIFO per share after 1:10", p.AveragePrice(), "1050") // 105 × 10
		} else {
			eq(t, "AVG per share after 1:10", p.AveragePrice(), "1016.6666666667")
		}
		apply(t, b, txs[5])
		// FIFO: 1200 − 1050 = 150, total 600. AVG: 1200 − 1016.6666666667 = 183.3333333333,
		// total 416.6666666667 + 183.3333333333 = 600.
		p = mustPosition(t, b, "SPL")
		eq(t, string(m)+" total realized", p.RealizedPnL, "600")
		eq(t, string(m)+" quantity", p.Quantity, "0")
		checkInvariants(t, b, txs)
	}
}

func TestSplitOfUnheldSymbolAndFractionalLots(t *testing.T) {
	for _, m := range methods {
		b := New(m, "USD")
		txs := []portfolio.Transaction{
			split("2024-01-02", "NEW", 2, 1), // nothing held: recorded, no effect
			buy("2024-01-03", "ODD", "1", "30"),
			buy("2024-01-04", "ODD", "2", "33"),
			split("2024-02-01", "ODD", 1, 3), // 1:3 reverse split
		}
		apply(t, b, txs...)
		n := mustPosition(t, b, "NEW")
		eq(t, "NEW quantity", n.Quantity, "0")
		p := mustPosition(t, b, "ODD")
		eq(t, string(m)+" cost", p.CostBasis, "96") // 30 + 66
		if m == portfolio.FIFO {
			// Each lot scaled and rounded to 12 places: 1/3 → 0.333333333333, 2/3 → 0.666666666667;
			// the position is their sum.
			lotsAre(t, p, "0.333333333333@30", "0.666666666667@66")
			eq(t, "FIFO quantity", p.Quantity, "1")
		} else {
			lotsAre(t, p, "1@96") // 3 × 1/3
		}
		checkInvariants(t, b, txs)
	}
}

func TestDustSell(t *testing.T) {
	for _, m := range methods {
		b := New(m, "USD")
		apply(t, b, buy("2024-01-02", "DST", "4", "5"), buy("2024-01-03", "DST", "6", "5")) // 10 sh, cost 50
		before := snapshot(b)

		// 10.00000002 exceeds 10 by 2e-8 > Dust (1e-8): refused, book unchanged.
		over := sell("2024-02-01", "DST", "10.00000002", "6")
		err := b.Apply(&over)
		if !errors.Is(err, portfolio.ErrInsufficientHoldings) {
			t.Fatalf("%s: oversell err = %v, want ErrInsufficientHoldings", m, err)
		}
		for _, s := range []string{"DST", "2024-02-01", "10.00000002", " 10 "} {
			if !strings.Contains(err.Error()+" ", s) {
				t.Errorf("%s: error %q does not mention %q", m, err, s)
			}
		}
		if after := snapshot(b); after != before {
			t.Errorf("%s: refused sell changed the book:\n%s\n→\n%s", m, before, after)
		}

		// 10.000000005 exceeds 10 by 5e-9 ≤ Dust: closes the position.
		// proceeds 10.000000005 × 6 = 60.00000003; P&L 60.00000003 − 50 = 10.00000003.
		txs := []portfolio.Transaction{sell("2024-02-01", "DST", "10.000000005", "6")}
		apply(t, b, txs...)
		p := mustPosition(t, b, "DST")
		eq(t, string(m)+" quantity", p.Quantity, "0")
		eq(t, string(m)+" cost basis", p.CostBasis, "0")
		eq(t, string(m)+" realized", p.RealizedPnL, "10.00000003")
		if p.Lots != nil {
			t.Errorf("%s: lots left after a dust close: %v", m, p.Lots)
		}
		r := b.Realizations()[0]
		eq(t, string(m)+" realization quantity (as sold)", r.Quantity, "10.000000005")
		eq(t, string(m)+" realization proceeds", r.Proceeds, "60.00000003")
	}
	// Exactly Dust over is still accepted.
	b := New(portfolio.FIFO, "USD")
	apply(t, b, buy("2024-01-02", "DST", "10", "5"), sell("2024-01-03", "DST", "10.00000001", "5"))
	eq(t, "quantity after selling 10 + Dust", mustPosition(t, b, "DST").Quantity, "0")
}

func TestSellOfUnknownSymbolIsRefused(t *testing.T) {
	b := New(portfolio.FIFO, "USD")
	tx := sell("2024-01-02", "NOPE", "1", "5")
	if err := b.Apply(&tx); !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := b.Position("NOPE"); ok {
		t.Error("refused sell created a position")
	}
	// The refused transaction does not count for replay order either.
	early := buy("2024-01-01", "NOPE", "1", "5")
	apply(t, b, early)
}

func TestSameDateBuysAndSells(t *testing.T) {
	mk := func() []portfolio.Transaction {
		txs := []portfolio.Transaction{
			buy("2024-07-01", "SD", "10", "10"), // cost 100
			sell("2024-07-01", "SD", "4", "11"), // proceeds 44
			buy("2024-07-01", "SD", "6", "12"),  // cost 72
			sell("2024-07-01", "SD", "8", "13"), // proceeds 104
		}
		for i := range txs {
			txs[i].Seq = int64(i + 1)
		}
		return txs
	}
	// FIFO: sell 4 takes 4/10 of lot 1: 40 → P&L 4; lot 1 is 6 sh, 60.
	//       sell 8 takes lot 1 (60) + 2/6 of lot 2: 72 × 2/6 = 24 → 84; P&L 104 − 84 = 20. Total 24.
	// AVG:  sell 4: 100 × 4/10 = 40 → P&L 4; pool 6 sh, 60; + buy → 12 sh, 132.
	//       sell 8: 132 × 8/12 = 88 → P&L 16. Total 20; pool 4 sh, 44.
	want := map[portfolio.LotMethod][3]string{
		portfolio.FIFO:        {"24", "48", "4@48"},
		portfolio.AverageCost: {"20", "44", "4@44"},
	}
	for _, m := range methods {
		b := New(m, "USD")
		txs := mk()
		apply(t, b, txs...)
		p := mustPosition(t, b, "SD")
		eq(t, string(m)+" realized", p.RealizedPnL, want[m][0])
		eq(t, string(m)+" cost", p.CostBasis, want[m][1])
		lotsAre(t, p, want[m][2])
		checkInvariants(t, b, txs)
	}

	// Within a date a split comes first (it applies to the shares held at the start
	// of the day); a split recorded after a same-day trade is out of replay order.
	b := New(portfolio.FIFO, "USD")
	apply(t, b, buy("2024-07-01", "SD", "10", "10"))
	late := split("2024-07-01", "SD", 2, 1)
	if err := b.Apply(&late); !errors.Is(err, portfolio.ErrInvalidTransaction) {
		t.Fatalf("same-day split after a buy: err = %v, want ErrInvalidTransaction", err)
	}
	b = New(portfolio.FIFO, "USD")
	apply(t, b, buy("2024-06-30", "SD", "10", "10"), split("2024-07-01", "SD", 2, 1), buy("2024-07-01", "SD", "1", "5"))
	eq(t, "split first, then buy", mustPosition(t, b, "SD").Quantity, "21") // 10 × 2 + 1
}

func TestCashWithDepositsAndWithdrawals(t *testing.T) {
	txs := []portfolio.Transaction{
		deposit("2024-01-02", "10000"),                 // +10000
		buy("2024-01-03", "CSH", "10", "100", "1"),     // −1001
		withdrawal("2024-02-01", "500", "2.50"),        // −502.50
		deposit("2024-03-01", "1000", "1"),             // +999 (wire fee 1)
		sell("2024-04-01", "CSH", "5", "110", "1"),     // +549; consumed 1001 × 5/10 = 500.50; P&L 48.50
		dividend("2024-05-01", "CSH", "10", "", "1.5"), // +8.50
	}
	for _, m := range methods {
		b := New(m, "USD")
		apply(t, b, txs...)
		s := b.Summary()
		eq(t, "cash", s.Cash, "10053") // 10000 − 1001 − 502.50 + 999 + 549 + 8.50
		eq(t, "deposits", s.Deposits, "11000")
		eq(t, "withdrawals", s.Withdrawals, "500")
		eq(t, "charges", s.Charges, "5") // 2.50 + 1 + 1.5
		eq(t, "fees", s.Fees, "5.50")    // 1 + 2.50 + 1 + 1
		eq(t, "taxes", s.Taxes, "1.5")
		eq(t, "cost basis", s.CostBasis, "500.50")
		eq(t, "realized", s.RealizedPnL, "48.50")
		// Identity: 11000 − 500 − 500.50 + 48.50 + 10 + 0 − 5 = 10053.
		checkInvariants(t, b, txs)
	}
}

func TestValuation(t *testing.T) {
	b := New(portfolio.FIFO, "USD")
	apply(t, b, buy("2024-01-02", "VAL", "3", "10", "0.30")) // cost 30.30
	v := mustPosition(t, b, "VAL").ValueAt(dec("12.5"), dec("1"))
	eq(t, "market price", v.MarketPrice, "12.5")
	eq(t, "market value", v.MarketValue, "37.5")                             // 3 × 12.5
	eq(t, "unrealized", v.UnrealizedPnL, "7.2")                              // 37.5 − 30.30
	eq(t, "average price", mustPosition(t, b, "VAL").AveragePrice(), "10.1") // 30.30 / 3
	closed := Position{Symbol: "X"}
	if v := closed.ValueAt(dec("99"), dec("1")); !v.MarketValue.IsZero() || !v.UnrealizedPnL.IsZero() {
		t.Errorf("closed position valued %+v", v)
	}
}

func TestHoldingsAndQuantity(t *testing.T) {
	b := New(portfolio.FIFO, "USD")
	apply(t, b,
		buy("2024-01-02", "ZZZ", "1", "1"),
		buy("2024-01-02", "AAA", "2", "1"),
		buy("2024-01-02", "MMM", "3", "1"),
		sell("2024-01-03", "MMM", "3", "1"),
		dividend("2024-01-04", "BBB", "1"),
	)
	var got []string
	for s, q := range b.Holdings() {
		got = append(got, s+"="+q.String())
	}
	if strings.Join(got, ",") != "AAA=2,ZZZ=1" {
		t.Errorf("Holdings() = %v", got)
	}
	for s := range b.Holdings() {
		if s != "AAA" {
			t.Errorf("break ignored: %s", s)
		}
		break
	}
	eq(t, "Quantity(ZZZ)", b.Quantity("ZZZ"), "1")
	eq(t, "Quantity(none)", b.Quantity("none"), "0")
	var syms []string
	for _, p := range b.Positions() {
		syms = append(syms, p.Symbol)
	}
	if strings.Join(syms, ",") != "AAA,BBB,MMM,ZZZ" {
		t.Errorf("Positions() symbols = %v", syms)
	}
}

func TestPositionsAreCopies(t *testing.T) {
	b := New(portfolio.FIFO, "USD")
	apply(t, b, buy("2024-01-02", "CPY", "1", "1"), buy("2024-01-03", "CPY", "2", "1"), sell("2024-01-04", "CPY", "1", "2"))
	ps := b.Positions()
	ps[0].Lots[0].Quantity = dec("999")
	_ = append(ps[0].Lots, Lot{})
	rz := b.Realizations()
	rz[0].PnL = dec("999")
	lotsAre(t, mustPosition(t, b, "CPY"), "2@2")
	eq(t, "realization", b.Realizations()[0].PnL, "1")
}

func TestFIFOQueueCompaction(t *testing.T) {
	// 100 buys of 1 share at 1, 2, …, 100, then sells of 1, 2, 3, … shares: each sell
	// takes whole lots, so its cost is the sum of the prices it consumes.
	b := New(portfolio.FIFO, "USD")
	var txs []portfolio.Transaction
	for i := 1; i <= 100; i++ {
		txs = append(txs, buy("2024-01-02", "Q", "1", strconv.Itoa(i)))
	}
	apply(t, b, txs...)
	next := 1 // price of the oldest open lot
	for k := 1; next+k-1 <= 100; k++ {
		tx := sell("2024-02-01", "Q", strconv.Itoa(k), "1000")
		apply(t, b, tx)
		txs = append(txs, tx)
		// cost = next + (next+1) + … + (next+k−1) = k×next + k(k−1)/2
		want := k*next + k*(k-1)/2
		if got := b.Realizations()[k-1].CostBasis; !got.Equal(dec(strconv.Itoa(want))) {
			t.Fatalf("sell %d: cost %s, want %d", k, got, want)
		}
		next += k
		p := mustPosition(t, b, "Q")
		if len(p.Lots) != 101-next || (len(p.Lots) > 0 && !p.Lots[0].CostBasis.Equal(dec(strconv.Itoa(next)))) {
			t.Fatalf("after sell %d: %d lots, first %v", k, len(p.Lots), p.Lots)
		}
	}
	checkInvariants(t, b, txs)
}

func TestRefusesMalformedTransactions(t *testing.T) {
	bad := []portfolio.Transaction{
		{Type: "GIFT", Date: day("2024-01-02"), Symbol: "X", Amount: dec("1")},
		{Type: portfolio.Buy, Date: day("2024-01-02"), Quantity: dec("1"), Price: dec("1")},               // no symbol
		{Type: portfolio.Buy, Date: day("2024-01-02"), Symbol: "X", Quantity: dec("-1"), Price: dec("1")}, // negative quantity
		{Type: portfolio.Buy, Date: day("2024-01-02"), Symbol: "X", Quantity: dec("1")},                   // zero price
		{Type: portfolio.Buy, Date: day("2024-01-02"), Symbol: "X", Quantity: dec("1"), Price: dec("1"), Fee: dec("-1")},
		{Type: portfolio.Sell, Date: day("2024-01-02"), Symbol: "X", Price: dec("1")}, // zero quantity
		{Type: portfolio.Dividend, Date: day("2024-01-02"), Amount: dec("1")},         // no symbol
		{Type: portfolio.Dividend, Date: day("2024-01-02"), Symbol: "X"},              // zero amount
		{Type: portfolio.Interest, Date: day("2024-01-02"), Amount: dec("1"), Tax: dec("-0.01")},
		{Type: portfolio.Fee, Date: day("2024-01-02"), Amount: dec("-1")},
		{Type: portfolio.Deposit, Date: day("2024-01-02"), Symbol: "X", Amount: dec("1")}, // symbol on a deposit
		{Type: portfolio.Withdrawal, Date: day("2024-01-02")},                             // zero amount
		{Type: portfolio.Split, Date: day("2024-01-02"), Symbol: "X", Ratio: portfolio.Ratio{New: 0, Old: 1}},
		{Type: portfolio.Split, Date: day("2024-01-02"), Symbol: "X", Ratio: portfolio.Ratio{New: 2, Old: 2}},
		{Type: portfolio.Split, Date: day("2024-01-02"), Ratio: portfolio.Ratio{New: 2, Old: 1}},
		// Out of order: before the 2024-01-05 transaction applied below.
		{Type: portfolio.Deposit, Date: day("2024-01-04"), Amount: dec("1")},
	}
	for _, m := range methods {
		b := New(m, "USD")
		apply(t, b, buy("2024-01-05", "X", "1", "1"))
		before := snapshot(b)
		for i := range bad {
			err := b.Apply(&bad[i])
			if !errors.Is(err, portfolio.ErrInvalidTransaction) {
				t.Errorf("%s: %+v: err = %v, want ErrInvalidTransaction", m, bad[i], err)
			}
		}
		if after := snapshot(b); after != before {
			t.Errorf("%s: refused transactions changed the book", m)
		}
	}
	// Seq orders transactions within a date.
	b := New(portfolio.FIFO, "USD")
	a, c := deposit("2024-01-02", "1"), deposit("2024-01-02", "2")
	a.Seq, c.Seq = 2, 1
	apply(t, b, a)
	if err := b.Apply(&c); !errors.Is(err, portfolio.ErrInvalidTransaction) || !strings.Contains(err.Error(), "replay order") {
		t.Errorf("seq out of order: err = %v", err)
	}
}

func TestNewPanicsOnUnknownMethod(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(\"LIFO\") did not panic")
		}
	}()
	New("LIFO", "USD")
}

// Figures beyond int64 coefficients take the internal big-number path; the results
// are as exact as on the fast path.
func TestFiguresBeyondInt64(t *testing.T) {
	for _, m := range methods {
		b := New(m, "USD")
		txs := []portfolio.Transaction{
			buy("2024-01-02", "HUGE", "3000000000000000", "1234567.891"), // cost 3 703 703 673 000 000 000 000
			sell("2024-01-03", "HUGE", "1000000000000000", "2000000"),    // proceeds 2e21
			sell("2024-01-04", "HUGE", "2000000000000000", "1"),          // proceeds 2e15, closes
		}
		apply(t, b, txs[:2]...)
		p := mustPosition(t, b, "HUGE")
		// consumed 3 703 703 673e12 × 1/3 = 1 234 567 891e12; P&L 2e21 − 1.234567891e21
		eq(t, string(m)+" realized", p.RealizedPnL, "765432109000000000000")
		eq(t, string(m)+" cost", p.CostBasis, "2469135782000000000000")
		eq(t, string(m)+" average price", p.AveragePrice(), "1234567.891")
		apply(t, b, txs[2])
		// 2e15 − 2 469 135 782e12 = −2 469 133 782e12; total 765 432 109e12 − 2 469 133 782e12
		eq(t, string(m)+" total realized", mustPosition(t, b, "HUGE").RealizedPnL, "-1703701673000000000000")
		checkInvariants(t, b, txs)
	}
}
