package analyticsjob

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/analytics/rebalance"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// Settings are the analysis conventions of a run. Benchmark, WholeShares and
// MinTradeValue are only the defaults of the portfolios that never set analytics
// settings of their own (portfolio.ChangeAnalyticsSettings); a portfolio's own
// settings replace all three (ForPortfolio).
type Settings struct {
	// Benchmark is the symbol beta and alpha are measured against (default SPY).
	Benchmark string
	// RiskFreeRate is annual (0.04 is 4%).
	RiskFreeRate float64
	// CorrelationTop is passed to analytics.Options (0: its default).
	CorrelationTop int
	// WholeShares and MinTradeValue shape the rebalancing trades.
	WholeShares   bool
	MinTradeValue decimal.Decimal
	// Snapshot adds Analysis.Valuation, the valuation at the close (the daily run
	// records it in the valuations read model); it replays the lot engine for the
	// cost basis.
	Snapshot bool
	// NoRebalancing skips the rebalancing plan (a few milliseconds for hundreds
	// of holdings, all of it decimal arithmetic).
	NoRebalancing bool
	// WeekReturns adds Analysis.WeekReturns, each holding's return over the
	// seven days to the day (the weekly summary's best and worst holdings).
	WeekReturns bool
}

// ForPortfolio is s with p's own analytics settings (benchmark, whole shares,
// minimum trade value) in place of the run's defaults when p has set them, and
// the benchmark defaulted to SPY when neither names one.
func (s Settings) ForPortfolio(p *portfolio.Portfolio) Settings {
	if own, ok := p.ChosenAnalyticsSettings(); ok {
		s.Benchmark, s.WholeShares, s.MinTradeValue = own.Benchmark, own.WholeShares, own.MinTradeValue
	}
	if s.Benchmark == "" {
		s.Benchmark = analytics.DefaultBenchmarkSymbol
	}
	return s
}

// PortfolioRef names a portfolio, its owner and the aggregate version computed.
type PortfolioRef struct {
	ID      string
	UserID  string
	Version int64
}

// Result is what one computation of one portfolio stores.
type Result struct {
	Portfolio PortfolioRef
	// AsOf is the last day of the series: the stored figures' key with the
	// portfolio.
	AsOf calendar.Date
	// Scheduled marks a daily or weekly run's figures (valued with the
	// session's closes).
	Scheduled   bool
	Benchmark   string
	MarketValue decimal.Decimal
	// CurrentDrawdown is the fall of the TWR wealth index from its peak on AsOf.
	CurrentDrawdown float64
	Report          analytics.Report
	// Series, when not nil, replaces the stored value series.
	Series *performance.Series
	// Rebalancing, when not nil, replaces the stored recommendation (JSON).
	Rebalancing json.RawMessage
	ComputedAt  time.Time
}

// Analysis is one portfolio's figures as of a day.
type Analysis struct {
	Result Result
	// Weights are the open positions' weights in the market value (cash included
	// when the history keeps a cash account), by symbol, for weight_drift rules.
	Weights map[string]decimal.Decimal
	// Symbols are every symbol the history trades.
	Symbols []string
	// Valuation is set with Settings.Snapshot: the open positions priced at the
	// day's closes, as the prices function values them (cash not included).
	Valuation *portfolio.Valuation
	// LeftOut counts the stored transactions left out of the figures (see Analyze).
	LeftOut int
	// Name, BaseCurrency and Targets are the portfolio's (the weekly summary's).
	Name         string
	BaseCurrency string
	Targets      *portfolio.TargetAllocation
	// WeekReturns is set with Settings.WeekReturns: each open position's price
	// return over the seven days to the day, in the base currency (closes on or
	// before each end, converted at that day's rate); a holding without both
	// closes has none.
	WeekReturns map[string]float64
}

// Symbols returns every symbol p's transactions trade, and its target symbols,
// sorted: the closes an analysis needs besides the benchmark's.
func Symbols(p *portfolio.Portfolio, txs []portfolio.Transaction) []string {
	seen := map[string]bool{}
	for i := range txs {
		if s := txs[i].Symbol; s != "" {
			seen[s] = true
		}
	}
	if t, ok := p.Targets(); ok {
		for _, x := range t.Targets {
			seen[x.Symbol] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// FirstDay is the date of p's first active transaction, or false when it has none.
func FirstDay(txs []portfolio.Transaction) (calendar.Date, bool) {
	if len(txs) == 0 {
		return 0, false
	}
	return txs[0].Date, true // replay order is by date first
}

// Analyze computes p's figures over its whole history up to asOf, in its base
// currency, valued with m (whose closes must hold those of Symbols and of the
// benchmark, set.ForPortfolio(p).Benchmark, from the first transaction on, and
// whose rates those of Currencies). p must carry its full history
// (command.LoadFull). It does no I/O, so the stream, the schedules and the
// benchmarks share it.
//
// A holding is worth quantity × close × the rate in force of its trading
// currency, the cash of each currency its balance × its rate; the benchmark's
// closes are converted likewise, so beta and alpha compare returns in the base.
// A close is in its symbol's quote currency (m.Currencies): one in another unit
// of the trading currency's settlement currency is converted exactly (GBp
// closes of a holding traded in GBP); one in another settlement currency is
// another listing's, not the holding's price: the position is unpriced, with a
// warning, as the positions API leaves it (the value series, which cannot drop
// it, values it at its last trade price, also with a warning). A currency without a rate on asOf is converted at its latest
// transaction's rate, with a warning; without any, what is in it is left out,
// with a warning (never valued at a silent 1).
//
// History stored before the bounds existed may hold what no figure can be
// computed from (a trade in year 0, a split of 9223372036854775807:1): such
// transactions are left out, as the projector leaves them out of positions and
// totals (lots.ApplyStored), and the report says so in its warnings.
func Analyze(p *portfolio.Portfolio, m Market, asOf calendar.Date, set Settings, now time.Time) (Analysis, error) {
	txs, err := p.Transactions()
	if err != nil {
		return Analysis{}, err
	}
	set = set.ForPortfolio(p)
	base := p.BaseCurrency()
	ref := PortfolioRef{ID: p.ID(), UserID: p.Owner(), Version: p.Version()}
	a := Analysis{Symbols: Symbols(p, txs), Weights: map[string]decimal.Decimal{}, Name: p.Name(), BaseCurrency: base}
	if t, ok := p.Targets(); ok {
		a.Targets = &t
	}
	res := Result{Portfolio: ref, AsOf: asOf, Benchmark: set.Benchmark, ComputedAt: now.UTC()}

	// Transactions dated after asOf (a trade recorded for tomorrow's settlement)
	// are left out: the figures are as of the day.
	for len(txs) > 0 && txs[len(txs)-1].Date > asOf {
		txs = txs[:len(txs)-1]
	}
	book := lots.New(p.LotMethod(), base)
	txs, leftOut := book.ApplyStored(txs)
	a.LeftOut = len(leftOut)
	first, ok := FirstDay(txs)
	opts := analytics.Options{RiskFreeRate: set.RiskFreeRate, CorrelationTop: set.CorrelationTop}
	var series *performance.Series
	if ok {
		fx := performance.FX{Base: base, Rates: m.Rates, CloseCurrency: m.Currencies}
		if fx.Rates == nil {
			fx.Rates = currency.NewRates()
		}
		if series, err = performance.BuildFX(txs, m.Closes, fx, first, asOf); err != nil {
			return Analysis{}, fmt.Errorf("value series of %s: %w", p.ID(), err)
		}
		res.Series = series
	}

	// Positions at asOf, exactly: quantities from the replay, prices from the
	// closes (the last trade price for a symbol without one, as the series does),
	// converted into the base at the day's rates.
	pos := positions(txs)
	fx := newFXAt(base, asOf, m.Rates, txs)
	px := pricesAt(a.Symbols, pos, m, fx, asOf)
	total := pos.cashIn(fx)
	type held struct {
		sym   string
		value decimal.Decimal
	}
	var hs []held
	for _, sym := range a.Symbols {
		q := pos.qty[sym]
		price, ok := px.base[sym]
		if q.Sign() == 0 || !ok {
			continue
		}
		v := q.Mul(price)
		hs = append(hs, held{sym, v})
		total = total.Add(v)
	}
	res.MarketValue = total
	slices.SortFunc(hs, func(x, y held) int { return cmp.Or(y.value.Cmp(x.value), cmp.Compare(x.sym, y.sym)) })
	if total.Sign() > 0 {
		for _, h := range hs {
			a.Weights[h.sym] = h.value.DivRound(total, 10)
		}
	}

	if series != nil {
		top := set.CorrelationTop
		if top == 0 {
			top = analytics.DefaultCorrelationTop
		}
		opts.Holdings = make([]analytics.Holding, len(hs))
		for i, h := range hs {
			opts.Holdings[i] = analytics.Holding{Symbol: h.sym, Value: h.value.InexactFloat64()}
			if i < top {
				opts.Holdings[i].Closes = convertDaily(aligned(m.Closes, h.sym, series.Days), px.quote[h.sym], base, m.Rates, series.Days)
			}
		}
		var warning string
		opts.Benchmark, warning = convertBenchmark(benchmark(m.Closes, set.Benchmark, series.Days),
			closeCurrency(set.Benchmark, pos.currency, m.Currencies), base, m.Rates)
		if warning != "" {
			fx.warnings = append(fx.warnings, warning)
		}
		res.CurrentDrawdown = currentDrawdown(series)
	}
	res.Report = analytics.Compute(series, opts)
	if series != nil {
		for _, w := range series.Warnings {
			res.Report.Warnings = append(res.Report.Warnings, w.String())
		}
	}
	for _, lo := range leftOut {
		tx := lo.Transaction
		res.Report.Warnings = append(res.Report.Warnings, fmt.Sprintf("transaction %s (%s %s on %s) is left out of the figures: %v",
			tx.ID, tx.Type, tx.Symbol, tx.Date, lo.Err))
	}

	if set.Snapshot {
		a.Valuation = valuation(p, book, m, fx, asOf)
	}
	if set.WeekReturns {
		a.WeekReturns = make(map[string]float64, len(hs))
		for _, h := range hs {
			if r, ok := weekReturn(m, h.sym, px.quote[h.sym], base, asOf); ok {
				a.WeekReturns[h.sym] = r
			}
		}
	}
	if t, ok := p.Targets(); ok && !set.NoRebalancing {
		res.Rebalancing = rebalancing(t, pos, px, base, fx, set)
	}
	res.Report.Warnings = append(res.Report.Warnings, fx.warnings...)
	a.Result = res
	return a, nil
}

// prices are the symbols' prices at a day: in their trading currency (local,
// pence for GBp), in the base (local × the currency's rate), the currency, and
// the currency of their closes (quote).
type prices struct {
	local, base     map[string]decimal.Decimal
	currency, quote map[string]string
}

// pricesAt prices syms on asOf: the close in force (in the trading currency:
// pence made pounds or pounds pence), else the last trade price; in the base at
// fx's rates (a symbol whose currency has no rate has a local price only). A
// symbol whose closes are in another settlement currency than its trades has
// no price, and a warning says so.
func pricesAt(syms []string, pos book, m Market, fx *fxAt, asOf calendar.Date) prices {
	out := prices{local: map[string]decimal.Decimal{}, base: map[string]decimal.Decimal{}, currency: map[string]string{}, quote: map[string]string{}}
	for _, sym := range syms {
		cur, quote := symbolCurrency(sym, pos.currency, m.Currencies), closeCurrency(sym, pos.currency, m.Currencies)
		out.currency[sym], out.quote[sym] = cur, quote
		px, _, ok := m.Closes.On(sym, asOf)
		if ok {
			if px, ok = closeIn(sym, px, quote, cur, fx); !ok {
				continue
			}
		} else {
			px, ok = pos.lastPrice[sym]
		}
		if !ok {
			continue
		}
		out.local[sym] = px
		if v, ok := fx.inBase(cur, px); ok {
			out.base[sym] = v
		}
	}
	return out
}

// closeIn is the close px of sym, quoted in quote, in its trading currency:
// as it is, or in another unit of the same settlement currency exactly (7600
// GBp is 76 GBP); false, with a warning, when it is quoted in another
// settlement currency (another listing's price, not this holding's).
func closeIn(sym string, px decimal.Decimal, quote, trading string, fx *fxAt) (decimal.Decimal, bool) {
	price, ok := currency.InUnit(quote, px, trading)
	if !ok && !fx.warned["close "+sym] {
		fx.warned["close "+sym] = true
		fx.warnings = append(fx.warnings, fmt.Sprintf("the close of %s is in %s, its trades in %s: it is left unpriced", sym, quote, trading))
	}
	return price, ok
}

// valuation is the snapshot at asOf of the positions with a close, in the
// base, with their cost basis from the lot engine (book: the history up to
// asOf, in the portfolio's lot method, at each transaction's rate); those
// without a close, with a close in another settlement currency than their
// trades, or without a rate are Unpriced. AsOf is set by the caller (the
// close's instant).
func valuation(p *portfolio.Portfolio, book *lots.Book, m Market, fx *fxAt, asOf calendar.Date) *portfolio.Valuation {
	v := &portfolio.Valuation{PortfolioID: p.ID(), UserID: p.Owner()}
	for _, pos := range book.Positions() {
		if pos.Quantity.Sign() == 0 {
			continue
		}
		px, _, ok := m.Closes.On(pos.Symbol, asOf)
		var rate decimal.Decimal
		if ok {
			trading := pos.Currency
			if trading == "" { // a history recorded before trades carried a currency
				trading = p.BaseCurrency()
			}
			quote := m.Currencies[pos.Symbol]
			if quote == "" {
				quote = trading
			}
			px, ok = closeIn(pos.Symbol, px, quote, trading, fx)
		}
		if ok {
			rate, ok = fx.inBase(pos.Local.Currency, decimal.NewFromInt(1))
		}
		if !ok {
			v.Unpriced = append(v.Unpriced, pos.Symbol)
			continue
		}
		v.MarketValue = v.MarketValue.Add(pos.ValueAt(px, rate).MarketValue)
		v.CostBasis = v.CostBasis.Add(pos.CostBasis)
	}
	v.UnrealizedPnL = v.MarketValue.Sub(v.CostBasis)
	return v
}

// book is the replayed state at the end of the transactions.
type book struct {
	qty       map[string]decimal.Decimal
	lastPrice map[string]decimal.Decimal // last BUY/SELL price, split-adjusted
	currency  map[string]string          // a symbol's trading currency, as its trades record it
	cash      map[string]decimal.Decimal // by settlement currency; empty without a cash account
}

// positions replays txs (replay order) into quantities and, with a cash account,
// the cash balance of each currency, as performance.BuildFX values them.
func positions(txs []portfolio.Transaction) book {
	b := book{qty: map[string]decimal.Decimal{}, lastPrice: map[string]decimal.Decimal{}, currency: map[string]string{},
		cash: map[string]decimal.Decimal{}}
	cashAccount := false
	cash := map[string]decimal.Decimal{}
	for i := range txs {
		tx := &txs[i]
		settle := tx.Settlement()
		cash[settle] = cash[settle].Add(tx.CashEffect())
		if tx.Type == portfolio.Conversion {
			cash[tx.ToCurrency] = cash[tx.ToCurrency].Add(tx.ToAmount)
		}
		if tx.Symbol != "" && tx.Currency != "" && tx.Type.IsTrade() {
			b.currency[tx.Symbol] = tx.Currency
		}
		switch tx.Type {
		case portfolio.Deposit, portfolio.Withdrawal:
			cashAccount = true
		case portfolio.Buy:
			b.qty[tx.Symbol] = b.qty[tx.Symbol].Add(tx.Quantity)
			b.lastPrice[tx.Symbol] = tx.Price
		case portfolio.Sell:
			left, _ := portfolio.ApplySell(b.qty[tx.Symbol], tx.Quantity)
			b.qty[tx.Symbol] = left
			b.lastPrice[tx.Symbol] = tx.Price
		case portfolio.Split:
			b.qty[tx.Symbol] = tx.Ratio.Apply(b.qty[tx.Symbol])
			if px, ok := b.lastPrice[tx.Symbol]; ok {
				b.lastPrice[tx.Symbol] = px.Mul(decimal.NewFromInt(tx.Ratio.Old)).DivRound(decimal.NewFromInt(tx.Ratio.New), 10)
			}
		}
	}
	if cashAccount {
		b.cash = cash
	}
	return b
}

// cashIn is the cash of every currency in the base at fx's rates (a currency
// without a rate is left out, with fx's warning).
func (b book) cashIn(fx *fxAt) decimal.Decimal {
	var total decimal.Decimal
	for _, c := range slices.Sorted(maps.Keys(b.cash)) {
		if b.cash[c].IsZero() {
			continue
		}
		if v, ok := fx.inBase(c, b.cash[c]); ok {
			total = total.Add(v)
		}
	}
	return total
}

// aligned is sym's close in force on each day (carried forward), NaN before its
// first close, as analytics.Holding wants.
func aligned(c *performance.Closes, sym string, days []calendar.Date) []float64 {
	out := make([]float64, len(days))
	for i, d := range days {
		px, _, ok := c.OnFloat(sym, d)
		if !ok {
			px = math.NaN()
		}
		out[i] = px
	}
	return out
}

// benchmark is sym's closes on the days it has one, from the last close before
// the series (the opening anchor) to its end; nil without any.
func benchmark(c *performance.Closes, sym string, days []calendar.Date) *analytics.Benchmark {
	if len(days) == 0 {
		return nil
	}
	b := &analytics.Benchmark{Symbol: sym}
	if px, d, ok := c.OnFloat(sym, days[0]-1); ok {
		b.Days, b.Closes = append(b.Days, d), append(b.Closes, px)
	}
	for _, d := range days {
		if px, cd, ok := c.OnFloat(sym, d); ok && cd == d {
			b.Days, b.Closes = append(b.Days, d), append(b.Closes, px)
		}
	}
	if len(b.Days) == 0 {
		return &analytics.Benchmark{Symbol: sym}
	}
	return b
}

// currentDrawdown is 1 − W_last / max W of the TWR wealth index (the drawdown
// alert's metric: how far below its peak the portfolio is now, where the report's
// maximum drawdown is the worst it has ever been).
func currentDrawdown(s *performance.Series) float64 {
	w, peak := 1.0, 1.0
	for _, r := range s.DailyReturns() {
		w *= 1 + r
		peak = max(peak, w)
	}
	if !(peak > 0) || math.IsInf(peak, 0) {
		return 0
	}
	return max(0, 1-w/peak)
}

// rebalancing plans the trades back into the target bands, as JSON for the read
// model: the plan, or {"error": ...} when the inputs do not allow one (a target
// without any price, or without a rate for its currency). The plan is in the
// base (weights, values, prices: a symbol's price is its close × its currency's
// rate, the cash the balances at their rates); quantities are shares, and each
// trade of a symbol in another currency also shows its price and value in that
// currency's settlement currency (local).
func rebalancing(t portfolio.TargetAllocation, b book, px prices, base string, fx *fxAt, set Settings) json.RawMessage {
	in := rebalance.Input{
		Holdings:      map[string]decimal.Decimal{},
		Prices:        map[string]decimal.Decimal{},
		Cash:          b.cashIn(fx),
		Targets:       map[string]decimal.Decimal{},
		Band:          t.DriftBand,
		WholeShares:   set.WholeShares,
		MinTradeValue: set.MinTradeValue,
	}
	for sym, q := range b.qty {
		if q.Sign() != 0 {
			in.Holdings[sym] = q
			in.Prices[sym] = px.base[sym]
		}
	}
	var missing []string
	for _, x := range t.Targets {
		in.Targets[x.Symbol] = x.Weight
		if p, ok := px.base[x.Symbol]; ok {
			in.Prices[x.Symbol] = p
		}
	}
	for sym := range in.Holdings {
		if _, ok := px.base[sym]; !ok {
			missing = append(missing, sym)
		}
	}
	for sym := range in.Targets {
		if _, ok := px.base[sym]; !ok && !slices.Contains(missing, sym) {
			missing = append(missing, sym)
		}
	}
	var v any
	if len(missing) > 0 {
		slices.Sort(missing)
		v = map[string]any{"error": "no price (or no exchange rate into " + base + ") for " + fmt.Sprint(missing), "missingPrices": missing}
	} else if plan, err := rebalance.Rebalance(in); err != nil {
		v = map[string]any{"error": err.Error()}
	} else {
		v = withLocal(plan, base, px)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		raw, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return raw
}

// fxPlan is a rebalancing plan in the base with each trade's local figures.
type fxPlan struct {
	rebalance.Plan
	Currency string    `json:"currency"`
	Trades   []fxTrade `json:"trades"`
}

// fxTrade is a trade of the plan (in the base) with, for a symbol traded in
// another currency, its price and value in that currency's settlement currency.
type fxTrade struct {
	rebalance.Trade
	Local *localTrade `json:"local,omitempty"`
}

type localTrade struct {
	Currency string          `json:"currency"`
	Price    decimal.Decimal `json:"price"`
	Value    decimal.Decimal `json:"estimatedValue"`
}

// withLocal is plan with its currency and each foreign trade's local figures:
// the close converted to its settlement currency (pence made pounds) and the
// quantity times it.
func withLocal(plan rebalance.Plan, base string, px prices) fxPlan {
	out := fxPlan{Plan: plan, Currency: base, Trades: make([]fxTrade, len(plan.Trades))}
	for i, tr := range plan.Trades {
		out.Trades[i].Trade = tr
		code := px.currency[tr.Symbol]
		settle, _ := currency.Settlement(code)
		if settle == base {
			continue
		}
		local := currency.ToSettlement(code, px.local[tr.Symbol])
		out.Trades[i].Local = &localTrade{Currency: settle, Price: local, Value: tr.Quantity.Mul(local)}
	}
	return out
}
