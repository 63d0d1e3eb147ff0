// Package performance turns a transaction history and daily closing prices into a
// daily value series and the two standard return measures over it: the
// time-weighted return (TWR) and the money-weighted return (MWR, an IRR).
//
// It is a pure domain package: no I/O beyond the io.Reader handed to LoadCSV.
//
// # Numbers
//
// Closes are stored exactly (an integer mantissa and a per-symbol decimal scale) and
// Closes.On returns them as decimal.Decimal. Share quantities and the cash balance
// are replayed exactly in decimal, per transaction. Everything derived per day — the
// market values, the flows and the returns — is float64: it is an analytic series,
// not a money figure, its relative error is about 1e-15, and the per-day-per-symbol
// loop must not allocate. Report exact as-of amounts from Closes.On and the decimal
// replay, never from a Series.
//
// # Closes
//
// Closes keeps, per symbol, a date column and an exact mantissa column at a
// per-symbol decimal scale (the most decimal places any close of the symbol has,
// at most 18; trailing zeros do not count). The mantissa column is int32 while every
// close of the symbol fits (123.45 at 2 places, 0.001234 at 6, anything below
// 21,474,836.47 at 2) and int64 for the symbols that need it. Date columns are
// shared: while loading, the store keeps one calendar of the dates seen, and a
// symbol whose dates are a run of it (every symbol of a date-major file from one
// exchange) stores none of its own; at Seal any other symbol whose dates are a run
// of a column already laid out gets a window into it. So a close costs 4 bytes
// (8 for an int64 symbol) plus, usually, nothing for its date: the benchmark's
// 1,565,100 closes take 6.6 MB, 4.2 bytes each. Loading stages the closes in
// chunks that are never moved (no append-and-copy growth) and concatenates them
// once at Seal; it allocates about 15 MB for those 1.5M closes.
//
// Alternatives measured against: a float64 per close costs 8 bytes and still
// needs an exact copy for On; a decimal.Decimal per close costs 16 bytes plus a
// big.Int allocation; a per-close int8 exponent adds a byte and buys nothing
// since one symbol's closes share their precision.
//
// Prices are converted to float64 (mantissa / 10^scale, correctly rounded below
// 2^53) only as Build's cursors reach them, never stored as float.
//
// # Value series
//
// Build replays the transactions (already in portfolio.SortForReplay order) and, for
// every calendar day from..to inclusive, records the end-of-day value and that day's
// external flows. A holding is valued at the symbol's last close on or before the
// day, so weekends and holidays carry the last close forward. Splits change
// quantities only (Ratio.Apply); closes are taken as quoted on each day, so a split
// does not move the value when the quote moves with it. A sell within
// portfolio.Dust of the holding, over or under, closes it (portfolio.ApplySell).
//
// A symbol that is held on a day with no close on or before that day contributes
// nothing to the value and is reported once, with the first such day, in
// Series.Warnings.
//
// Which money counts as an external flow depends on what the history records:
//
//   - With a cash account (the history records at least one DEPOSIT or WITHDRAWAL,
//     on any date): the value is holdings plus cash, where cash is the sum of
//     Transaction.CashEffect. The external flows are deposits in and withdrawals out,
//     at their gross Amount; dividends, interest, fees and taxes stay inside the
//     portfolio (a fee or tax on a deposit or withdrawal is a loss of the portfolio).
//   - Without one (trades only): the value is the holdings alone, and trades are the
//     flows. A BUY brings in its total cost (gross + fee + tax). A SELL pays out its
//     net proceeds (gross − fee − tax); DIVIDEND and INTEREST pay out their net
//     amount (amount − fee − tax). A FEE is money the investor puts in to pay the
//     charge (an inflow of amount + fee + tax) that then leaves to the broker without
//     becoming value: a loss, so a fee lowers both TWR and MWR. A net amount below
//     zero (charges larger than the proceeds) turns the outflow into an inflow.
//   - SPLIT is never a flow.
//
// Transactions before from build the starting position (Series.Start, the value at
// the end of the day before from) and are not flows of the series; transactions after
// to are ignored.
//
// # Currencies
//
// Build is single-currency: every amount and close is taken as it is. BuildFX
// values in a base currency: holdings at close × the day's rate of their trading
// currency (pence are a hundredth of the pound's; a close quoted in another unit
// of that currency, FX.CloseCurrency, is scaled exactly, one quoted in another
// currency is not the holding's price), cash per settlement currency at the
// day's rate, flows at each transaction's recorded FXRate, so that a rate's move
// after the money came in is return (TWR and MWR in the base include the FX
// effect). A day without a rate in force takes the currency's latest transaction
// rate, with a Warning. A history entirely in the base, closes included, goes to
// Build.
//
// # Time axis
//
// Flows recorded on day D take place at the start of D (before that day's price
// move), values are taken at the end of the day. So the series covers len(Days) days:
// from the start of from (value Start) to the end of to (value Value[len-1]). Both
// TWR and MWR use this axis; annualise either with len(Days).
//
// # Time-weighted return
//
// Daily sub-period returns are chained (Portfolio Performance's definition):
//
//	r_d = (MVE_d + CFout_d) / (MVB_d + CFin_d) − 1,   TWR = Π (1 + r_d) − 1
//
// where MVB_d is the previous day's end value (Start for the first day), MVE_d the
// day's end value, CFin_d and CFout_d its inflows and outflows. A day on which
// MVB_d + CFin_d ≤ 0 has nothing invested and contributes r_d = 0.
//
// Two consequences of the definition, both visible rather than hidden: money
// that comes in on a day that ends with nothing of value and nothing paid out is a
// −100% day, and so makes the TWR −100%. Without a cash account that is a FEE
// charged while nothing is held, or a BUY of a symbol without a close yet while
// nothing else is held (Warnings names it). Record fees against a cash account
// (a DEPOSIT) to keep them inside the portfolio.
//
// # Money-weighted return
//
// MWR is the annual internal rate of return r solving
//
//	Σ cf_i · (1 + r)^(−t_i) = 0,   t_i = days_i / 365
//
// over the investor's cash flows: −Start at t = 0 (if non-zero), −inflow and
// +outflow on each day at t = D − from, and +Value[len−1] at t = len(Days). It is
// solved for x = ln(1+r) by Newton's method kept inside a bracketing interval
// (bisection when a Newton step leaves it); the bracket nearest r = 0 is used when
// there are several roots. It returns ErrNoRate (wrapped) when there are no flows,
// when the flows all have one sign, or when no rate in (−100%, e^700) solves the
// equation — never NaN or ±Inf.
package performance
