package analytics

import "github.com/portfoliotracker/tracker/shared/domain/calendar"

// Report bundles every figure of one portfolio over one date range. See the package
// doc for the time axis, the trading-day returns r_1..r_n, μ, σ and the annualisation
// conventions; each field documents its formula.
type Report struct {
	// From and To are the range actually used (the requested one clamped to the
	// series); nil when there is no history at all.
	From *calendar.Date `json:"from"`
	To   *calendar.Date `json:"to"`
	// CalendarDays is To − From + 1; TradingDays is n, the number of trading-day
	// returns.
	CalendarDays int `json:"calendarDays"`
	TradingDays  int `json:"tradingDays"`
	// RiskFreeRate is the annual rate used for Sharpe, Sortino and alpha.
	RiskFreeRate float64 `json:"riskFreeRate"`

	// TotalReturn is the simple return on the money at risk:
	//
	//	(MVE + ΣCFout − MVB − ΣCFin) / (MVB + ΣCFin)
	//
	// MVB the opening value, MVE the closing value, the sums over the range's flows.
	// It equals the TWR when there are no flows. Absent when MVB + ΣCFin ≤ 0.
	TotalReturn Metric `json:"totalReturn"`
	// TWR is the time-weighted return, Π(1 + r_d) − 1 over the calendar days
	// (performance.Series.TWR); annualised (1+TWR)^(365/days) − 1 only when the
	// range has at least 365 days.
	TWR Return `json:"twr"`
	// MWR is the money-weighted return, the IRR of the flows with t = days/365
	// (performance.Series.MWR). Annualized is that IRR, reported for ranges of at
	// least 365 days; Period is the same rate over the range, (1+IRR)^(days/365) − 1.
	MWR Return `json:"mwr"`
	// MeanReturn is μ (Daily) and 252·μ (Annualized), the "annualized return" of
	// Sharpe and Sortino.
	MeanReturn Scaled `json:"meanReturn"`
	// Volatility is σ (Daily), σ·√n (Period) and σ·√252 (Annualized). Needs n ≥ 2.
	Volatility Volatility `json:"volatility"`
	// DownsideDeviation is, with the target t = rf/252 per trading day,
	//
	//	DD = √( Σ min(0, r_i − t)² / (n − 1) )
	//
	// (Daily), DD·√n (Period) and DD·√252 (Annualized): every return counts in the
	// n − 1, not only those below the target (Sortino & Price's full-sample form with
	// the sample correction). Needs n ≥ 2.
	DownsideDeviation Volatility `json:"downsideDeviation"`
	// Sharpe is (252·μ − rf) / (σ·√252). Absent when σ is zero.
	Sharpe Metric `json:"sharpe"`
	// Sortino is (252·μ − rf) / (DD·√252). Absent when σ is zero (a constant return
	// has no risk to measure, even if it is below the target) or when DD is zero (no
	// return below the target).
	Sortino Metric `json:"sortino"`
	// MaxDrawdown is measured on the TWR wealth index, not the market value.
	MaxDrawdown Drawdown `json:"maxDrawdown"`
	// ValueAtRisk is the one-trading-day VaR and CVaR at 95% and 99%.
	ValueAtRisk ValueAtRisk `json:"valueAtRisk"`
	// Benchmark holds beta, alpha and the benchmark's return over the common days.
	Benchmark BenchmarkStats `json:"benchmark"`
	// Diversification is computed from the holdings' values at the range end.
	Diversification Diversification `json:"diversification"`
	// Correlation is the correlation matrix of the largest holdings' trading-day
	// returns.
	Correlation Correlation `json:"correlation"`
	// Warnings lists input problems that were worked around (clamped range, holdings
	// without usable closes, an unsorted benchmark, ...).
	Warnings []string `json:"warnings,omitempty"`
}

// Return is a return over the range and, for ranges of at least 365 days, per year.
type Return struct {
	Period     Metric `json:"period"`
	Annualized Metric `json:"annualized"`
}

// Scaled is a per-trading-day figure and its annualised counterpart.
type Scaled struct {
	Daily      Metric `json:"daily"`
	Annualized Metric `json:"annualized"`
}

// Volatility is a per-trading-day deviation, its figure over the n days of the range
// (× √n) and per year (× √252).
type Volatility struct {
	Daily      Metric `json:"daily"`
	Period     Metric `json:"period"`
	Annualized Metric `json:"annualized"`
}

// Drawdown is the largest fall of the TWR wealth index W from a running peak.
//
// W starts at 1 at the opening of the range (the end of the day before From) and
// W_d = W_{d−1}·(1 + r_d) on each calendar day, so deposits and withdrawals do not
// move it. The drawdown on day d is 1 − W_d / max_{s≤d} W_s; Value is its maximum
// over the range, a positive fraction (0.25 is a 25% fall; above 1 only if the
// series has negative values). PeakDate is the first day the peak was reached (the
// day before From when the peak is the opening value), TroughDate the first day the
// maximum drawdown was reached, RecoveryDate the first day after the trough with
// W ≥ the peak (within 1e-12 relative), nil when not recovered by To. With no
// drawdown (Value 0) all three dates are nil.
type Drawdown struct {
	Value        Metric         `json:"value"`
	PeakDate     *calendar.Date `json:"peakDate"`
	TroughDate   *calendar.Date `json:"troughDate"`
	RecoveryDate *calendar.Date `json:"recoveryDate"`
}

// ValueAtRisk holds the one-trading-day value at risk and conditional value at risk
// (expected shortfall) at the 95% and 99% confidence levels, as positive loss
// fractions, by two methods.
//
// Historical, at confidence α with p = 1 − α: sort the n returns ascending,
// x_0 ≤ … ≤ x_{n−1}; the p-quantile is interpolated linearly between order
// statistics (Hyndman & Fan type 7, as Excel's PERCENTILE.INC and NumPy's default):
//
//	h = (n − 1)·p,  q = x_⌊h⌋ + (h − ⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋)
//	VaR = −q,  CVaR = −mean{ x_i : x_i ≤ q }
//
// Parametric (normal), with z = 1.6449 (95%) or 2.3263 (99%) and φ the standard
// normal density:
//
//	VaR = −(μ − z·σ) = z·σ − μ,  CVaR = σ·φ(z)/(1 − α) − μ
//
// All need n ≥ 2.
type ValueAtRisk struct {
	Historical95 VaR `json:"historical95"`
	Historical99 VaR `json:"historical99"`
	Parametric95 VaR `json:"parametric95"`
	Parametric99 VaR `json:"parametric99"`
}

// VaR is a value at risk and its conditional value at risk.
type VaR struct {
	VaR  Metric `json:"var"`
	CVaR Metric `json:"cvar"`
}

// BenchmarkStats compares the portfolio with a benchmark over their common days.
//
// Alignment: the common days are the portfolio's trading days on which the benchmark
// has a (positive, finite) close, plus an opening anchor: the benchmark's last close
// on or before the day before From. Between consecutive common days c_{j−1} < c_j,
// the portfolio's return rp_j chains its trading-day returns over (c_{j−1}, c_j] and
// the benchmark's is rb_j = close(c_j)/close(c_{j−1}) − 1, so a benchmark gap merges
// days on both sides rather than pairing returns of different periods. k_j is the
// number of portfolio trading days in the interval (1 without gaps). m is the number
// of pairs.
//
//	Beta  = cov(rp, rb) / var(rb)                                (sample, m − 1)
//	Alpha = 252 · Σ_j [ (rp_j − k_j·rf/252) − Beta·(rb_j − k_j·rf/252) ] / Σ_j k_j
//
// Alpha is Jensen's alpha per trading day, annualised arithmetically (× 252); without
// gaps it is 252·[ mean(rp) − rf/252 − Beta·(mean(rb) − rf/252) ].
// Correlation is Pearson's r of rp and rb. Return and PortfolioReturn are
// Π(1 + rb_j) − 1 and Π(1 + rp_j) − 1, the two returns over the same span.
type BenchmarkStats struct {
	Symbol          string `json:"symbol,omitempty"`
	Observations    int    `json:"observations"`
	Return          Metric `json:"return"`
	PortfolioReturn Metric `json:"portfolioReturn"`
	Beta            Metric `json:"beta"`
	Alpha           Metric `json:"alpha"`
	Correlation     Metric `json:"correlation"`
}

// Diversification measures concentration from the holdings' values at the range end.
// Weights are w_i = V_i / Σ V_j over the holdings with a positive value (cash is not
// a position here: an all-cash portfolio has no weights, and every field is absent).
//
//	HHI               = Σ w_i²                      (1/N … 1)
//	Score             = 100 · (1 − HHI) / (1 − 1/N)  for N > 1, 0 for N = 1
//	EffectiveHoldings = 1 / HHI
//	LargestWeight     = max w_i
//
// The score is the HHI rescaled to 0 (everything in one holding) … 100 (N equal
// weights); it compares how evenly the money is spread over the N holdings held.
type Diversification struct {
	Holdings          int    `json:"holdings"`
	HHI               Metric `json:"hhi"`
	Score             Metric `json:"score"`
	EffectiveHoldings Metric `json:"effectiveHoldings"`
	LargestWeight     Metric `json:"largestWeight"`
	LargestSymbol     string `json:"largestSymbol,omitempty"`
}

// Correlation is the Pearson correlation matrix of the trading-day returns of the
// top holdings by value (Options.CorrelationTop of them), in Symbols order.
// A holding's return on trading day k is close_k / close_{k−1} − 1 over consecutive
// trading days, the first from the close on the day before From (when the range
// starts on the series' first day there is none, and the first trading day's close
// is the base); a return is
// missing where either close is missing (not positive or not finite), and each pair
// uses the days both have (pairwise complete). Matrix[i][j] is null when the pair
// has fewer than 2 common returns or either has zero variance there; the diagonal is
// 1 for a holding with varying returns. Reason is set when there is no matrix.
type Correlation struct {
	Symbols []string     `json:"symbols"`
	Matrix  [][]*float64 `json:"matrix"`
	Reason  string       `json:"reason,omitempty"`
}
