package rebalance

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func dm(kv ...string) map[string]decimal.Decimal {
	m := make(map[string]decimal.Decimal, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = d(kv[i+1])
	}
	return m
}

// want is a trade written "SELL A 10 1000 OVERWEIGHT" (side symbol quantity value purpose).
func checkTrades(t *testing.T, p Plan, want ...string) {
	t.Helper()
	var got []string
	for _, tr := range p.Trades {
		s := strings.Join([]string{string(tr.Side), tr.Symbol, tr.Quantity.String(), tr.Value.String(), string(tr.Purpose)}, " ")
		if tr.BelowMinimum {
			s += " below-minimum"
		}
		got = append(got, s)
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("trades\n got: %s\nwant: %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}

func position(t *testing.T, p Plan, sym string) Position {
	t.Helper()
	for _, x := range p.Positions {
		if x.Symbol == sym {
			return x
		}
	}
	t.Fatalf("no position %s", sym)
	return Position{}
}

func eq(t *testing.T, name string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(d(want)) {
		t.Errorf("%s = %s, want %s", name, got, want)
	}
}

func mustPlan(t *testing.T, in Input) Plan {
	t.Helper()
	p, err := Rebalance(in)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, in, p)
	return p
}

// checkInvariants: sells before buys; buys never spend more than the available cash
// plus the proceeds; quantities on the grid; cash after = before − buys + sells.
func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	avail := in.Cash
	if in.CashAvailable != nil {
		avail = *in.CashAvailable
	}
	avail = decimal.Max(avail, decimal.Zero)
	seenBuy := false
	net := decimal.Zero
	for _, tr := range p.Trades {
		if tr.Side == Buy {
			seenBuy = true
			net = net.Add(tr.Value)
		} else {
			if seenBuy {
				t.Errorf("sell %s after a buy", tr.Symbol)
			}
			net = net.Sub(tr.Value)
		}
		if !tr.Value.Equal(tr.Quantity.Mul(tr.Price)) || !tr.Quantity.IsPositive() {
			t.Errorf("trade %+v", tr)
		}
		if in.WholeShares && tr.Purpose != Exit && !tr.Quantity.Equal(tr.Quantity.Floor()) {
			t.Errorf("fractional quantity %s of %s", tr.Quantity, tr.Symbol)
		}
	}
	if net.GreaterThan(avail) {
		t.Errorf("net spending %s exceeds the available %s", net, avail)
	}
	if !p.CashAfter.Equal(in.Cash.Sub(net)) {
		t.Errorf("cash after %s, want %s", p.CashAfter, in.Cash.Sub(net))
	}
	all := true
	for _, x := range p.Positions {
		all = all && x.InBandAfter
		if !x.InBandAfter && x.Note == "" {
			t.Errorf("%s out of band without a note", x.Symbol)
		}
	}
	if all != p.AllInBand {
		t.Errorf("AllInBand %v but positions say %v", p.AllInBand, all)
	}
}

// 60/40 drifted to 70/30: A 70 × 100 = 7000, B 60 × 50 = 3000, no cash; T = 10000.
//
//	A: 0.70 > 0.60 + 0.05 → sell to the target 6000 = 60 shares: SELL 10 (1000).
//	B: 0.30 < 0.35 → minimum 3500 = 70 shares, target 4000 = 80 shares; the 1000 of
//	   proceeds buys all 20: BUY 20 (1000). Both end on target; cash 0.
func TestSixtyFortyDrifted(t *testing.T) {
	in := Input{
		Holdings: dm("A", "70", "B", "60"), Prices: dm("A", "100", "B", "50"),
		Targets: dm("A", "0.6", "B", "0.4"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL A 10 1000 OVERWEIGHT", "BUY B 20 1000 UNDERWEIGHT")
	a, b := position(t, p, "A"), position(t, p, "B")
	eq(t, "A drift before", a.DriftBefore, "0.1")
	eq(t, "B drift before", b.DriftBefore, "-0.1")
	eq(t, "A drift after", a.DriftAfter, "0")
	eq(t, "B weight after", b.WeightAfter, "0.4")
	eq(t, "cash after", p.CashAfter, "0")
	if !p.AllInBand || a.InBandBefore || !a.InBandAfter {
		t.Errorf("band flags: %+v", p)
	}
	eq(t, "total", p.TotalValue, "10000")
}

// Whole shares that do not divide evenly: A 30 × 333 = 9990, B 20 × 77 = 1540, cash 470;
// T = 12000; targets 60/40, band 5%.
//
//	A band [6600, 7800], target 7200: 7200/333 = 21.62 → 21 (6993, 207 off) or 22
//	  (7326, 126 off) → 22: SELL 8 = 2664.
//	B band [4200, 5400], target 4800: minimum ⌈4200/77⌉ = ⌈54.55⌉ = 55 (4235);
//	  nearest the target 4800/77 = 62.34 → 62 (4774). Cash 470 + 2664 = 3134;
//	  55 − 20 = 35 shares cost 2695, leaving 439, which tops up ⌊439/77⌋ = 5 more
//	  shares (385) → 60 shares, BUY 40 = 3080. Cash after 470 + 2664 − 3080 = 54.
//	Weights after: A 7326/12000 = 0.6105, B 4620/12000 = 0.385 — both inside.
func TestWholeSharesRounding(t *testing.T) {
	in := Input{
		Holdings: dm("A", "30", "B", "20"), Prices: dm("A", "333", "B", "77"), Cash: d("470"),
		Targets: dm("A", "0.6", "B", "0.4"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL A 8 2664 OVERWEIGHT", "BUY B 40 3080 UNDERWEIGHT")
	eq(t, "cash after", p.CashAfter, "54")
	eq(t, "A weight", position(t, p, "A").WeightAfter, "0.6105")
	eq(t, "B weight", position(t, p, "B").WeightAfter, "0.385")
	eq(t, "B drift", position(t, p, "B").DriftAfter, "-0.015")
	if !p.AllInBand {
		t.Error("not all in band")
	}
}

// Fractional shares (6 places), the same portfolio:
//
//	A: 7200/333 = 21.6216216…: 21.621621 (7199.999793, 0.000207 off) or 21.621622
//	   (7200.000126, 0.000126 off) → 21.621622: SELL 8.378378 = 2789.999874.
//	B: minimum ⌈4200/77⌉ at 6 places = 54.545455 (4200.000035); nearest the target
//	   4800/77 = 62.3376623…: 62.337662 (4799.999974). Cash 470 + 2789.999874 =
//	   3259.999874; the minimum 34.545455 × 77 = 2660.000035 leaves 599.999839, which
//	   cannot pay the whole top-up 7.792207 × 77 = 599.999939, so B goes to
//	   ⌊(4200.000035 + 599.999839)/77⌋ = ⌊62.3376607…⌋ = 62.337660:
//	   BUY 42.33766 = 3259.99982. Cash after 3259.999874 − 3259.99982 = 0.000054.
func TestFractionalShares(t *testing.T) {
	in := Input{
		Holdings: dm("A", "30", "B", "20"), Prices: dm("A", "333", "B", "77"), Cash: d("470"),
		Targets: dm("A", "0.6", "B", "0.4"), Band: d("0.05"),
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL A 8.378378 2789.999874 OVERWEIGHT", "BUY B 42.33766 3259.99982 UNDERWEIGHT")
	eq(t, "cash after", p.CashAfter, "0.000054")
}

// Minimum trade value, skipped: A 45 × 100 = 4500 (target 0.45), B not held (target
// 0.55, price 10), cash 5500 of which 40 available; T = 10000.
//
//	B's band [5000, 6000] needs 500 shares = 5000. Available: 40 cash + A's room above
//	its lower edge 4000 (5 shares = 500) = 540 < 5000, so B cannot get inside.
//	The cash left buys ⌊40/10⌋ = 4 shares = 40: a partial buy, made with no minimum,
//	skipped with a minimum of 100. A is not sold: it would not get B inside.
func TestInsufficientCashAndMinimum(t *testing.T) {
	avail := d("40")
	in := Input{
		Holdings: dm("A", "45"), Prices: dm("A", "100", "B", "10"), Cash: d("5500"), CashAvailable: &avail,
		Targets: dm("A", "0.45", "B", "0.55"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "BUY B 4 40 PARTIAL")
	b := position(t, p, "B")
	if p.AllInBand || b.InBandAfter || !strings.Contains(b.Note, "insufficient cash") {
		t.Errorf("B: %+v", b)
	}
	in.MinTradeValue = d("100")
	p = mustPlan(t, in)
	checkTrades(t, p)
	if p.AllInBand {
		t.Error("all in band without cash")
	}
	eq(t, "B drift", position(t, p, "B").DriftAfter, "-0.55")
}

// A needed trade below the minimum that cannot be enlarged: band 1%.
// A 51 × 100 = 5100 (target 0.5, band [4900, 5100], inside), B 489 × 10 = 4890 (target
// 0.5, below 4900), cash 10; T = 10000. B needs 1 share (10); the minimum 250 would be
// 514 shares = 5140 > 5100, outside the band, so the 10 buy is made and flagged.
func TestMinimumNotEnlargeable(t *testing.T) {
	in := Input{
		Holdings: dm("A", "51", "B", "489"), Prices: dm("A", "100", "B", "10"), Cash: d("10"),
		Targets: dm("A", "0.5", "B", "0.5"), Band: d("0.01"), WholeShares: true, MinTradeValue: d("250"),
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "BUY B 1 10 UNDERWEIGHT below-minimum")
	if !p.AllInBand {
		t.Error("not in band")
	}
}

// Funding sells: A 49 × 100 = 4900 (target 0.45, band [4000, 5000], inside),
// B 98 × 50 = 4900 (target 0.45, inside), C 20 × 10 = 200 (target 0.10, band
// [500, 1500], below), no cash; T = 10000.
//
//	C needs 500 − 200 = 300 (30 shares). No cash, no overweight: one in-band holding
//	must sell. Capacities above the lower edge: A (49 − 40) × 100 = 900, B (98 − 80) ×
//	50 = 900; equal, so A (by symbol) sells ⌈300/100⌉ = 3 shares. C buys 30 shares.
//	Two trades: the minimum (C must trade; it needs cash that only a sale provides).
//
// With a minimum trade of 400: C's 300 is enlarged to 40 shares = 400 (600 ≤ 1500),
// and A sells 4 shares = 400.
func TestFundingSells(t *testing.T) {
	in := Input{
		Holdings: dm("A", "49", "B", "98", "C", "20"), Prices: dm("A", "100", "B", "50", "C", "10"),
		Targets: dm("A", "0.45", "B", "0.45", "C", "0.10"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL A 3 300 FUNDING", "BUY C 30 300 UNDERWEIGHT")
	eq(t, "C weight", position(t, p, "C").WeightAfter, "0.05")
	in.MinTradeValue = d("400")
	p = mustPlan(t, in)
	checkTrades(t, p, "SELL A 4 400 FUNDING", "BUY C 40 400 UNDERWEIGHT")
}

// A needed trade is never dropped for the minimum: A 43 × 100 = 4300 (target 0.45,
// lower edge 4000: 300 of room), B 80 × 50 = 4000 (target 0.45, at its lower edge),
// C 20 × 10 = 200 (target 0.10, band [500, 1500]), cash 1500 all reserved; T = 10000.
// C needs 300, which only A's 3 shares can pay; the minimum 400 fits neither A's
// room nor the cash, so both trades are made at their needed size and flagged.
func TestMinimumNeverBlocksTheBand(t *testing.T) {
	zero := d("0")
	in := Input{
		Holdings: dm("A", "43", "B", "80", "C", "20"), Prices: dm("A", "100", "B", "50", "C", "10"),
		Cash: d("1500"), CashAvailable: &zero,
		Targets: dm("A", "0.45", "B", "0.45", "C", "0.10"), Band: d("0.05"), WholeShares: true, MinTradeValue: d("400"),
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL A 3 300 FUNDING below-minimum", "BUY C 30 300 UNDERWEIGHT below-minimum")
	if !p.AllInBand {
		t.Error("not in band")
	}
}

// Already inside the band: no trades. A 62 × 100, B 76 × 50 = 3800, cash 0: weights
// 0.62/0.38 around 60/40 with a 5% band.
func TestInsideBandNoTrades(t *testing.T) {
	in := Input{
		Holdings: dm("A", "62", "B", "76"), Prices: dm("A", "100", "B", "50"),
		Targets: dm("A", "0.6", "B", "0.4"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p)
	if !p.AllInBand {
		t.Error("not in band")
	}
	eq(t, "A drift", position(t, p, "A").DriftBefore, "0.02")
}

// Exit: X is held but not targeted (target 0). A 60 × 100 = 6000 (0.6, inside),
// B 60 × 50 = 3000 (target 0.4, band [3500, 4500], below), X 40 × 25 = 1000; T = 10000.
//
//	SELL X 40 (1000, exit) funds B: minimum 70 shares, target 80 → BUY 20 (1000).
//
// Y, explicitly targeted at 0 and worth 0.5% (inside a 5% band around 0), is exited
// too (the zero-target policy), flagged below a minimum of 100.
func TestExit(t *testing.T) {
	in := Input{
		Holdings: dm("A", "60", "B", "60", "X", "40"), Prices: dm("A", "100", "B", "50", "X", "25"),
		Targets: dm("A", "0.6", "B", "0.4"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL X 40 1000 EXIT", "BUY B 20 1000 UNDERWEIGHT")
	x := position(t, p, "X")
	eq(t, "X target", x.Target, "0")
	eq(t, "X drift before", x.DriftBefore, "0.1")
	eq(t, "X qty after", x.QuantityAfter, "0")

	in = Input{
		Holdings: dm("A", "60", "B", "39", "Y", "5"), Prices: dm("A", "100", "B", "100", "Y", "10"), Cash: d("50"),
		Targets: dm("A", "0.6", "B", "0.4", "Y", "0"), Band: d("0.05"), WholeShares: true, MinTradeValue: d("100"),
	}
	p = mustPlan(t, in)
	checkTrades(t, p, "SELL Y 5 50 EXIT below-minimum")
}

// Entering a new symbol: A 100 × 100 = 10000 (target 0.8, band [7500, 8500]), N not
// held (target 0.2, price 20, band [1500, 2500]); T = 10000.
//
//	SELL A 20 (to 8000 = the target), BUY N 100 (2000 = the target).
func TestEnterNewSymbol(t *testing.T) {
	in := Input{
		Holdings: dm("A", "100"), Prices: dm("A", "100", "N", "20"),
		Targets: dm("A", "0.8", "N", "0.2"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "SELL A 20 2000 OVERWEIGHT", "BUY N 100 2000 UNDERWEIGHT")
	n := position(t, p, "N")
	eq(t, "N before", n.QuantityBefore, "0")
	eq(t, "N drift before", n.DriftBefore, "-0.2")
}

// An expensive share: cash 100000, targets BRK 0.5 (one share 600000) and VTI 0.5
// (250). BRK's band [45000, 55000] holds no whole number of shares (0 or 600000), and
// buying one would be farther from it (545000 above vs 45000 below), so no trade;
// VTI buys its target 50000/250 = 200 shares.
func TestExpensiveShareImpossible(t *testing.T) {
	in := Input{
		Prices: dm("BRK", "600000", "VTI", "250"), Cash: d("100000"),
		Targets: dm("BRK", "0.5", "VTI", "0.5"), Band: d("0.05"), WholeShares: true,
	}
	p := mustPlan(t, in)
	checkTrades(t, p, "BUY VTI 200 50000 UNDERWEIGHT")
	brk := position(t, p, "BRK")
	if p.AllInBand || brk.InBandAfter || !strings.Contains(brk.Note, "one share costs 600000.00") {
		t.Errorf("BRK: %+v", brk)
	}
	// Fractional shares make it possible: 50000/600000 = 0.083333(3) → 0.083333
	// (49999.8) is nearest inside the band.
	in.WholeShares = false
	p = mustPlan(t, in)
	checkTrades(t, p, "BUY BRK 0.083333 49999.8 UNDERWEIGHT", "BUY VTI 200 50000 UNDERWEIGHT")
	if !p.AllInBand {
		t.Error("fractional: not in band")
	}
}

func TestValidation(t *testing.T) {
	base := func() Input {
		return Input{Holdings: dm("A", "1"), Prices: dm("A", "10"), Targets: dm("A", "1"), Band: d("0.05")}
	}
	for name, mutate := range map[string]func(*Input){
		"targets sum":    func(in *Input) { in.Targets = dm("A", "0.9") },
		"negative":       func(in *Input) { in.Targets = dm("A", "1.1", "B", "-0.1"); in.Prices["B"] = d("1") },
		"missing price":  func(in *Input) { in.Targets = dm("A", "0.5", "B", "0.5") },
		"band":           func(in *Input) { in.Band = d("-0.01") },
		"negative qty":   func(in *Input) { in.Holdings = dm("A", "-1") },
		"nothing":        func(in *Input) { in.Holdings = nil },
		"min trade":      func(in *Input) { in.MinTradeValue = d("-1") },
		"places":         func(in *Input) { in.FractionalPlaces = 13 },
		"cash available": func(in *Input) { v := d("-1"); in.CashAvailable = &v },
	} {
		in := base()
		mutate(&in)
		if _, err := Rebalance(in); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Rebalance(base()); err != nil {
		t.Fatal(err)
	}
}

func TestPlanJSON(t *testing.T) {
	p := mustPlan(t, Input{
		Holdings: dm("A", "70", "B", "60"), Prices: dm("A", "100", "B", "50"),
		Targets: dm("A", "0.6", "B", "0.4"), Band: d("0.05"), WholeShares: true,
	})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"trades":[{"symbol":"A","side":"SELL","quantity":"10","price":"100","estimatedValue":"1000","purpose":"OVERWEIGHT"}`, `"driftBefore":"0.1"`, `"allInBand":true`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}
