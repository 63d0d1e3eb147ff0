package analyticsjob_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/app/analyticsjob"
	"github.com/portfoliotracker/tracker/shared/app/command"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// seedFXMarket writes the EUR investor's market: every weekday from 2025-05-30
// to 2025-06-27 AAPL closes at 200 USD, SAP at 100 EUR, IVV (the benchmark) at
// 400 USD and EURUSD=X at 1.25; on asOf (2025-06-30) at 250, 110, 440 and 1.6.
// IVV's latest quote says it trades in USD.
func (e *env) seedFXMarket() {
	e.t.Helper()
	e.seedQuotes(map[string][2]string{"AAPL": {"200", "250"}, "SAP": {"100", "110"}, "IVV": {"400", "440"}, "EURUSD=X": {"1.25", "1.6"}},
		map[string]string{"IVV": "USD"})
}

// recordEURInvestor records the EUR investor: on 2025-06-02 a deposit of 5,000
// EUR, 2,000 EUR converted into 2,500 USD (EURUSD 1.25), 10 AAPL bought at 200
// USD (fxRate 0.8 EUR per USD: 1,600 EUR) and 20 SAP at 100 EUR; targets AAPL
// 60%, SAP 40%, band 5%.
func (e *env) recordEURInvestor(user string) string {
	e.t.Helper()
	res, err := e.cmds.Create(context.Background(), command.Request{UserID: user, CommandID: "eur"}, portfolio.CreatePortfolio{Name: "eur", BaseCurrency: "EUR"})
	if err != nil {
		e.t.Fatal(err)
	}
	id, d := res.AggregateID, date("2025-06-02")
	e.record(id, user, portfolio.Transaction{Type: portfolio.Deposit, Date: d, Amount: dec("5000"), Currency: "EUR"})
	e.record(id, user, portfolio.Transaction{Type: portfolio.Conversion, Date: d, Amount: dec("2000"), Currency: "EUR", ToAmount: dec("2500"), ToCurrency: "USD"})
	e.record(id, user, portfolio.Transaction{Type: portfolio.Buy, Date: d, Symbol: "AAPL", Quantity: dec("10"), Price: dec("200"), Currency: "USD", FXRate: dec("0.8")})
	e.record(id, user, portfolio.Transaction{Type: portfolio.Buy, Date: d, Symbol: "SAP", Quantity: dec("20"), Price: dec("100"), Currency: "EUR"})
	a := portfolio.TargetAllocation{DriftBand: dec("0.05"), Targets: []portfolio.Target{{Symbol: "AAPL", Weight: dec("0.6")}, {Symbol: "SAP", Weight: dec("0.4")}}}
	if _, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: user}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.SetTargets(a, meta)
	}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// TestEURPortfolioWithUSDHoldings is the hand-checked multi-currency case of
// the analytics, through the daily run, in memory and on PostgreSQL (rates and
// the benchmark's currency from the prices read model).
//
// On asOf USD→EUR is 1/1.6 = 0.625:
//
//	AAPL  10 × 250 USD × 0.625 = 1,562.5 EUR
//	USD cash 2,500 − 2,000 = 500 USD × 0.625 = 312.5 EUR
//	SAP   20 × 110 EUR        = 2,200 EUR
//	EUR cash 5,000 − 2,000 − 2,000 = 1,000 EUR
//	market value                = 5,075 EUR
//
// The snapshot: positions 1,562.5 + 2,200 = 3,762.5 EUR against a cost basis
// of 10 × 200 × 0.8 + 20 × 100 = 3,600 EUR: 162.5 EUR unrealized.
//
// Rebalancing in EUR (whole shares): AAPL weighs 1,562.5 / 5,075 = 0.3078817734,
// below its band [0.55, 0.65] × 5,075 = [2,791.25, 3,298.75] EUR. At 156.25 EUR a
// share, the smallest quantity reaching 2,791.25 is 18 (2,812.5): buy 8 for
// 1,250 EUR (2,000 USD at 250). The cash, 1,000 + 312.5 = 1,312.5 EUR, pays for
// it but not for a 9th share (1,406.25), so the plan stops there, with 62.5 EUR
// left; SAP, 2,200 / 5,075 = 0.4334975369, is inside [0.35, 0.45].
//
// The benchmark in EUR: IVV 400 USD × 0.8 = 320 EUR before, 440 × 0.625 = 275
// EUR on asOf: 275 / 320 − 1 = −0.140625 (in USD it rose 10%).
//
// The portfolio's TWR in EUR: worth 5,000 EUR (the deposit) from 2025-06-02 to
// 2025-06-27 (1,000 + 500 × 0.8 + 10 × 200 × 0.8 + 20 × 100), 5,075 on asOf:
// 5,075 / 5,000 − 1 = 0.015.
func TestEURPortfolioWithUSDHoldings(t *testing.T) {
	t.Parallel()
	for name, newE := range map[string]func(*testing.T) *env{"memory": newEnv, "postgres": newDynamoEnv} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newE(t)
			e.seedFXMarket()
			id := e.recordEURInvestor(userA)
			e.project(id)
			j := e.job(nil, analyticsjob.Options{Settings: analyticsjob.Settings{Benchmark: "IVV", WholeShares: true}})
			ctx := context.Background()
			if sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily}); err != nil || sum.Computed != 1 {
				t.Fatalf("daily run %+v %v", sum, err)
			}
			m, err := e.metrics.LatestMetrics(ctx, userA, id)
			if err != nil {
				t.Fatal(err)
			}
			if !m.MarketValue.Equal(dec("5075")) {
				t.Errorf("market value %s EUR, want 5075", m.MarketValue)
			}
			if b := m.Report.Benchmark; !b.Return.OK || math.Abs(b.Return.Value-(-0.140625)) > 1e-12 {
				t.Errorf("benchmark return in EUR %+v, want -0.140625", b.Return)
			}
			if twr := m.Report.TWR.Period; !twr.OK || math.Abs(twr.Value-0.015) > 1e-12 {
				t.Errorf("TWR in EUR %+v, want 0.015", twr)
			}
			vals, err := e.valuations.ValuationHistory(ctx, userA, id, runTime.Add(-48*time.Hour), runTime, 10)
			if err != nil || len(vals) != 1 {
				t.Fatalf("valuations %+v %v", vals, err)
			}
			if v := vals[0]; !v.MarketValue.Equal(dec("3762.5")) || !v.CostBasis.Equal(dec("3600")) || !v.UnrealizedPnL.Equal(dec("162.5")) || len(v.Unpriced) != 0 {
				t.Errorf("valuation %+v, want 3762.5 / 3600 / 162.5 EUR", v)
			}
			checkEURPlan(t, e, id)
		})
	}
}

func checkEURPlan(t *testing.T, e *env, id string) {
	t.Helper()
	r, err := e.metrics.Rebalancing(context.Background(), userA, id)
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Currency   string
		TotalValue decimal.Decimal
		CashBefore decimal.Decimal
		CashAfter  decimal.Decimal
		AllInBand  bool
		Trades     []struct {
			Symbol, Side, Purpose string
			Quantity, Price       decimal.Decimal
			Value                 decimal.Decimal `json:"estimatedValue"`
			Local                 *struct {
				Currency string
				Price    decimal.Decimal
				Value    decimal.Decimal `json:"estimatedValue"`
			}
		}
		Positions []struct {
			Symbol                    string
			Price, WeightBefore       decimal.Decimal
			WeightAfter               decimal.Decimal
			InBandBefore, InBandAfter bool
		}
	}
	if err := json.Unmarshal(r.Plan, &plan); err != nil {
		t.Fatalf("%s: %v", r.Plan, err)
	}
	if plan.Currency != "EUR" || !plan.TotalValue.Equal(dec("5075")) || !plan.CashBefore.Equal(dec("1312.5")) || !plan.CashAfter.Equal(dec("62.5")) || !plan.AllInBand {
		t.Errorf("plan %s", r.Plan)
	}
	if len(plan.Trades) != 1 {
		t.Fatalf("trades %s", r.Plan)
	}
	tr := plan.Trades[0]
	if tr.Symbol != "AAPL" || tr.Side != "BUY" || tr.Purpose != "UNDERWEIGHT" || !tr.Quantity.Equal(dec("8")) || !tr.Price.Equal(dec("156.25")) ||
		!tr.Value.Equal(dec("1250")) || tr.Local == nil || tr.Local.Currency != "USD" || !tr.Local.Price.Equal(dec("250")) || !tr.Local.Value.Equal(dec("2000")) {
		t.Errorf("trade %s", r.Plan)
	}
	want := map[string][2]string{"AAPL": {"156.25", "0.3078817734"}, "SAP": {"110", "0.4334975369"}}
	for _, p := range plan.Positions {
		if w, ok := want[p.Symbol]; !ok || !p.Price.Equal(dec(w[0])) || !p.WeightBefore.Equal(dec(w[1])) {
			t.Errorf("position %+v, want price %s weight %s", p, w[0], w[1])
		}
	}
}

// TestAnalyzeWithoutARateTakesTheTradesRate: with no USD rate in force on the
// day, the USD holding and cash of a EUR portfolio are converted at the rate
// its latest USD transaction recorded, with a warning (never at 1).
func TestAnalyzeWithoutARateTakesTheTradesRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedFXMarket()
	id := e.recordEURInvestor(userA)
	p, err := e.cmds.LoadFull(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c := performance.NewCloses()
	for sym, px := range map[string]string{"AAPL": "250", "SAP": "110"} {
		if err := c.Add(sym, asOf, dec(px)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Seal(); err != nil {
		t.Fatal(err)
	}
	a, err := analyticsjob.Analyze(p, analyticsjob.Market{Closes: c}, asOf, analyticsjob.Settings{Benchmark: "IVV"}, runTime)
	if err != nil {
		t.Fatal(err)
	}
	// At the trade's 0.8: 10 × 250 × 0.8 + 500 × 0.8 + 2,200 + 1,000 = 5,600.
	if mv := a.Result.MarketValue; !mv.Equal(dec("5600")) {
		t.Errorf("market value %s, want 5600 at the trade's rate", mv)
	}
	if !hasWarning(a.Result.Report.Warnings, "no USD→EUR rate is in force on 2025-06-30: USD is converted at the rate of its latest transaction (0.8 on 2025-06-02)") {
		t.Errorf("warnings %q", a.Result.Report.Warnings)
	}
}

func hasWarning(ws []string, w string) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

// TestGBpListingInAEURPortfolio: a London ETF quoted in pence, held in a EUR
// portfolio, is valued in pounds, then euros; a rebalancing into a dollar
// stock the portfolio does not hold yet (its currency from its quote) trades
// in euros and shows each side in its own currency.
//
// Bought: 100 VUSA.L at 8,000 GBp, fxRate 1.2 EUR per GBP: cost 100 × 80 GBP ×
// 1.2 = 9,600 EUR. On asOf GBPUSD=X 1.25 and EURUSD=X 1, so GBP→EUR is 1.25
// (through USD) and GBp→EUR 0.0125: VUSA.L closes at 9,000 GBp = 112.5 EUR, the
// holding is worth 100 × 112.5 = 11,250 EUR (9,000 GBP), 1,650 EUR above its
// cost.
//
// Targets VUSA.L 50%, AAPL 50%, band 5%, fractional shares: VUSA.L weighs 1,
// above its band [0.45, 0.55] × 11,250: it sells to its target value 5,625 EUR,
// 50 shares (5,625 EUR, 4,500 GBP). AAPL, 200 USD = 200 EUR, buys with the
// proceeds: at least 0.45 × 11,250 / 200 = 25.3125 shares, up to its target
// 5,625 / 200 = 28.125, which the 5,625 EUR pay for exactly (5,625 USD).
func TestGBpListingInAEURPortfolio(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := e.cmds.Create(context.Background(), command.Request{UserID: userA, CommandID: "gbp"}, portfolio.CreatePortfolio{Name: "gbp", BaseCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.AggregateID
	e.record(id, userA, portfolio.Transaction{Type: portfolio.Buy, Date: date("2025-06-02"), Symbol: "VUSA.L", Quantity: dec("100"), Price: dec("8000"),
		Currency: "GBp", FXRate: dec("1.2")})
	a := portfolio.TargetAllocation{DriftBand: dec("0.05"), Targets: []portfolio.Target{{Symbol: "VUSA.L", Weight: dec("0.5")}, {Symbol: "AAPL", Weight: dec("0.5")}}}
	if _, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: userA}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.SetTargets(a, meta)
	}); err != nil {
		t.Fatal(err)
	}
	p, err := e.cmds.LoadFull(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c := performance.NewCloses()
	for sym, px := range map[string]string{"VUSA.L": "9000", "AAPL": "200"} {
		if err := c.Add(sym, asOf, dec(px)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Seal(); err != nil {
		t.Fatal(err)
	}
	rates := currency.NewRates()
	for pair, r := range map[string]string{"GBP": "1.25", "EUR": "1"} {
		if err := rates.Add(asOf, pair, "USD", dec(r)); err != nil {
			t.Fatal(err)
		}
	}
	m := analyticsjob.Market{Closes: c, Rates: rates, Currencies: map[string]string{"AAPL": "USD"}}
	an, err := analyticsjob.Analyze(p, m, asOf, analyticsjob.Settings{Snapshot: true}, runTime)
	if err != nil {
		t.Fatal(err)
	}
	if mv := an.Result.MarketValue; !mv.Equal(dec("11250")) {
		t.Errorf("market value %s EUR, want 11250", mv)
	}
	if v := an.Valuation; v == nil || !v.MarketValue.Equal(dec("11250")) || !v.CostBasis.Equal(dec("9600")) || !v.UnrealizedPnL.Equal(dec("1650")) {
		t.Errorf("valuation %+v, want 11250 / 9600 / 1650 EUR", an.Valuation)
	}
	var plan struct {
		Currency string
		Trades   []struct {
			Symbol, Side    string
			Quantity, Price decimal.Decimal
			Value           decimal.Decimal `json:"estimatedValue"`
			Local           *struct {
				Currency string
				Price    decimal.Decimal
				Value    decimal.Decimal `json:"estimatedValue"`
			}
		}
	}
	if err := json.Unmarshal(an.Result.Rebalancing, &plan); err != nil {
		t.Fatalf("%s: %v", an.Result.Rebalancing, err)
	}
	type trade struct{ symbol, side, qty, price, value, local, localPrice, localValue string }
	want := []trade{{"VUSA.L", "SELL", "50", "112.5", "5625", "GBP", "90", "4500"}, {"AAPL", "BUY", "28.125", "200", "5625", "USD", "200", "5625"}}
	if plan.Currency != "EUR" || len(plan.Trades) != len(want) {
		t.Fatalf("plan %s", an.Result.Rebalancing)
	}
	for i, w := range want {
		tr := plan.Trades[i]
		if tr.Symbol != w.symbol || tr.Side != w.side || !tr.Quantity.Equal(dec(w.qty)) || !tr.Price.Equal(dec(w.price)) || !tr.Value.Equal(dec(w.value)) ||
			tr.Local == nil || tr.Local.Currency != w.local || !tr.Local.Price.Equal(dec(w.localPrice)) || !tr.Local.Value.Equal(dec(w.localValue)) {
			t.Errorf("trade %d: %s, want %+v", i, an.Result.Rebalancing, w)
		}
	}
}

// TestACurrencyWithoutAnyRateIsLeftOut: francs converted from euros (a
// conversion out of the base records no rate) with no CHF rate known are left
// out of a EUR portfolio's value, with a warning, not counted at 1: 1,000 EUR
// deposited, 500 converted into 550 CHF, is worth the 500 EUR left.
func TestACurrencyWithoutAnyRateIsLeftOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := e.cmds.Create(context.Background(), command.Request{UserID: userA, CommandID: "chf"}, portfolio.CreatePortfolio{Name: "chf", BaseCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	id, d := res.AggregateID, date("2025-06-02")
	e.record(id, userA, portfolio.Transaction{Type: portfolio.Deposit, Date: d, Amount: dec("1000"), Currency: "EUR"})
	e.record(id, userA, portfolio.Transaction{Type: portfolio.Conversion, Date: d, Amount: dec("500"), Currency: "EUR", ToAmount: dec("550"), ToCurrency: "CHF"})
	p, err := e.cmds.LoadFull(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	c := performance.NewCloses()
	if err := c.Seal(); err != nil {
		t.Fatal(err)
	}
	a, err := analyticsjob.Analyze(p, analyticsjob.Market{Closes: c, Rates: currency.NewRates()}, asOf, analyticsjob.Settings{}, runTime)
	if err != nil {
		t.Fatal(err)
	}
	if mv := a.Result.MarketValue; !mv.Equal(dec("500")) {
		t.Errorf("market value %s EUR, want 500 (the francs left out)", mv)
	}
	if !hasWarning(a.Result.Report.Warnings, "no CHF→EUR rate is in force on 2025-06-30: what is in CHF is left out of the value") {
		t.Errorf("warnings %q", a.Result.Report.Warnings)
	}
}

// seedQuotes writes closes every weekday from 2025-05-30 to 2025-06-27 (the
// first of each pair) and on asOf (the second), and the latest prices' quote
// currencies of quoted (by symbol).
func (e *env) seedQuotes(closes map[string][2]string, quoted map[string]string) {
	e.t.Helper()
	var rows []readmodel.DailyClose
	for d := date("2025-05-30"); d <= asOf; d++ {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for sym, c := range closes {
			px := c[0]
			if d == asOf {
				px = c[1]
			}
			rows = append(rows, readmodel.DailyClose{Symbol: sym, Day: d, Close: dec(px), AsOf: d.Time().Add(20 * time.Hour), Source: "test"})
		}
	}
	ctx := context.Background()
	if _, err := e.closes.UpsertDailyCloses(ctx, rows); err != nil {
		e.t.Fatal(err)
	}
	latest, ok := e.closes.(interface {
		UpsertLatestPrices(ctx context.Context, prices []readmodel.LatestPrice) (int64, error)
	})
	if !ok {
		e.t.Fatal("the closes store keeps no latest prices")
	}
	var lps []readmodel.LatestPrice
	for sym, code := range quoted {
		lps = append(lps, readmodel.LatestPrice{Symbol: sym, Price: dec(closes[sym][1]), Currency: code, AsOf: runTime, Source: "test"})
	}
	if _, err := latest.UpsertLatestPrices(ctx, lps); err != nil {
		e.t.Fatal(err)
	}
}

// runDaily records one portfolio in base with txs, projects it, runs the daily
// analytics with benchmark, and returns its id.
func (e *env) runDaily(base, benchmark string, txs ...portfolio.Transaction) string {
	e.t.Helper()
	ctx := context.Background()
	res, err := e.cmds.Create(ctx, command.Request{UserID: userA, CommandID: base}, portfolio.CreatePortfolio{Name: base, BaseCurrency: base})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, tx := range txs {
		e.record(res.AggregateID, userA, tx)
	}
	e.project(res.AggregateID)
	j := e.job(nil, analyticsjob.Options{Settings: analyticsjob.Settings{Benchmark: benchmark}})
	if sum, err := j.RunScheduled(ctx, analyticsjob.ScheduledRun{Mode: analyticsjob.ModeDaily}); err != nil || sum.Computed != 1 {
		e.t.Fatalf("daily run %+v %v", sum, err)
	}
	return res.AggregateID
}

// TestPenceClosesOfAPoundTrade: a close is in its symbol's quote currency (the
// latest price's), not in the unit its trades are recorded in. A EUR investor
// records BUY 10 VUSA.L @ 76 GBP, fxRate 1.2 (912 EUR) on 2025-06-02; VUSA.L
// quotes in GBp: it closes at 7600 GBp to 2025-06-27, 7980 GBp on asOf.
// GBPUSD=X 1.5 then 1.6, EURUSD=X 1.25: GBP→EUR 1.5 × 0.8 = 1.2, then 1.6 ×
// 0.8 = 1.28.
//
//	to 06-27  10 × 7600 GBp = 760 GBP × 1.2   = 912 EUR
//	asOf      10 × 7980 GBp = 798 GBP × 1.28  = 1,021.44 EUR (not 102,144: the pence read as pounds)
//	TWR       1,021.44 / 912 − 1 = 0.12
//	snapshot  1,021.44 EUR against a cost of 912: 109.44 unrealized
//
// The benchmark ISF.L has closes (800 GBp, then 900) but no latest price: its
// listing says pence (not the dollar default). In EUR 800 × 0.012 = 9.6, then
// 900 × 0.0128 = 11.52: 11.52 / 9.6 − 1 = 0.2 (in dollars at a constant 0.8 it
// would be 0.125).
func TestPenceClosesOfAPoundTrade(t *testing.T) {
	t.Parallel()
	for name, newE := range map[string]func(*testing.T) *env{"memory": newEnv, "postgres": newDynamoEnv} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newE(t)
			e.seedQuotes(map[string][2]string{"VUSA.L": {"7600", "7980"}, "ISF.L": {"800", "900"}, "GBPUSD=X": {"1.5", "1.6"}, "EURUSD=X": {"1.25", "1.25"}},
				map[string]string{"VUSA.L": "GBp"})
			id := e.runDaily("EUR", "ISF.L", portfolio.Transaction{Type: portfolio.Buy, Date: date("2025-06-02"), Symbol: "VUSA.L",
				Quantity: dec("10"), Price: dec("76"), Currency: "GBP", FXRate: dec("1.2")})
			ctx := context.Background()
			m, err := e.metrics.LatestMetrics(ctx, userA, id)
			if err != nil {
				t.Fatal(err)
			}
			if !m.MarketValue.Equal(dec("1021.44")) {
				t.Errorf("market value %s EUR, want 1021.44", m.MarketValue)
			}
			if twr := m.Report.TWR.Period; !twr.OK || math.Abs(twr.Value-0.12) > 1e-12 {
				t.Errorf("TWR in EUR %+v, want 0.12", twr)
			}
			if b := m.Report.Benchmark; !b.Return.OK || math.Abs(b.Return.Value-0.2) > 1e-12 {
				t.Errorf("benchmark return in EUR %+v, want 0.2", b.Return)
			}
			if len(m.Report.Warnings) != 0 {
				t.Errorf("warnings %q", m.Report.Warnings)
			}
			vals, err := e.valuations.ValuationHistory(ctx, userA, id, runTime.Add(-48*time.Hour), runTime, 10)
			if err != nil || len(vals) != 1 {
				t.Fatalf("valuations %+v %v", vals, err)
			}
			if v := vals[0]; !v.MarketValue.Equal(dec("1021.44")) || !v.CostBasis.Equal(dec("912")) || !v.UnrealizedPnL.Equal(dec("109.44")) || len(v.Unpriced) != 0 {
				t.Errorf("valuation %+v, want 1021.44 / 912 / 109.44 EUR", v)
			}
		})
	}
}

// TestDollarClosesOfAEuroTrade: closes in another settlement currency than a
// symbol's trades are another listing's price, not its own. A GBP investor
// records BUY 10 AAPL @ 180 EUR, fxRate 0.85 (1,530 GBP) on 2025-06-02; AAPL
// quotes (and closes) at 200 USD. GBPUSD=X 1.25 (USD→GBP 0.8), EURUSD=X 1.0625
// then 1.125: EUR→GBP 0.85, then 0.9.
//
// As the positions API does, the position is unpriced with a warning: the
// market value is 0 (no cash account) and the snapshot lists AAPL unpriced
// (read as euros, the closes made it 10 × 200 × 0.9 = 1,800 GBP). The value
// series cannot drop it to 0 (a −100% day), so it values it as a holding
// without closes, at its trade price, and warns:
//
//	to 06-27  10 × 180 EUR × 0.85 = 1,530 GBP
//	asOf      10 × 180 EUR × 0.9  = 1,620 GBP
//	TWR       1,620 / 1,530 − 1 = 1/17 (the euro's rise alone)
func TestDollarClosesOfAEuroTrade(t *testing.T) {
	t.Parallel()
	for name, newE := range map[string]func(*testing.T) *env{"memory": newEnv, "postgres": newDynamoEnv} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newE(t)
			e.seedQuotes(map[string][2]string{"AAPL": {"200", "200"}, "GBPUSD=X": {"1.25", "1.25"}, "EURUSD=X": {"1.0625", "1.125"}},
				map[string]string{"AAPL": "USD"})
			id := e.runDaily("GBP", "SPY", portfolio.Transaction{Type: portfolio.Buy, Date: date("2025-06-02"), Symbol: "AAPL",
				Quantity: dec("10"), Price: dec("180"), Currency: "EUR", FXRate: dec("0.85")})
			ctx := context.Background()
			m, err := e.metrics.LatestMetrics(ctx, userA, id)
			if err != nil {
				t.Fatal(err)
			}
			if !m.MarketValue.IsZero() {
				t.Errorf("market value %s GBP, want 0 (AAPL unpriced)", m.MarketValue)
			}
			if twr := m.Report.TWR.Period; !twr.OK || math.Abs(twr.Value-1.0/17) > 1e-12 {
				t.Errorf("TWR in GBP %+v, want 1/17", twr)
			}
			for _, w := range []string{
				"the close of AAPL is in USD, its trades in EUR: it is left unpriced",
				"AAPL is held on 2025-06-02 but its closes are in USD and its trades in EUR; it is valued at its last trade price",
			} {
				if !hasWarning(m.Report.Warnings, w) {
					t.Errorf("warnings %q, want %q", m.Report.Warnings, w)
				}
			}
			vals, err := e.valuations.ValuationHistory(ctx, userA, id, runTime.Add(-48*time.Hour), runTime, 10)
			if err != nil || len(vals) != 1 {
				t.Fatalf("valuations %+v %v", vals, err)
			}
			if v := vals[0]; !v.MarketValue.IsZero() || len(v.Unpriced) != 1 || v.Unpriced[0] != "AAPL" {
				t.Errorf("valuation %+v, want AAPL unpriced", v)
			}
		})
	}
}

// TestCurrenciesOfUnquotedSymbols: a benchmark or target without a latest
// price needs its listing's currency (ISF.L: pence, whose rate is the pound's),
// not a flat USD; one with a quote needs the quote's.
func TestCurrenciesOfUnquotedSymbols(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := e.cmds.Create(context.Background(), command.Request{UserID: userA, CommandID: "eur"}, portfolio.CreatePortfolio{Name: "eur", BaseCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.AggregateID
	e.record(id, userA, portfolio.Transaction{Type: portfolio.Buy, Date: date("2025-06-02"), Symbol: "SAP", Quantity: dec("1"), Price: dec("100"), Currency: "EUR"})
	a := portfolio.TargetAllocation{DriftBand: dec("0.05"), Targets: []portfolio.Target{{Symbol: "SAP", Weight: dec("0.5")}, {Symbol: "NESN.SW", Weight: dec("0.5")}}}
	if _, err := e.cmds.Execute(context.Background(), command.Request{AggregateID: id, UserID: userA}, func(p *portfolio.Portfolio, meta portfolio.Meta) error {
		return p.SetTargets(a, meta)
	}); err != nil {
		t.Fatal(err)
	}
	p, err := e.cmds.LoadFull(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	txs, err := p.Transactions()
	if err != nil {
		t.Fatal(err)
	}
	got := analyticsjob.Currencies(p, txs, "ISF.L", map[string]string{"NESN.SW": "USD"})
	if want := []string{"EUR", "GBp", "USD"}; !slices.Equal(got, want) {
		t.Errorf("currencies %v, want %v", got, want)
	}
	got = analyticsjob.Currencies(p, txs, "ISF.L", nil)
	if want := []string{"CHF", "EUR", "GBp"}; !slices.Equal(got, want) {
		t.Errorf("currencies without quotes %v, want %v", got, want)
	}
}
