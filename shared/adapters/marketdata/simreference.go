package marketdata

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/market"
)

// simListings are the symbols the simulated search knows: the simulator's
// defaults (the demo's symbols among them), well-known listings and ETFs (a few
// in London, Frankfurt, Paris, Amsterdam and Zurich), and a few currency pairs.
var simListings = []market.SymbolMatch{
	{Symbol: "AAPL", Description: "Apple Inc.", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "MSFT", Description: "Microsoft Corporation", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "GOOGL", Description: "Alphabet Inc. Class A", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "GOOG", Description: "Alphabet Inc. Class C", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "AMZN", Description: "Amazon.com, Inc.", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "NVDA", Description: "NVIDIA Corporation", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "META", Description: "Meta Platforms, Inc.", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "TSLA", Description: "Tesla, Inc.", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "NFLX", Description: "Netflix, Inc.", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "AMD", Description: "Advanced Micro Devices, Inc.", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "INTC", Description: "Intel Corporation", Type: "Common Stock", Exchange: "XNAS"},
	{Symbol: "JPM", Description: "JPMorgan Chase & Co.", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "BAC", Description: "Bank of America Corporation", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "BRK.B", Description: "Berkshire Hathaway Inc. Class B", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "V", Description: "Visa Inc.", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "JNJ", Description: "Johnson & Johnson", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "XOM", Description: "Exxon Mobil Corporation", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "WMT", Description: "Walmart Inc.", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "KO", Description: "The Coca-Cola Company", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "DIS", Description: "The Walt Disney Company", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "IBM", Description: "International Business Machines Corporation", Type: "Common Stock", Exchange: "XNYS"},
	{Symbol: "SPY", Description: "SPDR S&P 500 ETF Trust", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "VOO", Description: "Vanguard S&P 500 ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "IVV", Description: "iShares Core S&P 500 ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "QQQ", Description: "Invesco QQQ Trust (Nasdaq-100)", Type: "ETF", Exchange: "XNAS"},
	{Symbol: "VTI", Description: "Vanguard Total Stock Market ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "VT", Description: "Vanguard Total World Stock ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "VEA", Description: "Vanguard FTSE Developed Markets ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "VWO", Description: "Vanguard FTSE Emerging Markets ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "IWM", Description: "iShares Russell 2000 ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "BND", Description: "Vanguard Total Bond Market ETF", Type: "ETF", Exchange: "XNAS"},
	{Symbol: "AGG", Description: "iShares Core U.S. Aggregate Bond ETF", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "TLT", Description: "iShares 20+ Year Treasury Bond ETF", Type: "ETF", Exchange: "XNAS"},
	{Symbol: "GLD", Description: "SPDR Gold Shares", Type: "ETF", Exchange: "ARCX"},
	{Symbol: "VUSA.L", Description: "Vanguard S&P 500 UCITS ETF (GBp)", Type: "ETF", Exchange: "XLON"},
	{Symbol: "VOD.L", Description: "Vodafone Group Plc", Type: "Common Stock", Exchange: "XLON"},
	{Symbol: "HSBA.L", Description: "HSBC Holdings Plc", Type: "Common Stock", Exchange: "XLON"},
	{Symbol: "SAP.DE", Description: "SAP SE", Type: "Common Stock", Exchange: "XETR"},
	{Symbol: "MC.PA", Description: "LVMH Moët Hennessy Louis Vuitton SE", Type: "Common Stock", Exchange: "XPAR"},
	{Symbol: "ASML.AS", Description: "ASML Holding N.V.", Type: "Common Stock", Exchange: "XAMS"},
	{Symbol: "NESN.SW", Description: "Nestlé S.A.", Type: "Common Stock", Exchange: "XSWX"},
	{Symbol: "EURUSD=X", Description: "Euro / US Dollar", Type: "Currency"},
	{Symbol: "GBPUSD=X", Description: "British Pound / US Dollar", Type: "Currency"},
	{Symbol: "USDJPY=X", Description: "US Dollar / Japanese Yen", Type: "Currency"},
	{Symbol: "USDCHF=X", Description: "US Dollar / Swiss Franc", Type: "Currency"},
	{Symbol: "USDCAD=X", Description: "US Dollar / Canadian Dollar", Type: "Currency"},
}

// SimSearch is the simulated SymbolSearcher: a fixed list of well-known US
// listings, ETFs and currency pairs. Exact symbols rank first, then symbols
// starting with the query, then names containing it (case-insensitive).
type SimSearch struct{}

// Name implements SymbolSearcher.
func (SimSearch) Name() string { return SourceSimulated }

// Search implements SymbolSearcher.
func (SimSearch) Search(_ context.Context, query string) ([]market.SymbolMatch, error) {
	if e := CheckQuery(SourceSimulated, query); e != nil {
		e.At = time.Now().UTC()
		return nil, e
	}
	q := strings.ToUpper(strings.TrimSpace(query))
	type ranked struct {
		rank int
		m    market.SymbolMatch
	}
	var hits []ranked
	for i, l := range simListings {
		rank := -1
		switch {
		case l.Symbol == q:
			rank = 0
		case strings.HasPrefix(l.Symbol, q):
			rank = 1
		case strings.Contains(strings.ToUpper(l.Description), q):
			rank = 2
		}
		if rank >= 0 {
			l.Currency, l.Source = SimCurrency(l.Symbol), SourceSimulated
			hits = append(hits, ranked{rank*1000 + i, l})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].rank < hits[j].rank })
	out := make([]market.SymbolMatch, 0, len(hits))
	for _, h := range hits {
		out = append(out, h.m)
	}
	return boundMatches(out), nil
}

// simSplits are real splits of the simulated listings (the simulated prices do
// not show them: the walk knows nothing of splits).
var simSplits = []struct {
	symbol   string
	date     string
	from, to int64
}{
	{"AAPL", "2020-08-31", 1, 4},
	{"NVDA", "2021-07-20", 1, 4},
	{"AMZN", "2022-06-06", 1, 20},
	{"GOOGL", "2022-07-18", 1, 20},
	{"TSLA", "2022-08-25", 1, 3},
	{"NVDA", "2024-06-10", 1, 10},
}

// simDividends are regular cash dividends: amount per share, paid every `every`
// months from month `first` (1-12), ex-date on `day` (moved to the next weekday),
// paid `payAfter` days later.
var simDividends = map[string]struct {
	amount                  string
	first, every, day, wait int
}{
	"AAPL": {"0.25", 2, 3, 9, 7},
	"MSFT": {"0.83", 2, 3, 15, 28},
	"JPM":  {"1.25", 1, 3, 5, 26},
	"SPY":  {"1.75", 3, 3, 20, 41},
	"VTI":  {"0.95", 3, 3, 24, 4},
	"BND":  {"0.22", 1, 1, 1, 5},
}

// SimActions is the simulated CorporateActionProvider: the splits above, and
// deterministic quarterly (BND: monthly) dividends of six of the demo's symbols
// from 2000 on, so the demo and tests see suggestions.
type SimActions struct{}

// Name implements CorporateActionProvider.
func (SimActions) Name() string { return SourceSimulated }

// CorporateActions implements CorporateActionProvider.
func (SimActions) CorporateActions(_ context.Context, symbol string, from, to calendar.Date) ([]market.CorporateAction, error) {
	out := []market.CorporateAction{}
	for _, s := range simSplits {
		day, _ := calendar.Parse(s.date) // fixed, valid dates
		if s.symbol == symbol && !day.Before(from) && !day.After(to) {
			out = append(out, market.CorporateAction{Kind: market.ActionSplit, Symbol: symbol, Date: day,
				SplitFrom: decimal.NewFromInt(s.from), SplitTo: decimal.NewFromInt(s.to), Source: SourceSimulated})
		}
	}
	if d, ok := simDividends[symbol]; ok {
		first := max(from.Time().Year(), 2000)
		for y := first; y <= to.Time().Year(); y++ {
			for m := d.first; m <= 12; m += d.every {
				ex := nextWeekday(calendar.FromTime(time.Date(y, time.Month(m), d.day, 0, 0, 0, 0, time.UTC)))
				if ex.Before(from) || ex.After(to) {
					continue
				}
				pay := ex.AddDays(d.wait)
				out = append(out, market.CorporateAction{Kind: market.ActionDividend, Symbol: symbol, Date: ex, PayDate: &pay,
					CashAmount: decimal.RequireFromString(d.amount), Currency: "USD", Source: SourceSimulated})
			}
		}
	}
	sortActions(out)
	return out, nil
}

func nextWeekday(d calendar.Date) calendar.Date {
	for d.Time().Weekday() == time.Saturday || d.Time().Weekday() == time.Sunday {
		d = d.AddDays(1)
	}
	return d
}

// sortActions orders actions by date, splits before dividends on one day.
func sortActions(a []market.CorporateAction) {
	sort.SliceStable(a, func(i, j int) bool {
		if a[i].Date != a[j].Date {
			return a[i].Date.Before(a[j].Date)
		}
		return a[i].Kind == market.ActionSplit && a[j].Kind != market.ActionSplit
	})
}

// Simulated currency pairs. Each currency has a plausible value in dollars; a
// pair walks in its canonical orientation (the base code sorts first) and its
// inverse is 1/rate of the same walk, so EURUSD=X and USDEUR=X always agree.
// The walk runs at fxScale times the rate, since the simulator rounds to cents.
const fxScale = 1_000_000

var simUSDValues = map[string]string{
	"USD": "1", "EUR": "1.08", "GBP": "1.27", "JPY": "0.0066667", "CHF": "1.13", "CAD": "0.74", "AUD": "0.66",
	"NZD": "0.61", "SEK": "0.095", "NOK": "0.094", "DKK": "0.145", "CNY": "0.138", "HKD": "0.128", "SGD": "0.74",
	"INR": "0.012", "MXN": "0.058", "BRL": "0.20", "ZAR": "0.054", "KRW": "0.00075", "PLN": "0.25",
}

func simUSDValue(code string) decimal.Decimal {
	if v, ok := simUSDValues[code]; ok {
		return decimal.RequireFromString(v)
	}
	return decimal.New(int64(1+fnv64a(code)%200), -2) // 0.01 to 2.00
}

// canonicalFX is the orientation a pair's walk runs in, and whether pair is its
// inverse.
func canonicalFX(pair market.FXPair) (market.FXPair, bool) {
	if pair.Base < pair.Quote {
		return pair, false
	}
	return pair.Inverse(), true
}

// simFXSymbol is the simulated walk of a canonical pair (at fxScale).
func simFXSymbol(canon market.FXPair) SimSymbol {
	rate := simUSDValue(canon.Base).Div(simUSDValue(canon.Quote))
	return SimSymbol{Symbol: canon.Symbol(), Start: rate.Mul(decimal.NewFromInt(fxScale)).Round(2), Drift: 0, Volatility: 0.08}
}

// simFXRate turns a walk price (at fxScale, canonical orientation) into the
// rate of the pair asked for, to 6 decimals.
func simFXRate(walk decimal.Decimal, inverted bool) decimal.Decimal {
	rate := walk.Div(decimal.NewFromInt(fxScale))
	if inverted {
		rate = decimal.NewFromInt(1).DivRound(rate, 10)
	}
	return decimal.Max(rate.Round(6), decimal.New(1, -6))
}
