package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/activities"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
	"github.com/shopspring/decimal"
)

const calcUsage = `usage: tracker calc --activities FILE --prices FILE [--base-currency CODE] [--fx FILE]
                   [--as-of DATE] [--lot-method fifo|average]

Reads an activity file (Ghostfolio's export JSON, our own JSON, or Ghostfolio-style
CSV when the name ends in .csv) and a prices CSV ("date,symbol,close"), and prints
holdings, totals and returns as of a date, in the base currency, as JSON on stdout.
Decimals are strings.

  --activities FILE      the activity file; each activity is in its own "currency"
                         (GBp: a London price in pence)
  --prices FILE          daily closes, CSV "date,symbol,close", each in its symbol's
                         trading currency (the currency of its trades)
  --base-currency CODE   the ISO 4217 currency of every figure but the "local" ones
                         (default USD)
  --fx FILE              exchange rates, CSV "date,from,to,rate" (header optional):
                         2024-01-02,EUR,USD,1.1042 means 1 EUR = 1.1042 USD. The rate
                         in force on a day is the last one on or before it; inverses
                         and crosses through USD are derived. Needed as soon as an
                         activity is in another currency than the base: each such
                         activity is booked at its date's rate (unless it carries its
                         own "fxRate"), and holdings and cash are valued at the as-of
                         rates (a holding without a rate is left unpriced, warned).
  --as-of DATE           YYYY-MM-DD; only activities on or before it count, holdings
                         are valued at each symbol's last close on or before it.
                         Default: the last date in the activities or the prices,
                         whichever is later.
  --lot-method M         fifo (default) or average

Exit status: 0 on success, 2 on bad flags or bad input (one line on stderr naming
the file, the record and what is wrong), 1 on an internal error.

Environment: GOMEMLIMIT replaces calc's default soft memory limit of 48 MiB.
`

// calcMemoryLimit is calc's soft memory limit (runtime/debug.SetMemoryLimit).
const calcMemoryLimit = 48 << 20

// calcOptions are calc's validated flags.
type calcOptions struct {
	activities string
	prices     string
	asOf       calendar.Date
	hasAsOf    bool
	method     portfolio.LotMethod
	base       string
	fx         string // "" when no rates file is given
}

func runCalc(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("calc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	activitiesPath := fs.String("activities", "", "")
	pricesPath := fs.String("prices", "", "")
	asOf := fs.String("as-of", "", "")
	method := fs.String("lot-method", "fifo", "")
	base := fs.String("base-currency", "USD", "")
	fxPath := fs.String("fx", "", "")
	fail := inputFailer("calc", stderr)
	if code, done := parseFlags(fs, args, calcUsage, stdout, fail); done {
		return code
	}
	opt := calcOptions{activities: *activitiesPath, prices: *pricesPath, base: *base, fx: *fxPath}
	if opt.activities == "" {
		return fail("--activities is required")
	}
	if opt.prices == "" {
		return fail("--prices is required")
	}
	if *asOf != "" {
		d, err := calendar.Parse(*asOf)
		if err != nil {
			return fail("--as-of: %v", err)
		}
		opt.asOf, opt.hasAsOf = d, true
	}
	m, err := portfolio.ParseLotMethod(*method)
	if err != nil {
		return fail("--lot-method: %q is not fifo or average", *method)
	}
	opt.method = m
	if !currency.IsISO(opt.base) {
		return fail("--base-currency: %q is not an ISO 4217 code such as USD or EUR", opt.base)
	}

	// The operator CLI has a 64 MB budget. GOGC=100 lets the heap grow to twice the
	// live data before collecting, which on the benchmark data set (about 25 MB live)
	// sometimes pushed the peak RSS past it; a soft limit makes the GC collect
	// earlier instead. GOMEMLIMIT in the environment wins.
	if env.String("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(calcMemoryLimit))
	}
	rep, err := calc(opt)
	if err != nil {
		fmt.Fprintln(stderr, oneLine(err.Error()))
		return exitInput
	}
	out, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "tracker calc: internal error: %v\n", err)
		return exitInternal
	}
	if _, err := stdout.Write(append(out, '\n')); err != nil {
		fmt.Fprintf(stderr, "tracker calc: writing the result: %v\n", err)
		return exitInternal
	}
	return exitOK
}

// oneLine guards the one-line promise for messages that come from elsewhere.
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ") }

// calcReport is calc's output. Money and quantities are decimal strings, in
// BaseCurrency unless a field says otherwise.
type calcReport struct {
	AsOf         string          `json:"asOf"`
	BaseCurrency string          `json:"baseCurrency"`
	LotMethod    string          `json:"lotMethod"`
	Holdings     []holdingReport `json:"holdings"`
	Totals       totalsReport    `json:"totals"`
	Cash         []cashReport    `json:"cash"`
	Performance  perfReport      `json:"performance"`
	Warnings     []string        `json:"warnings"`
}

// holdingReport is one symbol. The market figures are omitted when the symbol has
// no close on or before the as-of date, or its currency no rate into the base;
// PriceDate is the date of the close used. Currency is the trading currency (of
// MarketPrice: GBp for pence), FXRate the as-of rate of its settlement currency
// (Local.Currency) into the base. PriceEffect + CurrencyEffect = UnrealizedPnL.
type holdingReport struct {
	Symbol         string      `json:"symbol"`
	Currency       string      `json:"currency"`
	Quantity       string      `json:"quantity"`
	CostBasis      string      `json:"costBasis"`
	AveragePrice   string      `json:"averagePrice"`
	MarketPrice    string      `json:"marketPrice,omitempty"`
	PriceDate      string      `json:"priceDate,omitempty"`
	FXRate         string      `json:"fxRate,omitempty"`
	MarketValue    string      `json:"marketValue,omitempty"`
	UnrealizedPnL  string      `json:"unrealizedPnL,omitempty"`
	PriceEffect    string      `json:"priceEffect,omitempty"`
	CurrencyEffect string      `json:"currencyEffect,omitempty"`
	RealizedPnL    string      `json:"realizedPnL"`
	Fees           string      `json:"fees"`
	Taxes          string      `json:"taxes"`
	Dividends      string      `json:"dividends"`
	Local          localReport `json:"local"`
}

// localReport is a holding in the currency its trades settle in (GBP for GBp).
// Fees, Taxes and Dividends are those paid in that currency; Excluded counts the
// symbol's dividends, fees and taxes paid in another one, which are in the
// holding's base figures only (omitted when none).
type localReport struct {
	Currency      string `json:"currency"`
	CostBasis     string `json:"costBasis"`
	MarketValue   string `json:"marketValue,omitempty"`
	UnrealizedPnL string `json:"unrealizedPnL,omitempty"`
	Fees          string `json:"fees"`
	Taxes         string `json:"taxes"`
	Dividends     string `json:"dividends"`
	Excluded      int    `json:"excluded,omitempty"`
}

// totalsReport: market figures sum over the priced holdings; Cash is the cash
// balances at the as-of rates (those with a rate); the rest are the lot engine's
// portfolio totals (lots.Summary), in the base at each transaction's own rate.
type totalsReport struct {
	CostBasis      string `json:"costBasis"`
	MarketValue    string `json:"marketValue"`
	UnrealizedPnL  string `json:"unrealizedPnL"`
	PriceEffect    string `json:"priceEffect"`
	CurrencyEffect string `json:"currencyEffect"`
	RealizedPnL    string `json:"realizedPnL"`
	Fees           string `json:"fees"`
	Taxes          string `json:"taxes"`
	Dividends      string `json:"dividends"`
	Interest       string `json:"interest"`
	Cash           string `json:"cash"`
}

// cashReport is one currency's cash balance, and its value in the base at the
// as-of rate (omitted without one).
type cashReport struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	FXRate   string `json:"fxRate,omitempty"`
	Value    string `json:"value,omitempty"`
}

// perfReport: TWR and MWR are both returns over the period [from, to], so they
// can be compared; the annualised rates are given too when the period is at least
// 365 days (annualising a shorter one extrapolates noise: a 2% week is not a 180%
// year). Rounded to 8 decimal places, null when undefined (with a warning). Both
// are in the base currency, so they include the currency effect.
type perfReport struct {
	From          string  `json:"from"`
	To            string  `json:"to"`
	Days          int     `json:"days"`
	TWR           *string `json:"twr"`
	MWR           *string `json:"mwr"`
	TWRAnnualized *string `json:"twrAnnualized,omitempty"`
	MWRAnnualized *string `json:"mwrAnnualized,omitempty"`
}

// calc computes the report. Its errors are one line, naming the file and record.
func calc(opt calcOptions) (*calcReport, error) {
	acts, err := parseActivities(opt.activities)
	if err != nil {
		return nil, err
	}
	txs := acts.Transactions
	closes, err := loadPrices(opt.prices)
	if err != nil {
		return nil, err
	}
	var rates *currency.Rates
	if opt.fx != "" {
		if rates, err = loadRates(opt.fx); err != nil {
			return nil, err
		}
	}
	if len(txs) == 0 {
		return emptyReport(opt, closes), nil
	}

	first, last := txs[0].Date, txs[len(txs)-1].Date
	asOf := opt.asOf
	if !opt.hasAsOf {
		asOf = max(last, lastClose(closes))
	}
	if asOf < first {
		return nil, fmt.Errorf("tracker calc: --as-of %s is before the first activity (%s, in %s)", asOf, first, opt.activities)
	}
	// Only activities on or before as-of count (txs is in replay order).
	txs = txs[:sort.Search(len(txs), func(i int) bool { return txs[i].Date > asOf })]
	if err := bookRates(txs, opt, rates, acts); err != nil {
		return nil, err
	}

	book := lots.New(opt.method, opt.base)
	traded := map[string]bool{}
	for i := range txs {
		if err := book.Apply(&txs[i]); err != nil {
			return nil, acts.ErrorAt(txs[i].Seq, err)
		}
		if txs[i].Type.IsTrade() {
			traded[txs[i].Symbol] = true
		}
	}

	rep := &calcReport{
		AsOf:         asOf.String(),
		BaseCurrency: opt.base,
		LotMethod:    strings.ToLower(string(opt.method)),
		Holdings:     []holdingReport{},
		Cash:         []cashReport{},
		Warnings:     []string{},
	}
	v := valuer{opt: opt, rates: rates, closes: closes, asOf: asOf, rep: rep}
	for _, p := range book.Positions() {
		if traded[p.Symbol] { // else seen only on a dividend, split or fee: not a holding
			rep.Holdings = append(rep.Holdings, v.holding(p))
		}
	}
	sum := book.Summary()
	for _, b := range sum.Balances {
		rep.Cash = append(rep.Cash, v.cash(b))
	}
	rep.Totals = totalsReport{
		CostBasis:      sum.CostBasis.String(),
		MarketValue:    v.marketValue.String(),
		UnrealizedPnL:  v.unrealized.String(),
		PriceEffect:    v.priceEffect.String(),
		CurrencyEffect: v.currencyEffect.String(),
		RealizedPnL:    sum.RealizedPnL.String(),
		Fees:           sum.Fees.String(),
		Taxes:          sum.Taxes.String(),
		Dividends:      sum.Dividends.String(),
		Interest:       sum.Interest.String(),
		Cash:           v.cashValue.String(),
	}

	rep.Performance = perfReport{From: first.String(), To: asOf.String()}
	series, err := performance.BuildFX(txs, closes, performance.FX{Base: opt.base, Rates: rates}, first, asOf)
	if err != nil {
		return nil, fmt.Errorf("tracker calc: %w", err)
	}
	for _, w := range series.Warnings {
		rep.Warnings = append(rep.Warnings, "performance: "+w.String())
	}
	days := len(series.Days)
	rep.Performance.Days = days
	if twr := series.TWR(); finite(twr) {
		rep.Performance.TWR = rate(twr)
		if a, ok := performance.Annualize(twr, days); ok && finite(a) {
			rep.Performance.TWRAnnualized = rate(a)
		}
	} else {
		rep.Warnings = append(rep.Warnings, "performance: the time-weighted return is undefined")
	}
	if irr, err := series.MWR(); err != nil {
		rep.Warnings = append(rep.Warnings, "performance: "+oneLine(err.Error()))
	} else if period := math.Pow(1+irr, float64(days)/365) - 1; finite(irr) && finite(period) {
		// MWR is the IRR, an annual rate; over the period it compounds to period.
		rep.Performance.MWR = rate(period)
		if days >= 365 {
			rep.Performance.MWRAnnualized = rate(irr)
		}
	} else {
		rep.Warnings = append(rep.Warnings, "performance: the money-weighted return is undefined")
	}
	return rep, nil
}

// bookRates gives every activity whose money settles in another currency than
// the base the rate of its date from the rates file (one that carries its own
// fxRate keeps it), as the portfolio records one: a CONVERSION into the base
// derives its rate from its two amounts, and an activity in the base takes none.
// A missing rate is an input error naming the activity, the file and the pair.
func bookRates(txs []portfolio.Transaction, opt calcOptions, rates *currency.Rates, acts *activities.Result) error {
	for i := range txs {
		tx := &txs[i]
		if tx.Currency == "" || tx.Type == portfolio.Split && tx.Fee.IsZero() && tx.Tax.IsZero() {
			continue // moves no money
		}
		settle := tx.Settlement()
		switch {
		case settle == opt.base:
			if !tx.FXRate.IsZero() && !tx.FXRate.Equal(decimal.NewFromInt(1)) {
				return acts.ErrorAt(tx.Seq, fmt.Errorf("%w: fxRate %s given for an activity in %s, the base currency", portfolio.ErrCurrencyMismatch, tx.FXRate, tx.Currency))
			}
			tx.FXRate = decimal.Decimal{}
		case !tx.FXRate.IsZero():
		case tx.Type == portfolio.Conversion && tx.ToCurrency == opt.base:
			tx.FXRate = tx.ToAmount.DivRound(tx.Amount, portfolio.FXRateDigits)
		case rates == nil:
			return acts.ErrorAt(tx.Seq, fmt.Errorf("%w: the activity is in %s and the base is %s, but no --fx file gives the %s→%s rate of %s (or give the activity an fxRate)",
				portfolio.ErrFXRateRequired, tx.Currency, opt.base, settle, opt.base, tx.Date))
		default:
			r, ok := rates.On(settle, opt.base, tx.Date)
			if !ok {
				return acts.ErrorAt(tx.Seq, fmt.Errorf("%w: no %s→%s rate on or before %s in %s (directly, inverted, or through %s)",
					portfolio.ErrFXRateRequired, settle, opt.base, tx.Date, opt.fx, currency.Pivot))
			}
			tx.FXRate = r.Value
		}
	}
	return nil
}

// valuer values holdings and cash as of a date, in the base, and sums them.
type valuer struct {
	opt    calcOptions
	rates  *currency.Rates
	closes *performance.Closes
	asOf   calendar.Date
	rep    *calcReport

	marketValue, unrealized, priceEffect, currencyEffect, cashValue decimal.Decimal
}

// rate is the as-of rate of a settlement currency into the base.
func (v *valuer) rate(settle string) (currency.Rate, bool) {
	if settle == v.opt.base {
		return currency.Rate{Value: decimal.NewFromInt(1)}, true
	}
	if v.rates == nil {
		return currency.Rate{}, false
	}
	return v.rates.On(settle, v.opt.base, v.asOf)
}

func (v *valuer) holding(p lots.Position) holdingReport {
	h := holdingReport{
		Symbol:       p.Symbol,
		Currency:     p.Currency,
		Quantity:     p.Quantity.String(),
		CostBasis:    p.CostBasis.String(),
		AveragePrice: p.AveragePrice().String(),
		RealizedPnL:  p.RealizedPnL.String(),
		Fees:         p.Fees.String(),
		Taxes:        p.Taxes.String(),
		Dividends:    p.Dividends.String(),
		Local: localReport{Currency: p.Local.Currency, CostBasis: p.Local.CostBasis.String(),
			Fees: p.Local.Fees.String(), Taxes: p.Local.Taxes.String(), Dividends: p.Local.Dividends.String(), Excluded: p.Local.Excluded},
	}
	price, day, priced := v.closes.On(p.Symbol, v.asOf)
	fx, rated := v.rate(p.Local.Currency)
	switch {
	case priced && rated:
		val := p.ValueAt(price, fx.Value)
		h.MarketPrice, h.PriceDate, h.FXRate = price.String(), day.String(), fx.Value.String()
		h.MarketValue, h.UnrealizedPnL = val.MarketValue.String(), val.UnrealizedPnL.String()
		h.PriceEffect, h.CurrencyEffect = val.PriceEffect.String(), val.CurrencyEffect.String()
		h.Local.MarketValue, h.Local.UnrealizedPnL = val.LocalMarketValue.String(), val.LocalUnrealizedPnL.String()
		v.marketValue = v.marketValue.Add(val.MarketValue)
		v.unrealized = v.unrealized.Add(val.UnrealizedPnL)
		v.priceEffect = v.priceEffect.Add(val.PriceEffect)
		v.currencyEffect = v.currencyEffect.Add(val.CurrencyEffect)
	case p.Quantity.IsZero():
	case !priced:
		v.warn("%s: %s held but no close on or before %s in %s; its market figures are omitted and not in the totals",
			p.Symbol, p.Quantity, v.asOf, v.opt.prices)
	default:
		v.warn("%s: %s held in %s but no %s→%s rate on or before %s%s; its market figures are omitted and not in the totals",
			p.Symbol, p.Quantity, p.Currency, p.Local.Currency, v.opt.base, v.asOf, v.ratesSource())
	}
	return h
}

func (v *valuer) cash(b lots.Balance) cashReport {
	c := cashReport{Currency: b.Currency, Amount: b.Amount.String()}
	fx, ok := v.rate(b.Currency)
	switch {
	case ok:
		value := b.Amount
		if b.Currency != v.opt.base {
			value = value.Mul(fx.Value)
		}
		c.FXRate, c.Value = fx.Value.String(), value.String()
		v.cashValue = v.cashValue.Add(value)
	case !b.Amount.IsZero():
		v.warn("cash: %s %s but no %s→%s rate on or before %s%s; it is not in totals.cash",
			b.Amount, b.Currency, b.Currency, v.opt.base, v.asOf, v.ratesSource())
	}
	return c
}

func (v *valuer) ratesSource() string {
	if v.opt.fx == "" {
		return " (no --fx file)"
	}
	return " in " + v.opt.fx
}

func (v *valuer) warn(format string, args ...any) {
	v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf(format, args...))
}

// parseActivities reads the activities file; an empty one (no bytes at all) is
// a portfolio with no activities, like an export whose list is empty.
func parseActivities(path string) (*activities.Result, error) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
		return &activities.Result{Source: path}, nil
	}
	return activities.ParseFile(path)
}

// emptyReport is the report of a portfolio with no activities: zeros, valued on
// as-of (given, or the last close, or today).
func emptyReport(opt calcOptions, closes *performance.Closes) *calcReport {
	asOf := opt.asOf
	if !opt.hasAsOf {
		if asOf = lastClose(closes); asOf == 0 {
			asOf = calendar.FromTime(time.Now().UTC())
		}
	}
	zero := decimal.Zero.String()
	return &calcReport{
		AsOf: asOf.String(), BaseCurrency: opt.base, LotMethod: strings.ToLower(string(opt.method)),
		Holdings: []holdingReport{}, Cash: []cashReport{},
		Totals: totalsReport{CostBasis: zero, MarketValue: zero, UnrealizedPnL: zero, PriceEffect: zero, CurrencyEffect: zero,
			RealizedPnL: zero, Fees: zero, Taxes: zero, Dividends: zero, Interest: zero, Cash: zero},
		Performance: perfReport{From: asOf.String(), To: asOf.String(), TWR: rate(0), MWR: rate(0)},
		Warnings:    []string{fmt.Sprintf("%s holds no activities: every figure is zero", opt.activities)},
	}
}

// loadPrices reads the closes CSV. Its errors name the file (performance.LoadCSV's
// "<file>:<line>: ..." for a bad line).
func loadPrices(path string) (*performance.Closes, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return performance.LoadCSV(f, path)
}

// openInput opens an input file; its error is one line, "<file>: cannot open:
// <why>", without the path repeated.
func openInput(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot open: %w", path, err)
	}
	return f, nil
}

// lastClose is the latest date with a close, of any symbol.
func lastClose(c *performance.Closes) calendar.Date {
	var last calendar.Date
	found := false
	for _, s := range c.Symbols() {
		if _, l, n := c.Span(s); n > 0 && (!found || l > last) {
			last, found = l, true
		}
	}
	return last
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// rate formats a return rounded to 8 decimal places ("0.12345679"), never "-0".
func rate(f float64) *string {
	s := strconv.FormatFloat(f, 'f', 8, 64)
	if s == "-0.00000000" {
		s = "0.00000000"
	}
	return &s
}
