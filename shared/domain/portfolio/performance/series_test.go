package performance

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/shopspring/decimal"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func buy(date, sym, qty, price string) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Buy, Date: day(date), Symbol: sym, Quantity: dec(qty), Price: dec(price), Currency: "USD"}
}

func sell(date, sym, qty, price string) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Sell, Date: day(date), Symbol: sym, Quantity: dec(qty), Price: dec(price), Currency: "USD"}
}

func cashTx(t portfolio.TxType, date, amount string) portfolio.Transaction {
	return portfolio.Transaction{Type: t, Date: day(date), Amount: dec(amount), Currency: "USD"}
}

func split(date, sym string, n, o int64) portfolio.Transaction {
	return portfolio.Transaction{Type: portfolio.Split, Date: day(date), Symbol: sym, Ratio: portfolio.Ratio{New: n, Old: o}, Currency: "USD"}
}

// history numbers the transactions in order and sorts them for replay.
func history(txs ...portfolio.Transaction) []portfolio.Transaction {
	for i := range txs {
		txs[i].Seq = int64(i + 1)
		if txs[i].ID == "" {
			txs[i].ID = "t" + string(rune('a'+i))
		}
	}
	portfolio.SortForReplay(txs)
	return txs
}

// closesOf builds a store from "date sym close" triples.
func closesOf(t testing.TB, rows ...string) *Closes {
	t.Helper()
	c := NewCloses()
	for _, r := range rows {
		f := strings.Fields(r)
		if err := c.Add(f[1], day(f[0]), dec(f[2])); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Seal(); err != nil {
		t.Fatal(err)
	}
	return c
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

func nearAll(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		near(t, what+"["+string(rune('0'+i))+"]", got[i], want[i], 1e-9)
	}
}

func build(t *testing.T, txs []portfolio.Transaction, c *Closes, from, to string) *Series {
	t.Helper()
	s, err := Build(txs, c, day(from), day(to))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Closes of X for the worked example: 100, 110, then 99 on the deposit day.
var exampleCloses = []string{
	"2024-01-01 X 100",
	"2024-01-02 X 110",
	"2024-01-03 X 99",
}

// TWR with a cash account and a deposit in the middle of the period.
//
//	Jan 1: deposit 1000, buy 10 X @ 100 → cash 0, value 10×100 = 1000
//	Jan 2: X closes 110                 → value 10×110 = 1100
//	Jan 3: deposit 1100, buy 10 X @ 110 → cash 0, X closes 99, value 20×99 = 1980
//
// Sub-period 1 (Jan 1–2, before the deposit): 1000 → 1100, +10%.
// Sub-period 2 (Jan 3): (1100 + 1100) → 1980, 1980/2200 − 1 = −10%.
// Daily: r1 = 1000/(0+1000) − 1 = 0, r2 = 1100/1000 − 1 = 0.1, r3 = 1980/(1100+1100) − 1 = −0.1.
// TWR = 1.0 × 1.1 × 0.9 − 1 = −0.01.
func TestTWRWithMidPeriodDeposit(t *testing.T) {
	c := closesOf(t, exampleCloses...)
	txs := history(
		cashTx(portfolio.Deposit, "2024-01-01", "1000"),
		buy("2024-01-01", "X", "10", "100"),
		cashTx(portfolio.Deposit, "2024-01-03", "1100"),
		buy("2024-01-03", "X", "10", "110"),
	)
	s := build(t, txs, c, "2024-01-01", "2024-01-03")
	if !s.CashAccount {
		t.Fatal("CashAccount = false with deposits")
	}
	near(t, "Start", s.Start, 0, 0)
	nearAll(t, "Value", s.Value, []float64{1000, 1100, 1980})
	nearAll(t, "Inflow", s.Inflow, []float64{1000, 0, 1100})
	nearAll(t, "Outflow", s.Outflow, []float64{0, 0, 0})
	nearAll(t, "DailyReturns", s.DailyReturns(), []float64{0, 0.1, -0.1})
	near(t, "TWR", s.TWR(), -0.01, 1e-12)
	if len(s.Warnings) != 0 {
		t.Errorf("warnings %v", s.Warnings)
	}
}

// The same history without a cash account: the buys are the inflows (1000 on
// Jan 1, 1100 on Jan 3) and the values are the same, so the sub-period returns are
// again +10% and −10% and TWR = 1.1 × 0.9 − 1 = −0.01.
func TestTWRTradesAsFlows(t *testing.T) {
	c := closesOf(t, exampleCloses...)
	txs := history(
		buy("2024-01-01", "X", "10", "100"),
		buy("2024-01-03", "X", "10", "110"),
	)
	s := build(t, txs, c, "2024-01-01", "2024-01-03")
	if s.CashAccount {
		t.Fatal("CashAccount = true without deposits")
	}
	nearAll(t, "Value", s.Value, []float64{1000, 1100, 1980})
	nearAll(t, "Inflow", s.Inflow, []float64{1000, 0, 1100})
	near(t, "TWR", s.TWR(), -0.01, 1e-12)
}

// Trades as flows with charges, a dividend and a sell.
//
//	Jan 1: buy 10 X @ 100, fee 10, tax 2 → inflow 1000 + 10 + 2 = 1012; value 1000
//	       r1 = 1000/1012 − 1
//	Jan 2: dividend 30, tax 5            → outflow 30 − 5 = 25; X 110, value 1100
//	       r2 = (1100 + 25)/1000 − 1 = 0.125
//	Jan 3: sell 10 X @ 110, fee 5        → outflow 1100 − 5 = 1095; value 0
//	       r3 = (0 + 1095)/1100 − 1
func TestTradesAsFlowsCharges(t *testing.T) {
	c := closesOf(t, exampleCloses...)
	b := buy("2024-01-01", "X", "10", "100")
	b.Fee, b.Tax = dec("10"), dec("2")
	dv := portfolio.Transaction{Type: portfolio.Dividend, Date: day("2024-01-02"), Symbol: "X", Amount: dec("30"), Tax: dec("5"), Currency: "USD"}
	sl := sell("2024-01-03", "X", "10", "110")
	sl.Fee = dec("5")
	s := build(t, history(b, dv, sl), c, "2024-01-01", "2024-01-03")
	nearAll(t, "Value", s.Value, []float64{1000, 1100, 0})
	nearAll(t, "Inflow", s.Inflow, []float64{1012, 0, 0})
	nearAll(t, "Outflow", s.Outflow, []float64{0, 25, 1095})
	r1, r2, r3 := 1000.0/1012-1, 0.125, 1095.0/1100-1
	nearAll(t, "DailyReturns", s.DailyReturns(), []float64{r1, r2, r3})
	near(t, "TWR", s.TWR(), (1+r1)*(1+r2)*(1+r3)-1, 1e-12)
}

// A standalone fee lowers the return under both conventions. X is flat at 100.
//
// Trades as flows: 10 X bought before the range (Start 1000). Jan 2: fee 10 is an
// inflow of 10 that does not become value: r2 = 1000/(1000 + 10) − 1 = −0.00990099.
//
// Cash account: deposit 1000 and buy 10 X before the range (cash 0, Start 1000).
// Jan 2: the fee takes cash to −10: value 990, r2 = 990/1000 − 1 = −0.01.
func TestStandaloneFeeLowersReturn(t *testing.T) {
	c := closesOf(t, "2023-12-29 X 100")
	fee := cashTx(portfolio.Fee, "2024-01-02", "10")

	s := build(t, history(buy("2023-12-29", "X", "10", "100"), fee), c, "2024-01-01", "2024-01-03")
	near(t, "Start", s.Start, 1000, 0)
	nearAll(t, "Inflow", s.Inflow, []float64{0, 10, 0})
	nearAll(t, "Value", s.Value, []float64{1000, 1000, 1000})
	near(t, "TWR trades", s.TWR(), 1000.0/1010-1, 1e-12)
	if mwr, err := s.MWR(); err != nil || mwr >= 0 {
		t.Errorf("MWR trades = %v, %v; want a loss", mwr, err)
	}

	s = build(t, history(cashTx(portfolio.Deposit, "2023-12-29", "1000"), buy("2023-12-29", "X", "10", "100"), fee), c, "2024-01-01", "2024-01-03")
	near(t, "Start", s.Start, 1000, 0)
	nearAll(t, "Inflow", s.Inflow, []float64{0, 0, 0})
	nearAll(t, "Value", s.Value, []float64{1000, 990, 990})
	near(t, "TWR cash", s.TWR(), -0.01, 1e-12)
}

// Charges on a deposit or withdrawal stay inside: deposit 1000 with fee 10 is an
// inflow of 1000 that leaves 990 of value, r = 990/1000 − 1 = −1%.
func TestCashAccountDepositCharges(t *testing.T) {
	dep := cashTx(portfolio.Deposit, "2024-01-01", "1000")
	dep.Fee = dec("10")
	wd := cashTx(portfolio.Withdrawal, "2024-01-02", "490")
	s := build(t, history(dep, wd), nil, "2024-01-01", "2024-01-02")
	nearAll(t, "Inflow", s.Inflow, []float64{1000, 0})
	nearAll(t, "Outflow", s.Outflow, []float64{0, 490})
	nearAll(t, "Value", s.Value, []float64{990, 500})
	// r1 = 990/1000 − 1 = −0.01; r2 = (500 + 490)/990 − 1 = 0
	near(t, "TWR", s.TWR(), -0.01, 1e-12)
}

// A 2-for-1 split with the quote halving on the same day does not move the value:
// 10 × 100 = 1000 before, 20 × 50 = 1000 after. A 1-for-4 reverse split of the 20
// shares to 5 with the quote at 200: 5 × 200 = 1000.
func TestSplitDayDoesNotMoveValue(t *testing.T) {
	c := closesOf(t, "2024-01-01 X 100", "2024-01-02 X 50", "2024-01-03 X 200")
	txs := history(buy("2024-01-01", "X", "10", "100"), split("2024-01-02", "X", 2, 1), split("2024-01-03", "X", 1, 4))
	s := build(t, txs, c, "2024-01-01", "2024-01-03")
	nearAll(t, "Value", s.Value, []float64{1000, 1000, 1000})
	near(t, "TWR", s.TWR(), 0, 1e-15)
}

// Friday 2024-01-05 closes at 100, Monday 2024-01-08 at 105: Saturday and Sunday
// carry Friday's close (value 10 × 100), Monday is 10 × 105.
func TestWeekendCarriesLastCloseForward(t *testing.T) {
	c := closesOf(t, "2024-01-05 X 100", "2024-01-08 X 105")
	s := build(t, history(buy("2024-01-05", "X", "10", "100")), c, "2024-01-05", "2024-01-08")
	if s.Days[1].Weekday().String() != "Saturday" {
		t.Fatalf("fixture: %s is a %s", s.Days[1], s.Days[1].Weekday())
	}
	nearAll(t, "Value", s.Value, []float64{1000, 1000, 1000, 1050})
	// r = 0, 0, 0, 1050/1000 − 1
	near(t, "TWR", s.TWR(), 0.05, 1e-12)
}

// Y is bought on Jan 2 (5 at 20) but first closes on Jan 4: it is valued at its
// trade price on Jan 2 and 3 and reported once, with Jan 2. Z (1 at 7) has no
// closes at all and stays at its trade price.
func TestMissingPriceWarning(t *testing.T) {
	c := closesOf(t, "2024-01-01 X 100", "2024-01-04 Y 20")
	txs := history(
		buy("2024-01-01", "X", "1", "100"),
		buy("2024-01-02", "Y", "5", "20"),
		buy("2024-01-03", "Z", "1", "7"),
	)
	s := build(t, txs, c, "2024-01-01", "2024-01-05")
	// X 100; + Y 5×20 = 200; + Z 1×7 = 207; Y's first close is 20 too.
	nearAll(t, "Value", s.Value, []float64{100, 200, 207, 207, 207})
	want := []Warning{{Symbol: "Y", Day: day("2024-01-02")}, {Symbol: "Z", Day: day("2024-01-03")}}
	if len(s.Warnings) != len(want) {
		t.Fatalf("Warnings = %v, want %v", s.Warnings, want)
	}
	for i := range want {
		if s.Warnings[i] != want[i] {
			t.Errorf("Warnings[%d] = %v, want %v", i, s.Warnings[i], want[i])
		}
	}
	if !strings.Contains(s.Warnings[0].String(), "Y is held on 2024-01-02") {
		t.Errorf("Warning text %q", s.Warnings[0])
	}
}

// Transactions before from make the starting position; only those inside are flows.
// Sell with a dust shortfall closes the holding.
func TestStartPositionAndDust(t *testing.T) {
	c := closesOf(t, "2023-12-01 X 100", "2024-01-02 X 120")
	txs := history(
		buy("2023-12-01", "X", "10", "100"),
		sell("2024-01-02", "X", "10.000000004", "120"),
		buy("2024-02-01", "X", "1", "1"), // after the range: ignored
	)
	s := build(t, txs, c, "2024-01-01", "2024-01-02")
	near(t, "Start", s.Start, 1000, 0)
	nearAll(t, "Value", s.Value, []float64{1000, 0})
	nearAll(t, "Inflow", s.Inflow, []float64{0, 0})
	// outflow 10.000000004 × 120 = 1200.00000048
	nearAll(t, "Outflow", s.Outflow, []float64{0, 1200.00000048})
	near(t, "TWR", s.TWR(), 0.20000000048, 1e-12)
}

func TestBuildErrors(t *testing.T) {
	c := closesOf(t, "2024-01-01 X 100")
	if _, err := Build(nil, c, day("2024-01-02"), day("2024-01-01")); err == nil {
		t.Error("reversed range accepted")
	}
	if _, err := Build(nil, c, 0, MaxDays); err == nil {
		t.Error("huge range accepted")
	}
	_, err := Build(history(buy("2024-01-01", "X", "1", "1"), sell("2024-01-01", "X", "2", "1")), c, day("2024-01-01"), day("2024-01-02"))
	if !errors.Is(err, portfolio.ErrInsufficientHoldings) {
		t.Errorf("oversell: %v", err)
	}
	unsorted := []portfolio.Transaction{buy("2024-01-02", "X", "1", "1"), buy("2024-01-01", "X", "1", "1")}
	if _, err := Build(unsorted, c, day("2024-01-01"), day("2024-01-02")); err == nil || !strings.Contains(err.Error(), "SortForReplay") {
		t.Errorf("unsorted: %v", err)
	}
	if _, err := Build(nil, NewCloses(), day("2024-01-01"), day("2024-01-02")); err == nil {
		t.Error("unsealed closes accepted")
	}
	bad := history(split("2024-01-01", "X", 0, 1))
	if _, err := Build(bad, c, day("2024-01-01"), day("2024-01-02")); err == nil {
		t.Error("bad ratio accepted")
	}
}

// Nothing ever invested: values and flows are zero, TWR is 0 and MWR has no rate.
func TestEmptySeries(t *testing.T) {
	s := build(t, nil, nil, "2024-01-01", "2024-12-31")
	near(t, "TWR", s.TWR(), 0, 0)
	if _, err := s.MWR(); !errors.Is(err, ErrNoRate) {
		t.Errorf("MWR of nothing: %v, want ErrNoRate", err)
	}
	for _, r := range s.DailyReturns() {
		if r != 0 {
			t.Fatal("non-zero daily return")
		}
	}
}

// A position held flat with no flows: every r_d = 0, TWR = 0, and the MWR flows
// −1000 at t = 0 and +1000 at the end solve exactly at r = 0.
func TestFlatPositionNoFlows(t *testing.T) {
	c := closesOf(t, "2023-06-01 X 100")
	s := build(t, history(buy("2023-06-01", "X", "10", "100")), c, "2024-01-01", "2024-12-31")
	near(t, "TWR", s.TWR(), 0, 0)
	mwr, err := s.MWR()
	if err != nil || mwr != 0 {
		t.Errorf("MWR = %v, %v; want 0", mwr, err)
	}
}

// The textbook MWR through a series: deposit and buy 1000 at the start of
// 2023-01-01, worth 1100 at the end of 2023-12-31 (365 days later on the series'
// axis): −1000 at t = 0, +1100 at t = 1 → r = 10%. TWR agrees: 1100/1000 − 1.
func TestMWRThroughSeries(t *testing.T) {
	c := closesOf(t, "2023-01-01 X 100", "2023-12-29 X 110")
	txs := history(cashTx(portfolio.Deposit, "2023-01-01", "1000"), buy("2023-01-01", "X", "10", "100"))
	s := build(t, txs, c, "2023-01-01", "2023-12-31")
	mwr, err := s.MWR()
	if err != nil {
		t.Fatal(err)
	}
	near(t, "MWR", mwr, 0.10, 1e-12)
	near(t, "TWR", s.TWR(), 0.10, 1e-12)
	a, ok := Annualize(s.TWR(), len(s.Days))
	if !ok {
		t.Fatal("Annualize refused 365 days")
	}
	near(t, "annualised TWR", a, 0.10, 1e-12)
}

// MWR differs from TWR when money arrives before a loss (the worked example):
// flows −1000 at t = 0 and −1100 at t = 2 days, +1980 at t = 3 days. Solve by
// checking the NPV at the returned rate is zero.
func TestMWRWeighsMoney(t *testing.T) {
	c := closesOf(t, exampleCloses...)
	txs := history(buy("2024-01-01", "X", "10", "100"), buy("2024-01-03", "X", "10", "110"))
	s := build(t, txs, c, "2024-01-01", "2024-01-03")
	r, err := s.MWR()
	if err != nil {
		t.Fatal(err)
	}
	npv := -1000 - 1100*math.Pow(1+r, -2.0/365) + 1980*math.Pow(1+r, -3.0/365)
	near(t, "NPV at MWR", npv, 0, 1e-6)
	if r >= 0 {
		t.Errorf("MWR = %v, want a loss (more money was in for the fall)", r)
	}
}

// cashSum is Σ CashEffect exactly, for amounts of every size and precision, and
// cashEffectFloat is CashEffect to float precision.
func TestCashSumMatchesCashEffect(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rnd := func() decimal.Decimal {
		switch rng.IntN(5) {
		case 0:
			return decimal.Decimal{}
		case 1: // a 12-place split-adjusted quantity
			return decimal.New(1+rng.Int64N(1e15), -12)
		case 2: // beyond int64
			return decimal.New(1+rng.Int64N(1e18), int32(rng.IntN(10))).Mul(decimal.New(1+rng.Int64N(1e9), -int32(rng.IntN(20))))
		default:
			return decimal.New(1+rng.Int64N(1e7), -int32(rng.IntN(5)))
		}
	}
	var sum cashSum
	want := decimal.Zero
	for i := range 5000 {
		tx := portfolio.Transaction{Type: portfolio.TxTypes[rng.IntN(len(portfolio.TxTypes))], Fee: rnd(), Tax: rnd()}
		if tx.Type.IsTrade() {
			tx.Quantity, tx.Price = rnd(), rnd()
		} else if tx.Type != portfolio.Split {
			tx.Amount = rnd()
		}
		eff := tx.CashEffect()
		want = want.Add(eff)
		var v txNums
		readNums(&tx, &v)
		sum.addTx(&tx, &v, 0)
		if got := sum.decimal(); !got.Equal(want) {
			t.Fatalf("after %d: cashSum = %s, Σ CashEffect = %s", i, got, want)
		}
		if f, w := cashEffectFloat(tx.Type, &v), eff.InexactFloat64(); math.Abs(f-w) > 1e-14*math.Abs(w) {
			t.Fatalf("cashEffectFloat = %v, CashEffect = %v", f, w)
		}
	}
	wn := newNum(want)
	sum.addNum(&wn, 0, true)
	if !sum.isZero() {
		t.Fatalf("sum minus itself = %s", sum.decimal())
	}
}

// Without a cash account a fee charged while nothing is held has no invested
// capital to lower: it stays out of the series (as a flow it would read
// 0/(0 + 10) − 1 = −100% and zero the TWR for good). With nothing invested there
// are no returns: TWR 0, and MWR has no flows, so no rate.
func TestFeeWhileNothingHeld(t *testing.T) {
	s := build(t, history(cashTx(portfolio.Fee, "2024-01-02", "10")), nil, "2024-01-01", "2024-01-03")
	nearAll(t, "Inflow", s.Inflow, []float64{0, 0, 0})
	near(t, "TWR", s.TWR(), 0, 0)
	if _, err := s.MWR(); !errors.Is(err, ErrNoRate) {
		t.Errorf("MWR: %v, want ErrNoRate", err)
	}
}

// A holding without a price before the range is reported with the day before from.
func TestWarningOnStart(t *testing.T) {
	c := closesOf(t, "2024-01-02 X 10")
	s := build(t, history(buy("2023-12-01", "X", "1", "9")), c, "2024-01-01", "2024-01-02")
	if len(s.Warnings) != 1 || s.Warnings[0] != (Warning{Symbol: "X", Day: day("2023-12-31")}) {
		t.Fatalf("Warnings = %v", s.Warnings)
	}
	// Until its first close X is valued at its trade price, 9.
	near(t, "Start", s.Start, 9, 0)
	nearAll(t, "Value", s.Value, []float64{9, 10})
	// r1 = 9/9 − 1 = 0; r2 = 10/9 − 1 = 0.1111…
	near(t, "TWR", s.TWR(), 1.0/9, 1e-12)
}

// A remainder within Dust closes the holding too (portfolio.ApplySell): 10 shares,
// sell 9.999999999 → 1e-9 left, dropped; the value is 0, not 1e-9 × 100.
func TestDustRemainderCloses(t *testing.T) {
	c := closesOf(t, "2024-01-01 X 100")
	s := build(t, history(buy("2024-01-01", "X", "10", "100"), sell("2024-01-02", "X", "9.999999999", "100")), c, "2024-01-01", "2024-01-02")
	if s.Value[1] != 0 {
		t.Errorf("Value after dust sell = %v, want 0", s.Value[1])
	}
}

// naiveSeries is Build written the slow, obvious way: exact decimals, a map of
// holdings, Closes.On for every symbol every day.
func naiveSeries(txs []portfolio.Transaction, c *Closes, from, to calendar.Date) (start float64, value, in, out []float64) {
	cash := false
	for _, tx := range txs {
		cash = cash || tx.Type == portfolio.Deposit || tx.Type == portfolio.Withdrawal
	}
	qty := map[string]decimal.Decimal{}
	tradePx := map[string]decimal.Decimal{}
	bal := decimal.Zero
	apply := func(tx portfolio.Transaction) (inflow, outflow decimal.Decimal) {
		switch tx.Type {
		case portfolio.Buy:
			qty[tx.Symbol] = qty[tx.Symbol].Add(tx.Quantity)
			tradePx[tx.Symbol] = tx.Price
		case portfolio.Sell:
			qty[tx.Symbol], _ = portfolio.ApplySell(qty[tx.Symbol], tx.Quantity)
			tradePx[tx.Symbol] = tx.Price
		case portfolio.Split:
			if !qty[tx.Symbol].IsZero() {
				qty[tx.Symbol] = tx.Ratio.Apply(qty[tx.Symbol])
				tradePx[tx.Symbol] = tradePx[tx.Symbol].Mul(decimal.NewFromInt(tx.Ratio.Old)).Div(decimal.NewFromInt(tx.Ratio.New))
			}
		}
		bal = bal.Add(tx.CashEffect())
		if cash {
			switch tx.Type {
			case portfolio.Deposit:
				return tx.Amount, decimal.Zero
			case portfolio.Withdrawal:
				return decimal.Zero, tx.Amount
			}
			return decimal.Zero, decimal.Zero
		}
		if tx.Type == portfolio.Fee {
			holding := false
			for _, q := range qty {
				holding = holding || !q.IsZero()
			}
			if !holding {
				return decimal.Zero, decimal.Zero // nothing invested for the fee to lower
			}
		}
		var net decimal.Decimal
		switch tx.Type {
		case portfolio.Buy:
			net = tx.Gross().Add(tx.Charges()).Neg()
		case portfolio.Sell, portfolio.Dividend, portfolio.Interest:
			net = tx.Gross().Sub(tx.Charges())
		case portfolio.Fee:
			net = tx.Amount.Add(tx.Charges()).Neg()
		}
		if net.IsPositive() {
			return decimal.Zero, net
		}
		return net.Neg(), decimal.Zero
	}
	valueOn := func(d calendar.Date) float64 {
		v := decimal.Zero
		if cash {
			v = bal
		}
		for sym, q := range qty {
			if p, _, ok := c.On(sym, d); ok {
				v = v.Add(q.Mul(p))
			} else {
				v = v.Add(q.Mul(tradePx[sym]))
			}
		}
		return v.InexactFloat64()
	}
	i := 0
	for ; i < len(txs) && txs[i].Date < from; i++ {
		apply(txs[i])
	}
	start = valueOn(from - 1)
	for d := from; d <= to; d++ {
		din, dout := decimal.Zero, decimal.Zero
		for ; i < len(txs) && txs[i].Date == d; i++ {
			a, b := apply(txs[i])
			din, dout = din.Add(a), dout.Add(b)
		}
		value = append(value, valueOn(d))
		in = append(in, din.InexactFloat64())
		out = append(out, dout.InexactFloat64())
	}
	return start, value, in, out
}

// Build agrees with naiveSeries on random histories: holdings coming and going
// (the active columns' swap-removal), splits, dust, symbols without closes or with
// late first closes, both flow conventions.
func TestBuildMatchesNaive(t *testing.T) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 11))
		d0 := day("2024-01-01")
		syms := []string{"A", "B", "C", "D", "E", "F"}
		c := NewCloses()
		for k, sym := range syms[:5] { // F has no closes
			for i := 3 * k; i < 60; i++ {
				if rng.IntN(7) < 2 {
					continue // weekends, holidays, gaps
				}
				if err := c.Add(sym, d0+calendar.Date(i), decimal.New(1+rng.Int64N(100000), -int32(rng.IntN(4)))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := c.Seal(); err != nil {
			t.Fatal(err)
		}
		held := map[string]decimal.Decimal{}
		var txs []portfolio.Transaction
		withCash := seed%2 == 0
		for i := range 120 {
			d := d0 + calendar.Date(rng.IntN(60))
			sym := syms[rng.IntN(len(syms))]
			tx := portfolio.Transaction{ID: fmt.Sprint(i), Date: d, Symbol: sym, Currency: "USD"}
			if rng.IntN(4) == 0 {
				tx.Fee = decimal.New(rng.Int64N(500), -2)
			}
			switch k := rng.IntN(10); {
			case k < 4:
				tx.Type, tx.Quantity, tx.Price = portfolio.Buy, decimal.New(1+rng.Int64N(1000), -int32(rng.IntN(3))), decimal.New(1+rng.Int64N(10000), -2)
			case k < 6:
				tx.Type, tx.Quantity, tx.Price = portfolio.Sell, decimal.New(1+rng.Int64N(100), -1), decimal.New(1+rng.Int64N(10000), -2)
			case k < 7:
				tx.Type, tx.Ratio, tx.Fee = portfolio.Split, portfolio.Ratio{New: 1 + rng.Int64N(3), Old: 1 + rng.Int64N(3)}, decimal.Decimal{}
			case k < 8:
				tx.Type, tx.Amount = portfolio.Dividend, decimal.New(1+rng.Int64N(10000), -2)
			case k < 9:
				tx.Type, tx.Symbol, tx.Amount = portfolio.Fee, "", decimal.New(1+rng.Int64N(1000), -2)
			case withCash:
				tx.Type, tx.Symbol, tx.Amount = portfolio.Deposit, "", decimal.New(1+rng.Int64N(100000), 0)
			default:
				tx.Type, tx.Symbol, tx.Amount = portfolio.Interest, "", decimal.New(1+rng.Int64N(1000), -2)
			}
			txs = append(txs, tx)
		}
		for i := range txs {
			txs[i].Seq = int64(i)
		}
		portfolio.SortForReplay(txs)
		// Make every sell possible: sell at most what is held then (or all of it,
		// sometimes within dust).
		for i := range txs {
			tx := &txs[i]
			switch tx.Type {
			case portfolio.Buy:
				held[tx.Symbol] = held[tx.Symbol].Add(tx.Quantity)
			case portfolio.Split:
				held[tx.Symbol] = tx.Ratio.Apply(held[tx.Symbol])
			case portfolio.Sell:
				h := held[tx.Symbol]
				if !h.IsPositive() {
					tx.Type, tx.Quantity, tx.Price, tx.Amount = portfolio.Dividend, decimal.Decimal{}, decimal.Decimal{}, decimal.New(5, 0)
					continue
				}
				if tx.Quantity.GreaterThan(h) || rng.IntN(3) == 0 {
					tx.Quantity = h.Add(decimal.New(rng.Int64N(3)-1, -9)) // all, ± dust
				}
				held[tx.Symbol], _ = portfolio.ApplySell(h, tx.Quantity)
			}
		}
		from, to := d0+calendar.Date(rng.IntN(20)), d0+calendar.Date(40+rng.IntN(25))
		s, err := Build(txs, c, from, to)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		start, value, in, out := naiveSeries(txs, c, from, to)
		same := func(what string, i int, got, want float64) {
			if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
				t.Fatalf("seed %d (cash %v): %s[%d] = %v, naive %v", seed, withCash, what, i, got, want)
			}
		}
		same("Start", 0, s.Start, start)
		for i := range value {
			same("Value", i, s.Value[i], value[i])
			same("Inflow", i, s.Inflow[i], in[i])
			same("Outflow", i, s.Outflow[i], out[i])
		}
	}
}
