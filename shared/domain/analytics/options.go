package analytics

import "github.com/portfoliotracker/tracker/shared/domain/calendar"

// DefaultBenchmarkSymbol names a benchmark given without a symbol.
const DefaultBenchmarkSymbol = "SPY"

// DefaultCorrelationTop is the number of holdings in the correlation matrix when
// Options.CorrelationTop is 0.
const DefaultCorrelationTop = 10

// TradingDaysPerYear annualises trading-day figures (√252, × 252).
const TradingDaysPerYear = 252

// Options configures Compute. The zero value computes over the whole series with a
// zero risk-free rate, Monday–Friday trading days, no benchmark and no holdings.
type Options struct {
	// Range limits the report to [From, To] (inclusive); nil is the whole series.
	Range *DateRange
	// RiskFreeRate is the annual risk-free rate (0.04 is 4%).
	RiskFreeRate float64
	// TradingDays, when not nil, are the days that end a trading-day return (an
	// exchange calendar, or the benchmark's close dates), ascending. nil means
	// Monday to Friday.
	TradingDays []calendar.Date
	// Benchmark, when not nil, is compared against (beta, alpha).
	Benchmark *Benchmark
	// Holdings are the positions at the range end, for diversification and the
	// correlation matrix.
	Holdings []Holding
	// CorrelationTop is how many of the largest holdings the correlation matrix
	// covers: 0 means DefaultCorrelationTop, a negative number no matrix.
	CorrelationTop int
}

// DateRange is an inclusive range of days.
type DateRange struct {
	From calendar.Date
	To   calendar.Date
}

// Benchmark is a benchmark's daily closes on its own trading days (gaps allowed),
// Days ascending and Closes indexed like Days. A close that is not positive and
// finite counts as missing. Symbol defaults to DefaultBenchmarkSymbol.
type Benchmark struct {
	Symbol string
	Days   []calendar.Date
	Closes []float64
}

// Holding is one position: its market value at the range end and its daily closes
// aligned to the series (Closes[i] is the close in force on Series.Days[i], carried
// forward over holidays; 0 or NaN before the first close). Closes may be nil for a
// holding that should count in the diversification figures only.
type Holding struct {
	Symbol string
	Value  float64
	Closes []float64
}
