// Package analytics computes the performance and risk figures of a portfolio over a
// date range from its daily value series (performance.Series), optionally against a
// benchmark's daily closes and with the holdings' daily closes. Compute is the entry
// point; it returns a Report, which marshals to JSON with camelCase keys.
//
// It is a pure domain package. Returns, volatilities and ratios are float64 (the
// series is float64, see the performance package); nothing here is a money amount.
// The rebalancing trades, which are money, live in the rebalance subpackage, in
// decimal.
//
// # Defined results, never NaN
//
// Every figure is a Metric: a value, or "absent" with a Reason (too little history,
// zero variance, no benchmark, a return that is not annualised because the range is
// shorter than a year, ...). A Report never holds NaN or ±Inf, so it always marshals.
//
// # Time axis and the date range
//
// The series has one entry per calendar day; a holding's close is carried forward
// over weekends and holidays (performance.Build). A range [from, to] is cut out of
// it: its opening value is the value at the end of the day before from (Series.Start
// when from is the first day), and flows on days from..to count. Ranges reaching
// outside the series are clamped to it (with a warning). "days" below is the number
// of calendar days of the range, to − from + 1, which is what the performance
// package annualises with.
//
// # Daily returns and trading days
//
// The calendar-day returns are the TWR sub-period returns of the performance package,
//
//	r_d = (MVE_d + CFout_d) / (MVB_d + CFin_d) − 1,
//
// so deposits and withdrawals are never returns. A weekend or holiday carries prices
// forward, so its r_d is 0 (unless a trade at a price other than the last close falls
// on it); counting those zeros as observations would understate the volatility by
// about √(5/7) and then make √252 the wrong annualisation factor. Volatility, the
// downside deviation, Sharpe, Sortino, VaR, beta, alpha and the correlations are
// therefore computed over trading-day returns: the calendar-day returns are chained,
// (1+r) multiplied, into one return per trading day, a trading day's return covering
// every day since the previous trading day. Days after the last trading day of the
// range are chained into the last one, days before the first into the first, so the
// product of the trading-day growths is exactly 1 + TWR. Trading days are
// Options.TradingDays when given (an exchange calendar, or the benchmark's dates),
// otherwise Monday to Friday; with the default, a weekday holiday is a zero-return
// observation (about 9 of 261 a year: it lowers the volatility estimate by ≈ 1.7%).
// Portfolio Performance likewise excludes weekends and holidays from its volatility.
//
// n below is the number of trading-day returns r_1..r_n, μ their mean and
// σ = √(Σ (r_i − μ)² / (n − 1)) their sample standard deviation. Annualisation uses
// 252 trading days a year: √252 for deviations, × 252 for means.
//
// # Conventions chosen
//
//   - Sharpe and Sortino use the arithmetic annualised mean 252·μ as "annualized
//     return": it is defined for every range length (the geometric annualised TWR is
//     reported only for ranges of at least 365 days), it scales the way √252 scales
//     σ, and it makes Sharpe = (μ − rf/252)/σ · √252, the standard ex-post Sharpe
//     ratio of daily excess returns.
//   - The risk-free rate rf is annual (0.04 is 4%); per trading day it is rf/252.
//   - VaR and CVaR are one trading day, positive numbers being losses (0.02 is a 2%
//     loss); a negative VaR says even that quantile is a gain.
package analytics
