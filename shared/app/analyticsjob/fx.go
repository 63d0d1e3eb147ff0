package analyticsjob

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/portfoliotracker/tracker/shared/domain/analytics"
	"github.com/portfoliotracker/tracker/shared/domain/calendar"
	"github.com/portfoliotracker/tracker/shared/domain/currency"
	"github.com/portfoliotracker/tracker/shared/domain/market"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/performance"
)

// Rates is where the exchange rates and the symbols' quote currencies come
// from (the prices read model).
type Rates interface {
	// LoadRates returns the daily rates that price currencies against each other
	// over from..to, and the last one before from (readmodel.LoadRates over the
	// daily closes of the currencies' USD pairs).
	LoadRates(ctx context.Context, currencies []string, from, to calendar.Date) (*currency.Rates, error)
	// SymbolCurrencies returns the quote currency of those of symbols that have
	// a latest price, as the quote gave it (GBp for a London listing): the
	// currency their daily closes are in too.
	SymbolCurrencies(ctx context.Context, symbols []string) (map[string]string, error)
}

// Market is what a portfolio is valued with: the daily closes, each in its
// symbol's quote currency; the exchange rates that convert them, and each
// currency's cash, into the portfolio's base currency; and the quote currency
// of the symbols, which the closes are in.
type Market struct {
	Closes *performance.Closes
	// Rates nil is no rate at all: only the base currency can be valued.
	Rates *currency.Rates
	// Currencies maps a symbol to the currency its quotes (its latest price, and
	// its closes) are in: GBp for a London listing even when its trades are
	// recorded in GBP. An absent symbol's closes are taken to be in its trading
	// currency, and those of a symbol no transaction trades in its listing's
	// (market.ListingCurrency: GBp for ".L", else by suffix, else USD).
	Currencies map[string]string
}

// Currencies returns every currency p's figures need a rate of: its base, its
// transactions' (a trade's as recorded, GBp for a London listing; a
// conversion's both sides), and the quote currency of its benchmark and of its
// targets (from known, else, when no transaction trades them, their listing's).
// Sorted, without repeats.
func Currencies(p *portfolio.Portfolio, txs []portfolio.Transaction, benchmark string, known map[string]string) []string {
	seen := map[string]bool{p.BaseCurrency(): true}
	traded := map[string]string{}
	for i := range txs {
		tx := &txs[i]
		if tx.Currency != "" {
			seen[tx.Currency] = true
		}
		if tx.ToCurrency != "" {
			seen[tx.ToCurrency] = true
		}
		if tx.Symbol != "" && tx.Currency != "" && tx.Type.IsTrade() {
			traded[tx.Symbol] = tx.Currency
		}
	}
	others := []string{benchmark}
	if t, ok := p.Targets(); ok {
		for _, x := range t.Targets {
			others = append(others, x.Symbol)
		}
	}
	for _, sym := range others {
		seen[closeCurrency(sym, traded, known)] = true
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// symbolCurrency is sym's trading currency: its trades' (traded), else its
// quote's (known), else its listing's.
func symbolCurrency(sym string, traded, known map[string]string) string {
	if c := traded[sym]; c != "" {
		return c
	}
	if c := known[sym]; c != "" {
		return c
	}
	return market.ListingCurrency(sym)
}

// closeCurrency is the currency sym's closes are in: its quote's (known), else
// its trades' (traded: a close is taken to be in the unit its trades are, as
// before quotes named a currency), else its listing's.
func closeCurrency(sym string, traded, known map[string]string) string {
	if c := known[sym]; c != "" {
		return c
	}
	if c := traded[sym]; c != "" {
		return c
	}
	return market.ListingCurrency(sym)
}

// fxAt converts amounts of any currency into the base on one day: at the rate
// in force, else at the rate the latest transaction in that currency recorded,
// with a warning, as performance.BuildFX does on the days without a rate; else
// not at all (the amount is left out, with a warning): never at a silent 1.
type fxAt struct {
	base     string
	day      calendar.Date
	rates    *currency.Rates
	booked   map[string]bookedRate // by settlement currency
	warned   map[string]bool       // by settlement currency, and "close SYM" for closeIn
	warnings []string              // every warning of the analysis at asOf
}

// bookedRate is the fxRate of a currency's latest transaction (settlement → base).
type bookedRate struct {
	rate decimal.Decimal
	on   calendar.Date
}

func newFXAt(base string, day calendar.Date, rates *currency.Rates, txs []portfolio.Transaction) *fxAt {
	if rates == nil {
		rates = currency.NewRates()
	}
	f := &fxAt{base: base, day: day, rates: rates, booked: map[string]bookedRate{}, warned: map[string]bool{}}
	for i := range txs { // replay order: the last one wins
		if r, ok := txs[i].RateTo(base); ok && txs[i].Settlement() != base {
			f.booked[txs[i].Settlement()] = bookedRate{r, txs[i].Date}
		}
	}
	return f
}

// rate is the price in the base of one unit of code (a quote unit such as GBp
// included: a hundredth of its currency's), and false when none is known.
func (f *fxAt) rate(code string) (decimal.Decimal, bool) {
	if r, ok := f.rates.On(code, f.base, f.day); ok {
		return r.Value, true
	}
	settle, divisor := currency.Settlement(code)
	b, ok := f.booked[settle]
	if !f.warned[settle] {
		f.warned[settle] = true
		if ok {
			f.warnings = append(f.warnings, fmt.Sprintf("no %s→%s rate is in force on %s: %s is converted at the rate of its latest transaction (%s on %s)",
				settle, f.base, f.day, settle, b.rate, b.on))
		} else {
			f.warnings = append(f.warnings, fmt.Sprintf("no %s→%s rate is in force on %s: what is in %s is left out of the value", settle, f.base, f.day, settle))
		}
	}
	if !ok {
		return decimal.Decimal{}, false
	}
	return b.rate.Div(decimal.NewFromInt(divisor)), true
}

// inBase is price × the rate of code (1 for the base, without arithmetic).
func (f *fxAt) inBase(code string, price decimal.Decimal) (decimal.Decimal, bool) {
	if code == f.base {
		return price, true
	}
	r, ok := f.rate(code)
	if !ok {
		return decimal.Decimal{}, false
	}
	return price.Mul(r), true
}

// convertDaily multiplies closes (one per day of days, NaN for none) by the
// rate of code in the base on each day, NaN where none is in force.
func convertDaily(closes []float64, code, base string, rates *currency.Rates, days []calendar.Date) []float64 {
	if code == base || len(days) == 0 {
		return closes
	}
	if rates == nil {
		rates = currency.NewRates()
	}
	r := rates.Daily(code, base, days[0], days[len(days)-1])
	for i, d := range days {
		closes[i] *= r[int(d-days[0])]
	}
	return closes
}

// convertBenchmark is b in the base: each close times the rate of code in force
// on its day; the days without one are dropped (a return across them is then
// measured over the longer interval), and a warning says so.
func convertBenchmark(b *analytics.Benchmark, code, base string, rates *currency.Rates) (*analytics.Benchmark, string) {
	if b == nil || code == base || len(b.Days) == 0 {
		return b, ""
	}
	if rates == nil {
		rates = currency.NewRates()
	}
	out := &analytics.Benchmark{Symbol: b.Symbol}
	dropped := 0
	for i, d := range b.Days {
		r, ok := rates.On(code, base, d)
		if !ok {
			dropped++
			continue
		}
		v := b.Closes[i] * r.Value.InexactFloat64()
		if math.IsNaN(v) || math.IsInf(v, 0) {
			dropped++
			continue
		}
		out.Days, out.Closes = append(out.Days, d), append(out.Closes, v)
	}
	if dropped == 0 {
		return out, ""
	}
	return out, fmt.Sprintf("benchmark %s (in %s) has no %s→%s rate on %d of its %d closes: those closes are left out of the comparison",
		b.Symbol, code, code, base, dropped, len(b.Days))
}
