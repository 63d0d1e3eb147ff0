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
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/lots"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
	"github.com/shopspring/decimal"
)

const calcUsage = `usage: tracker calc --activities FILE --prices FILE [--as-of DATE] [--lot-method fifo|average]

Reads an activity file (Ghostfolio's export JSON, our own JSON, or Ghostfolio-style
CSV when the name ends in .csv) and a prices CSV ("date,symbol,close"), and prints
holdings, totals and returns as of a date, as JSON on stdout. Decimals are strings.

  --activities FILE   the activity file
  --prices FILE       daily closes, CSV "date,symbol,close"
  --as-of DATE        YYYY-MM-DD; only activities on or before it count, holdings are
                      valued at each symbol's last close on or before it. Default: the
                      last date in the activities or the prices, whichever is later.
  --lot-method M      fifo (default) or average

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
}

func runCalc(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("calc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	activitiesPath := fs.String("activities", "", "")
	pricesPath := fs.String("prices", "", "")
	asOf := fs.String("as-of", "", "")
	method := fs.String("lot-method", "fifo", "")
	fail := inputFailer("calc", stderr)
	if code, done := parseFlags(fs, args, calcUsage, stdout, fail); done {
		return code
	}
	opt := calcOptions{activities: *activitiesPath, prices: *pricesPath}
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

// calcReport is calc's output. Money and quantities are decimal strings.
type calcReport struct {
	AsOf         string          `json:"asOf"`
	BaseCurrency string          `json:"baseCurrency"`
	LotMethod    string          `json:"lotMethod"`
	Holdings     []holdingReport `json:"holdings"`
	Totals       totalsReport    `json:"totals"`
	Performance  perfReport      `json:"performance"`
	Warnings     []string        `json:"warnings"`
}

// holdingReport is one symbol. The market figures are omitted when the symbol has
// no close on or before the as-of date; PriceDate is the date of the close used.
type holdingReport struct {
	Symbol        string `json:"symbol"`
	Quantity      string `json:"quantity"`
	CostBasis     string `json:"costBasis"`
	AveragePrice  string `json:"averagePrice"`
	MarketPrice   string `json:"marketPrice,omitempty"`
	PriceDate     string `json:"priceDate,omitempty"`
	MarketValue   string `json:"marketValue,omitempty"`
	UnrealizedPnL string `json:"unrealizedPnL,omitempty"`
	RealizedPnL   string `json:"realizedPnL"`
	Fees          string `json:"fees"`
	Taxes         string `json:"taxes"`
	Dividends     string `json:"dividends"`
}

// totalsReport: market figures sum over the priced holdings; the rest are the lot
// engine's portfolio totals (lots.Summary).
type totalsReport struct {
	CostBasis     string `json:"costBasis"`
	MarketValue   string `json:"marketValue"`
	UnrealizedPnL string `json:"unrealizedPnL"`
	RealizedPnL   string `json:"realizedPnL"`
	Fees          string `json:"fees"`
	Taxes         string `json:"taxes"`
	Dividends     string `json:"dividends"`
	Interest      string `json:"interest"`
	Cash          string `json:"cash"`
}

// perfReport: TWR and MWR are both returns over the period [from, to], so they
// can be compared; the annualised rates are given too when the period is at least
// 365 days (annualising a shorter one extrapolates noise: a 2% week is not a 180%
// year). Rounded to 8 decimal places, null when undefined (with a warning).
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
	if len(txs) == 0 {
		return emptyReport(opt, acts, closes), nil
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

	book := lots.New(opt.method, acts.BaseCurrency) // multi-currency: the calc helper replaces this
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
		BaseCurrency: acts.BaseCurrency,
		LotMethod:    strings.ToLower(string(opt.method)),
		Holdings:     []holdingReport{},
		Warnings:     []string{},
	}
	var marketValue, unrealized decimal.Decimal
	for _, p := range book.Positions() {
		if !traded[p.Symbol] {
			continue // seen only on a dividend, split or fee: not a holding
		}
		h := holdingReport{
			Symbol:       p.Symbol,
			Quantity:     p.Quantity.String(),
			CostBasis:    p.CostBasis.String(),
			AveragePrice: p.AveragePrice().String(),
			RealizedPnL:  p.RealizedPnL.String(),
			Fees:         p.Fees.String(),
			Taxes:        p.Taxes.String(),
			Dividends:    p.Dividends.String(),
		}
		if price, day, ok := closes.On(p.Symbol, asOf); ok {
			v := p.ValueAt(price, decimal.NewFromInt(1))
			h.MarketPrice, h.PriceDate = price.String(), day.String()
			h.MarketValue, h.UnrealizedPnL = v.MarketValue.String(), v.UnrealizedPnL.String()
			marketValue = marketValue.Add(v.MarketValue)
			unrealized = unrealized.Add(v.UnrealizedPnL)
		} else if !p.Quantity.IsZero() {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf(
				"%s: %s held but no close on or before %s in %s; its market figures are omitted and not in the totals",
				p.Symbol, p.Quantity, asOf, opt.prices))
		}
		rep.Holdings = append(rep.Holdings, h)
	}
	sum := book.Summary()
	rep.Totals = totalsReport{
		CostBasis:     sum.CostBasis.String(),
		MarketValue:   marketValue.String(),
		UnrealizedPnL: unrealized.String(),
		RealizedPnL:   sum.RealizedPnL.String(),
		Fees:          sum.Fees.String(),
		Taxes:         sum.Taxes.String(),
		Dividends:     sum.Dividends.String(),
		Interest:      sum.Interest.String(),
		Cash:          sum.Cash.String(),
	}

	rep.Performance = perfReport{From: first.String(), To: asOf.String()}
	series, err := performance.Build(txs, closes, first, asOf)
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

// parseActivities reads the activities file; an empty one (no bytes at all) is
// a portfolio with no activities, like an export whose list is empty.
func parseActivities(path string) (*activities.Result, error) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
		return &activities.Result{Source: path}, nil
	}
	return activities.ParseFile(path)
}

// emptyReport is the report of a portfolio with no activities: zeros, valued on
// as-of (given, or the last close, or today), in the file's currency (USD when
// the file names none).
func emptyReport(opt calcOptions, acts *activities.Result, closes *performance.Closes) *calcReport {
	asOf := opt.asOf
	if !opt.hasAsOf {
		if asOf = lastClose(closes); asOf == 0 {
			asOf = calendar.FromTime(time.Now().UTC())
		}
	}
	currency := acts.BaseCurrency
	if currency == "" {
		currency = "USD"
	}
	zero := decimal.Zero.String()
	return &calcReport{
		AsOf: asOf.String(), BaseCurrency: currency, LotMethod: strings.ToLower(string(opt.method)),
		Holdings: []holdingReport{},
		Totals: totalsReport{CostBasis: zero, MarketValue: zero, UnrealizedPnL: zero, RealizedPnL: zero,
			Fees: zero, Taxes: zero, Dividends: zero, Interest: zero, Cash: zero},
		Performance: perfReport{From: asOf.String(), To: asOf.String(), TWR: rate(0), MWR: rate(0)},
		Warnings:    []string{fmt.Sprintf("%s holds no activities: every figure is zero", opt.activities)},
	}
}

// loadPrices reads the closes CSV. Its errors name the file (performance.LoadCSV's
// "<file>:<line>: ..." for a bad line).
func loadPrices(path string) (*performance.Closes, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot open: %w", path, err)
	}
	defer f.Close()
	return performance.LoadCSV(f, path)
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
